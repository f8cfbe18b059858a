#include "rangefs/file_key.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace rangefs {
namespace {

RemoteFileInfo Info(std::string url, std::string etag = "\"5f-1a\"") {
  RemoteFileInfo info;
  info.url = std::move(url);
  info.final_url = "https://cdn.example/abc?sig=1";
  info.size = 1000;
  info.etag = std::move(etag);
  info.last_modified = 784111777;
  return info;
}

TEST(CanonicalUrlTest, LowersSchemeAndHostAndDropsWhatDoesNotNameTheFile) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"https://h/f.iso", "https://h/f.iso"},
      {"HTTPS://Host.Example/F.iso", "https://host.example/F.iso"},
      {"https://alice:secret@h/f", "https://h/f"},
      {"https://alice@h:8443/f", "https://h:8443/f"},
      {"https://h:443/f", "https://h/f"},
      {"http://h:80/f", "http://h/f"},
      {"http://h:443/f", "http://h:443/f"},
      {"https://h", "https://h/"},
      {"https://h?x=1", "https://h/?x=1"},
      {"https://h/a%41?b=C#part", "https://h/a%41?b=C"},
      {"http://[::1]:8080/f", "http://[::1]:8080/f"},
      {"http://[::1]/f", "http://[::1]/f"},
      {"https://u:p@h/p@th", "https://h/p@th"},
  };
  for (const auto& [url, canonical] : cases) {
    EXPECT_EQ(CanonicalUrl(url), canonical) << url;
  }
}

TEST(CanonicalUrlTest, WhatItCannotTakeApartStaysAsGiven) {
  for (const std::string url : {"", "not a url", "://h/f", "https://", "https://@/f"}) {
    EXPECT_EQ(CanonicalUrl(url), url) << url;
  }
}

TEST(VersionValidatorTest, NamesEveryValidatorTheServerSent) {
  RemoteFileInfo info = Info("https://h/f");
  EXPECT_EQ(VersionValidator(info), "etag \"5f-1a\" last-modified 784111777");
  info.etag = "W/\"5f\"";
  EXPECT_EQ(VersionValidator(info), "etag W/\"5f\" last-modified 784111777");
  info.etag.clear();
  EXPECT_EQ(VersionValidator(info), "last-modified 784111777");
  info.last_modified.reset();
  EXPECT_EQ(VersionValidator(info), "");
}

TEST(FileKeyTest, EqualForTheSameVersionWhereverItIsAskedFor) {
  RemoteFileInfo redirected = Info("https://H/f");
  redirected.final_url = "https://mirror.example/elsewhere";
  redirected.ranges_supported = false;
  const FileKey a = FileKey::Of(Info("https://h/f"), 4096);
  const FileKey b = FileKey::Of(redirected, 4096);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.hash(), b.hash());
  EXPECT_EQ(a.url(), "https://h/f");
  EXPECT_EQ(a.ToString(), "https://h/f 1000 etag \"5f-1a\" last-modified 784111777 block 4096");
}

TEST(FileKeyTest, AnyFieldThatDiffersMakesAnotherKey) {
  const FileKey key = FileKey::Of(Info("https://h/f"), 4096);
  RemoteFileInfo resized = Info("https://h/f");
  resized.size = 1001;
  RemoteFileInfo touched = Info("https://h/f");
  touched.last_modified = 784111778;
  for (const FileKey& other :
       {FileKey::Of(Info("https://h/g"), 4096), FileKey::Of(Info("https://h/f", "\"60-1a\""), 4096),
        FileKey::Of(resized, 4096), FileKey::Of(touched, 4096),
        FileKey::Of(Info("https://h/f"), 8192)}) {
    EXPECT_FALSE(key == other) << other.ToString();
  }
}

}  // namespace
}  // namespace rangefs
