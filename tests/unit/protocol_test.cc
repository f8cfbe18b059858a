#include "http/protocol.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/printers.h"

namespace rangefs::http {

inline void PrintTo(const ContentRange& content_range, std::ostream* os) {
  *os << "{range=";
  if (content_range.range) {
    rangefs::PrintTo(*content_range.range, os);
  } else {
    *os << "*";
  }
  *os << " complete_length=";
  if (content_range.complete_length) {
    *os << *content_range.complete_length;
  } else {
    *os << "*";
  }
  *os << "}";
}

namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// ---------------------------------------------------------------------------------------------
// FormatRangeHeaderValue

TEST(FormatRangeHeaderValueTest, FirstHundredBytesIsZeroToNinetyNine) {
  const std::vector<ByteRange> ranges = {{0, 99}};
  EXPECT_EQ(FormatRangeHeaderValue(ranges), "bytes=0-99");
}

TEST(FormatRangeHeaderValueTest, SingleByte) {
  const std::vector<ByteRange> first = {{0, 0}};
  EXPECT_EQ(FormatRangeHeaderValue(first), "bytes=0-0");
  const std::vector<ByteRange> later = {{42, 42}};
  EXPECT_EQ(FormatRangeHeaderValue(later), "bytes=42-42");
}

TEST(FormatRangeHeaderValueTest, MultipleRangesAreCommaSeparatedInOrder) {
  const std::vector<ByteRange> ranges = {{0, 99}, {200, 299}, {1000, 1000}};
  EXPECT_EQ(FormatRangeHeaderValue(ranges), "bytes=0-99,200-299,1000-1000");
}

TEST(FormatRangeHeaderValueTest, SixtyFourBitOffsets) {
  const std::vector<ByteRange> above_4gib = {{4 * kGiB, 5 * kGiB - 1}};
  EXPECT_EQ(FormatRangeHeaderValue(above_4gib), "bytes=4294967296-5368709119");
  const std::vector<ByteRange> near_max = {{kMax - 1, kMax}};
  EXPECT_EQ(FormatRangeHeaderValue(near_max), "bytes=18446744073709551614-18446744073709551615");
}

// ---------------------------------------------------------------------------------------------
// ParseContentRange

struct ValidCase {
  std::string_view value;
  ContentRange expected;
};

TEST(ParseContentRangeTest, AcceptsValidForms) {
  const std::vector<ValidCase> cases = {
      {"bytes 0-99/1000", {ByteRange{0, 99}, 1000}},
      {"bytes 0-99/*", {ByteRange{0, 99}, std::nullopt}},
      {"bytes */1000", {std::nullopt, 1000}},
      // What a 416 for an empty file carries.
      {"bytes */0", {std::nullopt, 0}},
      {"bytes 0-0/1", {ByteRange{0, 0}, 1}},
      {"bytes 999-999/1000", {ByteRange{999, 999}, 1000}},
      {"bytes 4294967296-5368709119/5368709120", {ByteRange{4 * kGiB, 5 * kGiB - 1}, 5 * kGiB}},
      // The largest values that fit in 64 bits.
      {"bytes 0-18446744073709551614/18446744073709551615", {ByteRange{0, kMax - 1}, kMax}},
      {"bytes */18446744073709551615", {std::nullopt, kMax}},
      // 1*DIGIT allows leading zeros.
      {"bytes 007-0099/01000", {ByteRange{7, 99}, 1000}},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "value: \"" << c.value << "\"");
    Result<ContentRange> got = ParseContentRange(c.value);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c.expected);
  }
}

TEST(ParseContentRangeTest, IgnoresSurroundingWhitespace) {
  const ContentRange expected{ByteRange{0, 99}, 1000};
  for (std::string_view value : {" bytes 0-99/1000", "bytes 0-99/1000 ", "  bytes 0-99/1000  ",
                                 "\tbytes 0-99/1000\t", " \t bytes 0-99/1000 \t "}) {
    SCOPED_TRACE(::testing::Message() << "value: \"" << value << "\"");
    Result<ContentRange> got = ParseContentRange(value);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, expected);
  }
}

