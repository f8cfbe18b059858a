#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "fakes/log_capture.h"
#include "fakes/temp_dir.h"
#include "rangefs/route_memory.h"

namespace rangefs {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(RouteFileTest, WhatOneProcessLearnsTheNextRecalls) {
  fakes::TempDir dir;
  const std::string path = dir.path() + "/routes";
  {
    RouteFile first(path);
    EXPECT_EQ(first.RecallMultiRange("http://o:80 via http://cache:3128"), std::nullopt);
    first.RememberMultiRange("http://o:80 via http://cache:3128", false);
    first.RememberMultiRange("http://o:80", true);
    EXPECT_EQ(first.RecallMultiRange("http://o:80"), true);
  }
  RouteFile second(path);
  EXPECT_EQ(second.RecallMultiRange("http://o:80 via http://cache:3128"), false);
  EXPECT_EQ(second.RecallMultiRange("http://o:80"), true);
  EXPECT_EQ(second.RecallMultiRange("http://p:80"), std::nullopt);
  EXPECT_EQ(Read(path), "good\thttp://o:80\nbad\thttp://o:80 via http://cache:3128\n");
}

TEST(RouteFileTest, WritesMergeWhatOtherProcessesWroteMeanwhile) {
  fakes::TempDir dir;
  const std::string path = dir.path() + "/routes";
  RouteFile a(path);
  RouteFile b(path);
  a.RememberMultiRange("http://a:80", true);
  b.RememberMultiRange("http://b:80", false);
  RouteFile later(path);
  EXPECT_EQ(later.RecallMultiRange("http://a:80"), true);
  EXPECT_EQ(later.RecallMultiRange("http://b:80"), false);
}

TEST(RouteFileTest, UnreadableLinesAreSkipped) {
  fakes::TempDir dir;
  const std::string path = dir.path() + "/routes";
  std::ofstream(path)
      << "good\thttp://a:80\nmaybe\thttp://b:80\nno tab here\nbad\t\nbad\thttp://c:80";
  RouteFile routes(path);
  EXPECT_EQ(routes.RecallMultiRange("http://a:80"), true);
  EXPECT_EQ(routes.RecallMultiRange("http://b:80"), std::nullopt);
  EXPECT_EQ(routes.RecallMultiRange("http://c:80"), false) << "a last line without newline";
}

TEST(RouteFileTest, AFileThatCannotBeWrittenIsSaidOnceAndKnowledgeStays) {
  fakes::TempDir dir;
  fakes::LogCapture log;
  RouteFile routes(dir.path() + "/missing/routes");
  routes.RememberMultiRange("http://a:80", false);
  routes.RememberMultiRange("http://b:80", false);
  EXPECT_EQ(routes.RecallMultiRange("http://a:80"), false);
  EXPECT_EQ(log.Count(spdlog::level::info, "cannot keep"), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/missing"));
}

}  // namespace
}  // namespace rangefs
