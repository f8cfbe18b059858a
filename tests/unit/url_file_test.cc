#include "cli/url_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/mount_spec_printer.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

MountSpec Lazy(std::string name, std::string url, SpecKind kind = SpecKind::kFile) {
  return MountSpec{std::move(name), std::move(url), kind, false};
}

// The error ParseUrlFile gives for `text`, or a failure if it parsed.
std::string ErrorOf(std::string_view text, std::span<const MountSpec> operands = {}) {
  Result<std::vector<MountSpec>> got = ParseUrlFile(text, "urls.txt", operands);
  EXPECT_FALSE(got.ok()) << "parsed " << text;
  if (got.ok()) return "";
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  return got.status().message();
}

TEST(ParseUrlFileTest, UrlsAndPathsInFileOrderAllProbedLazily) {
  const std::string_view text =
      "https://h/a/Big%20File.iso\n"
      "isos/debian/netinst.iso=https://h/d/n.iso?sig=1\n"
      "https://h/pub/\n"
      "mirror=https://g/m/\n"
      "bucket=https://b.s3.amazonaws.com/?list-type=2&prefix=x/\n";
  Result<std::vector<MountSpec>> got = ParseUrlFile(text, "urls.txt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(*got, ElementsAre(Lazy("Big File.iso", "https://h/a/Big%20File.iso"),
                                Lazy("isos/debian/netinst.iso", "https://h/d/n.iso?sig=1"),
                                Lazy("pub", "https://h/pub/", SpecKind::kDirectory),
                                Lazy("mirror", "https://g/m/", SpecKind::kDirectory),
                                Lazy("bucket", "https://b.s3.amazonaws.com/?list-type=2&prefix=x/",
                                     SpecKind::kDirectory)));
}

TEST(ParseUrlFileTest, CommentsBlankLinesWhitespaceCrlfAndByteOrderMark) {
  const std::string_view text =
      "\xEF\xBB\xBF# a comment\r\n"
      "\r\n"
      "   \t\n"
      "   # an indented comment\n"
      "  https://h/a  \r\n"
      "\tb=https://h/b\t\n"
      "https://h/c";  // no final newline
  Result<std::vector<MountSpec>> got = ParseUrlFile(text, "urls.txt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(*got, ElementsAre(Lazy("a", "https://h/a"), Lazy("b", "https://h/b"),
                                Lazy("c", "https://h/c")));
}

TEST(ParseUrlFileTest, EmptyOrOnlyCommentsIsNoEntries) {
  for (const std::string_view text : {"", "\n\n", "# nothing\n  # here\n"}) {
    Result<std::vector<MountSpec>> got = ParseUrlFile(text, "urls.txt");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_THAT(*got, IsEmpty());
  }
}

TEST(ParseUrlFileTest, PathsMayHoldEqualsColonsHashesAndSpaces) {
  // Hive-style partitions, timestamps, and a '#' that is not a comment: the split is at the
  // first "=" followed by a URL.
  const std::string_view text =
      "year=2024/month=01/part-0.parquet=https://h/p0\n"
      "logs/2024-01-01T10:00:00.log=https://h/l\n"
      "Track #1.mp3=https://h/t#frag\n"
      "a b/c d=HTTPS://h/x\n"
      "HTTP://h/Upper\n";
  Result<std::vector<MountSpec>> got = ParseUrlFile(text, "urls.txt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(*got, ElementsAre(Lazy("year=2024/month=01/part-0.parquet", "https://h/p0"),
                                Lazy("logs/2024-01-01T10:00:00.log", "https://h/l"),
                                Lazy("Track #1.mp3", "https://h/t#frag"),
                                Lazy("a b/c d", "HTTPS://h/x"), Lazy("Upper", "HTTP://h/Upper")));
}

