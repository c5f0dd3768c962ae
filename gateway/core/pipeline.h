// Pipeline: the serving driver of the worker stage. N worker threads, each
// owning one Worker (and so its devices) and one MessageRing fed by the
// ingest thread; a device always goes to worker hash(tenant/device) % N, so
// its samples stay in order and its state is never shared.
//
// Each worker thread drains its ring, and on every clock tick (wall time)
// runs the clock-driven silent() evaluations of its devices. An idle worker
// parks; a full ring blocks the ingest thread (back-pressure to the broker
// over TCP), never drops.
//
// Checkpoints (with a checkpoint store): case changes carry their device's
// checkpoint (see Worker); besides, every checkpoint_interval each worker
// starts a checkpoint round: it notes the journal seq up to which it has
// processed everything routed to it, then writes the checkpoints of the
// devices changed before that moment, a slice of kCheckpointSlice devices
// between two turns of messages (so no message waits behind a whole round),
// and with the last slice the recovery start: the lowest such seq of all
// workers' completed rounds. All devices' states then include every journal
// entry up to that seq, so recovery = restore the checkpoints, then Submit
// the journal after the recovery start (each device skips what its
// checkpoint already holds) with the clock stopped, then start the clock.
//
// A worker handles at most kMessagesPerTurn messages between two looks at
// its clock tick, checkpoint round and requests, so a ring that never
// empties does not starve them.
//
// Thread: Submit from the single ingest thread; Start/Stop from the owner;
// the counters from any thread.
#ifndef PRECALL_GATEWAY_CORE_PIPELINE_H_
#define PRECALL_GATEWAY_CORE_PIPELINE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "devices/catalog.h"
#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/counters.h"
#include "gateway/core/device_view.h"
#include "gateway/core/ports.h"
#include "gateway/core/ring.h"
#include "gateway/core/worker.h"
#include "rules/rule_set.h"

namespace precall::core {

class Pipeline {
 public:
  struct Options {
    int workers = 2;
    std::size_t ring_capacity = 4096;
    // How often the clock-driven rules (silent(), for/clear_for timers) are
    // looked at: a silent() case opens at most this late. An idle worker wakes
    // this often; one with nothing due pays a heap peek.
    std::chrono::milliseconds tick{100};
    CaseStore* checkpoints = nullptr;        // null: no checkpoints (tests, benchmarks)
    std::chrono::milliseconds checkpoint_interval{10000};
    bool clock_running = true;  // false: no ticks until StartClock() (recovery)
  };

  Pipeline(Options options, std::shared_ptr<const rules::RuleSet> rules,
           std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock, CaseBook& cases);
  ~Pipeline();  // Stop()s

  void Start();
  // Hands a message to its worker; blocks while that worker's ring is full.
  // False once stopped.
  bool Submit(std::string_view topic, std::string_view payload, int64_t receive_ms,
              uint64_t journal_seq);
  // Closes the rings, lets the workers drain what was submitted, writes a
  // last round of checkpoints, joins them.
  void Stop();

  // Recovery, before Start(): takes back the devices' checkpoints, each
  // worker restoring its own on its own thread. Returns how many were
  // malformed (those devices start afresh).
  std::size_t RestoreDevices(const std::vector<CheckpointRecord>& records);
  // Blocks until every message submitted so far has been processed.
  void WaitUntilIdle();
  // Starts the clock ticks (silent() rules) and periodic checkpoints.
  void StartClock() { clock_running_.store(true, std::memory_order_release); }
  // The recovery start last written: the journal seq up to which the device
  // checkpoints hold every message (a restart re-applies the journal after it).
  uint64_t checkpointed_through() const {
    return checkpointed_through_.load(std::memory_order_relaxed);
  }
  // Failed checkpoint writes (the store reports the reason).
  uint64_t checkpoint_failures() const {
    return checkpoint_failures_.load(std::memory_order_relaxed);
  }

