#include "rangefs/range_source.h"

#include <cstring>
#include <future>

namespace rangefs {
namespace {

// Copies a body into a caller's buffer and lets the caller wait for the end.
class BufferSink final : public RangeSink {
 public:
  explicit BufferSink(std::span<std::byte> out) : out_(out) {}
  ~BufferSink() override {
    // A source that dropped the request without OnDone must not leave the caller waiting.
    if (!done_called_) done_.set_value(Status(ErrorCode::kInternal, "range request abandoned"));
  }

  bool OnData(std::span<const std::byte> data) override {
    if (data.size() > out_.size() - received_) return false;
    std::memcpy(out_.data() + received_, data.data(), data.size());
    received_ += data.size();
    return true;
  }
  void OnDone(const Status& status) override {
    done_called_ = true;
    if (status.ok() && received_ != out_.size()) {
      done_.set_value(Status(ErrorCode::kProtocolViolation, "range body ended early"));
      return;
    }
    done_.set_value(status);
  }
  std::future<Status> Done() { return done_.get_future(); }

 private:
  const std::span<std::byte> out_;
  size_t received_ = 0;
  bool done_called_ = false;
  std::promise<Status> done_;
};

}  // namespace

void RangeSource::StartMultiFetch(const RemoteFileInfo& file, const std::vector<ByteRange>& ranges,
                                  FetchPriority priority,
                                  std::vector<std::shared_ptr<RangeSink>> sinks) {
  for (size_t i = 0; i < ranges.size() && i < sinks.size(); ++i) {
    StartFetch(file, ranges[i], priority, std::move(sinks[i]));
  }
}

Status RangeSource::Fetch(const RemoteFileInfo& file, const ByteRange& range,
                          std::span<std::byte> out) {
  if (out.size() != range.length() || range.last >= file.size) {
    return Status(ErrorCode::kInternal, "Fetch called with a range outside the file or buffer");
  }
  auto sink = std::make_shared<BufferSink>(out);
  std::future<Status> done = sink->Done();
  StartFetch(file, range, FetchPriority::kDemand, std::move(sink));  // the source owns it now
  return done.get();
}

}  // namespace rangefs
