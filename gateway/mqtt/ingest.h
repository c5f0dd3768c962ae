// MqttIngest: the Paho MQTT adapter that receives telemetry.
//
// - A fixed client id and a persistent session (MQTT 5: clean start off and
//   a Session Expiry Interval of 68 years; 3.1.1: clean session off), so the broker
//   queues QoS 1 messages while the gateway is down and delivers them when it
//   comes back; version negotiation and reconnection as in Connection.
// - The subscriptions (from config, $share/... included) are renewed on every
//   (re)connection, and the stale ones of an earlier configuration
//   (MqttOptions::stale_topics) removed from the session.
// - The message callback, not Paho's unbounded consumer queue: the handler
//   runs on Paho's callback thread and the broker gets its PUBACK when the
//   handler returns (Paho C >= 1.3.10), so the handler must have recorded the
//   message (journal) and handed it on (ring) by then.
// - Retained telemetry is dropped (and counted): a message with the retain
//   flag was sent because we subscribed, not because the device published,
//   so it is the broker's copy of an old sample, delivered again at every
//   subscription (each restart and reconnection) — taken for new, a sample
//   without ts would be re-dated to now. Retained status messages (a last
//   will) pass: they state the device's current connectivity.
//
// Thread: Start/Stop from the owner; the handler on Paho's single callback
// thread; the accessors from any thread.
#ifndef PRECALL_GATEWAY_MQTT_INGEST_H_
#define PRECALL_GATEWAY_MQTT_INGEST_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gateway/mqtt/connection.h"
#include "gateway/mqtt/mqtt_options.h"

namespace precall::mqtt {

class MqttIngest {
 public:
  using Handler = std::function<void(std::string_view topic, std::string_view payload)>;

  MqttIngest(MqttOptions options, Handler handler);
  ~MqttIngest();

  // Starts connecting in the background (a broker that is down is waited
  // for). Fails only on options Paho refuses (a malformed URI).
  absl::Status Start();
  // Disconnects cleanly; no handler call starts after it returns.
  void Stop();
  bool connected() const { return connection_ && connection_->connected(); }
  // Connected, and the broker acknowledged the subscriptions of this
  // connection: messages published from now on reach the handler.
  bool subscribed() const;
  // The broker acknowledged the removal of MqttOptions::stale_topics (true
  // when there are none): the session now holds exactly `topics`.
  bool unsubscribed_stale() const;
  // 5 or 4 (3.1.1) once connected; 0 before.
  int mqtt_version() const { return connection_ ? connection_->mqtt_version() : 0; }
  uint64_t reconnects() const { return connection_ ? connection_->reconnects() : 0; }
  uint64_t connect_failures() const { return connection_ ? connection_->connect_failures() : 0; }
  std::string last_connect_failure() const {
    return connection_ ? connection_->last_connect_failure() : std::string();
  }
  // Retained telemetry messages dropped (see above).
  uint64_t retained_telemetry_dropped() const {
    return retained_telemetry_dropped_.load(std::memory_order_relaxed);
  }

 private:
  void Subscribe();
  bool StaleAcknowledgedLocked() const;  // with subscribe_mu_ held

  MqttOptions options_;
  Handler handler_;
  std::atomic<uint64_t> retained_telemetry_dropped_{0};
  // The token of this connection's subscribe request: complete with return
  // code 0 once the broker acknowledged it. (No action listener: Paho calls
  // listeners of pending requests while destroying the client, when a
  // listener owned here may already be gone.)
  mutable std::mutex subscribe_mu_;
  ::mqtt::token_ptr subscribe_token_;
  ::mqtt::token_ptr unsubscribe_token_;     // of stale_topics, until acknowledged once
  std::unique_ptr<Connection> connection_;  // last: destroyed first
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_INGEST_H_
