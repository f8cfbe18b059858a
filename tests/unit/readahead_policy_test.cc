#include "rangefs/readahead_policy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "fakes/printers.h"
#include "rangefs/read_options.h"

namespace rangefs {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// Numbers of the size rangefs runs with (256 KiB blocks), scaled down so that tables stay short:
// windows of 1, 2 and 4 MiB, and a reorder slack of two blocks.
ReadaheadConfig TableConfig() {
  return ReadaheadConfig{.initial_window = 1 * kMiB,
                         .max_window = 4 * kMiB,
                         .reorder_slack = 512 * kKiB,
                         .max_streams = 4,
                         .requests_per_window = 4,
                         .min_top_up = 256 * kKiB};
}

// The range of a readahead decision, for comparing with expected ranges.
std::optional<ByteRange> RangeOf(const std::optional<Readahead>& ahead) {
  if (!ahead) return std::nullopt;
  return ahead->range;
}

// [first, end) in KiB: what OnRead should ask to fetch ahead.
struct AheadKiB {
  uint64_t first;
  uint64_t end;
};
constexpr std::optional<AheadKiB> kNothing = std::nullopt;
constexpr std::optional<AheadKiB> Ahead(uint64_t first, uint64_t end) {
  return AheadKiB{first, end};
}

struct Step {
  uint64_t offset_kib;
  uint64_t length_kib;
  std::optional<AheadKiB> ahead;
};

struct PolicyCase {
  std::string name;
  std::vector<Step> steps;
  // Windows of the streams after the last step, most recently used last; unchecked when empty.
  std::vector<uint64_t> windows_kib = {};
  uint64_t file_size_kib = 1024 * 1024;  // 1 GiB unless the case is about the end of the file
  ReadaheadConfig config = TableConfig();
};

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.name; }

class ReadaheadPolicyTableTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(ReadaheadPolicyTableTest, ReadsGiveTheExpectedReadahead) {
  const PolicyCase& c = GetParam();
  ReadaheadPolicy policy(c.config);
  for (size_t i = 0; i < c.steps.size(); ++i) {
    const Step& step = c.steps[i];
    SCOPED_TRACE(::testing::Message() << "step " << i << ": read " << step.length_kib << " KiB at "
                                      << step.offset_kib << " KiB");
    const std::optional<ByteRange> got = RangeOf(
        policy.OnRead(step.offset_kib * kKiB, step.length_kib * kKiB, c.file_size_kib * kKiB));
    std::optional<ByteRange> want;
    if (step.ahead) want = ByteRange{step.ahead->first * kKiB, step.ahead->end * kKiB - 1};
    EXPECT_EQ(got, want);
  }
  if (!c.windows_kib.empty()) {
    std::vector<uint64_t> want_windows;
    for (uint64_t window : c.windows_kib) want_windows.push_back(window * kKiB);
    EXPECT_EQ(policy.WindowSizes(), want_windows);
  }
}

// Sequential reads of `length_kib` from `start_kib`, `count` of them, with the given readahead
// at given positions (index into the run) and nothing elsewhere.
std::vector<Step> Run(uint64_t start_kib, uint64_t length_kib, size_t count,
                      const std::vector<std::pair<size_t, AheadKiB>>& aheads) {
  std::vector<Step> steps;
  for (size_t i = 0; i < count; ++i) {
    steps.push_back({start_kib + i * length_kib, length_kib, kNothing});
  }
  for (const auto& [index, ahead] : aheads) steps.at(index).ahead = ahead;
  return steps;
}

constexpr uint64_t k64MiB = 64 * 1024;  // in KiB: streams this far apart never touch

