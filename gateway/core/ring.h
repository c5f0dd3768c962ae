// MessageRing: the bounded single-producer, single-consumer queue between the
// ingest thread and one worker (DESIGN.md "Life of a message").
//
// - Slots are preallocated and their strings keep their capacity, so a warm
//   ring copies messages without allocating.
// - Neither side takes a lock while there is work: head and tail are atomics.
// - A full ring is back-pressure, never a drop: the producer spins briefly,
//   then parks until the consumer has freed half the ring (so a saturated
//   ring hands over messages in bulk, not one per wake-up).
// - An empty ring first makes the consumer spin briefly. Then, if the ring
//   had work at its last look (traffic is flowing), the consumer naps for
//   kNap without telling the producer, and looks again: under steady
//   traffic no message costs a futex wake on either side (a wake-up per
//   message, with the context switch it forces on a 2-core machine, cost
//   more than the worker's own work), at the price of up to kNap of added
//   latency. After kIdleNaps empty naps in a row the consumer parks until a
//   message arrives, Close() is called, or its timeout passes (the worker's
//   clock tick), and the producer wakes it: no busy polling when idle.
//   Parking uses a mutex and condition variable only on that slow path,
//   with the Dekker pattern so no wake-up is lost: the parking side stores
//   its flag and then re-reads the index, the other side stores the index
//   and then reads the flag, all seq_cst, so at least one of them sees the
//   other.
//
// Thread: Push from exactly one producer thread; Front/Pop/WaitForWork from
// exactly one consumer thread; Close from any thread.
#ifndef PRECALL_GATEWAY_CORE_RING_H_
#define PRECALL_GATEWAY_CORE_RING_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace precall::core {

struct RingMessage {
  std::string topic;
  std::string payload;
  int64_t receive_ms = 0;
  uint64_t journal_seq = 0;
};

class MessageRing {
 public:
  explicit MessageRing(std::size_t capacity);  // rounded up to a power of two

  // Copies a message in; blocks (spin, then park) while the ring is full.
  // Returns false only if the ring was closed.
  bool Push(std::string_view topic, std::string_view payload, int64_t receive_ms,
            uint64_t journal_seq);

  // The oldest message, or nullptr when empty. Valid until Pop().
  const RingMessage* Front() const;
  void Pop();

  // Waits (spin, nap or park, see above) until a message is there, the ring
  // is closed, or `timeout` passes. Returns immediately when a message is there.
  void WaitForWork(std::chrono::milliseconds timeout);

  // Each nap costs a context switch (~10-20 µs of CPU on this VM), so the
  // nap is long enough to find several messages at a steady few thousand
  // per second per worker. e2e at 11,506 msg/s, three runs each: 200 µs
  // naps cost the workers 1.9-2.1 CPU-s per 92k messages, 1 ms naps
  // 1.2-1.3, with publish->case p50 2.0-4.0 vs 2.0-2.5 ms.
  static constexpr std::chrono::microseconds kNap{1000};
  static constexpr int kIdleNaps = 5;  // 5 ms without traffic: park

  // Wakes a parked consumer once (from any thread), e.g. because the worker
  // has a request to answer besides the ring; the next WaitForWork after a
  // Nudge returns at once even if the consumer was not parked yet.
  void Nudge();

  // Wakes both sides for good; Push fails afterwards, and the consumer sees
  // closed() once it has drained what was pushed before.
  void Close();
  bool closed() const { return closed_.load(std::memory_order_acquire); }

  std::size_t size() const {
    return static_cast<std::size_t>(tail_.load(std::memory_order_acquire) -
                                    head_.load(std::memory_order_acquire));
  }
  std::size_t capacity() const { return slots_.size(); }
  // How often the producer had to park on a full ring (back-pressure events).
  uint64_t producer_parks() const { return producer_parks_.load(std::memory_order_relaxed); }
  // How often the producer woke a parked consumer.
  uint64_t consumer_wakes() const { return consumer_wakes_.load(std::memory_order_relaxed); }
  bool consumer_parked_for_test() const {
    return consumer_parked_.load(std::memory_order_seq_cst);
  }

 private:
  void WakeConsumer();
  void WakeProducer();

  std::vector<RingMessage> slots_;
  const uint64_t mask_;
  alignas(64) std::atomic<uint64_t> head_{0};  // next slot to read (consumer)
  alignas(64) std::atomic<uint64_t> tail_{0};  // next slot to write (producer)
  alignas(64) std::atomic<bool> consumer_parked_{false};
  std::atomic<bool> producer_parked_{false};
  std::atomic<bool> closed_{false};
  std::atomic<uint64_t> producer_parks_{0};
  std::atomic<uint64_t> consumer_wakes_{0};
  int empty_naps_ = kIdleNaps;  // consumer only: empty naps in a row
  std::mutex mu_;
  bool nudged_ = false;  // guarded by mu_
  std::condition_variable consumer_cv_;
  std::condition_variable producer_cv_;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_RING_H_
