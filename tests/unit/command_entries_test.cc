// The entries a command line names and the MirrorMap of their mirrors (cli/command_entries.h):
// operands, --name, --mirror and the URL file together.
#include "cli/command_entries.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "fakes/mount_spec_printer.h"
#include "fakes/printers.h"
#include "fakes/temp_dir.h"

namespace rangefs {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using Strings = std::vector<std::string>;

std::string WriteUrlFile(const fakes::TempDir& dir, const std::string& text) {
  const std::string path = dir.path() + "/urls.txt";
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(EntriesOfTest, OperandsThenTheUrlFileEachWithItsMirrors) {
  const fakes::TempDir dir;
  const std::string urls = WriteUrlFile(dir, "l/z.bin=https://a/z|https://b/z\n");
  const Strings operands = {"https://a/x.iso|https://b/x.iso", "p=https://a/pub/"};
  Result<std::vector<MountSpec>> got = EntriesOf({.operands = operands, .url_file = urls});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0],
            (MountSpec{"x.iso", "https://a/x.iso", SpecKind::kFile, true, {"https://b/x.iso"}}));
  EXPECT_EQ((*got)[1], (MountSpec{"p", "https://a/pub/", SpecKind::kDirectory, true, {}}));
  EXPECT_EQ((*got)[2],
            (MountSpec{"l/z.bin", "https://a/z", SpecKind::kFile, false, {"https://b/z"}}));
}

TEST(EntriesOfTest, MirrorOptionsFollowTheOperandsOwnMirrors) {
  const Strings operands = {"https://a/x|https://c/x"};
  const Strings mirrors = {"https://b/x", "https://d/x?sig=1"};
  Result<std::vector<MountSpec>> got = EntriesOf({.operands = operands, .mirror_urls = mirrors});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_THAT((*got)[0].mirrors, ElementsAre("https://c/x", "https://b/x", "https://d/x?sig=1"));

  // With --name, and for a directory.
  const Strings one = {"https://a/pub/"};
  const Strings tree = {"https://b/pub/"};
  got = EntriesOf({.operands = one, .name = "p", .mirror_urls = tree});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ((*got)[0],
            (MountSpec{"p", "https://a/pub/", SpecKind::kDirectory, true, {"https://b/pub/"}}));
}

// The error of `arguments`.
std::string ErrorOf(const EntryArguments& arguments) {
  Result<std::vector<MountSpec>> got = EntriesOf(arguments);
  EXPECT_FALSE(got.ok());
  if (got.ok()) return "";
  EXPECT_EQ(got.status().code(), ErrorCode::kInvalidArgument);
  return got.status().message();
}

TEST(EntriesOfTest, MirrorOptionNeedsExactlyOneOperandAndNoUrlFile) {
  const fakes::TempDir dir;
  const std::string urls = WriteUrlFile(dir, "https://a/l\n");
  const Strings mirrors = {"https://b/x"};
  const Strings two = {"https://a/x", "https://a/y"};
  const Strings one = {"https://a/x"};
  const std::string says =
      "--mirror gives another address of the single URL; with several URLs or "
      "--url-file, write NAME=URL1|URL2 (or URL1|URL2) instead";
  EXPECT_EQ(ErrorOf({.operands = two, .mirror_urls = mirrors}), says);
  EXPECT_EQ(ErrorOf({.operands = one, .mirror_urls = mirrors, .url_file = urls}), says);
  EXPECT_EQ(ErrorOf({.mirror_urls = mirrors, .url_file = urls}), says);
  EXPECT_EQ(ErrorOf({.mirror_urls = mirrors}), says);
}

TEST(EntriesOfTest, BadMirrorOptionsSayWhichAndWhy) {
  const Strings file = {"https://a/x"};
  const Strings directory = {"d=https://a/d/"};
  EXPECT_EQ(ErrorOf({.operands = file, .mirror_urls = Strings{"https://b/d/"}}),
            "--mirror https://b/d/: a directory URL, but https://a/x is a file: a file's mirror "
            "is the same file at another address");
  EXPECT_THAT(ErrorOf({.operands = directory, .mirror_urls = Strings{"https://b/d"}}),
              HasSubstr("--mirror https://b/d: does not end in '/' (or has a query), but "
                        "https://a/d/ is a directory"));
  EXPECT_THAT(ErrorOf({.operands = file, .mirror_urls = Strings{"ftp://b/x"}}),
              HasSubstr("--mirror ftp://b/x: only http and https"));
  EXPECT_EQ(ErrorOf({.operands = file, .mirror_urls = Strings{"https://b/x", "https://b/x"}}),
            "--mirror https://b/x: given twice");
  // A bad operand fails first, however good its --mirror.
  EXPECT_THAT(ErrorOf({.operands = Strings{"ftp://a/x"}, .mirror_urls = Strings{"https://b/x"}}),
              HasSubstr("ftp://a/x: only http and https"));
}

TEST(EntriesOfTest, ErrorsHideCredentials) {
  struct Case {
    Strings operands;
    Strings mirror_urls;
  };
  for (const Case& c : std::vector<Case>{
           {{"https://a/x|https://alice:s3cret@b/d/"}, {}},
           {{"n=https://alice:s3cret@a/x|https://b/d/"}, {}},
           {{"https://alice:s3cret@a/x"}, {"https://b/d/"}},
           {{"https://a/x"}, {"https://bob:s3cret@b/d/"}},
           {{"https://a/x|https://bob:s3cret@b/x", "x=https://a/y"}, {}},
       }) {
    const std::string error = ErrorOf({.operands = c.operands, .mirror_urls = c.mirror_urls});
    EXPECT_THAT(error, AllOf(Not(IsEmpty()), Not(HasSubstr("s3cret")))) << error;
  }
}

TEST(EntriesOfTest, NameNeedsASingleOperandAndUrlFileErrorsPassThrough) {
  EXPECT_THAT(ErrorOf({.operands = Strings{"https://a/x", "https://a/y"}, .name = "n"}),
              HasSubstr("--name"));
  const fakes::TempDir dir;
  EXPECT_THAT(ErrorOf({.url_file = dir.path() + "/missing"}), HasSubstr("No such file"));
  const std::string urls = WriteUrlFile(dir, "https://a/x|https://b/d/\n");
  EXPECT_THAT(ErrorOf({.url_file = urls}), HasSubstr(urls + ":1: mirror https://b/d/: "));
}

TEST(MirrorMapFromTest, EveryEntrysMirrorsInOrder) {
  const std::vector<MountSpec> specs = {
      {"x", "https://a/x", SpecKind::kFile, true, {"https://b/x", "https://c/x"}},
      {"p", "https://a/pub/", SpecKind::kDirectory, true, {"https://m/pub/"}},
      {"q", "https://a/q", SpecKind::kFile, false, {}},
      {"s", "https://a/pub/special", SpecKind::kFile, false, {"https://s/special"}},
  };
  const MirrorMap map = MirrorMapFrom(specs);
  EXPECT_THAT(map.MirrorsOf("https://a/x"), ElementsAre("https://b/x", "https://c/x"));
  EXPECT_THAT(map.MirrorsOf("https://a/pub/sub/f.bin"), ElementsAre("https://m/pub/sub/f.bin"));
  EXPECT_THAT(map.MirrorsOf("https://a/pub/special"), ElementsAre("https://s/special"));
  EXPECT_THAT(map.MirrorsOf("https://a/q"), IsEmpty());
  EXPECT_TRUE(MirrorMapFrom(std::vector<MountSpec>{{"q", "https://a/q"}}).empty());
}

}  // namespace
}  // namespace rangefs
