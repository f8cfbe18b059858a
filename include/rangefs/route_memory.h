// RouteMemory: what rangefs learned about a route to a server (an origin, reached directly or
// through a proxy) that is worth keeping beyond this process: whether it serves several ranges
// in one request. A cache tier that refuses them (Varnish's 416, nginx slice's 200) would
// otherwise cost every mount a refused request before it asks one range at a time. RouteFile
// keeps it beside the disk cache (--cache-dir), shared by the processes using that directory.
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace rangefs {

class RouteMemory {
 public:
  virtual ~RouteMemory() = default;
  // Whether the route `key` was found to serve several ranges at once; nullopt: not known.
  virtual std::optional<bool> RecallMultiRange(const std::string& key) const = 0;
  virtual void RememberMultiRange(const std::string& key, bool supported) = 0;
};

// Routes in a text file, one "good|bad<TAB>KEY" line each: read once at open, rewritten whole
// (a temporary file renamed into place, so a reader never sees half of it) when something new is
// learned, after merging what other processes wrote meanwhile. Two processes learning at once
// may lose one line; the next mount learns it again, at the cost of one refused request.
class RouteFile final : public RouteMemory {
 public:
  // Reads `path` (absent: nothing known yet). Unreadable lines are skipped.
  explicit RouteFile(std::string path);

  std::optional<bool> RecallMultiRange(const std::string& key) const override;
  // Writes with no lock held; a failure to write is logged once and otherwise ignored: what
  // is learned still holds for this process.
  void RememberMultiRange(const std::string& key, bool supported) override;

 private:
  const std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, bool> known_;  // Guarded by mu_
  bool write_failed_ = false;          // Guarded by mu_
};

}  // namespace rangefs
