#include "http/syntax.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace rangefs::http {
namespace {

TEST(SyntaxTest, EqualsIgnoreCaseFoldsAsciiLettersOnly) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Range", "content-RANGE"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("bytes", "byte"));
  EXPECT_FALSE(EqualsIgnoreCase("a-b", "a_b"));
  EXPECT_FALSE(EqualsIgnoreCase("\xc3\xa9", "\xc3\x89")) << "not ASCII: compared as is";
}

TEST(SyntaxTest, TokensAreTcharRuns) {
  EXPECT_EQ(TokenLength("boundary=x"), 8u);
  EXPECT_EQ(TokenLength("!#$%&'*+-.^_`|~09azAZ rest"), 21u);  // 15 symbols, 6 letters and digits
  EXPECT_EQ(TokenLength("=x"), 0u);
  EXPECT_EQ(TokenLength(""), 0u);
  for (const char c : std::string_view("()<>@,;:\\\"/[]?={} \t")) {
    EXPECT_FALSE(IsTokenChar(c)) << c;
  }
}

TEST(SyntaxTest, ControlsAreBelowSpaceAndDel) {
  EXPECT_TRUE(IsControl('\0'));
  EXPECT_TRUE(IsControl('\t'));
  EXPECT_TRUE(IsControl('\x1f'));
  EXPECT_TRUE(IsControl('\x7f'));
  EXPECT_FALSE(IsControl(' '));
  EXPECT_FALSE(IsControl('~'));
  EXPECT_FALSE(IsControl('\x80'));
}

TEST(SyntaxTest, TakeQuotedStringUnescapesAndConsumes) {
  std::string_view s = R"("a \"b\" \\c"; rest)";
  EXPECT_EQ(TakeQuotedString(s), std::optional<std::string>(R"(a "b" \c)"));
  EXPECT_EQ(s, "; rest");
  std::string_view tab = "\"x\ty\"";
  EXPECT_EQ(TakeQuotedString(tab), std::optional<std::string>("x\ty"));
  EXPECT_TRUE(tab.empty());
}

TEST(SyntaxTest, TakeQuotedStringRefusesWhatIsMalformed) {
  for (const std::string_view bad : {"\"no end", "\"ends in \\", "\"bad\x01\"", "\"\\\x01\""}) {
    std::string_view s = bad;
    EXPECT_EQ(TakeQuotedString(s), std::nullopt) << bad;
    EXPECT_EQ(s, bad) << "left as it was";
  }
}

}  // namespace
}  // namespace rangefs::http
