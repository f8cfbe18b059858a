#include "rangefs/mirror_map.h"

#include <gtest/gtest.h>

namespace rangefs {
namespace {

using Urls = std::vector<std::string>;

TEST(MirrorMapTest, AFileHasItsOwnMirrorsInOrder) {
  MirrorMap map;
  map.Add("http://a/f.iso", "http://b/f.iso");
  map.Add("http://a/f.iso", "http://c/pub/f.iso");
  map.Add("http://a/g.iso", "http://b/g.iso");
  EXPECT_EQ(map.MirrorsOf("http://a/f.iso"), (Urls{"http://b/f.iso", "http://c/pub/f.iso"}));
  EXPECT_EQ(map.MirrorsOf("http://a/g.iso"), (Urls{"http://b/g.iso"}));
  EXPECT_EQ(map.MirrorsOf("http://a/h.iso"), Urls{});
  EXPECT_EQ(map.MirrorsOf("http://a/f.iso.sig"), Urls{}) << "a file rule is not a prefix";
}

TEST(MirrorMapTest, ADirectoryMirrorsEverythingUnderIt) {
  MirrorMap map;
  map.Add("http://a/pub/", "http://b/mirror/pub/");
  map.Add("http://a/pub/", "http://c/");
  map.Add("http://a/pub/debian/", "http://d/debian/");
  EXPECT_EQ(map.MirrorsOf("http://a/pub/x/y.bin"),
            (Urls{"http://b/mirror/pub/x/y.bin", "http://c/x/y.bin"}));
  EXPECT_EQ(map.MirrorsOf("http://a/pub/debian/z"), (Urls{"http://d/debian/z"}))
      << "the closest directory rule wins";
  EXPECT_EQ(map.MirrorsOf("http://a/public"), Urls{});
  EXPECT_EQ(map.MirrorsOf("http://a/pub/"), (Urls{"http://b/mirror/pub/", "http://c/"}));
}

TEST(MirrorMapTest, AFileRuleBeatsItsDirectory) {
  MirrorMap map;
  map.Add("http://a/pub/", "http://b/pub/");
  map.Add("http://a/pub/special.bin", "http://s/special.bin");
  EXPECT_EQ(map.MirrorsOf("http://a/pub/special.bin"), (Urls{"http://s/special.bin"}));
  EXPECT_TRUE(MirrorMap().empty());
  EXPECT_FALSE(map.empty());
}

}  // namespace
}  // namespace rangefs
