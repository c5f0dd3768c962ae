// MqttIngest: the Paho MQTT C++ adapter that receives telemetry.
//
// - A fixed client id and a persistent session (clean session off), so the
//   broker queues QoS 1 messages while the gateway is down and delivers them
//   when it comes back.
// - Automatic reconnect with exponential backoff; the subscriptions (from
//   config, $share/... included) are renewed on every (re)connection.
// - The message callback, not Paho's unbounded consumer queue: the handler
//   runs on Paho's callback thread and the broker gets its PUBACK when the
//   handler returns (Paho C >= 1.3.10), so the handler must have recorded the
//   message (journal) and handed it on (ring) by then.
//
// Thread: Start/Stop from the owner; the handler on Paho's single callback
// thread; connected() from any thread. Paho exceptions never leave this class.
#ifndef PRECALL_GATEWAY_MQTT_INGEST_H_
#define PRECALL_GATEWAY_MQTT_INGEST_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "gateway/mqtt/mqtt_options.h"

#include <mqtt/connect_options.h>

namespace mqtt {
class async_client;
}

namespace precall::mqtt {

class MqttIngest {
 public:
  using Handler = std::function<void(std::string_view topic, std::string_view payload)>;

  MqttIngest(MqttOptions options, Handler handler);
  ~MqttIngest();  // Stop()s

  // Starts connecting in the background (a broker that is down is waited
  // for). Fails only on options Paho refuses (a malformed URI).
  absl::Status Start();
  // Disconnects cleanly; no handler call runs after it returns.
  void Stop();
  bool connected() const { return connected_.load(std::memory_order_acquire); }
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }
  uint64_t connect_failures() const { return connect_failures_.load(std::memory_order_relaxed); }

 private:
  void Subscribe();
  void ConnectUntilUp();

  MqttOptions options_;
  Handler handler_;
  std::unique_ptr<::mqtt::async_client> client_;
  ::mqtt::connect_options connect_options_;
  std::thread connector_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> connect_failures_{0};
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_INGEST_H_
