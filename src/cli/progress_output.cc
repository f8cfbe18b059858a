#include "cli/progress_output.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace rangefs {
namespace {

// How often the line on a terminal is redrawn: often enough to look live, seldom enough to
// cost nothing.
constexpr std::chrono::milliseconds kRedrawInterval{250};

size_t Columns() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

void Write(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

ProgressOutput::ProgressOutput(std::chrono::milliseconds plain_interval)
    : terminal_(isatty(STDERR_FILENO) == 1),
      plain_interval_(std::max(plain_interval, std::chrono::milliseconds(10))) {}

std::chrono::milliseconds ProgressOutput::interval() const {
  return terminal_ ? kRedrawInterval : plain_interval_;
}

void ProgressOutput::Update(const WarmProgress& progress) {
  if (terminal_) {
    Write("\r" + TerminalProgressLine(progress, Columns()) + "\x1b[K");
    drawn_ = true;
  } else {
    Line(PlainProgressLine(progress));
  }
}

void ProgressOutput::Line(const std::string& line) {
  if (drawn_) {
    Write("\r\x1b[K");
    drawn_ = false;
  }
  Write(line + "\n");
}

}  // namespace rangefs
