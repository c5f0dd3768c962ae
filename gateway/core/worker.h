// Worker: the one pipeline stage that serve, replay and recovery share. It
// takes raw MQTT messages (topic, payload) for the devices it owns, decodes
// them, updates device state, evaluates the rules the sample wakes (and, as
// the gateway clock advances, the silent() rules of the devices that are
// due), and hands decisions to the CaseBook.
//
// Per sample, in order: reject checks; device state update; catalog (codes
// that left the active set resolve, in sorted order; codes that entered open,
// in payload order); rules the sample woke, in rule-file order; then, if the
// sample advanced a data clock, the clock-driven evaluations at the new time,
// devices in order of first appearance, rules in file order.
//
// Clock-driven evaluations only run for devices whose silent() rules could
// decide something differently since their last evaluation: each device
// carries the earliest such time (a silent() threshold, a window expiry, a
// `for`/`clear_for` timer, or "any time now" after it reported). Between those
// times an evaluation would be a no-op, so the outcome equals evaluating every
// device at every clock advance, at a cost independent of fleet size.
//
// Thread: one worker per thread; it owns its devices, decoder and scratch
// space exclusively. Only the CaseBook and the counters are shared. Steady
// state (known devices, no case changes) allocates nothing.
#ifndef PRECALL_GATEWAY_CORE_WORKER_H_
#define PRECALL_GATEWAY_CORE_WORKER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "devices/catalog.h"
#include "devices/decoder.h"
#include "devices/device_state.h"
#include "devices/name_table.h"
#include "devices/string_map.h"
#include "gateway/core/case_book.h"
#include "gateway/core/chunked_vector.h"
#include "gateway/core/clock.h"
#include "gateway/core/counters.h"
#include "gateway/core/device_view.h"
#include "gateway/core/ports.h"
#include "rules/rule_set.h"
#include "rules/rule_state.h"

namespace precall::core {

class Worker {
 public:
  struct Options {
    // Evaluate the silent() rules of every device at every clock advance: the
    // contract's literal definition, which the scheduled form must equal.
    // For tests; costs O(devices) per advance.
    bool evaluate_every_device_on_clock = false;
    // Serve: hand the case book each device's checkpoint with its case
    // changes, and keep track of devices changed since their last
    // checkpoint (TakeCheckpoints). Needs a wall clock: a data clock's
    // mid-message clock advances would split a message's change.
    bool checkpoints = false;
  };
  Worker(std::shared_ptr<const rules::RuleSet> rules,
         std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock, CaseBook& cases,
         Options options);
  Worker(std::shared_ptr<const rules::RuleSet> rules,
         std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock, CaseBook& cases)
      : Worker(std::move(rules), std::move(catalog), clock, cases, Options{}) {}

  // What became of one message.
  struct Outcome {
    int accepted = 0;  // samples (or status updates) applied
    int rejected = 0;  // samples (or whole messages) dropped
    devices::RejectReason first_reject = devices::RejectReason::kNone;
  };
  // `receive_ms` is the gateway clock when the message arrived;
  // `journal_seq` its journal position (0: not journaled). A message at or
  // below its device's watermark (already in a restored checkpoint) is
  // skipped without effect: recovery re-applies the journal through here.
  Outcome HandleMessage(std::string_view topic, std::string_view payload, int64_t receive_ms,
                        uint64_t journal_seq = 0);

  // The gateway clock moved to `now` (serve: a wall-clock tick): runs the
  // clock-driven evaluations that are due.
  void AdvanceClock(int64_t now);

  // Crash recovery: takes back a device from its checkpoint (see
  // Options::checkpoints), before any message for it. Rule states are
  // matched by rule name and definition, so a changed rule starts afresh.
  // False (and nothing kept) for a malformed checkpoint or key.
  bool RestoreDevice(std::string_view device_key, std::string_view blob, uint64_t watermark);
  // Switches to another rule set and catalog (SIGHUP), between two messages:
  // device states move to the new metric plan; a rule whose definition did
  // not change keeps its state (pending period, active case), any other
  // starts afresh; silent() rules are looked at on the next clock advance.
  void Reload(std::shared_ptr<const rules::RuleSet> rules,
              std::shared_ptr<const devices::FaultCatalog> catalog);

  // Appends the checkpoints of at most `max_devices` of the devices changed
  // since their last one, those changed earliest first, and returns how
  // many. A device changed again after it was taken queues up behind the
  // others, so the first K devices dirty at some moment are exactly those
  // taken by calls totalling K (Pipeline's checkpoint rounds rely on it).
  std::size_t TakeCheckpoints(std::vector<CheckpointRecord>& out,
                              std::size_t max_devices = SIZE_MAX);
  // The last TakeCheckpoints could not be stored: its devices count as
  // changed again (behind the others), so a later round writes them.
  void ReturnCheckpoints();
  // Devices changed since their last checkpoint.
  std::size_t dirty_devices() const { return dirty_.size() - dirty_head_; }