std::vector<PolicyCase> PolicyCases() {
  std::vector<PolicyCase> cases;
  cases.push_back(
      {.name = "FirstReadFetchesNothing", .steps = {{0, 256, kNothing}}, .windows_kib = {0}});
  cases.push_back({.name = "SecondSequentialReadFetchesTheInitialWindow",
                   .steps = {{0, 256, kNothing}, {256, 256, Ahead(512, 1536)}},
                   .windows_kib = {1024}});
  // Reads of one block: the window doubles at the read that brings the reader half a window
  // past where it last grew (reads 3 and 7), and asks for the whole new window at once; in
  // between, every step of a quarter window (requests_per_window 4) the reader consumes is
  // asked for again (reads 2, 5, 11 and 15), so what is ahead stays near a full window.
  cases.push_back({.name = "WindowDoublesWhenHalfIsConsumed",
                   .steps = Run(0, 256, 16,
                                {{1, {512, 1536}},
                                 {2, {1536, 1792}},
                                 {3, {1792, 3072}},
                                 {5, {3072, 3584}},
                                 {7, {3584, 6144}},
                                 {11, {6144, 7168}},
                                 {15, {7168, 8192}}}),
                   .windows_kib = {4096}});
  // Reads of three blocks: a top-up waits until a step is missing (read 5 finds 768 KiB of a
  // 1 MiB step; read 6 finds two reads' worth).
  cases.push_back({.name = "WindowStopsAtMaxWindow",
                   .steps = Run(0, 768, 10,
                                {{1, {1536, 2560}},
                                 {2, {2560, 4352}},
                                 {3, {4352, 5120}},
                                 {4, {5120, 7936}},
                                 {6, {7936, 9472}},
                                 {8, {9472, 11008}}}),
                   .windows_kib = {4096}});
  cases.push_back({.name = "ReadaheadStopsAtEndOfFile",
                   .steps = {{0, 256, kNothing},
                             {256, 256, Ahead(512, 1200)},
                             {512, 256, kNothing},
                             {768, 256, kNothing},
                             {1024, 256, kNothing},  // spans EOF
                             {1200, 256, kNothing},  // at EOF
                             {1300, 10, kNothing}},  // past EOF
                   .file_size_kib = 1200});
  cases.push_back({.name = "GrowingWindowIsClampedAtEndOfFile",
                   .steps = Run(0, 768, 6, {{1, {1536, 2560}}, {2, {2560, 4000}}}),
                   .file_size_kib = 4000});
  cases.push_back({.name = "RandomReadsFetchNothingAndLeaveTheStreamAlone",
                   .steps = {{0, 384, kNothing},
                             {384, 384, Ahead(768, 1792)},
                             {50 * 1024, 4, kNothing},
                             {768, 384, Ahead(1792, 2176)},
                             {30 * 1024, 4, kNothing},
                             {1152, 384, Ahead(2176, 3584)},
                             {1536, 384, kNothing}},
                   .windows_kib = {0, 0, 2048}});
  cases.push_back({.name = "TwoInterleavedStreamsRampIndependently",
                   .steps = {{0, 384, kNothing},
                             {k64MiB, 384, kNothing},
                             {384, 384, Ahead(768, 1792)},
                             {k64MiB + 384, 384, Ahead(k64MiB + 768, k64MiB + 1792)},
                             {768, 384, Ahead(1792, 2176)},
                             {k64MiB + 768, 384, Ahead(k64MiB + 1792, k64MiB + 2176)},
                             {1152, 384, Ahead(2176, 3584)},
                             {k64MiB + 1152, 384, Ahead(k64MiB + 2176, k64MiB + 3584)},
                             {1536, 384, kNothing},
                             {k64MiB + 1536, 384, kNothing}},
                   .windows_kib = {2048, 2048}});
  {
    PolicyCase four{.name = "FourInterleavedStreamsRampIndependently", .steps = {}};
    for (uint64_t read = 0; read < 5; ++read) {
      for (uint64_t stream = 0; stream < 4; ++stream) {
        const uint64_t base = stream * k64MiB;
        std::optional<AheadKiB> ahead = kNothing;
        if (read == 1) ahead = Ahead(base + 768, base + 1792);
        if (read == 2) ahead = Ahead(base + 1792, base + 2176);
        if (read == 3) ahead = Ahead(base + 2176, base + 3584);
        four.steps.push_back({base + read * 384, 384, ahead});
      }
    }
    four.windows_kib = {2048, 2048, 2048, 2048};
    cases.push_back(four);
  }
  // The FUSE loop answers kernel reads on several threads: reads of one stream arrive a little
  // out of order, and still count as one stream that keeps ramping.
  {
    ReadaheadConfig config = TableConfig();
    config.reorder_slack = 1024 * kKiB;
    cases.push_back({.name = "ReorderedReadsContinueTheStream",
                     .steps = {{0, 384, kNothing},
                               {384, 384, Ahead(768, 1792)},
                               {1152, 384, Ahead(1792, 3584)},  // ahead of 768
                               {768, 384, kNothing},            // late
                               {1536, 384, kNothing},
                               {2304, 384, Ahead(3584, 6784)},  // ahead of 1920
                               {1920, 384, kNothing}},          // late
                     .windows_kib = {4096},
                     .config = config});
  }
  // A stream of one read is not sequential yet: only a read next to it (within a kernel read,
  // 128 KiB, or the length of that read) confirms it, so scattered reads rarely look sequential
  // even when they fall within reorder_slack of each other.
  cases.push_back({.name = "UnconfirmedStreamContinuesOnlyNextToItsRead",
                   .steps = {{0, 64, kNothing}, {264, 64, kNothing}, {328, 64, Ahead(392, 1416)}},
                   .windows_kib = {0, 1024}});
  cases.push_back({.name = "ReadOneKernelReadAwayConfirmsTheStream",
                   .steps = {{0, 64, kNothing}, {192, 64, Ahead(256, 1280)}},
                   .windows_kib = {1024}});
  cases.push_back(
      {.name = "FirstTwoReadsSwappedStillConfirmTheStream",
       .steps = {{128, 128, kNothing}, {0, 128, Ahead(256, 1280)}, {256, 128, kNothing}},
       .windows_kib = {1024}});
  cases.push_back({.name = "LongFirstReadWidensWhatConfirmsIt",
                   .steps = {{0, 768, kNothing}, {1368, 256, Ahead(1624, 2648)}},
                   .windows_kib = {1024}});
  cases.push_back(
      {.name = "ReadAtTheEndOfWhatWasFetchedAheadContinues",
       .steps = {{0, 256, kNothing}, {256, 256, Ahead(512, 1536)}, {1536, 256, Ahead(1792, 3840)}},
       .windows_kib = {2048}});
  cases.push_back({.name = "ReadBeyondSlackAndReadaheadStartsANewStream",
                   .steps = {{0, 256, kNothing},
                             {256, 256, Ahead(512, 1536)},
                             {1537, 256, kNothing},
                             {1793, 256, Ahead(2049, 3073)}},
                   .windows_kib = {1024, 1024}});
  cases.push_back(
      {.name = "SeekFarAwayStartsOverWithTheInitialWindow",
       .steps =
           [] {
             std::vector<Step> steps = Run(0, 768, 8,
                                           {{1, {1536, 2560}},
                                            {2, {2560, 4352}},
                                            {3, {4352, 5120}},
                                            {4, {5120, 7936}},
                                            {6, {7936, 9472}}});
             steps.push_back({100 * 1024, 768, kNothing});
             steps.push_back({100 * 1024 + 768, 768, Ahead(100 * 1024 + 1536, 100 * 1024 + 2560)});
             return steps;
           }(),
       .windows_kib = {4096, 1024}});
  // Four streams (max_streams) established, stream 0 used again; then either a read of stream
  // 1 that keeps it ramping, or first a fifth stream, which replaces stream 1 (the least recently
  // used), so that the same read of stream 1 starts a new stream (and that one replaces stream
  // 2).
  {
    std::vector<Step> four_streams;
    for (uint64_t stream = 0; stream < 4; ++stream) {
      const uint64_t base = stream * k64MiB;
      four_streams.push_back({base, 384, kNothing});
      four_streams.push_back({base + 384, 384, Ahead(base + 768, base + 1792)});
    }
    four_streams.push_back({768, 384, Ahead(1792, 2176)});  // stream 0 again: a top-up

    PolicyCase kept{.name = "FourStreamsAreAllKept", .steps = four_streams};
    kept.steps.push_back({k64MiB + 768, 768, Ahead(k64MiB + 1792, k64MiB + 3584)});
    kept.steps.push_back({1152, 384, Ahead(2176, 3584)});
    kept.windows_kib = {1024, 1024, 2048, 2048};
    cases.push_back(kept);

    PolicyCase replaced{.name = "FifthStreamReplacesTheLeastRecentlyUsed", .steps = four_streams};
    replaced.steps.push_back({4 * k64MiB, 384, kNothing});
    replaced.steps.push_back({k64MiB + 768, 768, kNothing});
    replaced.steps.push_back({1152, 384, Ahead(2176, 3584)});
    replaced.steps.push_back({2 * k64MiB + 768, 768, kNothing});
    replaced.windows_kib = {0, 0, 2048, 0};
    cases.push_back(replaced);
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Cases, ReadaheadPolicyTableTest, ::testing::ValuesIn(PolicyCases()),
                         [](const ::testing::TestParamInfo<PolicyCase>& param_info) {
                           return param_info.param.name;
                         });

TEST(ReadaheadPolicyTest, EmptyAndPastEofReadsAreIgnored) {
  ReadaheadPolicy policy(TableConfig());
  EXPECT_EQ(RangeOf(policy.OnRead(0, 0, 10 * kMiB)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(10 * kMiB, 4096, 10 * kMiB)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(kMax, 4096, 10 * kMiB)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(0, 4096, 0)), std::nullopt);
  EXPECT_TRUE(policy.WindowSizes().empty()) << "no stream starts from reading nothing";
  // So they do not count as a stream's first read either.
  EXPECT_EQ(RangeOf(policy.OnRead(0, 256 * kKiB, 10 * kMiB)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(256 * kKiB, 256 * kKiB, 10 * kMiB)),
            (ByteRange{512 * kKiB, 1536 * kKiB - 1}));
}

TEST(ReadaheadPolicyTest, ResetForgetsEveryStream) {
  ReadaheadPolicy policy(TableConfig());
  EXPECT_EQ(RangeOf(policy.OnRead(0, 768 * kKiB, kMax)), std::nullopt);
  EXPECT_NE(RangeOf(policy.OnRead(768 * kKiB, 768 * kKiB, kMax)), std::nullopt);
  EXPECT_NE(RangeOf(policy.OnRead(1536 * kKiB, 768 * kKiB, kMax)), std::nullopt);
  ASSERT_EQ(policy.WindowSizes(), (std::vector<uint64_t>{2 * kMiB}));

  policy.Reset();
  EXPECT_TRUE(policy.WindowSizes().empty());
  EXPECT_EQ(RangeOf(policy.OnRead(2304 * kKiB, 768 * kKiB, kMax)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(3072 * kKiB, 768 * kKiB, kMax)),
            (ByteRange{3840 * kKiB, 4864 * kKiB - 1}))
      << "after Reset a stream starts over with the initial window";
}

TEST(ReadaheadPolicyTest, OffsetsAbove4GiB) {
  constexpr uint64_t kBase = uint64_t{5} << 30;
  ReadaheadPolicy policy(TableConfig());
  EXPECT_EQ(RangeOf(policy.OnRead(kBase, 256 * kKiB, 6 * kBase)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(kBase + 256 * kKiB, 256 * kKiB, 6 * kBase)),
            (ByteRange{kBase + 512 * kKiB, kBase + 1536 * kKiB - 1}));
}

TEST(ReadaheadPolicyTest, ReadToEndOfFileWithHugeLengthFetchesNothingAhead) {
  // A read whose length runs past the end of the file (here as far as a uint64_t goes) reads
  // to EOF: nothing is left to fetch ahead of it.
  ReadaheadPolicy policy(TableConfig());
  EXPECT_EQ(RangeOf(policy.OnRead(0, 1000 * kKiB, 10 * kMiB)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(1000 * kKiB, kMax, 10 * kMiB)), std::nullopt);
}

TEST(ReadaheadPolicyTest, DecisionCarriesTheStreamsWindow) {
  ReadaheadPolicy policy(TableConfig());
  EXPECT_EQ(policy.OnRead(0, 256 * kKiB, kMax), std::nullopt);
  EXPECT_EQ(policy.OnRead(256 * kKiB, 256 * kKiB, kMax),
            (Readahead{.range = {512 * kKiB, 1536 * kKiB - 1}, .window = 1 * kMiB}));
  EXPECT_EQ(policy.OnRead(512 * kKiB, 256 * kKiB, kMax),
            (Readahead{.range = {1536 * kKiB, 1792 * kKiB - 1}, .window = 1 * kMiB}));
  EXPECT_EQ(policy.OnRead(768 * kKiB, 256 * kKiB, kMax),
            (Readahead{.range = {1792 * kKiB, 3072 * kKiB - 1}, .window = 2 * kMiB}));
}

TEST(ReadaheadPolicyTest, StepIsAtLeastMinTopUp) {
  // Steps of a quarter of 1 MiB would be 256 KiB; min_top_up makes them 512 KiB, so a read of
  // 256 KiB tops up every other time.
  ReadaheadConfig config = TableConfig();
  config.max_window = 1 * kMiB;
  config.min_top_up = 512 * kKiB;
  ReadaheadPolicy policy(config);
  EXPECT_EQ(RangeOf(policy.OnRead(0, 256 * kKiB, kMax)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(256 * kKiB, 256 * kKiB, kMax)),
            (ByteRange{512 * kKiB, 1536 * kKiB - 1}));
  EXPECT_EQ(RangeOf(policy.OnRead(512 * kKiB, 256 * kKiB, kMax)), std::nullopt);
  EXPECT_EQ(RangeOf(policy.OnRead(768 * kKiB, 256 * kKiB, kMax)),
            (ByteRange{1536 * kKiB, 2048 * kKiB - 1}));
  EXPECT_EQ(RangeOf(policy.OnRead(1024 * kKiB, 256 * kKiB, kMax)), std::nullopt);
}

TEST(ReadaheadPolicyTest, MaxWindowZeroMeansNoReadahead) {
  ReadaheadConfig config = TableConfig();
  config.max_window = 0;
  ReadaheadPolicy policy(config);
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(RangeOf(policy.OnRead(i * 256 * kKiB, 256 * kKiB, kMax)), std::nullopt) << i;
  }
}

