#include "disk/cache_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace rangefs::disk {
namespace {

Status ErrnoStatus(int error) {
  return Status(error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal,
                std::strerror(error));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Writes every part at its offset, going on after short writes.
Status WriteAll(int fd, std::span<const std::span<const std::byte>> parts) {
  std::vector<iovec> iov;
  for (const auto& part : parts) {
    if (!part.empty()) iov.push_back({const_cast<std::byte*>(part.data()), part.size()});
  }
  size_t first = 0;
  off_t offset = 0;
  while (first < iov.size()) {
    const ssize_t written =
        ::pwritev(fd, iov.data() + first,
                  static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX)), offset);
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno);
    }
    if (written == 0) return ErrnoStatus(EIO);
    offset += written;
    size_t left = static_cast<size_t>(written);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::Ok();
}

// Runs `place` (link or rename into `path`); when the parent directory is missing, creates it
// and tries once more.
template <typename Place>
int PlaceFile(const std::string& path, Place place) {
  if (place() == 0) return 0;
  if (errno != ENOENT) return errno;
  if (::mkdir(ParentOf(path).c_str(), 0755) != 0 && errno != EEXIST) return errno;
  return place() == 0 ? 0 : errno;
}

class RealFiles final : public CacheFiles {
 public:
  Status WriteAtomically(const std::string& temp_dir, const std::string& path,
                         std::span<const std::span<const std::byte>> parts) override {
    if (o_tmpfile_works_.load(std::memory_order_relaxed)) {
      const int fd = ::open(temp_dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
      if (fd >= 0) return WriteUnnamed(Fd(fd), path, parts);
      // The filesystem has no O_TMPFILE (or the kernel: EISDIR): named files from now on.
      if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return ErrnoStatus(errno);
      o_tmpfile_works_.store(false, std::memory_order_relaxed);
    }
    return WriteNamed(temp_dir, path, parts);
  }

  Result<uint64_t> ReadAt(const std::string& path, uint64_t expected_size,
                          std::span<std::byte> header, uint64_t offset,
                          std::span<std::byte> data) override {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoStatus(errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    if (size != expected_size) return size;
    for (const auto& [part, at] : {std::pair{header, uint64_t{0}}, std::pair{data, offset}}) {
      size_t done = 0;
      while (done < part.size()) {
        const ssize_t got = ::pread(fd.get(), part.data() + done, part.size() - done,
                                    static_cast<off_t>(at + done));
        if (got < 0) {
          if (errno == EINTR) continue;
          return ErrnoStatus(errno);
        }
        if (got == 0) return uint64_t{at + done};  // shrank under us: as if it were that short
        done += static_cast<size_t>(got);
      }
    }
    return size;
  }

  Result<std::string> ReadSmallFile(const std::string& path) override {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return ErrnoStatus(errno);
    std::string text;
    std::array<char, 4096> buffer{};
    // A format file is one short line; more than 64 KiB is not one.
    while (text.size() < 65536) {
      const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
      if (got < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno);
      }
      if (got == 0) break;
      text.append(buffer.data(), static_cast<size_t>(got));
    }
    return text;
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) return Status::Ok();
    return ErrnoStatus(errno);
  }

  bool Exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }
  bool Writable(const std::string& path) override { return ::access(path.c_str(), W_OK) == 0; }

  Status MakeDirectories(const std::string& path) override {
    std::error_code error;
    std::filesystem::create_directories(path, error);
    if (error) return ErrnoStatus(error.value());
    return Status::Ok();
  }

  Result<std::vector<std::string>> List(const std::string& path) override {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), &::closedir);
    if (!dir) return ErrnoStatus(errno);
    std::vector<std::string> names;
    while (const dirent* entry = ::readdir(dir.get())) {
      const std::string name = entry->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    return names;
  }

  Result<FreeSpace> SpaceOf(const std::string& path) override {
    struct statvfs fs {};
    if (::statvfs(path.c_str(), &fs) != 0) return ErrnoStatus(errno);
    return FreeSpace{uint64_t{fs.f_bavail} * fs.f_frsize, uint64_t{fs.f_blocks} * fs.f_frsize};
  }

 private:
  Status WriteUnnamed(Fd fd, const std::string& path,
                      std::span<const std::span<const std::byte>> parts) {
    if (Status s = WriteAll(fd.get(), parts); !s.ok()) return s;
    const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    const int error = PlaceFile(path, [&] {
      return ::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW);
    });
    if (error == 0 || error == EEXIST) return Status::Ok();
    return ErrnoStatus(error);
  }

  Status WriteNamed(const std::string& temp_dir, const std::string& path,
                    std::span<const std::span<const std::byte>> parts) {
    const std::string temp = temp_dir + "/" + std::to_string(::getpid()) + "-" +
                             std::to_string(counter_.fetch_add(1)) + ".tmp";
    Status status;
    {
      const Fd fd(::open(temp.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
      if (fd.get() < 0) return ErrnoStatus(errno);
      status = WriteAll(fd.get(), parts);
    }
    if (status.ok()) {
      const int error = PlaceFile(path, [&] { return ::rename(temp.c_str(), path.c_str()); });
      if (error == 0) return Status::Ok();
      status = ErrnoStatus(error);
    }
    ::unlink(temp.c_str());
    return status;
  }

  std::atomic<bool> o_tmpfile_works_{true};
  std::atomic<uint64_t> counter_{0};
};

}  // namespace

std::shared_ptr<CacheFiles> RealCacheFiles() { return std::make_shared<RealFiles>(); }

bool IsTempFileName(const std::string& name) {
  const size_t dash = name.find('-');
  if (dash == 0 || dash == std::string::npos || name.size() < dash + 6 ||
      name.compare(name.size() - 4, 4, ".tmp") != 0) {
    return false;
  }
  for (size_t i = 0; i < name.size() - 4; ++i) {
    if (i != dash && (name[i] < '0' || name[i] > '9')) return false;
  }
  return true;
}

bool IsOrphanTempFile(const std::string& name) {
  if (!IsTempFileName(name)) return false;
  const size_t dash = name.find('-');
  if (dash > 9) return false;  // no pid has ten digits
  const long pid = std::stol(name.substr(0, dash));
  // ESRCH: no such process. EPERM means it exists (another user's).
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace rangefs::disk
