#include "cli/progress_text.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace rangefs {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = kKiB * 1024;
constexpr uint64_t kGiB = kMiB * 1024;

// Progress of a file named "f".
WarmProgress At(uint64_t done, uint64_t total, uint64_t fetched = 0, double elapsed_seconds = 0) {
  return {.name = "f",
          .done = done,
          .total = total,
          .fetched = fetched,
          .elapsed_seconds = elapsed_seconds};
}

TEST(ProgressTextTest, SizesInBinaryUnitsWithOneDecimal) {
  const struct {
    uint64_t bytes;
    const char* text;
  } kCases[] = {
      {0, "0 B"},
      {812, "812 B"},
      {1023, "1023 B"},
      {1024, "1.0 KiB"},
      {1536, "1.5 KiB"},
      {kMiB - 1, "1.0 MiB"},  // 1023.999 KiB rounds up to the next unit, not "1024.0 KiB"
      {512 * kMiB, "512.0 MiB"},
      {kGiB, "1.0 GiB"},
      {kGiB + kGiB / 2, "1.5 GiB"},
      {5 * kGiB * 1024 / 2, "2.5 TiB"},
      {UINT64_MAX, "16384.0 PiB"},  // past the largest unit the number grows
  };
  for (const auto& c : kCases) EXPECT_EQ(FormatSize(c.bytes), c.text) << c.bytes;
}

TEST(ProgressTextTest, Rates) {
  EXPECT_EQ(FormatRate(0), "0 B/s");
  EXPECT_EQ(FormatRate(-1), "0 B/s");
  EXPECT_EQ(FormatRate(500.4), "500 B/s");
  EXPECT_EQ(FormatRate(98.3 * kMiB), "98.3 MiB/s");
}

TEST(ProgressTextTest, Durations) {
  const struct {
    double seconds;
    const char* text;
  } kCases[] = {
      {-3, "0 s"},          {0, "0 s"},           {0.4, "0 s"},           {4.6, "5 s"},
      {59, "59 s"},         {60, "1 min 00 s"},   {65, "1 min 05 s"},     {3599, "59 min 59 s"},
      {3600, "1 h 00 min"}, {7380, "2 h 03 min"}, {90000, "25 h 00 min"},
  };
  for (const auto& c : kCases) EXPECT_EQ(FormatDuration(c.seconds), c.text) << c.seconds;
}

TEST(ProgressTextTest, PercentRoundsDownAndReachesHundredOnlyWhenDone) {
  EXPECT_EQ(PercentOf(At(0, 100)), 0u);
  EXPECT_EQ(PercentOf(At(50, 100)), 50u);
  EXPECT_EQ(PercentOf(At(999, 1000)), 99u);
  EXPECT_EQ(PercentOf(At(1000, 1000)), 100u);
  EXPECT_EQ(PercentOf(At(0, 0)), 100u);
  EXPECT_EQ(PercentOf(At(UINT64_MAX - 1, UINT64_MAX)), 99u);
}

TEST(ProgressTextTest, RateCountsOnlyBytesFetchedByThisRun) {
  // Half the file was cached already: the rate is what this run fetched over its time.
  const WarmProgress progress{
      .name = "f", .done = 768 * kMiB, .total = kGiB, .fetched = 256 * kMiB, .elapsed_seconds = 2};
  EXPECT_DOUBLE_EQ(RateOf(progress), 128.0 * kMiB);
  EXPECT_EQ(EtaText(progress), "ETA 2 s");
  EXPECT_EQ(RateOf(At(0, 10, 10, 0)), 0);
}

TEST(ProgressTextTest, EtaUnknownWithoutRateAndDoneWhenNothingLeft) {
  EXPECT_EQ(EtaText(At(0, 10, 0, 5)), "ETA --");
  EXPECT_EQ(EtaText(At(10, 10)), "done");
  EXPECT_EQ(EtaText(At(1, 3601, 1, 1)), "ETA 1 h 00 min");
}

