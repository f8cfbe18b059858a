#include "rangefs/mounted_file.h"

#include <utility>

namespace rangefs {

MountedFile::MountedFile(std::string name, RemoteFileInfo info,
                         std::optional<Clock::time_point> probed_at, uint64_t block_size,
                         const ReadaheadConfig& readahead, ChangeHandler on_change, bool size_known,
                         std::weak_ptr<MountedDirectory> parent)
    : name_(std::move(name)),
      parent_(std::move(parent)),
      block_size_(block_size),
      on_change_(std::move(on_change)),
      readahead_config_(readahead),
      current_(MakeFileVersion(std::move(info), block_size)),
      confirmed_at_(probed_at.value_or(Clock::time_point())),
      attempted_at_(probed_at.value_or(Clock::time_point())),
      // Never confirmed: any Revalidate probes.
      expired_(!probed_at.has_value()),
      probed_(probed_at.has_value()),
      size_known_(probed_at.has_value() || size_known) {}

FileVersionPtr MountedFile::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

bool MountedFile::IsCurrent(const FileVersion& version) const {
  std::lock_guard lock(mu_);
  return current_->generation == version.generation;
}

void MountedFile::ReportChanged(const FileVersion& version, const Status& evidence) {
  // A replaced version's readers fail without asking anyone: the change is known.
  if (IsCurrent(version) && on_change_) on_change_(*this, version, evidence);
}

FileVersionPtr MountedFile::Find(uint64_t generation) const {
  std::lock_guard lock(mu_);
  if (current_->generation == generation) return current_;
  const auto found = old_.find(generation);
  return found == old_.end() ? nullptr : found->second.lock();
}

MountedFile::Clock::time_point MountedFile::confirmed_at() const {
  std::lock_guard lock(mu_);
  return confirmed_at_;
}

SharedReadahead& MountedFile::readahead() {
  std::lock_guard lock(mu_);
  if (!readahead_) readahead_ = std::make_unique<SharedReadahead>(readahead_config_);
  return *readahead_;
}

bool MountedFile::probed() const { return probed_.load(); }

bool MountedFile::size_known() const {
  std::lock_guard lock(mu_);
  return size_known_;
}

Status MountedFile::first_probe_failure() const {
  std::lock_guard lock(mu_);
  return first_probe_failure_;
}

void MountedFile::Expire() {
  std::lock_guard lock(mu_);
  expired_ = true;
}

std::optional<MountedFile::Probed> MountedFile::Revalidate(Clock::time_point asked_at,
                                                           const FileVersion* suspect,
                                                           Clock::duration max_age,
                                                           const Scheduler& clock,
                                                           const Probe& probe) {
  std::promise<void> finished;
  Probed probed;
  Clock::time_point started;
  {
    std::unique_lock lock(mu_);
    while (true) {
      // A probe that started after the question was asked answers it, even with an error:
      // callers that queued behind a dead server share its failure instead of each paying
      // their own timeout.
      if (attempted_at_ > asked_at) return std::nullopt;
      started = clock.Now();
      if (suspect ? current_->generation != suspect->generation
                  : !expired_ && started - confirmed_at_ < max_age) {
        return std::nullopt;
      }
      if (!probe_in_flight_.valid()) break;
      // Someone else is asking: wait for their answer without holding the lock. It answers
      // this call too, whatever it was (a failure included: asking again at once would most
      // likely wait as long for the same answer), except a reader's evidence, which a probe
      // that started before the change may have missed.
      const std::shared_future<void> in_flight = probe_in_flight_;
      ++callers_waiting_;
      lock.unlock();
      in_flight.wait();
      lock.lock();
      --callers_waiting_;
      if (!suspect) return std::nullopt;
    }
    probe_in_flight_ = finished.get_future().share();
    probed.before = current_;
    probed.first = !probed_;
  }

  // Whatever happens below (even an exception from the probe), the waiters are let go.
  struct Release {
    MountedFile& file;
    std::promise<void>& finished;
    ~Release() {
      {
        std::lock_guard lock(file.mu_);
        file.probe_in_flight_ = {};
      }
      finished.set_value();
    }
  };
  const Release release{*this, finished};
  Result<RemoteFileInfo> answer = probe(probed.before->info);
  std::lock_guard lock(mu_);
  if (!answer.ok()) probed.status = answer.status();
  probed.replaced = AdoptLocked(std::move(answer), started);
  return probed;
}

FileVersionPtr MountedFile::AdoptLocked(Result<RemoteFileInfo> probed,
                                        Clock::time_point probed_at) {
  if (probed_at > attempted_at_) attempted_at_ = probed_at;
  if (!probed_) {
    if (!probed.ok()) {
      first_probe_failure_ = probed.status();
      return nullptr;
    }
    probed_ = true;
    expired_ = false;
    first_probe_failure_ = Status();
    confirmed_at_ = probed_at;
    // Nobody was told a size the listing did not state, and nobody read from a listing's
    // guess: the probe completes the version in place unless it contradicts a stated size.
    const bool contradicts = size_known_ && probed->size != current_->info.size;
    size_known_ = true;
    if (!contradicts) {
      current_ = MakeFileVersion(std::move(probed).value(), block_size_, current_->generation);
      return nullptr;
    }
  } else {
    // A failed probe leaves the version: reads carry its validators, so a changed remote
    // still cannot mix versions. And one that started before the probe that made the current
    // version says nothing newer.
    if (!probed.ok() || probed_at < confirmed_at_) return nullptr;
    confirmed_at_ = probed_at;
    expired_ = false;
    if (SameVersion(current_->info, *probed)) return nullptr;
  }

  std::erase_if(old_, [](const auto& entry) { return entry.second.expired(); });
  FileVersionPtr replaced = std::move(current_);
  old_.emplace(replaced->generation, replaced);
  current_ = MakeFileVersion(std::move(probed).value(), block_size_, replaced->generation + 1);
  return replaced;
}

size_t MountedFile::callers_waiting() const {
  std::lock_guard lock(mu_);
  return callers_waiting_;
}

bool MountedFile::FirstOpenOf(uint64_t generation) {
  std::lock_guard lock(mu_);
  if (opened_generation_ && *opened_generation_ >= generation) return false;
  opened_generation_ = generation;
  return true;
}

}  // namespace rangefs
