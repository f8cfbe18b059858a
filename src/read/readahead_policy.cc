#include "rangefs/readahead_policy.h"

#include <algorithm>

namespace rangefs {

namespace {

// How far from its single read an unconfirmed stream's next read may land: a kernel read's
// worth of reordering, not more, so that scattered random reads rarely look sequential.
constexpr uint64_t kUnconfirmedSlack = 128 << 10;

}  // namespace

bool ReadaheadPolicy::Continues(const Stream& stream, uint64_t offset, uint64_t end) const {
  if (stream.window == 0) {
    // One read so far: only a read right next to it (either side, reordering included)
    // makes the stream sequential.
    const uint64_t slack = std::max(kUnconfirmedSlack, stream.last_length);
    const uint64_t low = stream.last_offset > slack ? stream.last_offset - slack : 0;
    return offset <= stream.next + slack && end >= low;
  }
  // An established stream: a read near where it was expected to go on, or anywhere inside what
  // was fetched ahead for it (a reader skipping a little forward).
  const uint64_t low =
      stream.next > config_.reorder_slack ? stream.next - config_.reorder_slack : 0;
  const uint64_t high = std::max(stream.next + config_.reorder_slack, stream.ahead_end);
  return offset >= low && offset <= high && end > low;
}

ReadaheadPolicy::Stream* ReadaheadPolicy::FindStream(uint64_t offset, uint64_t end) {
  Stream* best = nullptr;
  for (Stream& stream : streams_) {
    if (!Continues(stream, offset, end)) continue;
    if (!best || stream.last_use > best->last_use) best = &stream;
  }
  return best;
}

std::optional<Readahead> ReadaheadPolicy::OnRead(uint64_t offset, uint64_t length,
                                                 uint64_t file_size) {
  const std::optional<ByteRange> read = ClampToFile(offset, length, file_size);
  if (!read) return std::nullopt;
  const uint64_t end = read->last + 1;
  ++tick_;

  Stream* stream = FindStream(offset, end);
  if (!stream) {
    // A seek, or a first read: a new stream without readahead until its next read continues it.
    if (streams_.size() >= config_.max_streams) {
      auto oldest = std::ranges::min_element(streams_, {}, &Stream::last_use);
      streams_.erase(oldest);
    }
    streams_.push_back({.last_offset = offset,
                        .last_length = end - offset,
                        .next = end,
                        .ahead_end = end,
                        .window = 0,
                        .grown_at = end,
                        .last_use = tick_});
    return std::nullopt;
  }

  stream->last_use = tick_;
  stream->last_offset = offset;
  stream->last_length = end - offset;
  stream->next = std::max(stream->next, end);
  stream->ahead_end = std::max(stream->ahead_end, stream->next);
  if (stream->window == 0) {
    stream->window = std::min(config_.initial_window, config_.max_window);
    stream->grown_at = stream->next;
  } else if (stream->next - stream->grown_at >= stream->window / 2 &&
             stream->window < config_.max_window) {
    // The reader consumed half a window since it last grew: it keeps up, so look further ahead.
    stream->window = std::min(stream->window * 2, config_.max_window);
    stream->grown_at = stream->next;
  }
  const uint64_t target = std::min(stream->next + stream->window, file_size);
  if (target <= stream->ahead_end) return std::nullopt;
  // Less than a step is missing: wait until a request's worth is, unless that is all the file
  // has left.
  const uint64_t step = std::max<uint64_t>(
      stream->window / std::max<size_t>(1, config_.requests_per_window), config_.min_top_up);
  if (target - stream->ahead_end < step && target < file_size) return std::nullopt;
  const Readahead ahead{.range = {stream->ahead_end, target - 1}, .window = stream->window};
  stream->ahead_end = target;
  return ahead;
}

std::vector<uint64_t> ReadaheadPolicy::WindowSizes() const {
  std::vector<Stream> by_use = streams_;
  std::ranges::sort(by_use, {}, &Stream::last_use);
  std::vector<uint64_t> windows;
  for (const Stream& stream : by_use) windows.push_back(stream.window);
  return windows;
}

}  // namespace rangefs
