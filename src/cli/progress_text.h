// The text of `rangefs warm`'s progress: sizes, rates and durations as people read them, a
// bar, the line redrawn in place on a terminal and the plain lines written elsewhere.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rangefs {

// Where the warming of one file stands.
struct WarmProgress {
  std::string_view name;       // the file being warmed, as shown
  uint64_t done = 0;           // bytes in the cache: found there at the start, and fetched since
  uint64_t total = 0;          // the file's size
  uint64_t fetched = 0;        // bytes fetched by this run (the rate counts only these)
  double elapsed_seconds = 0;  // since this run began fetching the file
};

// "0 B", "812 B", "1.5 KiB", "512.0 MiB", "1.0 GiB", "2.3 TiB": binary units, one decimal.
std::string FormatSize(uint64_t bytes);
// FormatSize of a rate, "98.3 MiB/s".
std::string FormatRate(double bytes_per_second);
// "0 s", "59 s", "1 min 05 s", "2 h 03 min", rounded to whole seconds.
std::string FormatDuration(double seconds);

// Bytes a second fetched so far; 0 before any time has passed.
double RateOf(const WarmProgress& progress);
// Whole percent done, rounded down (100 only when done == total); 100 for an empty file.
unsigned PercentOf(const WarmProgress& progress);
// "ETA 5 s", or "ETA --" while there is no rate to estimate from; "done" when nothing is left.
std::string EtaText(const WarmProgress& progress);

// "[#####-----]": `width` characters in all (at least 2), the filled part in proportion to
// done / total, rounded down.
std::string ProgressBar(uint64_t done, uint64_t total, size_t width);

// The line written when the output is not a terminal, every few seconds and at a file's end:
// "warm: big.iso 512.0 MiB / 1.0 GiB (50 %), 98.3 MiB/s, ETA 5 s".
std::string PlainProgressLine(const WarmProgress& progress);

// The line redrawn in place on a terminal of `columns` columns, never longer than that:
// "big.iso [#####-----] 512.0 MiB / 1.0 GiB  98.3 MiB/s  ETA 5 s". The bar takes the room the
// rest leaves; on a narrow terminal the name is shortened first, then the bar dropped.
std::string TerminalProgressLine(const WarmProgress& progress, size_t columns);

// What a finished file's last line says:
// "warm: big.iso 1.0 GiB cached: 512.0 MiB fetched in 5 s (98.3 MiB/s), 512.0 MiB already
// there", or "warm: big.iso 1.0 GiB, already cached" when nothing had to be fetched.
std::string FileDoneLine(const WarmProgress& progress);

}  // namespace rangefs
