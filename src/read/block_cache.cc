#include "rangefs/block_cache.h"

#include <boost/multi_index/hashed_index.hpp>
#include <boost/multi_index/member.hpp>
#include <boost/multi_index/sequenced_index.hpp>
#include <boost/multi_index_container.hpp>
#include <cassert>
#include <unordered_map>

namespace rangefs {
namespace {

namespace bmi = boost::multi_index;

struct CachedBlock {
  BlockKey key;
  BlockPtr block;
  // When it was cached or its use last reported; mutable: not part of either index's key.
  mutable std::chrono::steady_clock::time_point reported;
};

// One container, two views: insertion/use order for eviction (front = least recently used) and
// a hash index for lookup.
using LruIndex = bmi::multi_index_container<
    CachedBlock,
    bmi::indexed_by<
        bmi::sequenced<>,
        bmi::hashed_unique<bmi::member<CachedBlock, BlockKey, &CachedBlock::key>, BlockKeyHash>>>;

struct Loading {
  std::promise<BlockResult> promise;
  BlockFuture future = promise.get_future().share();
  bool retired = false;  // its file was retired while it loaded: hand it out, do not cache it
};

}  // namespace

struct BlockCache::State {
  LruIndex lru;
  std::unordered_map<BlockKey, Loading, BlockKeyHash> loading;
  size_t cached_bytes = 0;
  BlockCacheStats counters;
};

BlockCache::BlockCache(size_t capacity_bytes)
    : capacity_bytes_(capacity_bytes), state_(std::make_unique<State>()) {
  assert(capacity_bytes > 0);
}

BlockCache::~BlockCache() = default;

BlockCache::Acquired BlockCache::Acquire(const BlockKey& key) {
  std::lock_guard lock(mu_);
  auto& by_key = state_->lru.get<1>();
  if (auto found = by_key.find(key); found != by_key.end()) {
    ++state_->counters.hits;
    auto& by_use = state_->lru.get<0>();
    by_use.relocate(by_use.end(), state_->lru.project<0>(found));
    bool report = false;
    if (report_interval_) {
      const auto now = std::chrono::steady_clock::now();
      report = now - found->reported >= *report_interval_;
      if (report) found->reported = now;
    }
    return {.block = found->block, .pending = {}, .claimed = false, .report_use = report};
  }
  ++state_->counters.misses;
  auto [loading, inserted] = state_->loading.try_emplace(key);
  return {.block = nullptr, .pending = loading->second.future, .claimed = inserted};
}

bool BlockCache::Holds(const BlockKey& key) const {
  std::lock_guard lock(mu_);
  return state_->lru.get<1>().count(key) > 0 || state_->loading.count(key) > 0;
}

void BlockCache::SetUseReportInterval(std::chrono::steady_clock::duration interval) {
  std::lock_guard lock(mu_);
  report_interval_ = interval;
}

bool BlockCache::TryClaim(const BlockKey& key) {
  std::lock_guard lock(mu_);
  if (state_->lru.get<1>().count(key) > 0) return false;
  return state_->loading.try_emplace(key).second;
}

void BlockCache::Fulfill(const BlockKey& key, BlockPtr block) {
  std::promise<BlockResult> promise;
  {
    std::lock_guard lock(mu_);
    auto loading = state_->loading.find(key);
    assert(loading != state_->loading.end() && "Fulfill without a claim");
    if (loading == state_->loading.end()) return;
    promise = std::move(loading->second.promise);
    const bool retired = loading->second.retired;
    state_->loading.erase(loading);

    if (block->size() <= capacity_bytes_ && !retired) {
      auto& by_use = state_->lru.get<0>();
      while (state_->cached_bytes + block->size() > capacity_bytes_ && !by_use.empty()) {
        state_->cached_bytes -= by_use.front().block->size();
        by_use.pop_front();
        ++state_->counters.evictions;
      }
      by_use.push_back({key, block, std::chrono::steady_clock::now()});
      state_->cached_bytes += block->size();
    }
  }
  // Outside the lock: waking waiters runs no code of ours, but there is no reason to hold it.
  promise.set_value(std::move(block));
}

void BlockCache::Fail(const BlockKey& key, const Status& status) {
  assert(!status.ok());
  std::promise<BlockResult> promise;
  {
    std::lock_guard lock(mu_);
    auto loading = state_->loading.find(key);
    assert(loading != state_->loading.end() && "Fail without a claim");
    if (loading == state_->loading.end()) return;
    promise = std::move(loading->second.promise);
    state_->loading.erase(loading);
  }
  promise.set_value(status);
}

size_t BlockCache::Retire(const FileKey& file) {
  std::lock_guard lock(mu_);
  for (auto& [key, loading] : state_->loading) {
    if (*key.file == file) loading.retired = true;
  }
  size_t dropped = 0;
  auto& by_use = state_->lru.get<0>();
  for (auto it = by_use.begin(); it != by_use.end();) {
    if (*it->key.file != file) {
      ++it;
      continue;
    }
    state_->cached_bytes -= it->block->size();
    it = by_use.erase(it);
    ++dropped;
  }
  state_->counters.retired += dropped;
  return dropped;
}

BlockPtr BlockCache::Peek(const BlockKey& key) const {
  std::lock_guard lock(mu_);
  const auto& by_key = state_->lru.get<1>();
  const auto found = by_key.find(key);
  return found == by_key.end() ? nullptr : found->block;
}

size_t BlockCache::CachedBytesOf(const FileKey& file) const {
  // A walk over every cached block, for a rare question (an extended attribute), rather than
  // a per-file tally that every fill and eviction would pay for under the lock.
  std::lock_guard lock(mu_);
  size_t bytes = 0;
  for (const CachedBlock& cached : state_->lru) {
    if (*cached.key.file == file) bytes += cached.block->size();
  }
  return bytes;
}

BlockCacheStats BlockCache::stats() const {
  std::lock_guard lock(mu_);
  BlockCacheStats stats = state_->counters;
  stats.cached_bytes = state_->cached_bytes;
  stats.cached_blocks = state_->lru.size();
  stats.loading_blocks = state_->loading.size();
  return stats;
}

}  // namespace rangefs
