// FakeMqttServer: a scripted MQTT server on a free loopback port, for what a
// real mosquitto cannot be made to do: refuse MQTT 5 like a broker that only
// speaks 3.1.1, refuse a publication (or those of one topic) with an MQTT 5 PUBACK reason
// code, or hold its PUBACKs back.
// Not a broker: no routing, no sessions. One client at a time, served by the
// server's own thread; what it saw is read from the test thread.
#ifndef PRECALL_TESTS_UNIT_MQTT_FAKE_MQTT_SERVER_H_
#define PRECALL_TESTS_UNIT_MQTT_FAKE_MQTT_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace precall::testing {

class FakeMqttServer {
 public:
  struct Script {
    // The CONNACK answered to an MQTT 5 CONNECT before closing the
    // connection; empty: MQTT 5 is accepted. Other versions are accepted.
    std::vector<uint8_t> refuse_mqtt5;
    // Reason code of the PUBACKs on an MQTT 5 connection (3.1.1 has none)...
    uint8_t puback_reason = 0x00;
    // ... for topics containing this; empty: for every topic.
    std::string puback_reason_for;
    // Non-empty: after each SUBACK the server sends one QoS 0 message here.
    std::string publish_after_subscribe;
    // PUBACKs are held back until ReleasePubacks(), as a slow broker would.
    bool hold_pubacks = false;
  };
  // What a CONNECT asked for.
  struct Connect {
    int protocol_level = 0;       // 4: 3.1.1, 5: MQTT 5
    bool clean = false;           // clean session (3.1.1) / clean start (5)
    uint32_t session_expiry = 0;  // MQTT 5 Session Expiry Interval; absent: 0
  };

  // What a 3.1.1 broker answers to an MQTT 5 CONNECT (return code 1), and
  // what an MQTT 5 broker answers to a version it does not speak (0x84).
  static std::vector<uint8_t> Refusal311() { return {0x20, 0x02, 0x00, 0x01}; }
  static std::vector<uint8_t> Refusal5() { return {0x20, 0x03, 0x00, 0x84, 0x00}; }

