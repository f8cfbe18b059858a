// The real command-line parser: every long option also works as a mount(8) `-o` option.
#include "cli/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "fakes/printers.h"

namespace rangefs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

CommandLine Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "rangefs");
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  return ParseCommandLine(static_cast<int>(argv.size()), argv.data());
}

std::string MountOptionKey(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Every "--long-option" the help text shows, descriptions and footer included: what a user
// reads about and may then write in an fstab line.
std::set<std::string> LongOptionsInHelp() {
  const std::string help = CommandLineHelp();
  const std::regex long_option(R"(--([a-z][a-z0-9]*(-[a-z0-9]+)*))");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(help.begin(), help.end(), long_option);
       it != std::sregex_iterator(); ++it) {
    names.insert((*it)[1]);
  }
  return names;
}

TEST(CommandLineTest, EveryLongOptionInHelpHasAnOForm) {
  const std::vector<LongOption> known = CommandLineLongOptions();
  const std::set<std::string> in_help = LongOptionsInHelp();
  // The help really lists the options (a broken regex would make this test vacuous).
  for (const char* expected : {"cache-size", "connections", "no-open-prefetch", "debug", "name",
                               "log-file", "header", "proxy", "version", "help"}) {
    EXPECT_TRUE(in_help.contains(expected)) << expected;
  }
  for (const std::string& name : in_help) {
    SCOPED_TRACE("--" + name);
    const auto option = std::find_if(known.begin(), known.end(),
                                     [&name](const LongOption& o) { return o.name == name; });
    ASSERT_NE(option, known.end()) << "the help names an option the parser does not know";
    const std::string key = MountOptionKey(name);

    const std::vector<std::string> with_value = {"-o", key + "=VALUE,allow_other"};
    Result<std::vector<std::string>> translated = TranslateMountOptions(with_value, known);
    ASSERT_TRUE(translated.ok()) << translated.status().ToString();
    EXPECT_THAT(*translated, ElementsAre("--" + name + "=VALUE", "-o", "allow_other"));

    const std::vector<std::string> alone = {"-o", key};
    translated = TranslateMountOptions(alone, known);
    if (option->takes_value) {
      EXPECT_FALSE(translated.ok()) << "-o " << key << " without a value was accepted";
    } else {
      ASSERT_TRUE(translated.ok()) << translated.status().ToString();
      EXPECT_THAT(*translated, ElementsAre("--" + name));
    }
  }
}

TEST(CommandLineTest, MountHelperOptionsEqualLongOptions) {
  const CommandLine by_mount =
      Parse({"http://h/x.iso", "/mnt/x", "-o",
             "ro,cache_size=1G,connections=16,name=y.iso,timeout=5,no_open_prefetch,debug,"
             "allow_other,log_file=/tmp/log,_netdev,dev,suid"});
  const CommandLine by_hand =
      Parse({"--cache-size", "1G", "--connections", "16", "--name", "y.iso", "--timeout", "5",
             "--no-open-prefetch", "-d", "-o", "allow_other", "--log-file", "/tmp/log",
             "http://h/x.iso", "/mnt/x"});
  for (const CommandLine* line : {&by_mount, &by_hand}) {
    ASSERT_TRUE(line->options.has_value()) << "exit code " << line->exit_code;
    const Options& options = *line->options;
    EXPECT_EQ(options.read.cache_size, uint64_t{1} << 30);
    EXPECT_EQ(options.read.connections, 16u);
    EXPECT_EQ(options.name, "y.iso");
    EXPECT_EQ(options.timeout_seconds, 5);
    EXPECT_FALSE(options.read.open_prefetch);
    EXPECT_TRUE(options.debug);
    EXPECT_TRUE(options.foreground);  // -o debug is -d, which stays in the foreground
    EXPECT_EQ(options.log_file, "/tmp/log");
    EXPECT_THAT(options.fuse_options, ElementsAre("allow_other"));
    EXPECT_THAT(options.operands, ElementsAre("http://h/x.iso"));
    EXPECT_EQ(options.mountpoint, "/mnt/x");
  }
}

