#include "support/test_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace precall::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool WaitForPort(int port, int deadline_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    if (ok) return true;
    std::this_thread::yield();
  }
  return false;
}

TestBroker::~TestBroker() {
  Stop();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

absl::Status TestBroker::Start() {
  if (dir_.empty()) {
    char tmpl[] = "/tmp/precall-broker-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
    dir_ = tmpl;
    // mosquitto started as root drops to its own user: let it write its log
    // and persistence file here.
    chmod(dir_.c_str(), 0777);
    port_ = FreePort();
  }
  const std::string conf = dir_ + "/mosquitto.conf";
  {
    std::ofstream out(conf);
    out << "listener " << port_ << " 127.0.0.1\n"
        << "allow_anonymous true\n"
        << "persistence true\n"
        << "persistence_location " << dir_ << "/\n"
        << "max_queued_messages 100000\n"
        << "log_dest file " << dir_ << "/mosquitto.log\n";
  }
  const char* candidates[] = {"/usr/sbin/mosquitto", "/usr/bin/mosquitto"};
  const char* binary = nullptr;
  for (const char* c : candidates) {
    if (access(c, X_OK) == 0) binary = c;
  }
  if (binary == nullptr) return absl::FailedPreconditionError("mosquitto is not installed");
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // Die with the test process, and never hold its stdout/stderr (ctest
    // waits for EOF on them): a crashed test must not leave a broker behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    dup2(null_fd, STDERR_FILENO);
    execl(binary, binary, "-c", conf.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (!WaitForPort(port_, 10000)) {
    Stop();
    return absl::DeadlineExceededError("mosquitto did not start listening within 10 s");
  }
  return absl::OkStatus();
}

void TestBroker::Stop() {
  if (pid_ <= 0) return;
  // mosquitto 2.0.11 can lose a SIGTERM that arrives while it is still
  // starting up: seen with the signal caught, none pending, and the broker
  // running on (a test that stops a broker it just started then hung). So
  // the signal is repeated until it exits, and SIGKILL ends a broker that
  // is not gone within 10 s.
  constexpr auto kRepeatEvery = std::chrono::milliseconds(200);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto next_term = std::chrono::steady_clock::now();
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    if (now >= next_term) {
      kill(pid_, SIGTERM);
      next_term = now + kRepeatEvery;
    }
    std::this_thread::yield();
  }
  pid_ = -1;
}

}  // namespace precall::testing