  explicit FakeMqttServer(Script script) : script_(std::move(script)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(listen_fd_, 4);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeMqttServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      if (client_fd_ >= 0) shutdown(client_fd_, SHUT_RDWR);
    }
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    close(listen_fd_);
  }
  FakeMqttServer(const FakeMqttServer&) = delete;
  FakeMqttServer& operator=(const FakeMqttServer&) = delete;

  std::string uri() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::vector<Connect> connects() {
    std::lock_guard<std::mutex> lock(mu_);
    return connects_;
  }
  int publishes() {
    std::lock_guard<std::mutex> lock(mu_);
    return publishes_;
  }
  // From now on every PUBACK is a success, whatever the script says (the
  // broker's ACL was fixed).
  void AcceptEverything() { accept_everything_.store(true); }
  // Sends the PUBACKs held back so far (Script::hold_pubacks), and from now
  // on answers at once.
  void ReleasePubacks() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    for (const auto& puback : held_) {
      if (client_fd_ >= 0) Send(client_fd_, puback);
    }
    held_.clear();
  }
  // Closes the current client's connection, as a network failure would.
  void DropClient() {
    std::lock_guard<std::mutex> lock(mu_);
    if (client_fd_ >= 0) shutdown(client_fd_, SHUT_RDWR);
  }

 private:
  void Run() {
    while (true) {
      const int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;  // shut down
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) {
          close(fd);
          return;
        }
        client_fd_ = fd;
      }
      Serve(fd);
      {
        std::lock_guard<std::mutex> lock(mu_);
        client_fd_ = -1;
      }
      close(fd);
    }
  }

  static bool ReadAll(int fd, void* buf, std::size_t n) {
    auto* p = static_cast<char*>(buf);
    while (n > 0) {
      const ssize_t r = recv(fd, p, n, 0);
      if (r <= 0) return false;
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }
  static void Send(int fd, const std::vector<uint8_t>& bytes) {
    send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }

  // The Session Expiry Interval among the properties of an MQTT 5 CONNECT
  // (a short property length; the properties Paho sends in a CONNECT).
  static uint32_t SessionExpiry(const std::vector<uint8_t>& body) {
    const std::size_t end = 11 + body[10];
    for (std::size_t at = 11; at < end;) {
      const uint8_t id = body[at++];
      if (id == 0x11) {
        return (uint32_t{body[at]} << 24) | (uint32_t{body[at + 1]} << 16) |
               (uint32_t{body[at + 2]} << 8) | body[at + 3];
      }
      if (id == 0x21 || id == 0x22) {  // receive maximum, topic alias maximum
        at += 2;
      } else if (id == 0x27) {  // maximum packet size
        at += 4;
      } else if (id == 0x17 || id == 0x19) {  // request problem / response information
        at += 1;
      } else {
        break;
      }
    }
    return 0;
  }

  // Reads packets until the client disconnects, answering as scripted.
  void Serve(int fd) {
    int level = 0;
    while (true) {
      uint8_t header = 0;
      if (!ReadAll(fd, &header, 1)) return;
      std::size_t length = 0;
      for (int shift = 0;; shift += 7) {
        uint8_t b = 0;
        if (!ReadAll(fd, &b, 1)) return;
        length |= static_cast<std::size_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) break;
      }
      std::vector<uint8_t> body(length);
      if (length > 0 && !ReadAll(fd, body.data(), length)) return;
      switch (header >> 4) {
        case 1: {  // CONNECT: "MQTT" (length-prefixed), level, flags, keep-alive
          level = body[6];
          Connect connect{level, (body[7] & 0x02) != 0};
          if (level == 5) connect.session_expiry = SessionExpiry(body);
          {
            std::lock_guard<std::mutex> lock(mu_);
            connects_.push_back(connect);
          }
          if (level == 5 && !script_.refuse_mqtt5.empty()) {
            Send(fd, script_.refuse_mqtt5);
            return;
          }
          Send(fd, level == 5 ? std::vector<uint8_t>{0x20, 0x03, 0x00, 0x00, 0x00}
                              : std::vector<uint8_t>{0x20, 0x02, 0x00, 0x00});
          break;
        }
        case 3: {  // PUBLISH
          const int qos = (header >> 1) & 3;
          const std::size_t id_at = 2 + ((body[0] << 8) | body[1]);
          {
            std::lock_guard<std::mutex> lock(mu_);
            ++publishes_;
          }
          if (qos == 1) {
            const std::string topic(body.begin() + 2, body.begin() + static_cast<long>(id_at));
            const bool scripted = script_.puback_reason_for.empty() ||
                                  topic.find(script_.puback_reason_for) != std::string::npos;
            const uint8_t reason =
                scripted && !accept_everything_.load() ? script_.puback_reason : 0x00;
            std::vector<uint8_t> puback =
                level == 5 ? std::vector<uint8_t>{0x40, 0x03, body[id_at], body[id_at + 1], reason}
                           : std::vector<uint8_t>{0x40, 0x02, body[id_at], body[id_at + 1]};
            std::lock_guard<std::mutex> lock(mu_);
            if (script_.hold_pubacks && !released_) {
              held_.push_back(std::move(puback));
            } else {
              Send(fd, puback);
            }
          }
          break;
        }
        case 8: {  // SUBSCRIBE: id, (MQTT 5: properties), filters with options
          std::size_t at = 2;
          if (level == 5) at += 1 + body[2];  // a short property length
          std::vector<uint8_t> granted;
          while (at < body.size()) {
            at += 2 + ((body[at] << 8) | body[at + 1]);
            granted.push_back(body[at++] & 0x03);
          }
          std::vector<uint8_t> suback = {0x90, 0, body[0], body[1]};
          if (level == 5) suback.push_back(0x00);
          suback.insert(suback.end(), granted.begin(), granted.end());
          suback[1] = static_cast<uint8_t>(suback.size() - 2);
          Send(fd, suback);
          if (!script_.publish_after_subscribe.empty()) {
            const std::string& topic = script_.publish_after_subscribe;
            std::vector<uint8_t> publish = {0x30, 0, 0, static_cast<uint8_t>(topic.size())};
            publish.insert(publish.end(), topic.begin(), topic.end());
            if (level == 5) publish.push_back(0x00);
            publish.insert(publish.end(), {'{', '}'});
            publish[1] = static_cast<uint8_t>(publish.size() - 2);
            Send(fd, publish);
          }
          break;
        }
        case 12:  // PINGREQ
          Send(fd, {0xd0, 0x00});
          break;
        case 14:  // DISCONNECT
          return;
        default:
          break;
      }
    }
  }

  const Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  bool stopping_ = false;
  std::atomic<bool> accept_everything_{false};
  int client_fd_ = -1;
  std::vector<Connect> connects_;
  int publishes_ = 0;
  bool released_ = false;                   // hold_pubacks: ReleasePubacks() was called
  std::vector<std::vector<uint8_t>> held_;  // hold_pubacks: PUBACKs not yet sent
};

}  // namespace precall::testing

#endif  // PRECALL_TESTS_UNIT_MQTT_FAKE_MQTT_SERVER_H_
