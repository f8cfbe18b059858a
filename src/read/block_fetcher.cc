#include "rangefs/block_fetcher.h"

#include <algorithm>
#include <cstring>

namespace rangefs {
namespace {

// Receives one run's body and cuts it into blocks, publishing each the moment it is complete.
class BlockRunSink final : public RangeSink {
 public:
  BlockRunSink(BlockCache& cache, BlockStore* store, FileVersionPtr version, uint64_t block_size,
               uint64_t first_index, uint64_t last_index)
      : cache_(cache),
        store_(store),
        version_(std::move(version)),
        block_size_(block_size),
        next_index_(first_index),
        last_index_(last_index) {}

  ~BlockRunSink() override {
    // A source that dropped the request without OnDone must not leave waiters hanging.
    if (!done_) FailRemaining(Status(ErrorCode::kInternal, "range request abandoned"));
  }

  bool OnData(std::span<const std::byte> data) override {
    while (!data.empty()) {
      if (next_index_ > last_index_) return false;  // more bytes than the run: refuse them
      if (!block_) {
        block_ = std::make_shared<Block>(static_cast<size_t>(BlockLength(next_index_)));
        filled_ = 0;
      }
      const size_t take = std::min(data.size(), block_->size() - filled_);
      std::memcpy(block_->mutable_bytes().data() + filled_, data.data(), take);
      filled_ += take;
      data = data.subspan(take);
      if (filled_ == block_->size()) {
        BlockPtr complete = std::move(block_);
        block_.reset();
        cache_.Fulfill(version_->KeyFor(next_index_), complete);
        if (store_) store_->Offer(version_->key, next_index_, std::move(complete));
        ++next_index_;
      }
    }
    return true;
  }

  void OnDone(const Status& status) override {
    done_ = true;
    if (next_index_ > last_index_) return;
    FailRemaining(status.ok() ? Status(ErrorCode::kProtocolViolation, "range body ended early")
                              : status);
  }

 private:
  uint64_t BlockLength(uint64_t index) const {
    const uint64_t start = index * block_size_;
    return std::min(block_size_, version_->info.size - start);
  }

  void FailRemaining(const Status& status) {
    block_.reset();
    for (; next_index_ <= last_index_; ++next_index_) {
      cache_.Fail(version_->KeyFor(next_index_), status);
    }
  }

  BlockCache& cache_;
  BlockStore* const store_;  // may be null
  const FileVersionPtr version_;
  const uint64_t block_size_;
  uint64_t next_index_;  // block the next byte belongs to
  const uint64_t last_index_;
  std::shared_ptr<Block> block_;  // being filled; null between blocks
  size_t filled_ = 0;
  bool done_ = false;
};

uint64_t BlockLength(const FileVersion& version, uint64_t block_size, uint64_t index) {
  return std::min(block_size, version.info.size - index * block_size);
}

}  // namespace

// A prefetch's claims waiting for a store worker. If the worker never runs it (the fetcher is
// stopping), its claims fail, so no waiter hangs.
class BlockFetcher::StoreLookup {
 public:
  StoreLookup(BlockFetcher& fetcher, FileVersionPtr version, std::vector<Run> runs,
              FetchPriority priority)
      : fetcher_(fetcher),
        version_(std::move(version)),
        runs_(std::move(runs)),
        priority_(priority) {}
  StoreLookup(const StoreLookup&) = delete;
  StoreLookup& operator=(const StoreLookup&) = delete;
  ~StoreLookup() {
    if (ran_) return;
    const Status stopping(ErrorCode::kInternal, "stopping: the disk cache was not asked");
    for (const BlockFetcher::Run& run : runs_) {
      for (uint64_t index = run.first_index; index <= run.last_index; ++index) {
        fetcher_.cache_.Fail(version_->KeyFor(index), stopping);
      }
    }
  }

  void LookUp() {
    ran_ = true;
    const std::vector<BlockFetcher::Run> rest = fetcher_.LoadFromStore(version_, runs_);
    if (!rest.empty()) fetcher_.FetchFromSource(version_, rest, priority_);
  }

