#include "cli/warm_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cli/options.h"

namespace rangefs {
namespace {

WarmCommandLine Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "warm");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return ParseWarmCommandLine(static_cast<int>(argv.size()), argv.data());
}

TEST(WarmOptionsTest, DefaultsAreTheMounts) {
  const WarmCommandLine parsed = Parse({"--cache-dir", "/tmp/c", "https://h/a.iso"});
  ASSERT_TRUE(parsed.options);
  const WarmOptions& options = *parsed.options;
  const Options mount;
  EXPECT_EQ(options.block_size, mount.read.block_size);
  EXPECT_EQ(options.connections, mount.read.connections);
  EXPECT_EQ(options.max_request_bytes, mount.read.max_request_bytes);
  EXPECT_EQ(options.timeout_seconds, mount.timeout_seconds);
  EXPECT_EQ(options.retries, mount.retries);
  EXPECT_EQ(options.max_full_fetch, mount.max_full_fetch);
  EXPECT_EQ(options.cache.directory, "/tmp/c");
  EXPECT_EQ(options.cache.max_bytes, DiskCacheOptions{}.max_bytes);
  EXPECT_EQ(options.cache.min_free_bytes, 0u);
  EXPECT_EQ(options.cache.min_free_percent, 5.0);
  ASSERT_EQ(options.files.size(), 1u);
  EXPECT_EQ(options.files[0].name, "a.iso");
  EXPECT_EQ(options.files[0].url, "https://h/a.iso");
}

TEST(WarmOptionsTest, SizesAndNames) {
  const WarmCommandLine parsed = Parse(
      {"--cache-dir", "c", "--block-size", "1M", "--disk-cache-size", "2G", "--disk-cache-min-free",
       "512M", "--connections", "3", "x.bin=https://h/a?id=1", "https://h/b.bin"});
  ASSERT_TRUE(parsed.options);
  EXPECT_EQ(parsed.options->block_size, uint64_t{1} << 20);
  EXPECT_EQ(parsed.options->cache.max_bytes, uint64_t{2} << 30);
  EXPECT_EQ(parsed.options->cache.min_free_bytes, uint64_t{512} << 20);
  EXPECT_EQ(parsed.options->connections, 3u);
  ASSERT_EQ(parsed.options->files.size(), 2u);
  EXPECT_EQ(parsed.options->files[0].name, "x.bin");
  EXPECT_EQ(parsed.options->files[1].name, "b.bin");
}

TEST(WarmOptionsTest, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"https://h/a"},                                            // no --cache-dir
           {"--cache-dir", "c"},                                       // no URL
           {"--cache-dir", "", "https://h/a"},                         // an empty one
           {"--cache-dir", "c", "--block-size", "1K", "https://h/a"},  // below 4K
           {"--cache-dir", "c", "--disk-cache-min-free", "101%", "https://h/a"},
           {"--cache-dir", "c", "--disk-cache-min-free", "lots", "https://h/a"},
           {"--cache-dir", "c", "--connections", "0", "https://h/a"},
           {"--cache-dir", "c", "--bogus", "https://h/a"},
           {"--cache-dir", "c", "ftp://h/a"},
       }) {
    const WarmCommandLine parsed = Parse(args);
    EXPECT_FALSE(parsed.options) << testing::PrintToString(args);
    EXPECT_EQ(parsed.exit_code, 2) << testing::PrintToString(args);
  }
}

TEST(WarmOptionsTest, MirrorsAsTheMountTakesThem) {
  WarmCommandLine parsed =
      Parse({"--cache-dir", "c", "--mirror", "https://b/a.iso", "https://a/a.iso|https://c/a.iso"});
  ASSERT_TRUE(parsed.options);
  ASSERT_EQ(parsed.options->files.size(), 1u);
  EXPECT_EQ(parsed.options->files[0].url, "https://a/a.iso");
  const std::vector<std::string> want = {"https://c/a.iso", "https://b/a.iso"};
  EXPECT_EQ(parsed.options->files[0].mirrors, want);
  EXPECT_EQ(parsed.options->mirrors.MirrorsOf("https://a/a.iso"), want);

  parsed = Parse({"--cache-dir", "c", "x=https://a/x|https://b/x", "https://a/y"});
  ASSERT_TRUE(parsed.options);
  EXPECT_EQ(parsed.options->mirrors.MirrorsOf("https://a/x"),
            std::vector<std::string>{"https://b/x"});
  EXPECT_TRUE(parsed.options->mirrors.MirrorsOf("https://a/y").empty());

  parsed = Parse({"--cache-dir", "c", "https://a/y"});
  ASSERT_TRUE(parsed.options);
  EXPECT_TRUE(parsed.options->mirrors.empty());

  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--cache-dir", "c", "--mirror", "https://b/x", "https://a/x", "https://a/y"},
           {"--cache-dir", "c", "--mirror", "https://b/d/", "https://a/x"},
           {"--cache-dir", "c", "https://a/x|https://b/d/"},
       }) {
    parsed = Parse(args);
    EXPECT_FALSE(parsed.options) << testing::PrintToString(args);
    EXPECT_EQ(parsed.exit_code, 2) << testing::PrintToString(args);
  }
}

TEST(WarmOptionsTest, HelpExitsZero) {
  const WarmCommandLine parsed = Parse({"--help"});
  EXPECT_FALSE(parsed.options);
  EXPECT_EQ(parsed.exit_code, 0);
}

// The mount's reader of --disk-cache-min-free, which warm shares.
TEST(DiskMinFreeTest, SizesAndPercentages) {
  DiskCacheOptions options;
  ASSERT_TRUE(ParseDiskMinFree("2.5%", options).ok());
  EXPECT_EQ(options.min_free_percent, 2.5);
  EXPECT_EQ(options.min_free_bytes, 0u);
  ASSERT_TRUE(ParseDiskMinFree("2G", options).ok());
  EXPECT_EQ(options.min_free_bytes, uint64_t{2} << 30);
  EXPECT_EQ(options.min_free_percent, 0);
  ASSERT_TRUE(ParseDiskMinFree("4096", options).ok());
  EXPECT_EQ(options.min_free_bytes, 4096u);
  for (const char* bad : {"", "%", "-1%", "100%", "101%", "5%%", "5% more", "x%", "lots", "1Q"}) {
    EXPECT_FALSE(ParseDiskMinFree(bad, options).ok()) << bad;
  }
}

}  // namespace
}  // namespace rangefs