// EffectiveReadahead: the configuration the Filesystem actually runs with.

struct EffectiveCase {
  const char* label;
  uint64_t block_size;
  uint64_t cache_size;
  uint64_t initial_window;
  uint64_t max_window;
  uint64_t want_initial;
  uint64_t want_max;
};

TEST(EffectiveReadaheadTest, Examples) {
  const EffectiveCase cases[] = {
      {"defaults fit", 256 * kKiB, 256 * kMiB, 1 * kMiB, 64 * kMiB, 1 * kMiB, 64 * kMiB},
      {"max held to a quarter of the cache", 256 * kKiB, 16 * kMiB, 1 * kMiB, 64 * kMiB, 1 * kMiB,
       4 * kMiB},
      {"quarter of the cache rounded down to blocks", 256 * kKiB, 10 * kMiB + 4, 1 * kMiB,
       64 * kMiB, 1 * kMiB, 2560 * kKiB},
      {"max rounded down to blocks", 256 * kKiB, 1024 * kMiB, 1 * kMiB, 1 * kMiB + 1, 1 * kMiB,
       1 * kMiB},
      {"initial rounded up to blocks", 256 * kKiB, 256 * kMiB, 300 * kKiB, 64 * kMiB, 512 * kKiB,
       64 * kMiB},
      {"initial at least a block", 256 * kKiB, 256 * kMiB, 4 * kKiB, 64 * kMiB, 256 * kKiB,
       64 * kMiB},
      {"initial zero becomes a block", 256 * kKiB, 256 * kMiB, 0, 64 * kMiB, 256 * kKiB, 64 * kMiB},
      {"initial at most max", 256 * kKiB, 16 * kMiB, 8 * kMiB, 64 * kMiB, 4 * kMiB, 4 * kMiB},
      {"max at least a block though the cache is tiny", 1 * kMiB, 2 * kMiB, 1 * kMiB, 64 * kMiB,
       1 * kMiB, 1 * kMiB},
      {"max zero becomes a block", 64 * kKiB, 256 * kMiB, 1 * kMiB, 0, 64 * kKiB, 64 * kKiB},
  };
  for (const EffectiveCase& c : cases) {
    SCOPED_TRACE(c.label);
    ReadOptions options;
    options.block_size = c.block_size;
    options.cache_size = c.cache_size;
    options.readahead.initial_window = c.initial_window;
    options.readahead.max_window = c.max_window;
    options.readahead.reorder_slack = 12345;
    options.readahead.max_streams = 3;
    const ReadaheadConfig got = EffectiveReadahead(options);
    EXPECT_EQ(got.initial_window, c.want_initial);
    EXPECT_EQ(got.max_window, c.want_max);
    EXPECT_EQ(got.reorder_slack, 12345u) << "passed through";
    EXPECT_EQ(got.max_streams, 3u) << "passed through";
    EXPECT_EQ(got.requests_per_window, 8u) << "one step per connection";
    EXPECT_EQ(got.min_top_up, c.block_size) << "a step is at least a block";
  }
}

