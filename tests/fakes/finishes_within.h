// FinishesWithin: runs a piece of a test on a thread of its own and waits a bounded time for
// it, so that a deadlock (a lock held across a callback that calls back in) fails the test
// instead of hanging it. Bounded waiting only: no sleep, and a passing test never waits long.
//
// When `body` does not finish in time its thread is left blocked, detached: whatever it uses
// must then stay alive, so capture the objects under test by shared_ptr, not by reference.
#pragma once

#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <utility>

namespace rangefs::fakes {

// Long enough for any healthy body on a loaded machine; a deadlock never ends.
inline constexpr std::chrono::seconds kDeadlockLimit{10};

template <typename Body>
[[nodiscard]] bool FinishesWithin(std::chrono::seconds limit, Body body) {
  auto finished = std::make_shared<std::promise<void>>();
  std::future<void> done = finished->get_future();
  auto task = std::make_unique<Body>(std::move(body));
  std::thread([finished, task = std::move(task)]() mutable {
    (*task)();
    task.reset();  // what it captured is released before the test goes on
    finished->set_value();
  }).detach();
  return done.wait_for(limit) == std::future_status::ready;
}

}  // namespace rangefs::fakes