  int workers() const { return static_cast<int>(lanes_.size()); }
  const WorkerCounters& counters(int worker) const { return lanes_[worker]->worker.counters(); }
  std::size_t ring_depth(int worker) const { return lanes_[worker]->ring.size(); }
  // The journal seq of the last message worker `worker` finished processing.
  uint64_t processed_journal_seq(int worker) const {
    return lanes_[worker]->processed_seq.load(std::memory_order_acquire);
  }
  // What the worker owning the device knows about it (HTTP API), or nullopt
  // if no worker has seen it. Any thread; blocks until the owning worker
  // answers between two messages (or at once when the workers are not running).
  std::optional<DeviceView> QueryDevice(std::string_view tenant, std::string_view device);

  // Rule reload (SIGHUP): each worker switches to the new rules and catalog
  // between two messages (Worker::Reload). Any thread; returns once every
  // worker has switched.
  void Reload(std::shared_ptr<const rules::RuleSet> rules,
              std::shared_ptr<const devices::FaultCatalog> catalog);

  // Index of the worker that owns messages on `topic`.
  int LaneFor(std::string_view topic) const;
  int LaneForDevice(std::string_view tenant, std::string_view device) const;

 private:
  struct DeviceQuery;
  struct Lane {
    Lane(std::size_t capacity, std::shared_ptr<const rules::RuleSet> rules,
         std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock, CaseBook& cases,
         Worker::Options options)
        : ring(capacity), worker(std::move(rules), std::move(catalog), clock, cases, options) {}
    MessageRing ring;
    Worker worker;
    std::atomic<uint64_t> processed_seq{0};
    // Everything routed to this lane up to this journal seq was processed
    // when the lane started its last completed checkpoint round.
    std::atomic<uint64_t> checkpointed_through{0};
    // The checkpoint round in progress (lane thread only).
    bool round_open = false;
    uint64_t round_through = 0;       // journal seq noted at its start
    std::size_t round_remaining = 0;  // devices changed before its start, still to write
    std::vector<CheckpointRecord> checkpoint_slice;
    std::thread thread;
    // Requests from other threads, answered by the worker thread between two
    // messages; `has_requests` keeps the mutex off the per-message path.
    std::atomic<bool> has_requests{false};
    absl::Mutex requests_mu;
    std::vector<DeviceQuery*> requests ABSL_GUARDED_BY(requests_mu);
    std::shared_ptr<const rules::RuleSet> next_rules ABSL_GUARDED_BY(requests_mu);
    std::shared_ptr<const devices::FaultCatalog> next_catalog ABSL_GUARDED_BY(requests_mu);
    bool running ABSL_GUARDED_BY(requests_mu) = false;
  };
  struct DeviceQuery {
    std::string_view tenant;
    std::string_view device;
    std::optional<DeviceView> answer;
    bool answered = false;  // guarded by the lane's requests_mu
  };
  void Run(Lane& lane);
  // Answers the lane's requests; true when it switched the worker's rules.
  static bool AnswerRequests(Lane& lane, bool last_time);
  // Between two messages: answers pending requests, and after a rule switch
  // writes every device's checkpoint at once. Else a crash before the next
  // round would re-apply messages taken under the old rules through the new
  // ones (recovery re-applies the journal after each device's checkpoint),
  // opening cases the running gateway never opened.
  void TakeRequests(Lane& lane);
  void StartCheckpointRound(Lane& lane);
  // Writes the next slice of at most `max_devices` of the round's devices.
  void ContinueCheckpointRound(Lane& lane, std::size_t max_devices);
  // Completes the round in progress and one more (shutdown).
  void WriteAllCheckpoints(Lane& lane);

  static constexpr int kMessagesPerTurn = 256;
  static constexpr std::size_t kCheckpointSlice = 128;

  const Options options_;
  Clock& clock_;
  std::atomic<bool> clock_running_;
  std::atomic<uint64_t> last_submitted_{0};  // journal seq, written after the push
  std::atomic<uint64_t> checkpoint_failures_{0};
  std::atomic<uint64_t> checkpointed_through_{0};
  std::vector<std::unique_ptr<Lane>> lanes_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_PIPELINE_H_
