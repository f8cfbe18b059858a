#include "rangefs/whole_file_fallback.h"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "rangefs/redact.h"

namespace rangefs {
namespace {

// Bytes read from the temporary file per OnData call.
constexpr size_t kServeChunkBytes = 256 * 1024;

// An unnamed file in `dir` (O_TMPFILE), or a named one unlinked at once where the filesystem
// lacks O_TMPFILE: either way the space is freed when the descriptor closes, crash included.
int OpenAnonymousFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string pattern = dir + "/rangefs-XXXXXX";
  fd = ::mkostemp(pattern.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(pattern.c_str());
  return fd;
}

std::string ErrnoText(int error) { return std::strerror(error); }

// "1.2 GiB", "512 bytes": what a download costs, for the one line that announces it.
std::string HumanSize(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

}  // namespace

// The whole body of one version of one file, arriving into a temporary file.
//
// One writer: the download's transfer, whose OnData calls come one after another. It writes
// with no lock held, then takes mu_ only to publish how far the file is written and to collect
// the waiters that now can be answered; readers read only bytes published so, and answer (pread
// and sink calls) with no lock held too.
class WholeFileFallback::Download final : public std::enable_shared_from_this<Download> {
 public:
  Download(RemoteFileInfo file, int fd) : file_(std::move(file)), fd_(fd) {}
  ~Download() { ::close(fd_); }

  const RemoteFileInfo& file() const { return file_; }
  // Without mu_, so that the owner may ask under its own lock.
  bool failed() const { return failed_.load(std::memory_order_acquire); }

  // Starts the download through `source`.
  void Start(RangeSource& source);
  // Answers `range` now if its bytes are here, else when they arrive.
  void Serve(const ByteRange& range, std::shared_ptr<RangeSink> sink);

 private:
  struct Waiter {
    ByteRange range;
    std::shared_ptr<RangeSink> sink;
  };
  class BodySink;

  bool OnBody(std::span<const std::byte> data);
  void OnBodyDone(const Status& status);
  // Sends `range` from the file to `sink`, then OnDone. Outside mu_.
  void Answer(const ByteRange& range, RangeSink& sink) const;

  const RemoteFileInfo file_;
  const int fd_;
  mutable std::mutex mu_;
  uint64_t written_ = 0;  // bytes in the file, from the start; Guarded by mu_
  // Set once, under mu_, with failure_; read without it by failed().
  std::atomic<bool> failed_{false};
  Status failure_;               // Guarded by mu_
  std::vector<Waiter> waiters_;  // Guarded by mu_
};

class WholeFileFallback::Download::BodySink final : public RangeSink {
 public:
  explicit BodySink(std::shared_ptr<Download> download) : download_(std::move(download)) {}
  bool OnData(std::span<const std::byte> data) override { return download_->OnBody(data); }
  void OnDone(const Status& status) override { download_->OnBodyDone(status); }

 private:
  const std::shared_ptr<Download> download_;
};

void WholeFileFallback::Download::Start(RangeSource& source) {
  // The one line a file served this way gets: the answers that showed it are not logged as
  // failures (they are the server's answer), and neither are the reads it serves.
  spdlog::warn(
      "{}: the server ignores Range requests; downloading the whole file ({}) to serve reads",
      RedactUrl(file_.url), HumanSize(file_.size));
  source.StartFetch(file_, ByteRange{0, file_.size - 1}, FetchPriority::kDemand,
                    std::make_shared<BodySink>(shared_from_this()));
}

void WholeFileFallback::Download::Serve(const ByteRange& range, std::shared_ptr<RangeSink> sink) {
  std::optional<Status> failure;
  {
    std::lock_guard lock(mu_);
    if (failed_.load(std::memory_order_relaxed)) {  // written under mu_
      failure = failure_;
    } else if (written_ <= range.last) {
      waiters_.push_back({range, std::move(sink)});
      return;
    }
  }
  if (failure) return sink->OnDone(*failure);
  Answer(range, *sink);
}

bool WholeFileFallback::Download::OnBody(std::span<const std::byte> data) {
  uint64_t offset = 0;
  {
    std::lock_guard lock(mu_);
    offset = written_;  // only this writer moves it
  }
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      spdlog::error("{}: cannot write the downloaded file to the temporary file: {}",
                    RedactUrl(file_.url), ErrnoText(errno));
      return false;  // the download ends with an error, and so do its waiters
    }
    done += static_cast<size_t>(n);
  }
  std::vector<Waiter> ready;
  {
    std::lock_guard lock(mu_);
    written_ = offset + data.size();
    auto arrived = std::partition(waiters_.begin(), waiters_.end(),
                                  [this](const Waiter& w) { return w.range.last >= written_; });
    std::move(arrived, waiters_.end(), std::back_inserter(ready));
    waiters_.erase(arrived, waiters_.end());
  }
  for (const Waiter& waiter : ready) Answer(waiter.range, *waiter.sink);
  return true;
}

