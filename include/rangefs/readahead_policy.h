// ReadaheadPolicy: decides, from the reads of one file, which bytes should be fetched before
// anyone asks for them. Pure logic: no I/O, no clock, no threads; the caller fetches what the
// policy names (skipping what is already cached or loading).
//
// It follows several independent sequential streams per file (a media player reads audio and
// video at two positions; archive tools and databases interleave). Each stream's window starts
// small, doubles each time the reader consumes half a window, stops at max_window, and a read
// that continues no stream starts a new one with no readahead at all, so random reads fetch
// only what they touch. A window is kept full: once the reader has consumed one request's
// worth of it (window / requests_per_window), that much more is asked for, so the connections
// stay busy with requests of that length rather than idling until half a window is gone. Reads that
// arrive slightly out of order (the multithreaded FUSE loop and the kernel's own readahead reorder
// them) still continue a stream.
//
// Thread-safety: not thread-safe; the owner serializes calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "rangefs/byte_range.h"

namespace rangefs {

struct ReadaheadConfig {
  // First window of a stream that has shown itself sequential (its second read).
  uint64_t initial_window = 1 << 20;
  // Largest window; the owner keeps it within a fair share of the cache.
  uint64_t max_window = 64 << 20;
  // How far before or after a stream's expected next offset a read may land and still count
  // as continuing it. Covers reordering among in-flight kernel reads (up to 1 MiB each).
  uint64_t reorder_slack = 2 << 20;
  // Streams followed per file; the least recently used one is forgotten for a new one.
  size_t max_streams = 8;
  // How many requests a full window is spread over (the connections): the window is topped up
  // in steps of window / requests_per_window, and no smaller than min_top_up (a block, so a
  // step is never a request for less than one). 0 counts as 1.
  size_t requests_per_window = 8;
  uint64_t min_top_up = 0;
};

// What to fetch ahead, and the window it belongs to (which sets how long its requests are).
struct Readahead {
  ByteRange range;
  uint64_t window = 0;
  friend bool operator==(const Readahead&, const Readahead&) = default;
};

class ReadaheadPolicy {
 public:
  explicit ReadaheadPolicy(const ReadaheadConfig& config) : config_(config) {}

  // Records a read of `length` bytes at `offset` in a file of `file_size` bytes. Returns the
  // bytes to fetch ahead now (beyond the read itself), or nothing.
  std::optional<Readahead> OnRead(uint64_t offset, uint64_t length, uint64_t file_size);

  // Forgets every stream (the file changed, say).
  void Reset() { streams_.clear(); }

  // For tests and metrics: the windows of the current streams, most recent last.
  std::vector<uint64_t> WindowSizes() const;

 private:
  struct Stream {
    uint64_t last_offset = 0;  // where its latest read started
    uint64_t last_length = 0;  // and how long it was
    uint64_t next = 0;         // where the stream's next read is expected
    uint64_t ahead_end = 0;    // end (exclusive) of what was already asked for
    uint64_t window = 0;       // 0 until the stream has shown itself sequential
    uint64_t grown_at = 0;     // `next` when the window last grew
    uint64_t last_use = 0;     // tick of its latest read, for LRU replacement
  };

  bool Continues(const Stream& stream, uint64_t offset, uint64_t end) const;

  Stream* FindStream(uint64_t offset, uint64_t end);

  const ReadaheadConfig config_;
  std::vector<Stream> streams_;
  uint64_t tick_ = 0;
};

}  // namespace rangefs
