// Connection: one broker connection and what keeps it up, shared by the
// ingest and egress adapters: options from config (TLS, credentials,
// keep-alive), MQTT 5 where the broker supports it, Paho's automatic
// reconnect with backoff for connections lost after a first success, and a
// connector thread that retries with backoff until the first success (the
// broker may be down at start-up).
//
// Version: Paho fixes the protocol version when a client is created, so the
// connector first creates an MQTT 5 client; if the broker refuses that
// version (CONNACK 0x01 from a 3.1.1 broker, 0x84 from a 5 one) it replaces
// the client with a 3.1.1 one and keeps that version for the connection's
// life. Handlers are stored here and installed on every client created, and
// the client never leaves this class: callers go through Subscribe/Publish.
//
// Thread: Create/set_*/Start/Stop from the owner (handlers set before
// Start); the handlers run on Paho's callback thread; the rest from any
// thread. The Paho client is replaced only by the connector before the first
// successful connection, and touched by Subscribe/Publish only after it (once
// mqtt_version() is set). Paho exceptions become Status here and never leave
// the adapters.
#ifndef PRECALL_GATEWAY_MQTT_CONNECTION_H_
#define PRECALL_GATEWAY_MQTT_CONNECTION_H_

#include <mqtt/async_client.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gateway/mqtt/mqtt_options.h"

namespace precall::mqtt {

// "5", "3.1.1", or "none" (not connected yet), for logs.
std::string_view MqttVersionName(int version);

class Connection : private ::mqtt::iaction_listener {
 public:
  using MessageHandler = std::function<void(const ::mqtt::const_message_ptr&)>;

  // `persistent_session` keeps the broker-side session (subscriptions and
  // queued QoS 1 messages) across disconnections: MQTT 5 clean start off
  // with a Session Expiry Interval of 68 years, 3.1.1 clean session off.
  // Otherwise the session ends with the connection. Fails only on options
  // Paho refuses (a malformed URI).
  static absl::StatusOr<std::unique_ptr<Connection>> Create(const MqttOptions& options,
                                                            const std::string& client_id,
                                                            bool persistent_session);
  ~Connection();  // Stop()s

  // Set before Start(). Runs on every (re)connection.
  void set_on_connected(std::function<void()> fn) { on_connected_ = std::move(fn); }
  // Set before Start(). Runs for every message of a subscription; the broker
  // gets its acknowledgement when it returns.
  void set_on_message(MessageHandler fn) { on_message_ = std::move(fn); }

  void Start();
  void Stop();  // disconnects cleanly; idempotent

  // Subscribes to every filter at `qos` (MQTT 5: the default subscribe
  // options, which $share/... filters require). The token completes on the
  // SUBACK.
  absl::StatusOr<::mqtt::token_ptr> Subscribe(const std::vector<std::string>& filters, int qos);
  // Unsubscribes from every filter; the token completes on the UNSUBACK (a
  // filter the session did not hold is no error).
  absl::StatusOr<::mqtt::token_ptr> Unsubscribe(const std::vector<std::string>& filters);
  // The token completes when the broker acknowledged (QoS 1); an MQTT 5
  // PUBACK with a reason code >= 0x80 completes it as a failure (its wait
  // throws).
  absl::StatusOr<::mqtt::delivery_token_ptr> Publish(const std::string& topic,
                                                     std::string_view payload, int qos);

  // How many QoS 1 publications to have in flight at once: the broker's
  // Receive Maximum (MQTT 5; mosquitto: 20), at most 128. Paho queues what
  // is beyond it and sends that only about once a second.
  int send_window() const { return send_window_.load(std::memory_order_acquire); }
  // MQTTVERSION_5 or MQTTVERSION_3_1_1 from the first successful connection
  // on; 0 before.
  int mqtt_version() const { return version_.load(std::memory_order_acquire); }
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t connect_failures() const { return connect_failures_.load(std::memory_order_relaxed); }
  // Why the latest of connect_failures() failed (Paho's message: refused
  // credentials, an unreadable TLS file, nobody listening...); "" before any.
  std::string last_connect_failure() const;

 private:
  // QoS 1 publications in flight at once, unless the broker allows fewer.
  static constexpr int kMaxInflight = 128;

  Connection() = default;
  // Replaces the client by one speaking `version`, with the handlers installed.
  void NewClient(int version);
  // Into `out`, which must outlive the connect() it is handed to.
  void FillConnectOptions(int version, ::mqtt::connect_options& out) const;
  void ConnectUntilUp();
  // The connector's connects: Paho calls on_success with the CONNACK before
  // the connected handler, on its callback thread.
  void on_success(const ::mqtt::token& tok) override;
  void on_failure(const ::mqtt::token&) override {}

  MqttOptions options_;
  std::string client_id_;
  bool persistent_session_ = false;
  std::function<void()> on_connected_;
  MessageHandler on_message_;
  std::thread connector_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<int> version_{0};
  std::atomic<int> send_window_{kMaxInflight};
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> connect_failures_{0};
  mutable std::mutex failure_mu_;
  std::string last_connect_failure_;  // guarded by failure_mu_
  // Last: destroyed first, while everything its callbacks use is alive.
  std::unique_ptr<::mqtt::async_client> client_;
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_CONNECTION_H_
