// CasePublisher: the egress adapter. Drains the store's outbox, publishing
// each case event to service/{tenant}/cases/{case_id} at QoS 1, and removes
// an entry only after the broker acknowledged it (MQTT 5: a PUBACK reason
// code below 0x80). A clean session, MQTT 5 where the broker supports it. The outbox is durable, so
// publishing resumes after reconnects and restarts: case events are
// at-least-once on MQTT, with stable ids and seq for consumers to dedupe.
//
// Thread: one drain thread of its own; Notify from any thread (the case
// sink calls it after a commit); Start/Stop from the owner.
#ifndef PRECALL_GATEWAY_MQTT_PUBLISHER_H_
#define PRECALL_GATEWAY_MQTT_PUBLISHER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "gateway/core/ports.h"
#include "gateway/mqtt/connection.h"
#include "gateway/mqtt/mqtt_options.h"

namespace precall::mqtt {

class CasePublisher {
 public:
  CasePublisher(MqttOptions options, core::CaseStore& store);
  ~CasePublisher();

  absl::Status Start();
  void Stop();
  // New entries are in the outbox.
  void Notify();

  bool connected() const { return connection_ && connection_->connected(); }
  // 5 or 4 (3.1.1) once connected; 0 before.
  int mqtt_version() const { return connection_ ? connection_->mqtt_version() : 0; }
  uint64_t published() const { return published_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // Publishes one batch; false when the connection failed underneath.
  bool DrainOnce(bool& drained_any);

  MqttOptions options_;
  core::CaseStore& store_;
  std::unique_ptr<Connection> connection_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> published_{0};
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_PUBLISHER_H_
