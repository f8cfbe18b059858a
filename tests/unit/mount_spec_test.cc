#include "cli/mount_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "fakes/mount_spec_printer.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// FileNameFromUrl

struct NameCase {
  std::string_view url;
  std::string_view name;
};

TEST(FileNameFromUrlTest, UsesLastPathSegmentPercentDecoded) {
  const std::vector<NameCase> cases = {
      {"https://h/a/Big%20File.iso", "Big File.iso"},
      {"http://h/x.zip?sig=abc#frag", "x.zip"},
      {"https://h/x", "x"},
      {"http://h/x", "x"},
      {"https://h/a/b/c/file.tar.gz", "file.tar.gz"},
      {"https://example.com:8443/path/disk.img", "disk.img"},
      {"https://h/x.zip#frag", "x.zip"},
      // A query may hold '/' and '=' without changing the name.
      {"https://h/a/x.bin?next=/b/c/&d=e", "x.bin"},
      {"https://h/%41%62c", "Abc"},
      {"https://h/%e2%82%ac.txt", "\xe2\x82\xac.txt"},
      {"https://h/a+b.txt", "a+b.txt"},  // '+' is a space only in forms, not in paths
      {"https://h/...", "..."},
      {"https://h/.hidden", ".hidden"},
  };
  for (const NameCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "url: " << c.url);
    Result<std::string> got = FileNameFromUrl(c.url);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c.name);
  }
}

TEST(FileNameFromUrlTest, RejectsUrlsWithoutAUsableName) {
  const std::vector<std::string_view> cases = {
      // No last segment.
      "https://h/",
      "https://h",
      "https://h/dir/",
      "https://h/dir/?q=x",
      "https://h?x/y",
      "https://h#frag/x",
      // Decodes to something that cannot be a file name.
      "https://h/a%2Fb",
      "https://h/a%2fb",
      "https://h/a%00b",
      "https://h/%00",
      "https://h/.",
      "https://h/..",
      "https://h/a/..",
      "https://h/%2e%2e",
      "https://h/%2E%2E",
      "https://h/%2e",
      "https://h/.%2e",
      // Not http(s), not absolute, or no host.
      "ftp://h/x",
      "file:///x",
      "https:///x",
      "//h/x",
      "/x",
      "x",
      "not a url",
      "",
  };
  for (std::string_view url : cases) {
    SCOPED_TRACE(::testing::Message() << "url: \"" << url << "\"");
    Result<std::string> got = FileNameFromUrl(url);
    ASSERT_FALSE(got.ok()) << "named \"" << got.value() << "\"";
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
    if (!url.empty()) {
      EXPECT_THAT(got.status().message(), HasSubstr(std::string(url)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ParseMountSpec

TEST(ParseMountSpecTest, NameEqualsUrl) {
  Result<MountSpec> got = ParseMountSpec("name=https://h/x");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"name", "https://h/x"}));
}

TEST(ParseMountSpecTest, PlainUrlIsNamedByItsLastSegment) {
  Result<MountSpec> got = ParseMountSpec("https://h/dir/x.iso");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"x.iso", "https://h/dir/x.iso"}));
}

TEST(ParseMountSpecTest, EqualsSignInQueryDoesNotMakeAName) {
  Result<MountSpec> got = ParseMountSpec("https://h/x?a=b");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"x", "https://h/x?a=b"}));
}

TEST(ParseMountSpecTest, SplitsAtFirstEqualsSign) {
  Result<MountSpec> got = ParseMountSpec("name=https://h/x?a=b&c=d");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"name", "https://h/x?a=b&c=d"}));
}

TEST(ParseMountSpecTest, ExplicitNameMayHoldSpaces) {
  Result<MountSpec> got = ParseMountSpec("my file.iso=https://h/x");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"my file.iso", "https://h/x"}));
}

