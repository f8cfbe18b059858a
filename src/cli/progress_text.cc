#include "cli/progress_text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rangefs {
namespace {

constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};

// Below this, a run has not fetched long enough for its rate to mean anything.
constexpr double kShortestElapsedSeconds = 0.001;

std::string Printf(const char* format, auto... args) {
  char buffer[64];
  const int n = std::snprintf(buffer, sizeof buffer, format, args...);
  return std::string(buffer, n < 0 ? 0 : static_cast<size_t>(n));
}

}  // namespace

std::string FormatSize(uint64_t bytes) {
  if (bytes < 1024) return Printf("%llu B", static_cast<unsigned long long>(bytes));
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  // 1023.96 KiB would print as "1024.0 KiB": move up a unit once it rounds to 1024.
  while (value >= 1023.95 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return Printf("%.1f %s", value, kUnits[unit]);
}

std::string FormatRate(double bytes_per_second) {
  if (!(bytes_per_second > 0)) return "0 B/s";
  return FormatSize(static_cast<uint64_t>(std::llround(bytes_per_second))) + "/s";
}

std::string FormatDuration(double seconds) {
  const long long total = seconds > 0 ? std::llround(seconds) : 0;
  if (total < 60) return Printf("%lld s", total);
  if (total < 3600) return Printf("%lld min %02lld s", total / 60, total % 60);
  return Printf("%lld h %02lld min", total / 3600, total % 3600 / 60);
}

double RateOf(const WarmProgress& progress) {
  if (progress.elapsed_seconds < kShortestElapsedSeconds) return 0;
  return static_cast<double>(progress.fetched) / progress.elapsed_seconds;
}

unsigned PercentOf(const WarmProgress& progress) {
  if (progress.total == 0 || progress.done >= progress.total) return 100;
  // done < total, so done * 100 / total < 100; long double keeps 64-bit sizes exact enough.
  return static_cast<unsigned>(static_cast<long double>(progress.done) * 100 /
                               static_cast<long double>(progress.total));
}

std::string EtaText(const WarmProgress& progress) {
  if (progress.done >= progress.total) return "done";
  const double rate = RateOf(progress);
  if (!(rate > 0)) return "ETA --";
  return "ETA " + FormatDuration(static_cast<double>(progress.total - progress.done) / rate);
}

std::string ProgressBar(uint64_t done, uint64_t total, size_t width) {
  if (width < 2) width = 2;
  const size_t inside = width - 2;
  size_t filled = inside;
  if (total > 0 && done < total) {
    filled = static_cast<size_t>(static_cast<long double>(done) * static_cast<long double>(inside) /
                                 static_cast<long double>(total));
  }
  return "[" + std::string(filled, '#') + std::string(inside - filled, '-') + "]";
}

std::string PlainProgressLine(const WarmProgress& progress) {
  return "warm: " + std::string(progress.name) + " " + FormatSize(progress.done) + " / " +
         FormatSize(progress.total) + " (" + std::to_string(PercentOf(progress)) + " %), " +
         FormatRate(RateOf(progress)) + ", " + EtaText(progress);
}

std::string TerminalProgressLine(const WarmProgress& progress, size_t columns) {
  const std::string figures = FormatSize(progress.done) + " / " + FormatSize(progress.total) +
                              "  " + FormatRate(RateOf(progress)) + "  " + EtaText(progress);
  // A bar narrower than this says little; a wider one than this says no more.
  constexpr size_t kSmallestBar = 12;
  constexpr size_t kWidestBar = 42;
  // Names are shortened to no fewer characters than this ("..." and the name's end).
  constexpr size_t kShortestName = 12;
  const size_t spaces = 2;  // after the name, after the bar
  std::string name(progress.name);
  const size_t others = spaces + figures.size() + kSmallestBar;
  if (name.size() + others > columns && name.size() > kShortestName) {
    // Shortened from the front: the end of a name tells files apart more often.
    const size_t length = columns > others + kShortestName ? columns - others : kShortestName;
    if (length < name.size()) name = "..." + name.substr(name.size() - (length - 3));
  }
  std::string line;
  if (name.size() + others <= columns) {
    const size_t bar = std::min(kWidestBar, columns - name.size() - spaces - figures.size());
    line = name + " " + ProgressBar(progress.done, progress.total, bar) + " " + figures;
  } else {
    line = name + " " + figures;
  }
  if (line.size() > columns) line.resize(columns);
  return line;
}

std::string FileDoneLine(const WarmProgress& progress) {
  const std::string head = "warm: " + std::string(progress.name) + " " + FormatSize(progress.total);
  if (progress.fetched == 0) return head + ", already cached";
  // Tenths below 10 s: a short warm took "0.3 s", not "0 s".
  const std::string took = progress.elapsed_seconds < 9.95
                               ? Printf("%.1f s", std::max(progress.elapsed_seconds, 0.0))
                               : FormatDuration(progress.elapsed_seconds);
  std::string line = head + " cached: " + FormatSize(progress.fetched) + " fetched in " + took +
                     " (" + FormatRate(RateOf(progress)) + ")";
  const uint64_t before = progress.total > progress.fetched ? progress.total - progress.fetched : 0;
  if (before > 0) line += ", " + FormatSize(before) + " already there";
  return line;
}

}  // namespace rangefs