void WholeFileFallback::Download::OnBodyDone(const Status& status) {
  std::vector<Waiter> waiting;
  Status failure = status;
  {
    std::lock_guard lock(mu_);
    if (status.ok() && written_ == file_.size) return;  // every waiter was answered on the way
    if (failure.ok())
      failure = Status(ErrorCode::kTruncated, "the whole-file download ended early");
    failure_ = failure;
    failed_.store(true, std::memory_order_release);
    waiting.swap(waiters_);
  }
  spdlog::warn("{}: the whole-file download failed: {}", RedactUrl(file_.url), failure.ToString());
  for (const Waiter& waiter : waiting) waiter.sink->OnDone(failure);
}

void WholeFileFallback::Download::Answer(const ByteRange& range, RangeSink& sink) const {
  std::vector<std::byte> buffer(
      static_cast<size_t>(std::min<uint64_t>(range.length(), kServeChunkBytes)));
  uint64_t offset = range.first;
  while (offset <= range.last) {
    const size_t want =
        static_cast<size_t>(std::min<uint64_t>(buffer.size(), range.last - offset + 1));
    const ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return sink.OnDone(
          Status(ErrorCode::kInternal, "cannot read the temporary file: " + ErrnoText(errno)));
    }
    if (!sink.OnData({buffer.data(), static_cast<size_t>(n)})) {
      return sink.OnDone(Status(ErrorCode::kInternal, "range request abandoned by its reader"));
    }
    offset += static_cast<uint64_t>(n);
  }
  sink.OnDone(Status::Ok());
}

// Passes a range request's answer through, except "the server ignored Range": then the request
// is answered from a whole-file download instead.
class WholeFileFallback::DetectingSink final : public RangeSink {
 public:
  DetectingSink(WholeFileFallback& owner, RemoteFileInfo file, const ByteRange& range,
                std::shared_ptr<RangeSink> sink)
      : owner_(owner), file_(std::move(file)), range_(range), sink_(std::move(sink)) {}
  bool OnData(std::span<const std::byte> data) override { return sink_->OnData(data); }
  void OnDone(const Status& status) override {
    // The source rejects such an answer before its first body byte: the sink has nothing yet.
    if (status.code() != ErrorCode::kRangeNotSupported) return sink_->OnDone(status);
    owner_.MarkWithoutRanges(file_.url);
    owner_.ServeFromDownload(file_, range_, sink_);
  }

 private:
  WholeFileFallback& owner_;
  const RemoteFileInfo file_;
  const ByteRange range_;
  const std::shared_ptr<RangeSink> sink_;
};

WholeFileFallback::WholeFileFallback(RangeSource& inner, uint64_t max_bytes, std::string temp_dir)
    : ForwardingRangeSource(inner), max_bytes_(max_bytes), temp_dir_(std::move(temp_dir)) {}

WholeFileFallback::~WholeFileFallback() = default;

void WholeFileFallback::StartFetch(const RemoteFileInfo& file, const ByteRange& range,
                                   FetchPriority priority, std::shared_ptr<RangeSink> sink) {
  if (IsWithoutRanges(file)) return ServeFromDownload(file, range, std::move(sink));
  inner().StartFetch(file, range, priority,
                     std::make_shared<DetectingSink>(*this, file, range, std::move(sink)));
}

