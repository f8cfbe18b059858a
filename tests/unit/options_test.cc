// The real command-line parser: every long option also works as a mount(8) `-o` option.
#include "cli/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "fakes/printers.h"
#include "fakes/temp_dir.h"

namespace rangefs {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
}

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
  CommandLine line =
      Parse({"-o", "cache_size=1G,timeout=3", "-o", "cache_size=2G", "http://h/u", "M"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_EQ(line.options->read.cache_size, uint64_t{2} << 30);
  EXPECT_EQ(line.options->timeout_seconds, 3);
  line = Parse({"--timeout", "1", "http://h/u", "M", "--timeout", "2"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_EQ(line.options->timeout_seconds, 2);
}

TEST(CommandLineTest, RepeatableOptionsStillCollectEveryValue) {
  const CommandLine line =
      Parse({"-o", R"(header=X-A: 1,header=X-B: 2\,3)", "--header", "X-C: 4", "http://h/u", "M"});
  ASSERT_TRUE(line.options.has_value());
  ASSERT_EQ(line.options->headers.size(), 3u);  // in the order given
  EXPECT_EQ(line.options->headers[0].value, "1");
  EXPECT_EQ(line.options->headers[1].value, "2,3");
  EXPECT_EQ(line.options->headers[2].name, "X-C");
}

TEST(CommandLineTest, DiskCacheOptions) {
  const CommandLine none = Parse({"http://h/u", "M"});
  ASSERT_TRUE(none.options);
  EXPECT_EQ(none.options->disk_cache.directory, "");
  EXPECT_EQ(none.options->disk_cache.max_bytes, uint64_t{10} << 30);
  EXPECT_EQ(none.options->disk_cache.min_free_bytes, 0u);
  EXPECT_EQ(none.options->disk_cache.min_free_percent, 5.0);

  const CommandLine by_mount =
      Parse({"-o", "cache_dir=/var/cache/x,disk_cache_size=2G,disk_cache_min_free=512M",
             "http://h/u", "M"});
  ASSERT_TRUE(by_mount.options);
  EXPECT_EQ(by_mount.options->disk_cache.directory, "/var/cache/x");
  EXPECT_EQ(by_mount.options->disk_cache.max_bytes, uint64_t{2} << 30);
  EXPECT_EQ(by_mount.options->disk_cache.min_free_bytes, uint64_t{512} << 20);
  EXPECT_EQ(by_mount.options->disk_cache.min_free_percent, 0.0);

  // The daemon runs in "/": a relative directory is made absolute where rangefs started.
  const CommandLine relative =
      Parse({"--cache-dir", "c/../d", "--disk-cache-min-free", "12.5%", "http://h/u", "M"});
  ASSERT_TRUE(relative.options);
  EXPECT_EQ(relative.options->disk_cache.directory,
            (std::filesystem::current_path() / "d").string());
  EXPECT_EQ(relative.options->disk_cache.min_free_percent, 12.5);
}

TEST(CommandLineTest, DiskCacheMinFreeMustBeASizeOrAPercentage) {
  for (const char* value : {"", "x", "5%%", "100%", "-1%", "%", "3Q"}) {
    SCOPED_TRACE(value);
    const CommandLine line = Parse({"--disk-cache-min-free", value, "http://h/u", "M"});
    EXPECT_FALSE(line.options);
    EXPECT_EQ(line.exit_code, 2);
  }
}

TEST(CommandLineTest, DirectoryOptionsDefaults) {
  const CommandLine line = Parse({"http://h/u", "M"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_FALSE(line.options->dir_ttl_seconds.has_value());  // --revalidate's value applies
  EXPECT_EQ(line.options->max_listing_size, uint64_t{32} << 20);
  EXPECT_EQ(line.options->max_dir_entries, 250000u);
  EXPECT_THAT(line.options->url_file, IsEmpty());
}

TEST(CommandLineTest, DirectoryOptionsByMountAndByHand) {
  const CommandLine by_mount =
      Parse({"http://h/u", "/mnt/x", "-o",
             "dir_ttl=2.5,max_listing_size=1M,max_dir_entries=10,allow_other"});
  const CommandLine by_hand =
      Parse({"--dir-ttl", "2.5", "--max-listing-size", "1M", "--max-dir-entries", "10", "-o",
             "allow_other", "http://h/u", "/mnt/x"});
  for (const CommandLine* line : {&by_mount, &by_hand}) {
    ASSERT_TRUE(line->options.has_value()) << "exit code " << line->exit_code;
    EXPECT_EQ(line->options->dir_ttl_seconds, 2.5);
    EXPECT_EQ(line->options->max_listing_size, uint64_t{1} << 20);
    EXPECT_EQ(line->options->max_dir_entries, 10u);
    EXPECT_THAT(line->options->fuse_options, ElementsAre("allow_other"));
  }
  // 0 is a valid TTL: every lookup fetches the listing again.
  const CommandLine zero = Parse({"-o", "dir_ttl=0", "http://h/u", "M"});
  ASSERT_TRUE(zero.options.has_value());
  EXPECT_EQ(zero.options->dir_ttl_seconds, 0.0);
}

TEST(CommandLineTest, DirectoryOptionsOutOfRangeAreUsageErrors) {
  for (const char* option : {"dir_ttl=-1", "dir_ttl=x", "max_listing_size=0", "max_listing_size=5G",
                             "max_dir_entries=0", "max_dir_entries=-3", "max_dir_entries=1k"}) {
    const CommandLine line = Parse({"-o", option, "http://h/u", "M"});
    EXPECT_EQ(line.exit_code, 2) << option;
    EXPECT_FALSE(line.options.has_value()) << option;
  }
}

TEST(CommandLineTest, UrlFileMakesUrlOperandsOptional) {
  const fakes::TempDir dir;
  const std::string urls = dir.path() + "/urls.txt";
  WriteFile(urls, "listed.iso=https://h/l.iso\n");
  const CommandLine by_mount = Parse({"M", "-o", "url_file=" + urls});
  const CommandLine by_hand = Parse({"--url-file", urls, "M"});
  for (const CommandLine* line : {&by_mount, &by_hand}) {
    ASSERT_TRUE(line->options.has_value()) << "exit code " << line->exit_code;
    EXPECT_EQ(line->options->url_file, urls);
    EXPECT_THAT(line->options->operands, IsEmpty());
    EXPECT_EQ(line->options->mountpoint, "M");
    ASSERT_EQ(line->options->entries.size(), 1u);
    EXPECT_EQ(line->options->entries[0].name, "listed.iso");
  }
  // With URLs too: the operands' entries come first.
  const CommandLine both = Parse({"--url-file", urls, "http://h/u1", "n=http://h/u2", "M"});
  ASSERT_TRUE(both.options.has_value());
  EXPECT_THAT(both.options->operands, ElementsAre("http://h/u1", "n=http://h/u2"));
  ASSERT_EQ(both.options->entries.size(), 3u);
  EXPECT_EQ(both.options->entries[0].name, "u1");
  EXPECT_EQ(both.options->entries[1].name, "n");
  EXPECT_EQ(both.options->entries[2].name, "listed.iso");
  // Without a URL file, a URL is still needed; an empty FILE is no file; a missing one is a
  // usage error at parsing.
  EXPECT_EQ(Parse({"M"}).exit_code, 2);
  EXPECT_EQ(Parse({"-o", "url_file=", "M"}).exit_code, 2);
  EXPECT_EQ(Parse({"--url-file", urls}).exit_code, 2);  // no MOUNTPOINT
  EXPECT_EQ(Parse({"--url-file", dir.path() + "/missing.txt", "M"}).exit_code, 2);
}

TEST(CommandLineTest, RelativeUrlFileIsMadeAbsoluteBeforeTheDaemonLeavesTheDirectory) {
  const fakes::TempDir dir;
  WriteFile(dir.path() + "/urls.txt", "https://h/a\n");
  const std::string relative =
      std::filesystem::relative(dir.path() + "/urls.txt", std::filesystem::current_path());
  ASSERT_FALSE(relative.starts_with('/'));
  const CommandLine line = Parse({"--url-file", relative, "M"});
  ASSERT_TRUE(line.options.has_value());
  EXPECT_EQ(line.options->url_file, (std::filesystem::current_path() / relative).string());
}

TEST(CommandLineTest, OperandsAreParsedIntoEntries) {
  const CommandLine line = Parse({"x.iso=https://h/a?id=1", "https://h/pub/", "M"});
  ASSERT_TRUE(line.options.has_value());
  ASSERT_EQ(line.options->entries.size(), 2u);
  EXPECT_EQ(line.options->entries[0].name, "x.iso");
  EXPECT_EQ(line.options->entries[0].url, "https://h/a?id=1");
  EXPECT_EQ(line.options->entries[1].kind, SpecKind::kDirectory);
  EXPECT_TRUE(line.options->mirrors.empty());
  // --name names the single URL.
  const CommandLine named = Parse({"--name", "y.bin", "https://h/a?id=1", "M"});
  ASSERT_TRUE(named.options.has_value());
  ASSERT_EQ(named.options->entries.size(), 1u);
  EXPECT_EQ(named.options->entries[0].name, "y.bin");
  // A bad operand is a usage error at parsing, its credentials hidden.
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"ftp://h/a", "M"},
                                             {"a=https://h/x", "a=https://h/y", "M"},
                                             {"https://h/", "M2", "M"}}) {
    EXPECT_EQ(Parse(args).exit_code, 2) << testing::PrintToString(args);
  }
}

TEST(CommandLineTest, MirrorsFromOperandsAndTheMirrorOption) {
  const CommandLine by_hand =
      Parse({"--mirror", "https://b/x.iso", "https://a/x.iso|https://c/x.iso", "--mirror",
             "https://d/x.iso", "M"});
  const CommandLine by_mount =
      Parse({"https://a/x.iso|https://c/x.iso", "M", "-o", "mirror=https://b/x.iso,allow_other",
             "-o", "mirror=https://d/x.iso"});
  for (const CommandLine* line : {&by_hand, &by_mount}) {
    ASSERT_TRUE(line->options.has_value()) << "exit code " << line->exit_code;
    const Options& options = *line->options;
    ASSERT_EQ(options.entries.size(), 1u);
    EXPECT_EQ(options.entries[0].name, "x.iso");
    EXPECT_EQ(options.entries[0].url, "https://a/x.iso");
    // The operand's own mirrors first, then --mirror's in order; every one kept (not TakeLast).
    EXPECT_THAT(options.entries[0].mirrors,
                ElementsAre("https://c/x.iso", "https://b/x.iso", "https://d/x.iso"));
    EXPECT_THAT(options.mirrors.MirrorsOf("https://a/x.iso"),
                ElementsAre("https://c/x.iso", "https://b/x.iso", "https://d/x.iso"));
  }
  EXPECT_THAT(by_mount.options->fuse_options, ElementsAre("allow_other"));

  // A directory and its mirror tree, named.
  const CommandLine tree = Parse({"--mirror", "https://b/m/", "pub=https://a/pub/", "M"});
  ASSERT_TRUE(tree.options.has_value());
  EXPECT_THAT(tree.options->mirrors.MirrorsOf("https://a/pub/d/f.bin"),
              ElementsAre("https://b/m/d/f.bin"));
  // With --name.
  const CommandLine named = Parse({"--name", "y", "--mirror", "https://b/x", "https://a/x", "M"});
  ASSERT_TRUE(named.options.has_value());
  EXPECT_THAT(named.options->entries[0].mirrors, ElementsAre("https://b/x"));
}

TEST(CommandLineTest, MirrorUsageErrors) {
  const fakes::TempDir dir;
  const std::string urls = dir.path() + "/urls.txt";
  WriteFile(urls, "https://h/l.iso\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--mirror", "https://b/x", "https://a/x", "https://a/y", "M"},  // several URLs
           {"--mirror", "https://b/x", "--url-file", urls, "https://a/x", "M"},
           {"--mirror", "https://b/x", "--url-file", urls, "M"},
           {"--mirror", "https://b/d/", "https://a/x", "M"},  // a directory for a file
           {"--mirror", "https://b/d", "https://a/d/", "M"},  // a file for a directory
           {"--mirror", "ftp://b/x", "https://a/x", "M"},
           {"--mirror", "https://a/x", "https://a/x", "M"},  // the primary itself
           {"-o", "mirror", "https://a/x", "M"},             // no value
           {"https://a/x|https://b/d/", "M"},
           {"https://a/x|", "M"},
       }) {
    const CommandLine line = Parse(args);
    EXPECT_FALSE(line.options.has_value()) << testing::PrintToString(args);
    EXPECT_EQ(line.exit_code, 2) << testing::PrintToString(args);
  }
}

TEST(CommandLineTest, UsageErrors) {
  // A value option without its value, --name with two URLs, an unknown long option.
  EXPECT_EQ(Parse({"-o", "cache_size", "http://h/u", "M"}).exit_code, 2);
  EXPECT_EQ(Parse({"-o", "name=a", "http://h/u1", "http://h/u2", "M"}).exit_code, 2);
  EXPECT_EQ(Parse({"--no-such-option", "http://h/u", "M"}).exit_code, 2);
  EXPECT_FALSE(Parse({"-o", "cache_size", "http://h/u", "M"}).options.has_value());
}

}  // namespace
}  // namespace rangefs
