#include "cli/mount_options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "cli/options.h"
#include "fakes/printers.h"

namespace rangefs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Args = std::vector<std::string>;

// A small command line of the same shape as rangefs's: value options, flags, a negated flag.
const std::vector<LongOption> kOptions = {
    {"help", false},          {"foreground", false},       {"debug", false},
    {"cache-size", true},     {"connections", true},       {"header", true},
    {"open-prefetch", false}, {"no-open-prefetch", false}, {"name", true},
};

Args Translate(const Args& args) {
  Result<Args> out = TranslateMountOptions(args, kOptions);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : Args{};
}

TEST(TranslateMountOptionsTest, MountHelperCommandLineBecomesLongOptions) {
  // What mount.fuse3 runs for `mount -t fuse.rangefs URL /mnt/x -o ro,cache_size=1G,...`.
  EXPECT_THAT(Translate({"http://h/x.iso", "/mnt/x", "-o",
                         "ro,cache_size=1G,connections=16,name=y.iso,dev,suid"}),
              ElementsAre("http://h/x.iso", "/mnt/x", "--cache-size=1G", "--connections=16",
                          "--name=y.iso"));
}

TEST(TranslateMountOptionsTest, UrlFileMountOfAnFstabLine) {
  // `URL /mnt/x fuse.rangefs url_file=/etc/urls\,list,dir_ttl=30,max_listing_size=64M,
  // max_dir_entries=1000000,allow_other 0 0`, with the parser's real options.
  const std::vector<LongOption> real = CommandLineLongOptions();
  Result<Args> out =
      TranslateMountOptions(Args{"https://h/pub/", "/mnt/x", "-o",
                                 R"(ro,url_file=/etc/urls\,list,dir_ttl=30,max_listing_size=64M,)"
                                 "max_dir_entries=1000000,allow_other"},
                            real);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(*out, ElementsAre("https://h/pub/", "/mnt/x", "--url-file=/etc/urls,list",
                                "--dir-ttl=30", "--max-listing-size=64M",
                                "--max-dir-entries=1000000", "-o", "allow_other"));
  for (const char* key : {"url_file", "dir_ttl", "max_listing_size", "max_dir_entries"}) {
    EXPECT_FALSE(TranslateMountOptions(Args{"-o", key}, real).ok()) << key << " needs a value";
  }
}

TEST(TranslateMountOptionsTest, MirrorsOfAnFstabLineKeepTheirOrderAndCommas) {
  // `URL1|URL2 /mnt/x fuse.rangefs mirror=URL3,mirror=URL4\,with-comma,allow_other 0 0`: every
  // -o mirror= becomes its own --mirror, in order (the parser keeps them all).
  const std::vector<LongOption> real = CommandLineLongOptions();
  Result<Args> out =
      TranslateMountOptions(Args{"https://a/x|https://b/x", "/mnt/x", "-o",
                                 R"(ro,mirror=https://c/x,mirror=https://d/x?a=1\,2,allow_other)",
                                 "-o", "mirror=https://e/x"},
                            real);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_THAT(
      *out, ElementsAre("https://a/x|https://b/x", "/mnt/x", "--mirror=https://c/x",
                        "--mirror=https://d/x?a=1,2", "-o", "allow_other", "--mirror=https://e/x"));
  EXPECT_FALSE(TranslateMountOptions(Args{"-o", "mirror"}, real).ok()) << "needs a value";
}

TEST(TranslateMountOptionsTest, UnderscoresAndDashesBothName) {
  EXPECT_THAT(Translate({"-o", "cache_size=1G", "-o", "cache-size=2G"}),
              ElementsAre("--cache-size=1G", "--cache-size=2G"));
}

TEST(TranslateMountOptionsTest, FlagsAloneOrWithAValueAndNegatedForms) {
  EXPECT_THAT(Translate({"-o", "foreground,no_open_prefetch"}),
              ElementsAre("--foreground", "--no-open-prefetch"));
  EXPECT_THAT(Translate({"-o", "open_prefetch=false"}), ElementsAre("--open-prefetch=false"));
  // -o debug is -d, as in every FUSE file system.
  EXPECT_THAT(Translate({"-o", "debug"}), ElementsAre("--debug"));
}

TEST(TranslateMountOptionsTest, ForeignOptionsStayTogetherForFuseInOrder) {
  EXPECT_THAT(
      Translate({"-o", "allow_other,cache_size=1G,max_read=131072,noexec", "URL", "MNT"}),
      ElementsAre("--cache-size=1G", "-o", "allow_other,max_read=131072,noexec", "URL", "MNT"));
  // Each -o keeps its place, so options given later still come later.
  EXPECT_THAT(Translate({"-o", "allow_other", "--connections", "4", "-o", "connections=16"}),
              ElementsAre("-o", "allow_other", "--connections", "4", "--connections=16"));
}