TEST(ParseContentRangeTest, UnitIsCaseInsensitive) {
  // RFC 7233 section 2: range units are compared case-insensitively.
  for (std::string_view value : {"Bytes 0-1/2", "BYTES 0-1/2", "bYtEs 0-1/2"}) {
    SCOPED_TRACE(::testing::Message() << "value: \"" << value << "\"");
    Result<ContentRange> got = ParseContentRange(value);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, (ContentRange{ByteRange{0, 1}, 2}));
  }
}

TEST(ParseContentRangeTest, RejectsMalformedValues) {
  const std::vector<std::string_view> cases = {
      // Empty and whitespace only.
      "",
      " ",
      "\t",
      // Other units, or no unit.
      "items 0-1/2",
      "byte 0-1/2",
      "bytesx 0-1/2",
      "0-99/1000",
      " 0-99/1000",
      // Unit without a separating space, or with nothing after it.
      "bytes0-99/1000",
      "bytes",
      "bytes ",
      "bytes=0-99/1000",
      // Neither range nor length known.
      "bytes */*",
      "bytes *",
      "bytes */",
      // last < first.
      "bytes 5-4/10",
      "bytes 5-4/*",
      "bytes 1-0/*",
      // last >= complete length.
      "bytes 0-10/10",
      "bytes 0-99/99",
      "bytes 0-0/0",
      "bytes 10-20/5",
      // Missing parts.
      "bytes 0-99",
      "bytes 0-99/",
      "bytes 0-/1000",
      "bytes -99/1000",
      "bytes -/1000",
      "bytes 0/1000",
      "bytes /1000",
      "bytes 0-99 1000",
      "bytes 0-99//1000",
      "bytes 0--99/1000",
      // Signs.
      "bytes +0-99/1000",
      "bytes 0-+99/1000",
      "bytes 0-99/+1000",
      "bytes -0-99/1000",
      "bytes 0-99/-1000",
      "bytes */-1",
      "bytes */+1000",
      // Spaces inside the value.
      "bytes 0 -99/1000",
      "bytes 0- 99/1000",
      "bytes 0-99 /1000",
      "bytes 0-99/ 1000",
      "bytes 0-9 9/1000",
      "bytes 0-99/10 00",
      "bytes * /1000",
      "bytes */ 1000",
      // Numbers that overflow 64 bits.
      "bytes 0-18446744073709551616/*",
      "bytes 18446744073709551616-18446744073709551617/*",
      "bytes 0-99/18446744073709551616",
      "bytes */18446744073709551616",
      "bytes 0-99/99999999999999999999999",
      "bytes 0-99/184467440737095516150",
      // Fits in 64 bits, but a range of 2^64 bytes has no representable length.
      "bytes 0-18446744073709551615/*",
      // Trailing garbage.
      "bytes 0-99/1000x",
      "bytes 0-99/1000 x",
      "bytes 0-99/1000,",
      "bytes 0-99/1000;",
      "bytes 0-99/1000/",
      "bytes 0-99/*x",
      "bytes */1000x",
      "bytes 0-99/1000, 100-199/1000",
      // Hex, decimals and other non-digits.
      "bytes 0x0-0x63/0x3e8",
      "bytes 0-63/3e8",
      "bytes 0-99/1e3",
      "bytes 0-99.0/1000",
      "bytes a-b/c",
      // Embedded NUL.
      std::string_view("bytes 0-9\0/1000", 15),
  };
  for (std::string_view value : cases) {
    SCOPED_TRACE(::testing::Message() << "value: \"" << value << "\"");
    Result<ContentRange> got = ParseContentRange(value);
    EXPECT_FALSE(got.ok()) << "accepted as " << ::testing::PrintToString(got.value());
  }
}

