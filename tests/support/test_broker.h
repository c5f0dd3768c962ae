// TestBroker: a real mosquitto for tests, on a free loopback port, in its own
// temporary directory, stopped (and the directory removed) on destruction.
// Start() returns once the broker accepts TCP connections (polled with a
// deadline, never a fixed sleep).
#ifndef PRECALL_TESTS_SUPPORT_TEST_BROKER_H_
#define PRECALL_TESTS_SUPPORT_TEST_BROKER_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace precall::testing {

class TestBroker {
 public:
  TestBroker() = default;
  ~TestBroker();
  TestBroker(const TestBroker&) = delete;
  TestBroker& operator=(const TestBroker&) = delete;

  // Starts mosquitto (again on the same port after Stop(), with its
  // persistence file kept, like a broker restart).
  absl::Status Start();
  void Stop();  // SIGTERM, then wait for exit

  int port() const { return port_; }
  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound and released; racy only against other
// processes grabbing ports at the same instant).
int FreePort();

// Polls until a TCP connection to 127.0.0.1:port succeeds or `deadline_ms` passes.
bool WaitForPort(int port, int deadline_ms);

}  // namespace precall::testing

#endif  // PRECALL_TESTS_SUPPORT_TEST_BROKER_H_
