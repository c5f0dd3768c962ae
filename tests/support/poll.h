// PollUntil: how tests wait for something another thread or process does —
// check, yield, check again, until a deadline — never a fixed sleep.
#ifndef PRECALL_TESTS_SUPPORT_POLL_H_
#define PRECALL_TESTS_SUPPORT_POLL_H_

#include <chrono>
#include <functional>
#include <thread>

namespace precall::testing {

// True as soon as `done` is; false if it is still false after `deadline_ms`.
inline bool PollUntil(const std::function<bool()>& done, int deadline_ms = 20000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::yield();
  }
  return done();
}

}  // namespace precall::testing

#endif  // PRECALL_TESTS_SUPPORT_POLL_H_
