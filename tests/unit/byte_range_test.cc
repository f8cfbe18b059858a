#include "rangefs/byte_range.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>

#include "fakes/printers.h"

namespace rangefs {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

TEST(ByteRangeTest, LengthCountsBothEnds) {
  EXPECT_EQ((ByteRange{0, 0}.length()), 1u);
  EXPECT_EQ((ByteRange{0, 99}.length()), 100u);
  EXPECT_EQ((ByteRange{5, 5}.length()), 1u);
  EXPECT_EQ((ByteRange{10, 19}.length()), 10u);
  EXPECT_EQ((ByteRange{4 * kGiB, 5 * kGiB - 1}.length()), kGiB);
  EXPECT_EQ((ByteRange{1, kMax}.length()), kMax);
  EXPECT_EQ((ByteRange{0, kMax - 1}.length()), kMax);
  EXPECT_EQ((ByteRange{kMax, kMax}.length()), 1u);
}

TEST(ByteRangeTest, EqualityComparesBothEnds) {
  EXPECT_EQ((ByteRange{1, 2}), (ByteRange{1, 2}));
  EXPECT_NE((ByteRange{1, 2}), (ByteRange{1, 3}));
  EXPECT_NE((ByteRange{0, 2}), (ByteRange{1, 2}));
}

struct ClampCase {
  const char* label;
  uint64_t offset;
  uint64_t size;
  uint64_t file_size;
  std::optional<ByteRange> expected;
};

void PrintTo(const ClampCase& c, std::ostream* os) { *os << c.label; }

class ClampToFileTest : public ::testing::TestWithParam<ClampCase> {};

TEST_P(ClampToFileTest, Clamps) {
  const ClampCase& c = GetParam();
  EXPECT_EQ(ClampToFile(c.offset, c.size, c.file_size), c.expected)
      << "offset=" << c.offset << " size=" << c.size << " file_size=" << c.file_size;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ClampToFileTest,
    ::testing::Values(
        ClampCase{"EmptyFile", 0, 100, 0, std::nullopt},
        ClampCase{"EmptyFileZeroSize", 0, 0, 0, std::nullopt},
        ClampCase{"ZeroSizeInsideFile", 10, 0, 100, std::nullopt},
        ClampCase{"WholeFileExactly", 0, 100, 100, ByteRange{0, 99}},
        ClampCase{"PrefixOfFile", 0, 10, 100, ByteRange{0, 9}},
        ClampCase{"MiddleOfFile", 10, 20, 100, ByteRange{10, 29}},
        ClampCase{"EndsExactlyAtEof", 90, 10, 100, ByteRange{90, 99}},
        ClampCase{"SpansEof", 90, 20, 100, ByteRange{90, 99}},
        ClampCase{"LastByte", 99, 1, 100, ByteRange{99, 99}},
        ClampCase{"LastByteLargeRead", 99, 4096, 100, ByteRange{99, 99}},
        ClampCase{"OneByteFile", 0, 4096, 1, ByteRange{0, 0}},
        ClampCase{"OffsetAtEof", 100, 10, 100, std::nullopt},
        ClampCase{"OffsetPastEof", 101, 10, 100, std::nullopt},
        ClampCase{"OffsetFarPastEof", 5 * kGiB, 10, 100, std::nullopt},
        ClampCase{"Above4GiB", 4 * kGiB + 7, 4096, 5 * kGiB,
                  ByteRange{4 * kGiB + 7, 4 * kGiB + 7 + 4095}},
        ClampCase{"SizeAbove4GiB", 0, 5 * kGiB, 6 * kGiB, ByteRange{0, 5 * kGiB - 1}},
        ClampCase{"SpansEofAbove4GiB", 5 * kGiB - 10, 4096, 5 * kGiB,
                  ByteRange{5 * kGiB - 10, 5 * kGiB - 1}},
        ClampCase{"AtEofAbove4GiB", 5 * kGiB, 4096, 5 * kGiB, std::nullopt},
        // offset + size overflows 64 bits here; the clamp must not.
        ClampCase{"HugeSizeSmallFile", 10, kMax, 100, ByteRange{10, 99}},
        ClampCase{"HugeSizeHugeFile", 0, kMax, kMax, ByteRange{0, kMax - 1}},
        ClampCase{"NearMaxOffsetSpansEof", kMax - 10, 100, kMax, ByteRange{kMax - 10, kMax - 1}},
        ClampCase{"NearMaxOffsetHugeSize", kMax - 2, kMax, kMax, ByteRange{kMax - 2, kMax - 1}},
        ClampCase{"MaxOffsetMaxFile", kMax, 1, kMax, std::nullopt},
        ClampCase{"MaxOffsetSmallFile", kMax, kMax, 100, std::nullopt}),
    [](const ::testing::TestParamInfo<ClampCase>& param_info) {
      return std::string(param_info.param.label);
    });

}  // namespace
}  // namespace rangefs
