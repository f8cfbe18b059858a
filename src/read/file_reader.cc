#include "rangefs/file_reader.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <string>

#include "rangefs/block_store.h"

namespace rangefs {
namespace {

// How soon a reader waiting for the network notices that rangefs is stopping.
constexpr std::chrono::milliseconds kStopPollInterval{100};

}  // namespace

void ReadBuffer::Append(BlockPtr block, std::span<const std::byte> slice) {
  slices_.push_back(slice);
  size_ += slice.size();
  pins_.push_back(std::move(block));
}

void ReadBuffer::CopyTo(std::span<std::byte> out) const {
  size_t copied = 0;
  for (const std::span<const std::byte>& slice : slices_) {
    std::memcpy(out.data() + copied, slice.data(), slice.size());
    copied += slice.size();
  }
}

void FileReader::ExpediteOthersLoads(const std::vector<BlockCache::Acquired>& blocks,
                                     uint64_t first_index) {
  // Blocks this read claimed went out as demand; the others may be waiting behind readahead
  // for a connection (a prefetch queued, or one of another stream or file).
  std::optional<size_t> first_waiting;
  size_t last_waiting = 0;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i].block || blocks[i].claimed) continue;
    if (blocks[i].pending.wait_for(std::chrono::seconds(0)) == std::future_status::ready) continue;
    if (!first_waiting) first_waiting = i;
    last_waiting = i;
  }
  if (first_waiting) {
    fetcher_.Expedite(version_, first_index + *first_waiting, first_index + last_waiting);
  }
}

Result<ReadBuffer> FileReader::Read(uint64_t offset, uint64_t size) {
  Result<ReadBuffer> read =
      ReadBlocks(offset, size, std::chrono::steady_clock::now(), /*may_ask_again=*/true);
  if (metrics_) metrics_->CountRead(read.ok() ? read->size() : 0, read.ok());
  return read;
}

std::optional<Status> FileReader::RecentFailureOf(uint64_t index,
                                                  std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (!recent_failure_ || recent_failure_->index != index ||
      now - recent_failure_->when >= limits_.failure_memory) {
    return std::nullopt;
  }
  return recent_failure_->status;
}

void FileReader::RememberFailure(uint64_t index, const Status& status) {
  std::lock_guard lock(mu_);
  recent_failure_ = RecentFailure{index, status, std::chrono::steady_clock::now()};
}

Result<BlockPtr> FileReader::AwaitLoad(BlockCache::Acquired& acquired, uint64_t index,
                                       std::chrono::steady_clock::time_point deadline) {
  // Polled rather than woken: a stop is rare, and a waiting reader costs one wakeup per
  // interval.
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      const Status timed_out(ErrorCode::kTransport, "no answer within " +
                                                        std::to_string(limits_.timeout.count()) +
                                                        " ms (--timeout and its slack)");
      RememberFailure(index, timed_out);
      return timed_out;
    }
    const auto wait =
        std::min<std::chrono::steady_clock::duration>(kStopPollInterval, deadline - now);
    if (acquired.pending.wait_for(wait) == std::future_status::ready) break;
    if (stop_.stop_requested()) return Status(ErrorCode::kInternal, "rangefs is stopping");
  }
  const BlockResult& loaded = acquired.pending.get();
  if (loaded.ok()) return loaded.value();
  if (loaded.status().code() == ErrorCode::kRemoteChanged) {
    versions_.ReportChanged(*version_, loaded.status());
    if (versions_.IsCurrent(*version_)) return loaded.status();  // a false alarm: not kept
  }
  RememberFailure(index, loaded.status());
  return loaded.status();
}

void FileReader::FeedReadahead(uint64_t offset, uint64_t size) {
  if (const std::optional<Readahead> ahead = readahead_.OnRead(offset, size, version_->info.size)) {
    prefetcher_.Prefetch(version_, ahead->range, ahead->window);
    if (metrics_) metrics_->ObserveReadahead(ahead->window);
  }
}

std::optional<ReadBuffer> FileReader::ReadFromStore(const ByteRange& range, uint64_t index) {
  BlockStore* store = fetcher_.store();
  if (store == nullptr || fetcher_.cache().Holds(version_->KeyFor(index))) return std::nullopt;
  const uint64_t block_size = fetcher_.block_size();
  const uint64_t block_start = index * block_size;
  const uint64_t length = std::min(block_size, version_->info.size - block_start);
  const uint64_t from = range.first - block_start;
  const uint64_t to = range.last + 1 - block_start;
  const BlockStore::Part part =
      store->LoadPart(*version_->key, index, static_cast<size_t>(length), from, to);
  if (!part.bytes || part.offset > from || part.offset + part.bytes->size() < to) {
    return std::nullopt;
  }
  ReadBuffer buffer;
  buffer.Append(part.bytes, part.bytes->bytes().subspan(static_cast<size_t>(from - part.offset),
                                                        static_cast<size_t>(to - from)));
  return buffer;
}