void WholeFileFallback::StartMultiFetch(const RemoteFileInfo& file,
                                        const std::vector<ByteRange>& ranges,
                                        FetchPriority priority,
                                        std::vector<std::shared_ptr<RangeSink>> sinks) {
  if (IsWithoutRanges(file)) {
    for (size_t i = 0; i < ranges.size() && i < sinks.size(); ++i) {
      ServeFromDownload(file, ranges[i], std::move(sinks[i]));
    }
    return;
  }
  std::vector<std::shared_ptr<RangeSink>> detecting;
  detecting.reserve(sinks.size());
  for (size_t i = 0; i < ranges.size() && i < sinks.size(); ++i) {
    detecting.push_back(
        std::make_shared<DetectingSink>(*this, file, ranges[i], std::move(sinks[i])));
  }
  inner().StartMultiFetch(file, ranges, priority, std::move(detecting));
}

bool WholeFileFallback::IsWithoutRanges(const RemoteFileInfo& file) {
  if (!file.ranges_supported) return true;
  std::lock_guard lock(mu_);
  return without_ranges_.contains(file.url);
}

void WholeFileFallback::MarkWithoutRanges(const std::string& url) {
  std::lock_guard lock(mu_);
  without_ranges_.insert(url);
}

WholeFileFallback::DownloadKey WholeFileFallback::KeyOf(const RemoteFileInfo& file) {
  return DownloadKey{file.url, file.size, file.etag, file.last_modified};
}

std::shared_ptr<WholeFileFallback::Download> WholeFileFallback::FindDownload(
    const DownloadKey& key) {
  std::lock_guard lock(mu_);
  const auto found = downloads_.find(key);
  if (found == downloads_.end() || found->second->failed()) return nullptr;
  return found->second;
}

void WholeFileFallback::ServeFromDownload(const RemoteFileInfo& file, const ByteRange& range,
                                          std::shared_ptr<RangeSink> sink) {
  const DownloadKey key = KeyOf(file);
  if (file.size > max_bytes_) {
    bool first = false;
    {
      std::lock_guard lock(mu_);
      first = refused_.insert(key).second;
    }
    if (first) {
      spdlog::warn(
          "{}: the server ignores Range requests and the file ({} bytes) is larger than "
          "--max-full-fetch ({} bytes): its reads fail with EIO",
          RedactUrl(file.url), file.size, max_bytes_);
    }
    return sink->OnDone(Status(
        ErrorCode::kRangeNotSupported,
        "the server ignores Range requests and the file (" + std::to_string(file.size) +
            " bytes) is larger than --max-full-fetch (" + std::to_string(max_bytes_) + " bytes)"));
  }
  std::shared_ptr<Download> download = FindDownload(key);
  bool start = false;
  if (!download) {
    // The file is created with no lock held. Requests that race here may each create one: the
    // first to publish its download wins, and the others' files are closed unused.
    const int fd = OpenAnonymousFile(temp_dir_);
    if (fd < 0) {
      const int error = errno;
      return sink->OnDone(Status(ErrorCode::kInternal, "cannot create a temporary file in " +
                                                           temp_dir_ + ": " + ErrnoText(error)));
    }
    auto created = std::make_shared<Download>(file, fd);
    // Downloads taken out of the map, released after mu_ (closing a file is I/O). A transfer
    // still running keeps its download alive until it ends, and answers its waiters.
    std::vector<std::shared_ptr<Download>> dropped;
    {
      std::lock_guard lock(mu_);
      std::shared_ptr<Download>& slot = downloads_[key];
      if (slot && !slot->failed()) {
        download = slot;
      } else {
        // One download per URL at a time: starting one retires the URL's other versions, whose
        // temporary files would otherwise stay until unmount.
        for (auto it = downloads_.begin(); it != downloads_.end();) {
          if (it->first.url == key.url && it->first != key) {
            dropped.push_back(std::move(it->second));
            it = downloads_.erase(it);
          } else {
            ++it;
          }
        }
        if (slot) dropped.push_back(std::move(slot));
        slot = created;
        download = std::move(created);
        start = true;
      }
    }
  }
  // Queued before the download starts, so that a download completing inline answers it.
  download->Serve(range, std::move(sink));
  if (start) download->Start(inner());
}

}  // namespace rangefs