 private:
  BlockFetcher& fetcher_;
  const FileVersionPtr version_;
  const std::vector<BlockFetcher::Run> runs_;
  const FetchPriority priority_;
  bool ran_ = false;
};

BlockFetcher::BlockFetcher(BlockCache& cache, RangeSource& source, uint64_t block_size,
                           BlockStore* store)
    : cache_(cache),
      source_(source),
      block_size_(block_size),
      store_(store),
      store_workers_(store ? std::make_unique<TaskPool>(kStoreWorkers) : nullptr) {}

void BlockFetcher::SetStore(BlockStore* store) {
  store_ = store;
  if (store_) store_workers_ = std::make_unique<TaskPool>(kStoreWorkers);
}

BlockFetcher::~BlockFetcher() {
  // Lookups not started fail their claims here, while the cache is still there.
  if (store_workers_) store_workers_->Stop();
}

std::vector<BlockFetcher::Run> BlockFetcher::LoadFromStore(const FileVersionPtr& version,
                                                           const std::vector<Run>& runs) {
  std::vector<Run> rest;
  for (const Run& run : runs) {
    for (uint64_t index = run.first_index; index <= run.last_index; ++index) {
      const auto length = static_cast<size_t>(BlockLength(*version, block_size_, index));
      if (BlockPtr stored = store_->Load(*version->key, index, length)) {
        cache_.Fulfill(version->KeyFor(index), std::move(stored));
      } else if (!rest.empty() && rest.back().last_index + 1 == index) {
        rest.back().last_index = index;
      } else {
        rest.push_back({index, index});
      }
    }
  }
  return rest;
}

void BlockFetcher::FetchClaimedRuns(const FileVersionPtr& version, const std::vector<Run>& runs,
                                    FetchPriority priority) {
  if (runs.empty()) return;
  if (!store_) return FetchFromSource(version, runs, priority);
  if (priority == FetchPriority::kDemand) {
    const std::vector<Run> rest = LoadFromStore(version, runs);
    if (!rest.empty()) FetchFromSource(version, rest, priority);
    return;
  }
  auto lookup = std::make_shared<StoreLookup>(*this, version, runs, priority);
  // A refused task is destroyed at once, failing its claims.
  store_workers_->Post([lookup] { lookup->LookUp(); });
}

void BlockFetcher::FetchFromSource(const FileVersionPtr& version, const std::vector<Run>& runs,
                                   FetchPriority priority) {
  if (runs.size() == 1) {
    const uint64_t first = runs[0].first_index * block_size_;
    const uint64_t last = std::min((runs[0].last_index + 1) * block_size_, version->info.size) - 1;
    source_.StartFetch(version->info, ByteRange{first, last}, priority,
                       std::make_shared<BlockRunSink>(cache_, store_, version, block_size_,
                                                      runs[0].first_index, runs[0].last_index));
    return;
  }
  std::vector<ByteRange> ranges;
  std::vector<std::shared_ptr<RangeSink>> sinks;
  ranges.reserve(runs.size());
  sinks.reserve(runs.size());
  for (const Run& run : runs) {
    ranges.push_back(
        ByteRange{run.first_index * block_size_,
                  std::min((run.last_index + 1) * block_size_, version->info.size) - 1});
    sinks.push_back(std::make_shared<BlockRunSink>(cache_, store_, version, block_size_,
                                                   run.first_index, run.last_index));
  }
  source_.StartMultiFetch(version->info, ranges, priority, std::move(sinks));
}

void BlockFetcher::Expedite(const FileVersionPtr& version, uint64_t first_index,
                            uint64_t last_index) {
  source_.Expedite(version->info,
                   ByteRange{first_index * block_size_,
                             std::min((last_index + 1) * block_size_, version->info.size) - 1});
}

void BlockFetcher::ClaimMissing(const FileVersionPtr& version, uint64_t first_index,
                                uint64_t last_index, std::vector<Run>& runs) {
  for (uint64_t index = first_index; index <= last_index; ++index) {
    if (!cache_.TryClaim(version->KeyFor(index))) continue;
    if (!runs.empty() && runs.back().last_index + 1 == index) {
      runs.back().last_index = index;
    } else {
      runs.push_back({index, index});
    }
  }
}

void BlockFetcher::FetchClaimed(const FileVersionPtr& version, uint64_t first_index,
                                uint64_t last_index, FetchPriority priority) {
  FetchClaimedRuns(version, {Run{first_index, last_index}}, priority);
}

}  // namespace rangefs