Result<ReadBuffer> FileReader::ReadBlocks(uint64_t offset, uint64_t size,
                                          std::chrono::steady_clock::time_point started,
                                          bool may_ask_again) {
  const uint64_t file_size = version_->info.size;
  const std::optional<ByteRange> range = ClampToFile(offset, size, file_size);
  if (!range) return ReadBuffer();

  const uint64_t block_size = fetcher_.block_size();
  const uint64_t first_index = range->first / block_size;
  const uint64_t last_index = range->last / block_size;
  BlockCache& cache = fetcher_.cache();
  if (first_index == last_index) {
    if (std::optional<ReadBuffer> stored = ReadFromStore(*range, first_index)) {
      if (versions_.IsCurrent(*version_)) FeedReadahead(offset, size);
      return *std::move(stored);
    }
  }

  std::vector<BlockCache::Acquired> blocks;
  blocks.reserve(static_cast<size_t>(last_index - first_index + 1));
  for (uint64_t index = first_index; index <= last_index; ++index) {
    blocks.push_back(cache.Acquire(version_->KeyFor(index)));
    if (blocks.back().report_use && fetcher_.store()) {
      fetcher_.store()->Touch(*version_->key, index);
    }
  }
  // A block that just failed fails this read at once (the kernel retrying what failed), unless
  // it has arrived since.
  std::optional<Status> recent;
  for (size_t i = 0; i < blocks.size() && !recent; ++i) {
    if (!blocks[i].block) recent = RecentFailureOf(first_index + i, started);
  }
  // Checked once: every claim below must end in exactly one fetch or one failure.
  if (recent) {
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i].claimed) cache.Fail(version_->KeyFor(first_index + i), *recent);
    }
    return *recent;
  }
  if (!versions_.IsCurrent(*version_)) {
    // The remote replaced this version: what is cached may be served, nothing may be fetched.
    const Status replaced(ErrorCode::kRemoteChanged,
                          "the remote file changed after this handle was opened");
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i].claimed) cache.Fail(version_->KeyFor(first_index + i), replaced);
    }
  } else {
    // Adjacent blocks this read claimed are one run; the runs go out together, in one
    // request where the source can ask for several ranges at once.
    std::vector<BlockFetcher::Run> runs;
    for (size_t i = 0; i < blocks.size();) {
      if (!blocks[i].claimed) {
        ++i;
        continue;
      }
      size_t end = i + 1;
      while (end < blocks.size() && blocks[end].claimed) ++end;
      runs.push_back({first_index + i, first_index + end - 1});
      i = end;
    }
    if (!runs.empty()) fetcher_.FetchClaimedRuns(version_, runs, FetchPriority::kDemand);
    // Readahead starts before this read waits, so it overlaps with the read's own requests.
    FeedReadahead(offset, size);
    ExpediteOthersLoads(blocks, first_index);
  }

  ReadBuffer buffer;
  for (size_t i = 0; i < blocks.size(); ++i) {
    BlockPtr block = blocks[i].block;
    if (!block) {
      Result<BlockPtr> loaded = AwaitLoad(blocks[i], first_index + i, started + limits_.timeout);
      if (!loaded.ok()) {
        // The check after an answer that looked like another version found this one still
        // current (a cache node with an old copy, an answer mixed up on its way): once, the
        // read asks again, within the same time bound, rather than fail on one odd answer.
        if (may_ask_again && loaded.status().code() == ErrorCode::kRemoteChanged &&
            versions_.IsCurrent(*version_)) {
          return ReadBlocks(offset, size, started, /*may_ask_again=*/false);
        }
        return loaded.status();
      }
      block = *std::move(loaded);
    }
    const uint64_t block_start = (first_index + i) * block_size;
    const uint64_t from = std::max(range->first, block_start) - block_start;
    const uint64_t to = std::min(range->last + 1, block_start + block->size()) - block_start;
    buffer.Append(
        block, block->bytes().subspan(static_cast<size_t>(from), static_cast<size_t>(to - from)));
  }
  return buffer;
}

}  // namespace rangefs
