// MountedFile: one file of the mount across the versions the remote goes through. It knows the
// current version, when the server last confirmed it, and the older versions that open handles
// still use; each new version gets the next generation. It is the VersionRegistry of its
// readers: a reader's report of another version goes to the ChangeHandler given at
// construction (the Filesystem, which probes and adopts).
//
// A file known only from a listing or a URL file starts unprobed: its version is what the
// listing said (a size, or none), and the first probe completes it. That probe replaces the
// version only when it contradicts a size the listing stated, so what the kernel was told stays
// true; a listing's guess is never read from (Open probes first).
//
// Revalidation is single-flight: concurrent callers that need the version confirmed share one
// probe, waiting on a shared future with no lock held while the probe runs, so a slow server
// delays the callers that need its answer and nothing else.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "rangefs/file_reader.h"
#include "rangefs/file_version.h"
#include "rangefs/readahead_policy.h"
#include "rangefs/remote_file.h"
#include "rangefs/scheduler.h"
#include "rangefs/status.h"

namespace rangefs {

class MountedDirectory;

class MountedFile final : public VersionRegistry {
 public:
  using Clock = Scheduler::Clock;
  // Hears a reader's evidence that `version` (still current) was replaced.
  using ChangeHandler =
      std::function<void(MountedFile& file, const FileVersion& version, const Status& evidence)>;
  // Asks the server about the file whose current version is `current`.
  using Probe = std::function<Result<RemoteFileInfo>(const RemoteFileInfo& current)>;

  // `info` was probed at `probed_at`, or (nullopt) only listed: then `info.size` is the size the
  // listing stated exactly, or (`size_known` false) unknown. Its versions are cut into blocks
  // of `block_size` bytes.
  // `parent` is the directory that holds it.
  MountedFile(std::string name, RemoteFileInfo info, std::optional<Clock::time_point> probed_at,
              uint64_t block_size, const ReadaheadConfig& readahead, ChangeHandler on_change,
              bool size_known = true, std::weak_ptr<MountedDirectory> parent = {});

  const std::string& name() const { return name_; }
  // Null once the directory is gone (and for files made without one).
  std::shared_ptr<MountedDirectory> parent() const { return parent_.lock(); }
  FileVersionPtr current() const;
  // The version of this generation while it is current or an open handle holds it; else null.
  FileVersionPtr Find(uint64_t generation) const;
  // When the last probe that confirmed or adopted the current version started.
  Clock::time_point confirmed_at() const;
  // Whether a probe has answered for this file yet.
  bool probed() const;
  // Whether the current version's size is known: probed, or stated exactly by a listing.
  bool size_known() const;
  // Why the last probe failed, while the file has never been probed; ok() otherwise.
  Status first_probe_failure() const;
  // Makes the next Revalidate probe, however recently the version was confirmed: a listing
  // now describes the file differently.
  void Expire();

  // What a revalidation's probe found, for the caller that ran it.
  struct Probed {
    FileVersionPtr before;    // the current version when the probe started
    Status status;            // why the probe failed; ok() when the server answered
    FileVersionPtr replaced;  // `before`, when the answer was another version (now current)
    bool first = false;       // the file's first probe: `before` was only what a listing said
  };
  // Probes the file unless a probe that started after `asked_at` has already answered,
  // or (with `suspect` null) the version was confirmed less than `max_age` before now, or (with
  // `suspect`) that version is already replaced. Adopts what the probe shows. Returns what the
  // probe found to the one caller that ran it; nullopt to callers it spared, including those
  // that waited for another caller's probe.
  std::optional<Probed> Revalidate(Clock::time_point asked_at, const FileVersion* suspect,
                                   Clock::duration max_age, const Scheduler& clock,
                                   const Probe& probe);

  // Callers of Revalidate waiting for another caller's probe right now.
  size_t callers_waiting() const;

  // True exactly once per generation: for the first open of that version.
  bool FirstOpenOf(uint64_t generation);

  // The readahead state its readers share, made on first use (the first open): a file that is
  // only listed or looked up costs nothing here.
  SharedReadahead& readahead();

  // VersionRegistry, for the readers of this file.
  bool IsCurrent(const FileVersion& version) const override;
  void ReportChanged(const FileVersion& version, const Status& evidence) override;

 private:
  // Records what a probe that started at `probed_at` found (see Revalidate); returns the
  // version it replaced, if any. REQUIRES: mu_ held.
  FileVersionPtr AdoptLocked(Result<RemoteFileInfo> probed, Clock::time_point probed_at);

  const std::string name_;
  const std::weak_ptr<MountedDirectory> parent_;
  const uint64_t block_size_;
  const ChangeHandler on_change_;
  const ReadaheadConfig readahead_config_;

  mutable std::mutex mu_;
  FileVersionPtr current_;          // Guarded by mu_
  Clock::time_point confirmed_at_;  // Guarded by mu_
  // When the last finished probe started, whatever it found.
  Clock::time_point attempted_at_;                            // Guarded by mu_
  std::shared_future<void> probe_in_flight_;                  // Guarded by mu_
  size_t callers_waiting_ = 0;                                // Guarded by mu_
  std::map<uint64_t, std::weak_ptr<const FileVersion>> old_;  // Guarded by mu_
  std::optional<uint64_t> opened_generation_;                 // Guarded by mu_
  bool expired_ = false;                                      // Guarded by mu_
  std::atomic<bool> probed_ = true;                           // written under mu_, read without it
  // Made once under mu_, then used without it (internally synchronized).
  std::unique_ptr<SharedReadahead> readahead_;  // Guarded by mu_ (the pointer)
  bool size_known_ = true;                      // Guarded by mu_
  Status first_probe_failure_;                  // Guarded by mu_
};

}  // namespace rangefs