TEST(ProgressTextTest, Bars) {
  const struct {
    uint64_t done, total;
    size_t width;
    const char* text;
  } kCases[] = {
      {0, 100, 12, "[----------]"},
      {50, 100, 12, "[#####-----]"},
      {99, 100, 12, "[#########-]"},
      {100, 100, 12, "[##########]"},
      {0, 0, 6, "[####]"},
      {5, 10, 0, "[]"},
      {5, 10, 2, "[]"},
      {1, 3, 5, "[#--]"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(ProgressBar(c.done, c.total, c.width), c.text)
        << c.done << "/" << c.total << " in " << c.width;
  }
}

TEST(ProgressTextTest, PlainLine) {
  const WarmProgress progress{.name = "big.iso",
                              .done = 512 * kMiB,
                              .total = kGiB,
                              .fetched = 512 * kMiB,
                              .elapsed_seconds = 512.0 / 98.3};
  EXPECT_EQ(PlainProgressLine(progress),
            "warm: big.iso 512.0 MiB / 1.0 GiB (50 %), 98.3 MiB/s, ETA 5 s");
  EXPECT_EQ(PlainProgressLine({.name = "x", .done = 0, .total = 10}),
            "warm: x 0 B / 10 B (0 %), 0 B/s, ETA --");
}

TEST(ProgressTextTest, TerminalLineFillsTheWidthWithTheBar) {
  const WarmProgress progress{.name = "big.iso",
                              .done = 512 * kMiB,
                              .total = kGiB,
                              .fetched = 512 * kMiB,
                              .elapsed_seconds = 512.0 / 98.3};
  const std::string figures = "512.0 MiB / 1.0 GiB  98.3 MiB/s  ETA 5 s";
  // 80 columns: name, space, bar, space, figures; the bar is what is left, up to 42.
  const size_t bar = 80 - 7 - 2 - figures.size();
  const std::string line = TerminalProgressLine(progress, 80);
  EXPECT_EQ(line, "big.iso " + ProgressBar(progress.done, progress.total, bar) + " " + figures);
  EXPECT_EQ(line.size(), 80u);
  // A wide terminal: the bar stops growing.
  EXPECT_EQ(TerminalProgressLine(progress, 300),
            "big.iso " + ProgressBar(progress.done, progress.total, 42) + " " + figures);
}

TEST(ProgressTextTest, TerminalLineShortensLongNamesThenDropsTheBar) {
  const std::string name = "a-very-long-directory-name-of-a-dataset-archive-part-0001.tar.zst";
  const WarmProgress progress{
      .name = name, .done = 1, .total = 2, .fetched = 1, .elapsed_seconds = 1};
  EXPECT_LE(TerminalProgressLine(progress, 20).size(), 20u);  // cut, whatever it cuts
  for (size_t columns : {40u, 60u, 80u, 100u, 200u}) {
    const std::string line = TerminalProgressLine(progress, columns);
    EXPECT_LE(line.size(), columns) << line;
    EXPECT_NE(line.find("1 B / 2 B"), std::string::npos) << columns << ": " << line;
  }
  const std::string at80 = TerminalProgressLine(progress, 80);
  EXPECT_EQ(at80.substr(0, 3), "...") << at80;
  EXPECT_NE(at80.find("0001.tar.zst ["), std::string::npos) << at80;
  EXPECT_EQ(at80.size(), 80u);
  // Too narrow for a bar beside the shortest name: the figures stay, the bar goes.
  const std::string at40 = TerminalProgressLine(progress, 40);
  EXPECT_EQ(at40.find('['), std::string::npos) << at40;
  EXPECT_EQ(TerminalProgressLine(progress, 200).substr(0, name.size() + 2), name + " [");
}

TEST(ProgressTextTest, FileDoneLines) {
  EXPECT_EQ(FileDoneLine({.name = "big.iso", .done = kGiB, .total = kGiB}),
            "warm: big.iso 1.0 GiB, already cached");
  EXPECT_EQ(FileDoneLine({.name = "big.iso",
                          .done = kGiB,
                          .total = kGiB,
                          .fetched = 512 * kMiB,
                          .elapsed_seconds = 4}),
            "warm: big.iso 1.0 GiB cached: 512.0 MiB fetched in 4.0 s (128.0 MiB/s), 512.0 MiB "
            "already there");
  EXPECT_EQ(
      FileDoneLine({.name = "a", .done = 10, .total = 10, .fetched = 10, .elapsed_seconds = 1}),
      "warm: a 10 B cached: 10 B fetched in 1.0 s (10 B/s)");
  EXPECT_EQ(FileDoneLine(At(kGiB, kGiB, kGiB, 65)),
            "warm: f 1.0 GiB cached: 1.0 GiB fetched in 1 min 05 s (15.8 MiB/s)");
}

}  // namespace
}  // namespace rangefs