TEST(EffectiveReadaheadTest, InvariantsOverAGrid) {
  for (uint64_t block : {4 * kKiB, 64 * kKiB, 192 * kKiB, 256 * kKiB, 1 * kMiB, 64 * kMiB}) {
    for (uint64_t cache : {4 * block, 16 * kMiB, 100 * kMiB + 12345, 1024 * kMiB}) {
      for (uint64_t initial :
           {uint64_t{0}, uint64_t{1}, block - 1, block + 1, 1 * kMiB, 5 * kMiB, kMax / 2}) {
        for (uint64_t max : {uint64_t{0}, uint64_t{1}, 1 * kMiB, 64 * kMiB, kMax / 2}) {
          SCOPED_TRACE(::testing::Message() << "block " << block << " cache " << cache
                                            << " initial " << initial << " max " << max);
          ReadOptions options;
          options.block_size = block;
          options.cache_size = cache;
          options.readahead.initial_window = initial;
          options.readahead.max_window = max;
          const ReadaheadConfig got = EffectiveReadahead(options);
          EXPECT_EQ(got.max_window % block, 0u);
          EXPECT_GE(got.max_window, block);
          EXPECT_LE(got.max_window, std::max(block, cache / 4));
          EXPECT_LE(got.max_window, std::max(block, max));
          EXPECT_EQ(got.initial_window % block, 0u);
          EXPECT_GE(got.initial_window, block);
          EXPECT_LE(got.initial_window, got.max_window);
          if (HasFailure()) return;
        }
      }
    }
  }
}

}  // namespace
// OpenPrefetchRuns: what the first open of a file fetches.
TEST(OpenPrefetchRunsTest, HeadAndTailBlocks) {
  ReadOptions options;
  options.block_size = 64 << 10;
  options.open_prefetch = true;
  options.open_prefetch_head = 64 << 10;
  options.open_prefetch_tail = 256 << 10;
  const uint64_t kBlockBytes = options.block_size;
  const struct {
    uint64_t size;
    std::vector<BlockRunIndexes> runs;
  } cases[] = {
      {0, {}},
      {1, {{0, 0}}},                                 // head and tail are the same block
      {300 << 10, {{0, 4}}},                         // they meet: one run of every block
      {100 * kBlockBytes, {{0, 0}, {96, 99}}},       // the first block and the last four
      {100 * kBlockBytes + 1, {{0, 0}, {96, 100}}},  // the tail starts inside block 96
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.size);
    EXPECT_EQ(OpenPrefetchRuns(c.size, options), c.runs);
  }
  options.open_prefetch = false;
  EXPECT_TRUE(OpenPrefetchRuns(100 * kBlockBytes, options).empty());
}

}  // namespace rangefs
