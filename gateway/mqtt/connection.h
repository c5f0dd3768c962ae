// Connection: one Paho MQTT async client and what keeps it connected, shared
// by the ingest and egress adapters: options from config (TLS, credentials,
// keep-alive), Paho's automatic reconnect with backoff for connections lost
// after a first success, and a connector thread that retries with backoff
// until the first success (the broker may be down at start-up).
//
// Thread: Create/Start/Stop from the owner; the connected handler runs on
// Paho's callback thread; the rest from any thread. Paho exceptions are
// turned into Status here and never leave the adapters.
#ifndef PRECALL_GATEWAY_MQTT_CONNECTION_H_
#define PRECALL_GATEWAY_MQTT_CONNECTION_H_

#include <mqtt/async_client.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/mqtt/mqtt_options.h"

namespace precall::mqtt {

class Connection {
 public:
  // `clean_session` false keeps the broker-side session (subscriptions and
  // queued QoS 1 messages) across disconnections.
  static absl::StatusOr<std::unique_ptr<Connection>> Create(const MqttOptions& options,
                                                            const std::string& client_id,
                                                            bool clean_session);
  ~Connection();  // Stop()s

  // Set before Start(). Runs on every (re)connection.
  void set_on_connected(std::function<void()> fn) { on_connected_ = std::move(fn); }
  ::mqtt::async_client& client() { return *client_; }

  void Start();
  void Stop();  // disconnects cleanly; idempotent
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t connect_failures() const { return connect_failures_.load(std::memory_order_relaxed); }

 private:
  Connection() = default;
  void ConnectUntilUp();

  MqttOptions options_;
  std::unique_ptr<::mqtt::async_client> client_;
  ::mqtt::connect_options connect_options_;
  std::function<void()> on_connected_;
  std::thread connector_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> connect_failures_{0};
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_CONNECTION_H_
