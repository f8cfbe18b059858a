// LogCapture: while it lives, spdlog's default logger writes into a list the test reads
// (every level, from any thread), instead of stderr. The logger it replaced comes back after.
//
// Thread-safety: lines() may be called while other threads log.
#pragma once

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rangefs::fakes {

class LogCapture {
 public:
  struct Line {
    spdlog::level::level_enum level;
    std::string text;
  };

  LogCapture()
      : sink_(std::make_shared<Sink>()),
        previous_(spdlog::default_logger()),
        previous_level_(spdlog::get_level()) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() {
    spdlog::set_default_logger(previous_);
    spdlog::set_level(previous_level_);
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<Line> lines() const { return sink_->lines(); }
  // Lines at `level` that contain `text`.
  size_t Count(spdlog::level::level_enum level, const std::string& text = "") const {
    const std::vector<Line> all = lines();
    return static_cast<size_t>(std::count_if(all.begin(), all.end(), [&](const Line& line) {
      return line.level == level && line.text.find(text) != std::string::npos;
    }));
  }

 private:
  class Sink final : public spdlog::sinks::base_sink<std::mutex> {
   public:
    std::vector<Line> lines() {
      std::lock_guard lock(mutex_);
      return lines_;
    }

   protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
      lines_.push_back(
          {message.level, std::string(message.payload.begin(), message.payload.end())});
    }
    void flush_() override {}

   private:
    std::vector<Line> lines_;  // Guarded by mutex_ (base_sink's)
  };

  std::shared_ptr<Sink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
  spdlog::level::level_enum previous_level_;
};

}  // namespace rangefs::fakes