// ---------------------------------------------------------------------------------------------
// IsIdentityEncoding

TEST(IsIdentityEncodingTest, IdentityForms) {
  for (std::string_view value :
       {"", "identity", "Identity", "IDENTITY", " identity ", "\tidentity\t", " ", "  "}) {
    EXPECT_TRUE(IsIdentityEncoding(value)) << "\"" << value << "\"";
  }
}

TEST(IsIdentityEncodingTest, ContentCodings) {
  for (std::string_view value :
       {"gzip", "br", "deflate", "compress", "x-gzip", "zstd", "gzip, identity", "identity, gzip",
        "identityx", "identit", "gzip identity"}) {
    EXPECT_FALSE(IsIdentityEncoding(value)) << "\"" << value << "\"";
  }
}

// ---------------------------------------------------------------------------------------------
// CheckContentRangeMatches

TEST(CheckContentRangeMatchesTest, ExactMatchIsOk) {
  const Status status =
      CheckContentRangeMatches(ContentRange{ByteRange{0, 99}, 1000}, ByteRange{0, 99}, 1000);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST(CheckContentRangeMatchesTest, ExactMatchAbove4GiBIsOk) {
  const ByteRange range{4 * kGiB + 1, 4 * kGiB + 4096};
  const Status status = CheckContentRangeMatches(ContentRange{range, 5 * kGiB}, range, 5 * kGiB);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

// RFC 9110 section 14.4: "bytes a-b/*" when the server does not know the complete length.
// The size the probe found stands for it.
TEST(CheckContentRangeMatchesTest, UnknownTotalWithTheAskedRangeIsOk) {
  for (const ByteRange range : {ByteRange{100, 199}, ByteRange{0, 999}, ByteRange{999, 999}}) {
    SCOPED_TRACE(testing::Message() << range.first << "-" << range.last);
    const Status status = CheckContentRangeMatches(ContentRange{range, std::nullopt}, range, 1000);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
  const ByteRange high{4 * kGiB + 1, 4 * kGiB + 4096};
  EXPECT_TRUE(CheckContentRangeMatches(ContentRange{high, std::nullopt}, high, 5 * kGiB).ok());
}

TEST(CheckContentRangeMatchesTest, UnknownTotalWithARangePastTheFileIsALie) {
  // A caller never asks for bytes past the file, but the check does not rely on it.
  const ByteRange range{900, 1000};
  const Status status = CheckContentRangeMatches(ContentRange{range, std::nullopt}, range, 1000);
  EXPECT_EQ(status.code(), ErrorCode::kProtocolViolation);
  EXPECT_NE(status.message().find("past the file"), std::string::npos) << status.message();
}

struct MismatchCase {
  const char* label;
  ContentRange got;
};

TEST(CheckContentRangeMatchesTest, MismatchesAreProtocolViolations) {
  const ByteRange requested{100, 199};
  constexpr uint64_t kFileSize = 1000;
  const std::vector<MismatchCase> cases = {
      {"different first", {ByteRange{101, 199}, kFileSize}},
      {"different last", {ByteRange{100, 198}, kFileSize}},
      {"one byte too many", {ByteRange{100, 200}, kFileSize}},
      {"shifted", {ByteRange{0, 99}, kFileSize}},
      {"different total", {ByteRange{100, 199}, 999}},
      {"larger total", {ByteRange{100, 199}, 1001}},
      {"total above 4 GiB", {ByteRange{100, 199}, kFileSize + 4 * kGiB}},
      {"unknown total, different first", {ByteRange{101, 199}, std::nullopt}},
      {"unknown total, one byte too many", {ByteRange{100, 200}, std::nullopt}},
      {"unsatisfied range", {std::nullopt, kFileSize}},
  };
  for (const MismatchCase& c : cases) {
    SCOPED_TRACE(c.label);
    const Status status = CheckContentRangeMatches(c.got, requested, kFileSize);
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), ErrorCode::kProtocolViolation);
    EXPECT_FALSE(status.message().empty());
  }
}

TEST(CheckPartCoversAskedRangesTest, PartsHoldingWholeAskedRangesAreOk) {
  const std::vector<ByteRange> asked = {{0, 99}, {200, 299}, {400, 499}};
  for (const ByteRange part :
       {ByteRange{0, 99}, ByteRange{400, 499}, ByteRange{0, 299}, ByteRange{0, 499},
        ByteRange{150, 350}, ByteRange{100, 299}, ByteRange{200, 999}}) {
    SCOPED_TRACE(testing::Message() << part.first << "-" << part.last);
    const Status status = CheckPartCoversAskedRanges(part, asked);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
}

TEST(CheckPartCoversAskedRangesTest, PartsCuttingAnAskedRangeOrAskedForNothingAreLies) {
  const std::vector<ByteRange> asked = {{0, 99}, {200, 299}, {400, 499}};
  for (const ByteRange part : {ByteRange{1, 100},       // shifted forward by one
                               ByteRange{199, 298},     // shifted back by one
                               ByteRange{0, 98},        // one byte short
                               ByteRange{0, 250},       // covers one, cuts the next
                               ByteRange{100, 199},     // only the gap between two
                               ByteRange{500, 999}}) {  // past every asked range
    SCOPED_TRACE(testing::Message() << part.first << "-" << part.last);
    EXPECT_EQ(CheckPartCoversAskedRanges(part, asked).code(), ErrorCode::kProtocolViolation);
  }
}

TEST(CheckContentRangeCoversTest, ARangeThatContainsTheRequestIsOk) {
  const ByteRange requested{100, 199};
  for (const ByteRange got : {ByteRange{100, 199}, ByteRange{0, 199}, ByteRange{100, 999},
                              ByteRange{0, 999}, ByteRange{99, 200}}) {
    SCOPED_TRACE(::testing::Message() << got.first << "-" << got.last);
    const Status status = CheckContentRangeCovers(ContentRange{got, 1000}, requested, 1000);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
}

TEST(CheckContentRangeCoversTest, AnUnknownTotalIsOkWithinTheFile) {
  const ByteRange requested{100, 199};
  for (const ByteRange got : {ByteRange{100, 199}, ByteRange{0, 299}, ByteRange{0, 999}}) {
    SCOPED_TRACE(::testing::Message() << got.first << "-" << got.last);
    const Status status = CheckContentRangeCovers(ContentRange{got, std::nullopt}, requested, 1000);
    EXPECT_TRUE(status.ok()) << status.ToString();
  }
}

TEST(CheckContentRangeCoversTest, ARangeMissingPartOfTheRequestOrTheWrongTotalIsNot) {
  const ByteRange requested{100, 199};
  const std::vector<MismatchCase> cases = {
      {"starts late", {ByteRange{101, 300}, 1000}},
      {"ends early", {ByteRange{0, 198}, 1000}},
      {"disjoint", {ByteRange{300, 399}, 1000}},
      {"wider, wrong total", {ByteRange{0, 299}, 999}},
      {"unknown total, ends early", {ByteRange{0, 198}, std::nullopt}},
      {"unknown total, past the end of the file", {ByteRange{0, 1000}, std::nullopt}},
      {"unknown total, far past the end of the file", {ByteRange{100, 5 * kGiB}, std::nullopt}},
      {"unsatisfied range", {std::nullopt, 1000}},
  };
  for (const MismatchCase& c : cases) {
    SCOPED_TRACE(c.label);
    const Status status = CheckContentRangeCovers(c.got, requested, 1000);
    EXPECT_EQ(status.code(), ErrorCode::kProtocolViolation);
  }
}

}  // namespace
}  // namespace rangefs::http
