// ProgressOutput: where `rangefs warm` shows its progress: stderr, one line redrawn in place on
// a terminal, plain lines at an interval elsewhere (a log, CI).
//
// Thread-safety: one thread (the warm's progress loop) uses it.
#pragma once

#include <chrono>
#include <string>

#include "cli/progress_text.h"

namespace rangefs {

class ProgressOutput {
 public:
  // `plain_interval`: between plain lines (--progress-interval).
  explicit ProgressOutput(std::chrono::milliseconds plain_interval);

  bool terminal() const { return terminal_; }
  // How often Update is worth calling.
  std::chrono::milliseconds interval() const;

  // While a file is warmed, every interval().
  void Update(const WarmProgress& progress);
  // A line of its own (a file done, a failure, the summary): on a terminal, over the bar.
  void Line(const std::string& line);

 private:
  const bool terminal_;
  const std::chrono::milliseconds plain_interval_;
  bool drawn_ = false;
};

}  // namespace rangefs