TEST(CommandLineTest, OnlyDefaultsGivesDefaults) {
  // `defaults` in fstab reaches rangefs as "rw,dev,suid": nothing for rangefs or FUSE.
  const CommandLine line = Parse({"http://h/x.iso", "/mnt/x", "-o", "rw,dev,suid"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_THAT(line.options->fuse_options, IsEmpty());
  EXPECT_EQ(line.options->read.cache_size, Options{}.read.cache_size);
  EXPECT_FALSE(line.options->foreground);
}

TEST(CommandLineTest, LastValueWinsAsInMount) {
  // mount(8) appends the command line's -o to the fstab line's.
  CommandLine line = Parse({"-o", "cache_size=1G,timeout=3", "-o", "cache_size=2G", "U", "M"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_EQ(line.options->read.cache_size, uint64_t{2} << 30);
  EXPECT_EQ(line.options->timeout_seconds, 3);
  line = Parse({"--timeout", "1", "U", "M", "--timeout", "2"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_EQ(line.options->timeout_seconds, 2);
}

TEST(CommandLineTest, RepeatableOptionsStillCollectEveryValue) {
  const CommandLine line =
      Parse({"-o", R"(header=X-A: 1,header=X-B: 2\,3)", "--header", "X-C: 4", "U", "M"});
  ASSERT_TRUE(line.options.has_value());
  ASSERT_EQ(line.options->headers.size(), 3u);  // in the order given
  EXPECT_EQ(line.options->headers[0].value, "1");
  EXPECT_EQ(line.options->headers[1].value, "2,3");
  EXPECT_EQ(line.options->headers[2].name, "X-C");
}

TEST(CommandLineTest, DiskCacheOptions) {
  const CommandLine none = Parse({"U", "M"});
  ASSERT_TRUE(none.options);
  EXPECT_EQ(none.options->disk_cache.directory, "");
  EXPECT_EQ(none.options->disk_cache.max_bytes, uint64_t{10} << 30);
  EXPECT_EQ(none.options->disk_cache.min_free_bytes, 0u);
  EXPECT_EQ(none.options->disk_cache.min_free_percent, 5.0);

  const CommandLine by_mount =
      Parse({"-o", "cache_dir=/var/cache/x,disk_cache_size=2G,disk_cache_min_free=512M", "U", "M"});
  ASSERT_TRUE(by_mount.options);
  EXPECT_EQ(by_mount.options->disk_cache.directory, "/var/cache/x");
  EXPECT_EQ(by_mount.options->disk_cache.max_bytes, uint64_t{2} << 30);
  EXPECT_EQ(by_mount.options->disk_cache.min_free_bytes, uint64_t{512} << 20);
  EXPECT_EQ(by_mount.options->disk_cache.min_free_percent, 0.0);

  // The daemon runs in "/": a relative directory is made absolute where rangefs started.
  const CommandLine relative =
      Parse({"--cache-dir", "c/../d", "--disk-cache-min-free", "12.5%", "U", "M"});
  ASSERT_TRUE(relative.options);
  EXPECT_EQ(relative.options->disk_cache.directory,
            (std::filesystem::current_path() / "d").string());
  EXPECT_EQ(relative.options->disk_cache.min_free_percent, 12.5);
}

TEST(CommandLineTest, DiskCacheMinFreeMustBeASizeOrAPercentage) {
  for (const char* value : {"", "x", "5%%", "100%", "-1%", "%", "3Q"}) {
    SCOPED_TRACE(value);
    const CommandLine line = Parse({"--disk-cache-min-free", value, "U", "M"});
    EXPECT_FALSE(line.options);
    EXPECT_EQ(line.exit_code, 2);
  }
}

TEST(CommandLineTest, DirectoryOptionsDefaults) {
  const CommandLine line = Parse({"U", "M"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_FALSE(line.options->dir_ttl_seconds.has_value());  // --revalidate's value applies
  EXPECT_EQ(line.options->max_listing_size, uint64_t{32} << 20);
  EXPECT_EQ(line.options->max_dir_entries, 250000u);
  EXPECT_THAT(line.options->url_file, IsEmpty());
}

TEST(CommandLineTest, DirectoryOptionsByMountAndByHand) {
  const CommandLine by_mount = Parse(
      {"U", "/mnt/x", "-o", "dir_ttl=2.5,max_listing_size=1M,max_dir_entries=10,allow_other"});
  const CommandLine by_hand =
      Parse({"--dir-ttl", "2.5", "--max-listing-size", "1M", "--max-dir-entries", "10", "-o",
             "allow_other", "U", "/mnt/x"});
  for (const CommandLine* line : {&by_mount, &by_hand}) {
    ASSERT_TRUE(line->options.has_value()) << "exit code " << line->exit_code;
    EXPECT_EQ(line->options->dir_ttl_seconds, 2.5);
    EXPECT_EQ(line->options->max_listing_size, uint64_t{1} << 20);
    EXPECT_EQ(line->options->max_dir_entries, 10u);
    EXPECT_THAT(line->options->fuse_options, ElementsAre("allow_other"));
  }
  // 0 is a valid TTL: every lookup fetches the listing again.
  const CommandLine zero = Parse({"-o", "dir_ttl=0", "U", "M"});
  ASSERT_TRUE(zero.options.has_value());
  EXPECT_EQ(zero.options->dir_ttl_seconds, 0.0);
}

TEST(CommandLineTest, DirectoryOptionsOutOfRangeAreUsageErrors) {
  for (const char* option : {"dir_ttl=-1", "dir_ttl=x", "max_listing_size=0", "max_listing_size=5G",
                             "max_dir_entries=0", "max_dir_entries=-3", "max_dir_entries=1k"}) {
    const CommandLine line = Parse({"-o", option, "U", "M"});
    EXPECT_EQ(line.exit_code, 2) << option;
    EXPECT_FALSE(line.options.has_value()) << option;
  }
}

TEST(CommandLineTest, UrlFileMakesUrlOperandsOptional) {
  const CommandLine by_mount = Parse({"M", "-o", "url_file=/etc/rangefs/urls.txt"});
  const CommandLine by_hand = Parse({"--url-file", "/etc/rangefs/urls.txt", "M"});
  for (const CommandLine* line : {&by_mount, &by_hand}) {
    ASSERT_TRUE(line->options.has_value()) << "exit code " << line->exit_code;
    EXPECT_EQ(line->options->url_file, "/etc/rangefs/urls.txt");
    EXPECT_THAT(line->options->operands, IsEmpty());
    EXPECT_EQ(line->options->mountpoint, "M");
  }
  // With URLs too.
  const CommandLine both = Parse({"--url-file", "/u", "U1", "n=U2", "M"});
  ASSERT_TRUE(both.options.has_value());
  EXPECT_THAT(both.options->operands, ElementsAre("U1", "n=U2"));
  // Without a URL file, a URL is still needed; an empty FILE is no file.
  EXPECT_EQ(Parse({"M"}).exit_code, 2);
  EXPECT_EQ(Parse({"-o", "url_file=", "M"}).exit_code, 2);
  EXPECT_EQ(Parse({"--url-file", "/u"}).exit_code, 2);  // no MOUNTPOINT
}

TEST(CommandLineTest, RelativeUrlFileIsMadeAbsoluteBeforeTheDaemonLeavesTheDirectory) {
  const CommandLine line = Parse({"--url-file", "lists/urls.txt", "M"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_EQ(line.options->url_file, (std::filesystem::current_path() / "lists/urls.txt").string());
}

TEST(CommandLineTest, UsageErrors) {
  // A value option without its value, --name with two URLs, an unknown long option.
  EXPECT_EQ(Parse({"-o", "cache_size", "U", "M"}).exit_code, 2);
  EXPECT_EQ(Parse({"-o", "name=a", "U1", "U2", "M"}).exit_code, 2);
  EXPECT_EQ(Parse({"--no-such-option", "U", "M"}).exit_code, 2);
  EXPECT_FALSE(Parse({"-o", "cache_size", "U", "M"}).options.has_value());
}

}  // namespace
}  // namespace rangefs