TEST(ParseUrlFileTest, SharedFoldersAndCaseDifferentPathsAreFine) {
  const std::string_view text =
      "a/b=https://h/1\n"
      "a/c=https://h/2\n"
      "a/d/e=https://h/3\n"
      "A/b=https://h/4\n"
      "a/d/f/=https://h/5/\n";  // a trailing '/' is not allowed in a path, tested below
  EXPECT_THAT(ErrorOf(text), HasSubstr("urls.txt:5: "));
  Result<std::vector<MountSpec>> got =
      ParseUrlFile(text.substr(0, text.rfind("a/d/f")), "urls.txt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 4u);
}

struct BadLine {
  std::string_view line;
  std::string_view says;
};

TEST(ParseUrlFileTest, BadLinesNameFileLineAndWhatIsWrong) {
  const std::vector<BadLine> cases = {
      {"not a url", "expected a URL (http:// or https://) or PATH=URL"},
      {"ftp://h/x", "expected a URL"},
      {"x=ftp://h/x", "PATH=URL without an http:// or https:// URL"},
      {"a = https://h/x", "no spaces"},
      {"=https://h/x", "empty path"},
      {"/a=https://h/x", "starts with '/'"},
      {"a/=https://h/x", "ends with '/'"},
      {"a//b=https://h/x", "empty segment"},
      {"a/../b=https://h/x", "\"..\" segment"},
      {"./b=https://h/x", "\".\" or \"..\" segment"},
      {"..=https://h/x", "\".\" or \"..\" segment"},
      {std::string_view("a\0b=https://h/x", 15), "NUL"},
      {"https://h/a%2Fb", "name contains '/'"},
      {"https://h/%2e%2e", "may not be"},
      {"https://h/%2e%2e/", "may not be"},
      {"a=https://h:99999/x", "https://h:99999/x"},
      {"https://", "https://"},
  };
  for (const BadLine& c : cases) {
    SCOPED_TRACE(::testing::Message() << "line: " << c.line);
    const std::string text = "# first\nhttps://h/ok\n" + std::string(c.line) + "\n";
    const std::string error = ErrorOf(text);
    EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:3: "), HasSubstr(std::string(c.says))));
  }
}

TEST(ParseUrlFileTest, CredentialsInBadLinesAreRedacted) {
  for (const std::string_view line :
       {"https://alice:s3cret@h/%2e%2e", "x=https://alice:s3cret@h:99999/x",
        "https://alice:s3cret@h/a%2Fb?sig=s3cret"}) {
    const std::string error = ErrorOf(line);
    EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:1: "), Not(HasSubstr("s3cret")))) << line;
  }
}

MountSpec LazyWithMirrors(std::string name, std::string url, SpecKind kind,
                          std::vector<std::string> mirrors) {
  return MountSpec{std::move(name), std::move(url), kind, false, std::move(mirrors)};
}

TEST(ParseUrlFileTest, MirrorsFollowThePrimaryAfterBars) {
  const std::string_view text =
      "https://a/x.iso|https://b/x.iso\n"
      "isos/y.iso=https://a/y?id=1|https://b/y.iso|https://c/m/y.iso\n"
      "pub=https://a/pub/|https://b/mirror/pub/\n"
      "year=2024/t=https://a/t/|https://b/t/\n"
      "https://a/plain\n";
  Result<std::vector<MountSpec>> got = ParseUrlFile(text, "urls.txt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(
      *got,
      ElementsAre(
          LazyWithMirrors("x.iso", "https://a/x.iso", SpecKind::kFile, {"https://b/x.iso"}),
          LazyWithMirrors("isos/y.iso", "https://a/y?id=1", SpecKind::kFile,
                          {"https://b/y.iso", "https://c/m/y.iso"}),
          LazyWithMirrors("pub", "https://a/pub/", SpecKind::kDirectory, {"https://b/mirror/pub/"}),
          LazyWithMirrors("year=2024/t", "https://a/t/", SpecKind::kDirectory, {"https://b/t/"}),
          Lazy("plain", "https://a/plain")));
}

TEST(ParseUrlFileTest, BadMirrorsNameTheLine) {
  const std::vector<BadLine> cases = {
      {"https://a/x|https://b/d/", "mirror https://b/d/: a directory URL, but https://a/x is"},
      {"d=https://a/d/|https://b/x", "mirror https://b/x: does not end in '/'"},
      {"b=https://a/?list-type=2|https://b/", "does not end in '/'"},
      {"https://a/x|ftp://b/x", "mirror ftp://b/x: only http and https"},
      {"https://a/x|", "mirror is empty"},
      {"x=https://a/x|https://a/x", "the same URL as its primary"},
      {"x=|https://a/x", "PATH=URL without an http:// or https:// URL"},
  };
  for (const BadLine& c : cases) {
    SCOPED_TRACE(::testing::Message() << "line: " << c.line);
    const std::string error = ErrorOf("https://h/ok\n" + std::string(c.line) + "\n");
    EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:2: "), HasSubstr(std::string(c.says))));
  }
  // A mirror's credentials are hidden like the primary's.
  for (const std::string_view line :
       {"https://a/x|https://alice:s3cret@b/d/", "x=https://alice:s3cret@a/x|https://b/d/",
        "x=https://a/x|https://alice:s3cret@b:99999/x"}) {
    const std::string error = ErrorOf(line);
    EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:1: "), Not(HasSubstr("s3cret")))) << line;
  }
}

TEST(ParseUrlFileTest, DuplicatePathsNameBothLines) {
  std::string error = ErrorOf("a/x.iso=https://h/1\n\n# c\na/y=https://h/2\na/x.iso=https://h/3\n");
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:5: "), HasSubstr("duplicate path \"a/x.iso\""),
                           HasSubstr("urls.txt:1")));
  // A derived name and an explicit one.
  error = ErrorOf("https://h/d/x.iso\nx.iso=https://g/y\n");
  EXPECT_THAT(error,
              AllOf(HasSubstr("urls.txt:2: "), HasSubstr("\"x.iso\""), HasSubstr("urls.txt:1")));
  // A directory and a file.
  error = ErrorOf("https://h/pub/\npub=https://g/y\n");
  EXPECT_THAT(error,
              AllOf(HasSubstr("urls.txt:2: "), HasSubstr("\"pub\""), HasSubstr("urls.txt:1")));
}

