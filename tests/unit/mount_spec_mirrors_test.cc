// Operands with mirrors: "URL1|URL2", "NAME=URL1|URL2", and the checks every mirror passes
// (cli/mount_spec.h: SplitMirrorList, AddMirror).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "cli/mount_spec.h"
#include "fakes/mount_spec_printer.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

MountSpec File(std::string name, std::string url, std::vector<std::string> mirrors = {}) {
  return MountSpec{std::move(name), std::move(url), SpecKind::kFile, true, std::move(mirrors)};
}

TEST(SplitMirrorListTest, CutsAtEveryBar) {
  EXPECT_THAT(SplitMirrorList("https://a/x"), ElementsAre("https://a/x"));
  EXPECT_THAT(SplitMirrorList("https://a/x|https://b/x?q=1|https://c/"),
              ElementsAre("https://a/x", "https://b/x?q=1", "https://c/"));
  EXPECT_THAT(SplitMirrorList("a||b|"), ElementsAre("a", "", "b", ""));
  EXPECT_THAT(SplitMirrorList(""), ElementsAre(""));
}

TEST(ParseMountSpecMirrorsTest, TheFirstUrlIsThePrimaryTheOthersItsMirrorsInOrder) {
  Result<MountSpec> got =
      ParseMountSpec("https://a/d/x.iso|https://b/x.iso?sig=1|http://c:8080/m/y");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  // The primary names the entry (a mirror's different last segment does not matter).
  EXPECT_EQ(*got,
            File("x.iso", "https://a/d/x.iso", {"https://b/x.iso?sig=1", "http://c:8080/m/y"}));

  got = ParseMountSpec("disk.img=https://a/download?id=4|https://b/disk.img");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, File("disk.img", "https://a/download?id=4", {"https://b/disk.img"}));

  // A query with '=' before the first '|' is no NAME=.
  got = ParseMountSpec("https://a/x?v=1|https://b/x?v=1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, File("x", "https://a/x?v=1", {"https://b/x?v=1"}));

  // No '|': no mirrors, as before.
  got = ParseMountSpec("https://a/x");
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(got->mirrors, IsEmpty());
}

TEST(ParseMountSpecMirrorsTest, ADirectoryAndItsMirrorTrees) {
  Result<MountSpec> got = ParseMountSpec("https://a/pub/debian/|https://b/debian/|https://c/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "debian");
  EXPECT_EQ(got->kind, SpecKind::kDirectory);
  EXPECT_THAT(got->mirrors, ElementsAre("https://b/debian/", "https://c/"));

  got = ParseMountSpec("d=https://a/pub/|https://b/pub/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->name, "d");
  EXPECT_THAT(got->mirrors, ElementsAre("https://b/pub/"));
}

// The error for `operand`, which must name it and contain every one of `parts`.
void ExpectError(std::string_view operand, std::vector<std::string_view> parts) {
  SCOPED_TRACE(operand);
  Result<MountSpec> got = ParseMountSpec(operand);
  ASSERT_FALSE(got.ok()) << "parsed as " << ::testing::PrintToString(*got);
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(got.status().message(), HasSubstr(std::string(operand) + ": "));
  for (const std::string_view part : parts) {
    EXPECT_THAT(got.status().message(), HasSubstr(std::string(part)));
  }
}

TEST(ParseMountSpecMirrorsTest, BadMirrorsFailNamingTheOperandAndTheMirror) {
  ExpectError("https://a/x|https://b/d/",
              {"mirror https://b/d/: a directory URL, but https://a/x is a file"});
  ExpectError("https://a/x|https://b/list?list-type=2", {"a directory URL"});
  ExpectError("https://a/d/|https://b/x",
              {"mirror https://b/x: does not end in '/'", "https://a/d/ is a directory"});
  ExpectError("https://a/d/|https://b/d/?q=1/", {"mirror https://b/d/?q=1/: does not end"});
  ExpectError("https://a/d/|https://b", {"mirror https://b: does not end in '/'"});
  // A directory whose URL does not end in '/' cannot have mirrors: the map appends paths.
  ExpectError("https://a/?list-type=2|https://b/",
              {"https://a/?list-type=2 is a directory whose URL does not end in '/'"});
  ExpectError("https://a/d/?x=1|https://b/d/", {"does not end in '/'"});
  ExpectError("https://a/x|ftp://b/x",
              {"mirror ftp://b/x: only http and https URLs are supported"});
  ExpectError("https://a/x|b/x", {"mirror b/x: "});
  ExpectError("https://a/x|https://a/x", {"mirror https://a/x: the same URL as its primary"});
  ExpectError("https://a/x|https://b/x|https://b/x", {"mirror https://b/x: given twice"});
  ExpectError("https://a/x|", {"mirror is empty"});
  ExpectError("https://a/x||https://b/x", {"mirror is empty"});
  ExpectError("|https://b/x", {"no URL before the first '|'"});
  ExpectError("n=|https://b/x", {"no URL before the first '|'"});
  // The primary's own checks come first, naming it as without mirrors.
  Result<MountSpec> got = ParseMountSpec("n=ftp://a/x|https://b/x");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(), HasSubstr("ftp://a/x: only http and https"));
  EXPECT_FALSE(ParseMountSpec("https://a/|https://b/x").ok());
}

TEST(ParseMountSpecsMirrorsTest, NamesComeFromPrimariesOnly) {
  // Two entries whose mirrors share a last segment are fine; their primaries name them.
  const std::vector<std::string> operands = {"https://a/x|https://m/same",
                                             "https://a/y|https://m2/same"};
  Result<std::vector<MountSpec>> got = ParseMountSpecs(operands);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_THAT(*got, ElementsAre(File("x", "https://a/x", {"https://m/same"}),
                                File("y", "https://a/y", {"https://m2/same"})));
}

TEST(ParseNamedMountSpecMirrorsTest, TheNamedUrlMayHaveMirrors) {
  Result<MountSpec> got = ParseNamedMountSpec("disk:1.img", "https://a/b.iso?x=1|https://b/b.iso");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, File("disk:1.img", "https://a/b.iso?x=1", {"https://b/b.iso"}));
  got = ParseNamedMountSpec("n", "https://a/x|https://b/d/");
  ASSERT_FALSE(got.ok());
  EXPECT_THAT(got.status().message(),
              AllOf(HasSubstr("--name n: "), HasSubstr("mirror https://b/d/: ")));
}

TEST(AddMirrorTest, LabelsTheMessageAndKeepsOrder) {
  MountSpec spec = File("x", "https://a/x");
  ASSERT_TRUE(AddMirror(spec, "https://c/x").ok());
  ASSERT_TRUE(AddMirror(spec, "https://b/x", "--mirror").ok());
  EXPECT_THAT(spec.mirrors, ElementsAre("https://c/x", "https://b/x"));
  const Status status = AddMirror(spec, "https://b/x", "--mirror");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "--mirror https://b/x: given twice");
  EXPECT_EQ(AddMirror(spec, "", "--mirror").message(),
            "--mirror is empty (nothing between two '|', or a '|' at an end)");
  EXPECT_THAT(spec.mirrors, ElementsAre("https://c/x", "https://b/x")) << "failures add nothing";
}

}  // namespace
}  // namespace rangefs
