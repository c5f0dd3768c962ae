// Per-worker counters: written by one worker thread with relaxed atomics (no
// read-modify-write, so no bus lock), read by the metrics scrape from any
// thread. Never labelled by device or tenant.
#ifndef PRECALL_GATEWAY_CORE_COUNTERS_H_
#define PRECALL_GATEWAY_CORE_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "devices/reject_reason.h"

namespace precall::core {

class RelaxedCounter {
 public:
  // Single writer only.
  void Add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct WorkerCounters {
  RelaxedCounter messages_received;
  std::array<RelaxedCounter, devices::kRejectReasonCount> rejected;  // by RejectReason
  RelaxedCounter samples_processed;
  RelaxedCounter rule_evaluations;

  void Reject(devices::RejectReason reason) { rejected[static_cast<int>(reason)].Add(); }
  uint64_t rejected_total() const {
    uint64_t n = 0;
    for (const auto& c : rejected) n += c.Get();
    return n;
  }
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_COUNTERS_H_
