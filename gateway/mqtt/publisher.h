// CasePublisher: the egress adapter. Drains the store's outbox, publishing
// each case event to service/{tenant}/cases/{case_id} at QoS 1, and removes
// an entry only after the broker acknowledged it (MQTT 5: a PUBACK reason
// code below 0x80). A clean session, MQTT 5 where the broker supports it. The outbox is durable, so
// publishing resumes after reconnects and restarts: case events are
// at-least-once on MQTT, with stable ids and seq for consumers to dedupe.
//
// The drain reads the outbox forward from a cursor (the last entry it
// handled), so what it publishes costs the same however many entries wait
// behind a refusal. After a lost connection it starts again from the oldest.
//
// Fewer than kBulk (8) waiting entries go out one at a time, each once the
// one before was acknowledged; a longer backlog (after an outage) goes out
// as one batch. Why, as far as we can tell (stalls of ~40 ms, Linux's
// delayed-ACK time; gone with one PUBLISH in flight; TCP_NODELAY on our
// socket alone did not remove them): mosquitto does not set TCP_NODELAY, so
// with two PUBLISHes in flight its second PUBACK waits (Nagle) for the TCP
// ACK of its first, which the gateway's kernel delays while the drain sends
// nothing. Once one batch stalled, the events behind
// it formed the next batch, and the drain stayed in that mode (e2e at
// 12,716 msg/s: publish->case p50 10-29 ms in 4 of 14 steps). One at a
// time, each PUBLISH carries the ACK of the PUBACK before it
// (bench/README.md has the figures).
//
// An entry the broker refuses (MQTT 5 reason code >= 0x80: not authorized,
// quota exceeded, ...) is set aside while the entries after it keep
// flowing: one tenant's refused topic does not hold back the others' case
// events, however many of its events are refused. Every `refused_retry`
// one pass from the oldest entry tries the set-aside entries again; they
// leave the outbox once the broker accepts them (say, its ACL was fixed).
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
#include <span>
#include <thread>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "gateway/core/ports.h"
#include "gateway/mqtt/connection.h"
#include "gateway/mqtt/mqtt_options.h"

namespace precall::mqtt {

class CasePublisher {
 public:
  // `refused_retry`: how long a refused entry waits before it is tried again.
  CasePublisher(MqttOptions options, core::CaseStore& store,
                std::chrono::milliseconds refused_retry = kRefusedRetry);
  ~CasePublisher();

  absl::Status Start();
  void Stop();
  // New entries are in the outbox.
  void Notify();

  bool connected() const { return connection_ && connection_->connected(); }
  // 5 or 4 (3.1.1) once connected; 0 before.
  int mqtt_version() const { return connection_ ? connection_->mqtt_version() : 0; }
  uint64_t published() const { return published_.load(std::memory_order_relaxed); }
  // Publications the broker refused (each retry counts).
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  static constexpr std::chrono::seconds kRefusedRetry{30};

 private:
  void Run();
  // Publishes one batch; false when the connection failed underneath.
  // `progressed`: an entry left the outbox or was set aside.
  bool DrainOnce(bool& progressed);
  // Publishes `group` and waits for the broker's acknowledgements; false
  // when the connection failed underneath.
  bool PublishGroup(std::span<const core::OutboxEntry> group, bool& progressed);
  // The next entries to publish (at most `window`), moving the cursor past
  // them and past the set-aside entries not due in this pass.
  std::vector<core::OutboxEntry> NextBatch(std::size_t window);
  // Starts again from the oldest entry (after a failure); the set-aside
  // entries wait for the next retry pass.
  void Rewind() {
    cursor_ = 0;
    retry_through_ = 0;
  }

  MqttOptions options_;
  core::CaseStore& store_;
  const std::chrono::milliseconds refused_retry_;
  std::unique_ptr<Connection> connection_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> refused_{0};
  // Drain thread only: the last entry handled (0: none yet), the refused
  // entries (event seq), the highest set-aside seq the current retry pass
  // publishes again (0: no pass), and when the next pass starts.
  uint64_t cursor_ = 0;
  absl::btree_set<uint64_t> set_aside_;
  uint64_t retry_through_ = 0;
  std::chrono::steady_clock::time_point next_retry_pass_{};
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_PUBLISHER_H_