TEST(ParseMountSpecTest, ExplicitNameOverridesUrlName) {
  Result<MountSpec> got = ParseMountSpec("x.iso=https://h/Other%20Name.iso");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"x.iso", "https://h/Other%20Name.iso"}));
}

TEST(ParseMountSpecTest, SlashBeforeEqualsMeansUrlNotName) {
  // "a/b" cannot be a NAME, so the whole operand is taken as a URL, and it is not one.
  Result<MountSpec> got = ParseMountSpec("a/b=https://h/x");
  ASSERT_FALSE(got.ok()) << "parsed as " << ::testing::PrintToString(got.value());
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
}

TEST(ParseMountSpecTest, RejectsBadExplicitNames) {
  for (std::string_view operand : {"=https://h/x", ".=https://h/x", "..=https://h/x"}) {
    SCOPED_TRACE(::testing::Message() << "operand: " << operand);
    Result<MountSpec> got = ParseMountSpec(operand);
    ASSERT_FALSE(got.ok()) << "parsed as " << ::testing::PrintToString(got.value());
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ParseMountSpecTest, RejectsBadUrlAfterName) {
  for (std::string_view operand :
       {"name=", "name=ftp://h/x", "name=not a url", "name=https://", "name=/x"}) {
    SCOPED_TRACE(::testing::Message() << "operand: " << operand);
    Result<MountSpec> got = ParseMountSpec(operand);
    ASSERT_FALSE(got.ok()) << "parsed as " << ::testing::PrintToString(got.value());
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ParseMountSpecTest, RejectsPlainUrlWithoutName) {
  for (std::string_view operand :
       {"https://h/%2e%2e", "https://h/%2e%2e/", "https://h/a%2Fb/", "https://h/a%00/", ""}) {
    SCOPED_TRACE(::testing::Message() << "operand: \"" << operand << "\"");
    Result<MountSpec> got = ParseMountSpec(operand);
    ASSERT_FALSE(got.ok()) << "parsed as " << ::testing::PrintToString(got.value());
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ParseMountSpecTest, FilesAreProbedAtMount) {
  Result<MountSpec> got = ParseMountSpec("https://h/x.iso");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->kind, SpecKind::kFile);
  EXPECT_TRUE(got->probe_at_mount);
}

TEST(ParseMountSpecTest, DirectoryUrlIsADirectoryNamedByItsLastSegment) {
  Result<MountSpec> got = ParseMountSpec("https://h/pub/Debian%20CD/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got,
            (MountSpec{"Debian CD", "https://h/pub/Debian%20CD/", SpecKind::kDirectory, true}));
  got = ParseMountSpec("https://h/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"h", "https://h/", SpecKind::kDirectory, true}));
  got = ParseMountSpec("https://bucket.s3.amazonaws.com/?list-type=2&prefix=data/&delimiter=/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "data");
  EXPECT_EQ(got->kind, SpecKind::kDirectory);
}

TEST(ParseMountSpecTest, NameEqualsDirectoryUrl) {
  Result<MountSpec> got = ParseMountSpec("isos=https://h/pub/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"isos", "https://h/pub/", SpecKind::kDirectory, true}));
  got = ParseMountSpec("b=https://h/?list-type=2");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"b", "https://h/?list-type=2", SpecKind::kDirectory, true}));
}

// ---------------------------------------------------------------------------------------------
// KindOfUrl and DirectoryNameFromUrl

TEST(KindOfUrlTest, PathEndingInSlashOrS3ListIsADirectory) {
  for (const std::string_view url :
       {"https://h/x/", "https://h/", "https://h", "https://h/a/b//", "https://h/x/?C=N;O=D",
        "https://h/x?list-type=2", "https://h/x?a=b&list-type=2&prefix=p/",
        "https://h/x?list%2Dtype=%32"}) {
    Result<SpecKind> got = KindOfUrl(url);
    ASSERT_TRUE(got.ok()) << url << ": " << got.status().ToString();
    EXPECT_EQ(*got, SpecKind::kDirectory) << url;
  }
  for (const std::string_view url :
       {"https://h/x", "https://h/x.iso?list-type=1", "https://h/x?list-type=22",
        "https://h/x?xlist-type=2", "https://h/x#/", "https://h/x?next=/a/", "https://h/a%2F"}) {
    Result<SpecKind> got = KindOfUrl(url);
    ASSERT_TRUE(got.ok()) << url << ": " << got.status().ToString();
    EXPECT_EQ(*got, SpecKind::kFile) << url;
  }
}

TEST(KindOfUrlTest, RejectsWhatIsNotAnHttpUrl) {
  for (const std::string_view url : {"ftp://h/x/", "file:///x/", "/x/", "", "x"}) {
    Result<SpecKind> got = KindOfUrl(url);
    ASSERT_FALSE(got.ok()) << "\"" << url << "\"";
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(DirectoryNameFromUrlTest, LastSegmentHostOrS3Prefix) {
  const std::vector<NameCase> cases = {
      {"https://h/pub/", "pub"},
      {"https://h/pub/Debian%20CD/", "Debian CD"},
      {"https://h/a/b//", "b"},
      {"https://h/%e2%82%ac/", "\xe2\x82\xac"},
      {"https://h/a+b/", "a+b"},
      {"https://h/dir/?C=N;O=D", "dir"},
      {"https://h/", "h"},
      {"https://h", "h"},
      {"https://mirror.example.org:8443/", "mirror.example.org"},
      {"http://127.0.0.1:8080/", "127.0.0.1"},
      // S3 ListObjectsV2: the prefix's last segment, else a path-style bucket, else the bucket
      // host's first label.
      {"https://bucket.s3.amazonaws.com/?list-type=2", "bucket"},
      {"https://bucket.s3.amazonaws.com/?list-type=2&prefix=", "bucket"},
      {"https://bucket.s3.amazonaws.com/?list-type=2&prefix=data/2024/&delimiter=/", "2024"},
      {"https://bucket.s3.amazonaws.com/?list-type=2&prefix=data%2F2024%2F", "2024"},
      {"https://bucket.s3.amazonaws.com/?prefix=photos&list-type=2", "photos"},
      {"https://bucket.s3.amazonaws.com/?list-type=2&prefix=a%20b/", "a b"},
      {"http://127.0.0.1:9000/bucket?list-type=2", "bucket"},
      {"http://127.0.0.1:9000/bucket/?list-type=2&prefix=x/", "x"},
      {"http://127.0.0.1:9000/?list-type=2", "127.0.0.1"},
  };
  for (const NameCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "url: " << c.url);
    Result<std::string> got = DirectoryNameFromUrl(c.url);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c.name);
  }
}

TEST(DirectoryNameFromUrlTest, RejectsFilesAndBadNames) {
  for (const std::string_view url :
       {"https://h/x.iso", "https://h/a%2Fb/", "https://h/%2e%2e/", "https://h/%2E/",
        "https://h/a%00/", "https://h/?list-type=2&prefix=a/..",
        "https://h/?list-type=2&prefix=%00", "ftp://h/d/", "not a url/"}) {
    SCOPED_TRACE(::testing::Message() << "url: " << url);
    Result<std::string> got = DirectoryNameFromUrl(url);
    ASSERT_FALSE(got.ok()) << "named \"" << got.value() << "\"";
    EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(got.status().message(), HasSubstr(std::string(url)));
  }
}

TEST(CheckEntryNameTest, SameRulesAsDerivedNames) {
  EXPECT_TRUE(CheckEntryName("a b:c=d#e", "x").ok());
  EXPECT_TRUE(CheckEntryName("...", "x").ok());
  for (const std::string_view name :
       {std::string_view(""), std::string_view("."), std::string_view(".."),
        std::string_view("a/b"), std::string_view("a\0b", 3)}) {
    const Status status = CheckEntryName(name, "CULPRIT");
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("CULPRIT"));
  }
}

TEST(ParseNamedMountSpecTest, TakesTheUrlWholeAndAnyValidName) {
  // What NAME=URL could not say: a name with ':' and a URL that is not read as NAME=URL.
  Result<MountSpec> got = ParseNamedMountSpec("disk:1.img", "https://h/a/b.iso?x=1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (MountSpec{"disk:1.img", "https://h/a/b.iso?x=1"}));
  EXPECT_EQ(got->kind, SpecKind::kFile);
  got = ParseNamedMountSpec("n", "https://h/");  // no file name in the URL: the name gives one
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->url, "https://h/");
  EXPECT_EQ(got->kind, SpecKind::kDirectory);
}

TEST(ParseNamedMountSpecTest, RejectsBadNamesAndUrls) {
  for (const std::string_view name : {"", ".", "..", "a/b"}) {
    Result<MountSpec> got = ParseNamedMountSpec(name, "https://h/x");
    ASSERT_FALSE(got.ok()) << name;
    EXPECT_THAT(got.status().message(), HasSubstr("--name"));
  }
  EXPECT_FALSE(ParseNamedMountSpec("x", "ftp://h/x").ok());
  EXPECT_FALSE(ParseNamedMountSpec("x", "x.iso=https://h/x").ok());
}

// ---------------------------------------------------------------------------------------------
// ParseMountSpecs

TEST(ParseMountSpecsTest, DistinctNamesKeepOperandOrder) {
  const std::vector<std::string> operands = {"https://h/b.iso", "a.iso=https://h/z",
                                             "https://h/c/a.bin?x=1"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const std::vector<MountSpec> expected = {
      {"b.iso", "https://h/b.iso"},
      {"a.iso", "https://h/z"},
      {"a.bin", "https://h/c/a.bin?x=1"},
  };
  EXPECT_EQ(*got, expected);
}

TEST(ParseMountSpecsTest, DuplicateDerivedNamesFail) {
  const std::vector<std::string> operands = {"https://a/x.iso", "https://b/x.iso"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("x.iso"));
}

TEST(ParseMountSpecsTest, DuplicateExplicitAndDerivedNamesFail) {
  const std::vector<std::string> operands = {"https://a/other", "x.iso=https://a/y",
                                             "https://b/x.iso"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("x.iso"));
}

TEST(ParseMountSpecsTest, SameUrlTwiceUnderDifferentNamesIsFine) {
  const std::vector<std::string> operands = {"one=https://h/x", "two=https://h/x"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0], (MountSpec{"one", "https://h/x"}));
  EXPECT_EQ((*got)[1], (MountSpec{"two", "https://h/x"}));
}

TEST(ParseMountSpecsTest, NamesDifferingOnlyInCaseAreDistinct) {
  const std::vector<std::string> operands = {"https://h/X.iso", "https://h/x.iso"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), 2u);
}

TEST(ParseMountSpecsTest, DirectoryAndFileMayNotShareAName) {
  const std::vector<std::string> operands = {"https://h/x/", "https://g/x"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("\"x\""));
  EXPECT_THAT(got.status().message(), HasSubstr("https://g/x"));
}

TEST(ParseMountSpecsTest, FilesAndDirectoriesMixInOperandOrder) {
  const std::vector<std::string> operands = {"https://h/a.iso", "https://h/pub/",
                                             "d=https://g/dir/"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  const std::vector<MountSpec> expected = {
      {"a.iso", "https://h/a.iso", SpecKind::kFile, true},
      {"pub", "https://h/pub/", SpecKind::kDirectory, true},
      {"d", "https://g/dir/", SpecKind::kDirectory, true},
  };
  EXPECT_EQ(*got, expected);
}

TEST(ParseMountSpecsTest, BadOperandFailsNamingIt) {
  const std::vector<std::string> operands = {"https://h/ok", "not a url", "https://h/ok2"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr("not a url"));
}

}  // namespace
}  // namespace rangefs
