// Per-worker counters and latency histograms: written by one worker thread
// with relaxed atomics (no read-modify-write, so no bus lock), read by the
// metrics scrape from any thread. Never labelled by device or tenant.
#ifndef PRECALL_GATEWAY_CORE_COUNTERS_H_
#define PRECALL_GATEWAY_CORE_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

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

// A histogram with fixed bucket bounds, for latencies on the hot path: one
// writer (a worker thread, or callers serialized by a lock), relaxed atomics,
// no allocation, no lock. The scrape reads the buckets one by one, so a
// concurrent Record may show in a bucket and not yet in the sum: the error is
// one sample, and counts stay monotonic.
class FixedHistogram {
 public:
  static constexpr std::size_t kMaxBounds = 16;

  // `bounds`: ascending upper bounds (inclusive), at most kMaxBounds; the
  // span must outlive the histogram (a static table).
  explicit FixedHistogram(std::span<const int64_t> bounds) : bounds_(bounds) {}

  // Negative values (a device clock running ahead) count as 0.
  void Record(int64_t v) {
    if (v < 0) v = 0;
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    buckets_[i].Add();
    sum_.Add(static_cast<uint64_t>(v));
  }
  std::span<const int64_t> bounds() const { return bounds_; }
  // Samples in bucket i (not cumulative); i == bounds().size() is +Inf.
  uint64_t bucket(std::size_t i) const { return buckets_[i].Get(); }
  uint64_t sum() const { return sum_.Get(); }

 private:
  std::span<const int64_t> bounds_;
  std::array<RelaxedCounter, kMaxBounds + 1> buckets_;
  RelaxedCounter sum_;
};

// Bucket bounds in milliseconds from a device's event time to the gateway:
// network and broker hops at the low end, an edge box flushing hours of
// buffered samples after a reconnect at the high end.
inline constexpr int64_t kEventLagBoundsMs[] = {5,    10,    25,    50,    100,    250,    500,
                                               1000, 2500,  5000,  10000, 30000,  60000,  300000,
                                               3600000};
// Bucket bounds in microseconds for a storage write (RocksDB WAL append,
// possibly with fsync).
inline constexpr int64_t kWriteLatencyBoundsUs[] = {10,   25,    50,    100,   250,    500,
                                                    1000, 2500,  5000,  10000, 25000,  50000,
                                                    100000, 250000, 1000000};

struct WorkerCounters {
  RelaxedCounter messages_received;
  std::array<RelaxedCounter, devices::kRejectReasonCount> rejected;  // by RejectReason
  RelaxedCounter samples_processed;
  RelaxedCounter rule_evaluations;
  RelaxedCounter devices_known;  // devices this worker holds state for
  // Sample event time -> the worker processed it (the gateway clock then).
  FixedHistogram ingest_lag_ms{kEventLagBoundsMs};
  // Sample event time -> the case event it caused was committed.
  FixedHistogram case_latency_ms{kEventLagBoundsMs};

  void Reject(devices::RejectReason reason) { rejected[static_cast<int>(reason)].Add(); }
  uint64_t rejected_total() const {
    uint64_t n = 0;
    for (const auto& c : rejected) n += c.Get();
    return n;
  }
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_COUNTERS_H_