TEST(TranslateMountOptionsTest, AttachedListAndEmptyItems) {
  EXPECT_THAT(Translate({"-ocache_size=1G,,allow_other,"}),
              ElementsAre("--cache-size=1G", "-o", "allow_other"));
  EXPECT_THAT(Translate({"-o", ""}), ElementsAre());
}

TEST(TranslateMountOptionsTest, EscapedCommasAndBackslashesAsLibfuseReadsThem) {
  EXPECT_THAT(Translate({"-o", R"(header=X-List: a\,b\\c,connections=2)"}),
              ElementsAre(R"(--header=X-List: a,b\c)", "--connections=2"));
  // "\054" is an octal comma; a value may contain '='.
  EXPECT_THAT(Translate({"-o", R"(header=X-Q: k=v\054w)"}), ElementsAre("--header=X-Q: k=v,w"));
  // Options for libfuse keep their escapes: libfuse reads them itself.
  EXPECT_THAT(Translate({"-o", R"(fsname=a\,b,allow_other)"}),
              ElementsAre("-o", R"(fsname=a\,b,allow_other)"));
}

TEST(TranslateMountOptionsTest, EscapeFuseOptionValueRoundTrips) {
  const std::string value = R"(http://h/a,b\c.iso)";
  EXPECT_EQ(EscapeFuseOptionValue(value), R"(http://h/a\,b\\c.iso)");
  // Read back as an option value by the same rules: one item, the value unchanged.
  EXPECT_THAT(Translate({"-o", "name=" + EscapeFuseOptionValue(value)}),
              ElementsAre("--name=" + value));
}

TEST(TranslateMountOptionsTest, ValueOptionWithoutValueIsAnError) {
  Result<Args> out = TranslateMountOptions(Args{"-o", "ro,cache_size"}, kOptions);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(out.status().message(), HasSubstr("-o cache_size needs a value"));
  EXPECT_THAT(out.status().message(), HasSubstr("--cache-size"));
}

TEST(TranslateMountOptionsTest, ValuesOfLongOptionsAndArgumentsAfterDoubleDashAreKept) {
  EXPECT_THAT(Translate({"--header", "-o", "URL", "MNT"}),
              ElementsAre("--header", "-o", "URL", "MNT"));
  EXPECT_THAT(Translate({"--foreground", "-o", "debug"}), ElementsAre("--foreground", "--debug"));
  EXPECT_THAT(Translate({"URL", "--", "-o", "debug"}), ElementsAre("URL", "--", "-o", "debug"));
  // A trailing -o is left for the parser to complain about.
  EXPECT_THAT(Translate({"URL", "-o"}), ElementsAre("URL", "-o"));
}

TEST(TranslateMountOptionsTest, OrdinaryFstabLineOptionsAreDropped) {
  // `defaults` as mount(8) and mount.fuse3 pass it, and what fstab lines and systemd add.
  EXPECT_THAT(Translate({"-o", "rw,dev,suid"}), ElementsAre());
  EXPECT_THAT(Translate({"-o",
                         "ro,_netdev,nofail,noauto,user,users,nouser,auto,defaults,owner,group,"
                         "noatime,relatime,x-systemd.automount,comment=x,allow_other"}),
              ElementsAre("-o", "allow_other"));
}

TEST(ClassifyForeignMountOptionTest, IgnoredAndPassedOn) {
  for (const std::string_view option : {"ro",
                                        "rw",
                                        "suid",
                                        "nosuid",
                                        "dev",
                                        "nodev",
                                        "atime",
                                        "noatime",
                                        "relatime",
                                        "norelatime",
                                        "strictatime",
                                        "nostrictatime",
                                        "lazytime",
                                        "nolazytime",
                                        "diratime",
                                        "nodiratime",
                                        "defaults",
                                        "auto",
                                        "noauto",
                                        "user",
                                        "nouser",
                                        "users",
                                        "owner",
                                        "group",
                                        "_netdev",
                                        "nofail",
                                        "x-systemd.requires=a.service",
                                        "comment=systemd.automount"}) {
    EXPECT_EQ(ClassifyForeignMountOption(option), ForeignMountOption::kIgnored) << option;
  }
  for (const std::string_view option :
       {"allow_other", "allow_root", "default_permissions", "exec", "noexec", "sync", "async",
        "dirsync", "max_read=65536", "fsname=x", "auto_unmount", "user_id=0", "mand"}) {
    EXPECT_EQ(ClassifyForeignMountOption(option), ForeignMountOption::kFuse) << option;
  }
}

TEST(IgnoredMountOptionsHelpTest, NamesEveryIgnoredOption) {
  const std::string_view help = IgnoredMountOptionsHelp();
  for (const std::string_view option :
       {"ro", "rw", "suid", "dev", "nodev", "noatime", "relatime", "strictatime", "lazytime",
        "diratime", "defaults", "noauto", "users", "owner", "group", "_netdev", "nofail", "x-*",
        "comment="}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
}

}  // namespace
}  // namespace rangefs