TEST(ParseUrlFileTest, EntryThenFolderOfTheSameNameNamesBothLines) {
  std::string error = ErrorOf("a=https://h/a\nother=https://h/o\na/b=https://h/b\n");
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:3: "), HasSubstr("\"a/b\""),
                           HasSubstr("folder \"a\""), HasSubstr("urls.txt:1")));
  // Deeper: "a/b" an entry, then "a/b/c/d" needs it as a folder.
  error = ErrorOf("a/b=https://h/ab/\na/b/c/d=https://h/d\n");
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:2: "), HasSubstr("folder \"a/b\""),
                           HasSubstr("urls.txt:1")));
}

TEST(ParseUrlFileTest, FolderThenEntryOfTheSameNameNamesBothLines) {
  std::string error = ErrorOf("a/b=https://h/b\na=https://h/a\n");
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:2: "), HasSubstr("\"a\" is a folder already"),
                           HasSubstr("\"a/b\" on urls.txt:1")));
  error = ErrorOf("x/y/z=https://h/z\nx/y=https://h/y/\n");
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:2: "), HasSubstr("\"x/y\" is a folder already"),
                           HasSubstr("urls.txt:1")));
}

TEST(ParseUrlFileTest, OperandsShareTheNamespace) {
  const std::vector<MountSpec> operands = {
      {"x.iso", "https://alice:s3cret@h/x.iso", SpecKind::kFile, true},
      {"pub", "https://h/pub/", SpecKind::kDirectory, true},
  };
  std::string error = ErrorOf("ok=https://h/ok\nx.iso=https://g/y\n", operands);
  EXPECT_THAT(error,
              AllOf(HasSubstr("urls.txt:2: "), HasSubstr("duplicate path \"x.iso\""),
                    HasSubstr("operand https://alice:***@h/x.iso"), Not(HasSubstr("s3cret"))));
  error = ErrorOf("https://g/other/x.iso\n", operands);
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:1: "), HasSubstr("\"x.iso\"")));
  // An operand's directory is filled by its listing, not by URL-file lines.
  error = ErrorOf("pub/extra.iso=https://g/e\n", operands);
  EXPECT_THAT(error, AllOf(HasSubstr("urls.txt:1: "), HasSubstr("folder \"pub\""),
                           HasSubstr("operand https://h/pub/")));

  Result<std::vector<MountSpec>> got =
      ParseUrlFile("other/x.iso=https://g/y\npub2=https://h/pub/\n", "urls.txt", operands);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 2u);
}

// 100,000 lines, as --url-file is meant for: hash sets, no scan over earlier lines (this test
// times nothing, but a quadratic parser would make the suite crawl).
TEST(ParseUrlFileTest, HundredThousandLines) {
  constexpr int kLines = 100'000;
  std::string text;
  text.reserve(size_t{kLines} * 64);
  for (int i = 0; i < kLines; ++i) {
    if (i % 10 == 0) {
      text += "https://h/flat/file" + std::to_string(i) + ".bin\n";
    } else {
      text += "dir" + std::to_string(i % 100) + "/sub" + std::to_string(i % 7) + "/f" +
              std::to_string(i) + ".bin=https://h/data/" + std::to_string(i) + "\n";
    }
  }
  Result<std::vector<MountSpec>> got = ParseUrlFile(text, "big.txt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), size_t{kLines});
  EXPECT_EQ((*got)[0], Lazy("file0.bin", "https://h/flat/file0.bin"));
  EXPECT_EQ((*got)[kLines - 1], Lazy("dir99/sub4/f99999.bin", "https://h/data/99999"));

  // A duplicate of the first line at the very end is still found, naming both lines.
  text += "file0.bin=https://g/x\n";
  got = ParseUrlFile(text, "big.txt");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), AllOf(HasSubstr("big.txt:100001: "), HasSubstr("big.txt:1")));
}

TEST(ReadUrlFileTest, ReadsAndParsesTheFile) {
  const std::string path = ::testing::TempDir() + "/rangefs_url_file_test.txt";
  {
    std::ofstream file(path, std::ios::binary);
    file << "# two entries\nhttps://h/a\nd/b=https://h/b\n";
  }
  Result<std::vector<MountSpec>> got = ReadUrlFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(*got, ElementsAre(Lazy("a", "https://h/a"), Lazy("d/b", "https://h/b")));
}

TEST(ReadUrlFileTest, ErrorsNameThePath) {
  const std::string path = ::testing::TempDir() + "/rangefs_url_file_bad.txt";
  {
    std::ofstream file(path, std::ios::binary);
    file << "https://h/a\nbad line\n";
  }
  Result<std::vector<MountSpec>> got = ReadUrlFile(path);
  std::remove(path.c_str());
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr(path + ":2: "));

  got = ReadUrlFile(::testing::TempDir() + "/rangefs_no_such_url_file");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("rangefs_no_such_url_file"), HasSubstr("No such file")));
  got = ReadUrlFile(::testing::TempDir());  // a directory
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("directory"));
}

}  // namespace
}  // namespace rangefs