  const WorkerCounters& counters() const { return counters_; }
  std::size_t device_count() const { return devices_.size(); }
  // The device's state, or nullptr if this worker has not seen it.
  const devices::DeviceState* FindDevice(std::string_view tenant, std::string_view device) const;
  // A copy of what the worker knows about a device (for the HTTP API), or
  // nullopt if it has not seen it.
  std::optional<DeviceView> ViewDevice(std::string_view tenant, std::string_view device) const;

 private:
  struct DeviceEntry {
    DeviceEntry(std::string tenant, std::string device, const devices::MetricPlan* plan,
                devices::NameTable* names)
        : state(std::move(tenant), std::move(device), plan, names) {}
    devices::DeviceState state;
    std::vector<std::pair<uint32_t, rules::RuleState>> rule_states;  // sorted by rule
    int64_t clock_due = kNotDue;  // next clock-driven evaluation, see above
    // Bitmap of the rules whose `select` matches the device, valid while the
    // device's profile_version() equals selected_version.
    absl::InlinedVector<uint64_t, 2> selected;
    uint32_t selected_version = UINT32_MAX;
    uint64_t watermark = 0;  // journal seq of the last message applied
    bool dirty = false;      // changed since its last checkpoint
  };
  static constexpr int64_t kNotDue = INT64_MAX;
  static constexpr uint32_t kNoDevice = UINT32_MAX;

  void Reject(Outcome& outcome, devices::RejectReason reason);
  DeviceEntry& FindOrAdd(std::string_view tenant, std::string_view device, uint32_t& index);
  void ApplyCatalog(DeviceEntry& entry, int64_t ts);  // stamped with ts, not the clock
  void EvaluateWokenRules(DeviceEntry& entry, int64_t now, int64_t clock);
  // Buffers a decision about the device of `state` (its model is taken now).
  void Decide(const devices::DeviceState& state, CaseDecision::Kind kind, std::string_view rule,
              const rules::CaseTemplate* tmpl, int64_t fault_started_at, int64_t clock,
              Evidence evidence);
  // Hands the buffered decisions of `entry` to the case book as one change.
  void FlushDecisions(DeviceEntry& entry);
  void MarkDirty(DeviceEntry& entry, uint32_t index);
  void AppendCheckpoint(const DeviceEntry& entry, std::string& out);
  void RefreshSelection(DeviceEntry& entry);
  void IndexRules();
  bool Selected(const DeviceEntry& entry, uint32_t rule) const {
    return (entry.selected[rule / 64] >> (rule % 64)) & 1;
  }
  // Evaluates a rule that selects the device (callers check).
  void EvaluateRule(DeviceEntry& entry, uint32_t rule_index, int64_t now, int64_t clock);
  void ScheduleClock(DeviceEntry& entry, uint32_t index, int64_t due);
  int64_t NextClockDue(DeviceEntry& entry, int64_t now);
  Evidence EvidenceFor(const rules::CompiledRule& rule, const devices::DeviceState& state) const;

  std::shared_ptr<const rules::RuleSet> rules_;
  std::shared_ptr<const devices::FaultCatalog> catalog_;
  const Options options_;
  Clock& clock_;
  CaseBook& cases_;
  WorkerCounters counters_;

  devices::PayloadDecoder decoder_;
  devices::NameTable metric_names_;  // metrics no rule names, for all our devices
  ChunkedVector<DeviceEntry> devices_;  // stable addresses
  // The device index: indices into devices_, hashed and compared through the
  // names their entries hold, so it keeps no copy of them (4 bytes a device)
  // and a lookup reads the entry the message is about to update anyway.
  struct DeviceName {
    std::string_view tenant, device;
  };
  struct DeviceNameHash {
    using is_transparent = void;
    const ChunkedVector<DeviceEntry>* devices;
    std::size_t operator()(DeviceName name) const;
    std::size_t operator()(uint32_t index) const;
  };
  struct DeviceNameEq {
    using is_transparent = void;
    const ChunkedVector<DeviceEntry>* devices;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t index, DeviceName name) const;
    bool operator()(DeviceName name, uint32_t index) const { return (*this)(index, name); }
  };
  absl::flat_hash_set<uint32_t, DeviceNameHash, DeviceNameEq> index_by_name_;

  // Scratch, reused for every sample.
  devices::SampleEffects effects_;
  std::vector<CaseDecision> decisions_;  // of the device being handled
  // Devices changed since their last checkpoint: dirty_[dirty_head_..], in
  // the order they changed; taken_ holds those the last TakeCheckpoints took.
  std::vector<uint32_t> dirty_;
  std::size_t dirty_head_ = 0;
  std::vector<uint32_t> taken_;
  std::vector<uint64_t> rule_hashes_;    // of each rule's definition, for checkpoints
  devices::StringMap<uint32_t> rule_by_name_;
  std::string device_key_, checkpoint_, device_blob_;
  std::vector<uint64_t> woken_;  // bitmap of the rules the current sample woke
  std::vector<uint32_t> due_;
  std::string rule_name_;
  // (due time, device index), earliest first; stale entries are skipped.
  std::priority_queue<std::pair<int64_t, uint32_t>, std::vector<std::pair<int64_t, uint32_t>>,
                      std::greater<>>
      clock_queue_;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_WORKER_H_
