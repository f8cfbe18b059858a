// rangefs_memfs: a read-only FUSE filesystem holding one file whose bytes live in memory.
//
// It is the benchmark's ceiling: it does nothing a FUSE filesystem could skip (no network, no
// locks, no copies but the one fuse_reply_buf makes), so a sequential read through it measures
// what the kernel, libfuse's multithreaded loop and this machine allow. It replies as rangefs
// does (fuse_reply_buf from the multithreaded loop, 1 MiB kernel readahead), through the same
// session code (src/fuse/fuse_session.h), so the two are comparable.
//
//   rangefs_memfs --size BYTES [--name NAME] [--readahead-kb KIB] [-f] MOUNTPOINT
//
// Unmount with fusermount3 -u MOUNTPOINT, or SIGINT/SIGTERM.

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuse/fuse_session.h"
#include "fuse/kernel_readahead.h"

namespace {

constexpr fuse_ino_t kRootInode = FUSE_ROOT_ID;
constexpr fuse_ino_t kFileInode = 2;
// Nothing ever changes, so the kernel may keep names and attributes as long as it likes.
constexpr double kAttributeTimeoutSeconds = 3600.0;
// st_blksize: tools like cp size their reads by it; 1 MiB is the largest read FUSE sends.
constexpr blksize_t kPreferredIoBytes = 1 << 20;
constexpr int kUsageExitCode = 2;
// The largest read the kernel sends a FUSE filesystem (FUSE_MAX_MAX_PAGES pages).
constexpr unsigned kMaxKernelReadBytes = 1 << 20;

struct MemFs {
  std::string name;
  std::vector<char> data;
  time_t mtime = 0;
};

MemFs& FsOf(fuse_req_t req) { return *static_cast<MemFs*>(fuse_req_userdata(req)); }

// splitmix64 (Steele, Lea, Flood 2014): fast, and its output has no structure a compressor or
// a dedup layer could exploit, unlike zeros.
void FillPseudoRandom(std::vector<char>& data) {
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  size_t pos = 0;
  while (pos < data.size()) {
    state += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const size_t n = std::min(sizeof(z), data.size() - pos);
    std::memcpy(data.data() + pos, &z, n);
    pos += n;
  }
}

struct stat StatOf(const MemFs& fs, fuse_ino_t ino) {
  struct stat st {};
  st.st_ino = ino;
  st.st_uid = getuid();
  st.st_gid = getgid();
  st.st_mtim.tv_sec = fs.mtime;
  st.st_ctim.tv_sec = fs.mtime;
  st.st_atim.tv_sec = fs.mtime;
  st.st_blksize = kPreferredIoBytes;
  if (ino == kRootInode) {
    st.st_mode = S_IFDIR | 0555;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0444;
    st.st_nlink = 1;
    st.st_size = static_cast<off_t>(fs.data.size());
    st.st_blocks = static_cast<blkcnt_t>((fs.data.size() + 511) / 512);
  }
  return st;
}

void OnInit(void*, fuse_conn_info* conn) {
  // Let the kernel send parallel reads on one handle; the multithreaded loop serves them.
  conn->want |= conn->capable & FUSE_CAP_ASYNC_READ;
  // The kernel only ever lowers this; asking for the most leaves the bdi knob in charge.
  conn->max_readahead = kMaxKernelReadBytes;
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  const MemFs& fs = FsOf(req);
  if (parent != kRootInode) return (void)fuse_reply_err(req, ENOTDIR);
  if (fs.name != name) return (void)fuse_reply_err(req, ENOENT);
  fuse_entry_param entry{};
  entry.ino = kFileInode;
  entry.attr = StatOf(fs, kFileInode);
  entry.attr_timeout = kAttributeTimeoutSeconds;
  entry.entry_timeout = kAttributeTimeoutSeconds;
  fuse_reply_entry(req, &entry);
}

void OnGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != kRootInode && ino != kFileInode) return (void)fuse_reply_err(req, ENOENT);
  const struct stat st = StatOf(FsOf(req), ino);
  fuse_reply_attr(req, &st, kAttributeTimeoutSeconds);
}

void OnReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info*) {
  const MemFs& fs = FsOf(req);
  if (ino != kRootInode) return (void)fuse_reply_err(req, ENOTDIR);
  struct Entry {
    const char* name;
    fuse_ino_t ino;
  };
  const Entry entries[] = {{".", kRootInode}, {"..", kRootInode}, {fs.name.c_str(), kFileInode}};
  std::vector<char> buffer(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < std::size(entries); ++i) {
    const struct stat st = StatOf(fs, entries[i].ino);
    const size_t needed = fuse_add_direntry(req, buffer.data() + used, size - used, entries[i].name,
                                            &st, static_cast<off_t>(i + 1));
    if (needed > size - used) break;
    used += needed;
  }
  fuse_reply_buf(req, buffer.data(), used);
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kFileInode) return (void)fuse_reply_err(req, EISDIR);
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return (void)fuse_reply_err(req, EROFS);
  // Every open starts with an empty page cache, so each read of a fresh open reaches us: the
  // benchmark measures FUSE, not the kernel's page cache.
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

void OnRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info*) {
  const MemFs& fs = FsOf(req);
  if (offset < 0) return (void)fuse_reply_err(req, EINVAL);
  const size_t start = std::min(static_cast<size_t>(offset), fs.data.size());
  const size_t length = std::min(size, fs.data.size() - start);
  fuse_reply_buf(req, fs.data.data() + start, length);
}

constexpr fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = OnInit;
  ops.lookup = OnLookup;
  ops.getattr = OnGetAttr;
  ops.readdir = OnReadDir;
  ops.open = OnOpen;
  ops.read = OnRead;
  return ops;
}
constexpr fuse_lowlevel_ops kOperations = MakeOperations();

int Serve(MemFs& fs, const std::string& mountpoint, bool foreground, unsigned readahead_kib) {
  const std::unique_ptr<rangefs::FuseSession> session = rangefs::FuseSession::Mount(
      {"rangefs_memfs", "-o", "ro,default_permissions,fsname=memfs,subtype=memfs"}, kOperations,
      &fs, mountpoint);
  if (!session) return 1;
  if (readahead_kib > 0) {
    // mountinfo lists the canonical path.
    char resolved[PATH_MAX];
    const std::string canonical =
        realpath(mountpoint.c_str(), resolved) != nullptr ? resolved : mountpoint;
    if (!rangefs::RaiseKernelReadahead(canonical, readahead_kib)) {
      std::cerr << "rangefs_memfs: could not set read_ahead_kb; kernel default stays\n";
    }
  }
  if (!session->Daemonize(foreground)) return 1;
  return session->Serve();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("One read-only in-memory file over FUSE: the benchmark's ceiling.", "rangefs_memfs");
  uint64_t size = 0;
  MemFs fs;
  fs.name = "data.bin";
  bool foreground = false;
  unsigned readahead_kib = kMaxKernelReadBytes / 1024;
  std::string mountpoint;
  app.add_option("--size", size, "File size in bytes (suffixes K, M, G are powers of 1024)")
      ->required()
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--name", fs.name, "File name in the mount")->capture_default_str();
  app.add_option("--readahead-kb", readahead_kib,
                 "Kernel readahead for the mount (read_ahead_kb; needs root); 0 = leave the "
                 "kernel default. Default: as rangefs")
      ->capture_default_str();
  app.add_flag("-f,--foreground", foreground, "Stay in the foreground");
  app.add_option("mountpoint", mountpoint, "Where to mount")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kUsageExitCode;
  }
  if (fs.name.empty() || fs.name.find('/') != std::string::npos || fs.name == "." ||
      fs.name == "..") {
    std::cerr << "rangefs_memfs: --name must be a plain file name\n";
    return kUsageExitCode;
  }
  // Generated before mounting, so the first read does not pay for it.
  fs.data.resize(size);
  FillPseudoRandom(fs.data);
  fs.mtime = time(nullptr);
  return Serve(fs, mountpoint, foreground, readahead_kib);
}
