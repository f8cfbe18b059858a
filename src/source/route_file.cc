#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "rangefs/route_memory.h"

namespace rangefs {
namespace {

constexpr std::string_view kGood = "good";
constexpr std::string_view kBad = "bad";

// The routes in `path`: what every process sharing it has learned. Missing file: none.
std::map<std::string, bool> ReadRoutes(const std::string& path) {
  std::map<std::string, bool> routes;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab + 1 >= line.size()) continue;
    const std::string_view state = std::string_view(line).substr(0, tab);
    if (state != kGood && state != kBad) continue;
    routes[line.substr(tab + 1)] = state == kGood;
  }
  return routes;
}

// Replaces `path` with `routes`, through a temporary file renamed into place.
bool WriteRoutes(const std::string& path, const std::map<std::string, bool>& routes) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& [key, good] : routes) {
      out << (good ? kGood : kBad) << '\t' << key << '\n';
    }
    out.flush();
    if (!out) {
      std::remove(temporary.c_str());
      return false;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace

RouteFile::RouteFile(std::string path) : path_(std::move(path)), known_(ReadRoutes(path_)) {}

std::optional<bool> RouteFile::RecallMultiRange(const std::string& key) const {
  std::lock_guard lock(mu_);
  const auto it = known_.find(key);
  if (it == known_.end()) return std::nullopt;
  return it->second;
}

void RouteFile::RememberMultiRange(const std::string& key, bool supported) {
  {
    std::lock_guard lock(mu_);
    const auto it = known_.find(key);
    if (it != known_.end() && it->second == supported) return;
    known_[key] = supported;
  }
  // Merged with what other processes wrote since this one read the file; this process's
  // knowledge wins for its own routes.
  std::map<std::string, bool> routes = ReadRoutes(path_);
  {
    std::lock_guard lock(mu_);
    for (const auto& [route, good] : known_) routes[route] = good;
  }
  if (WriteRoutes(path_, routes)) return;
  bool first = false;
  {
    std::lock_guard lock(mu_);
    first = !write_failed_;
    write_failed_ = true;
  }
  if (first) spdlog::info("{}: cannot keep what routes were found to do", path_);
}

}  // namespace rangefs
