// DeviceState: what the gateway knows about one device (CONTRACT §1): sticky
// model and labels, the latest value of every metric, sliding windows for the
// metrics the rules name, the complete active fault-code set, the last seq and
// ts (for dedup and ordering), and when it was last seen (for silent()).
//
// Memory: the plan's metrics cost a value each (8 bytes) and those with
// windows a MetricWindows each (see window.h), allocated with the state in
// two arrays; the window specs stay in the shared plan.
//
// Thread: owned by exactly one worker; never shared. Applying a sample in
// steady state (same metric names, same DTC set) allocates nothing.
#ifndef PRECALL_DEVICES_DEVICE_STATE_H_
#define PRECALL_DEVICES_DEVICE_STATE_H_

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "devices/metric_plan.h"
#include "devices/name_table.h"
#include "devices/reject_reason.h"
#include "devices/sample.h"
#include "devices/window.h"

namespace precall::devices {

inline constexpr int64_t kNever = std::numeric_limits<int64_t>::min();

// What applying one sample changed, for the worker to act on. Reused across
// samples by the worker (capacity is kept).
struct SampleEffects {
  std::vector<uint32_t> slots;        // plan slots the sample carried (may repeat)
  bool dtc_present = false;           // the sample had a `dtc` field
  std::vector<std::string> entered;   // codes that entered the active set, payload order
  std::vector<std::string> left;      // codes that left the active set, sorted
  // Apply's scratch: the value each of `slots` was given, and the metrics no
  // rule names (NameTable id, value), in payload order.
  std::vector<double> slot_values;
  std::vector<std::pair<uint32_t, double>> other_values;
  void Clear() {
    slots.clear();
    slot_values.clear();
    other_values.clear();
    dtc_present = false;
    entered.clear();
    left.clear();
  }
};

enum class Connectivity : unsigned char { kUnreported, kOnline, kOffline };

class DeviceState {
 public:
  // `names` interns the metrics no rule names; it belongs to the worker that
  // owns this device and must outlive it.
  DeviceState(std::string tenant, std::string device, const MetricPlan* plan, NameTable* names);

  // Whether `sample`, at event time `ts`, would be accepted; no change made.
  // kDuplicate (seq not above the last), kOutOfOrder (ts below the last
  // accepted ts) or kTooManyMetrics (more than kMaxMetricNamesPerDevice
  // distinct names for this device).
  RejectReason Check(const Sample& sample, int64_t ts) const;

  // Applies an accepted sample at event time `ts`; `seen_at` is what silent()
  // measures from (receive time when serving, ts when replaying).
  void Apply(const Sample& sample, int64_t ts, int64_t seen_at, SampleEffects& effects);

  void SetConnectivity(Connectivity c) { connectivity_ = c; }

  // Switches to another rule set's plan (rule reload): values and retained
  // window points move to the new slots by metric name.
  void Rebind(const MetricPlan* plan);

  // Checkpoints (crash recovery): everything Check/Apply/the rules read —
  // model, labels, latest values and retained window points by metric name
  // (so a checkpoint survives a change of rules), the DTC set, seq, ts,
  // last seen, connectivity. Restore into a freshly constructed state with
  // the current plan; false (state unspecified) on a malformed blob.
  void AppendCheckpoint(std::string& out) const;
  bool RestoreCheckpoint(std::string_view blob);

  // --- Reads for rule evaluation (by plan slot) ---
  // Latest value, or kUnknown if the device never reported the metric.
  double Latest(uint32_t slot) const { return values_[slot]; }
  // Window aggregate (see MetricWindows::Query); unknown if never reported.
  double Window(uint32_t slot, int window, WindowFunc func, int64_t now);
  int64_t WindowExpiry(uint32_t slot, int window, int64_t now);
  // Starts loading what Window(slot, window, ...) will read (see
  // MetricWindows::PrefetchForQuery); no effect on the state.
  void PrefetchWindow(uint32_t slot, int window) const {
    if (const MetricWindows* series = Series(slot)) {
      series->PrefetchForQuery(plan_->windows(slot).size(), window);
    }
  }
  bool DtcActive(std::string_view code) const;
  bool DtcActivePrefix(std::string_view prefix) const;

  const std::string& tenant() const { return tenant_; }
  const std::string& device() const { return device_; }
  bool has_model() const { return has_model_; }
  const std::string& model() const { return model_; }
  const std::vector<std::pair<std::string, std::string>>& labels() const { return labels_; }
  // The value of label `key`, or nullptr.
  const std::string* Label(std::string_view key) const;
  const std::vector<std::string>& dtc() const { return dtc_; }
  // Changes whenever the model or a label changes, so that what depends on
  // them (which rules select the device) can be cached.
  uint32_t profile_version() const { return profile_version_; }
  int64_t last_seen() const { return last_seen_; }
  int64_t last_ts() const { return last_ts_; }
  Connectivity connectivity() const { return connectivity_; }
  const MetricPlan& plan() const { return *plan_; }

  // Calls fn(name, value) for every metric the device reported, plan slots
  // first (in slot order), then the others (in no particular order).
  template <typename Fn>
  void ForEachMetric(Fn&& fn) const {
    for (uint32_t s = 0; s < plan_->size(); ++s) {
      if (!std::isnan(values_[s])) fn(std::string_view(plan_->name(s)), values_[s]);
    }
    for (const auto& [id, value] : other_metrics_) fn(std::string_view(names_->name(id)), value);
  }

 private:
  bool KnowsMetric(std::string_view name) const;
  void ApplyDtc(const Sample& sample, SampleEffects& effects);
  // The window state of `slot`, or nullptr if the plan has no window on it.
  MetricWindows* Series(uint32_t slot) const {
    const uint32_t series = plan_->series(slot);
    return series == MetricPlan::kNoSeries ? nullptr : &series_[series];
  }

  std::string tenant_;
  std::string device_;
  const MetricPlan* plan_;
  NameTable* names_;
  std::string model_;
  std::vector<std::pair<std::string, std::string>> labels_;
  // By plan slot: the latest value, kUnknown (NaN) until reported (a
  // reported value is finite).
  std::unique_ptr<double[]> values_;
  std::unique_ptr<MetricWindows[]> series_;              // by plan series (MetricPlan::series)
  absl::flat_hash_map<uint32_t, double> other_metrics_;  // by NameTable id: names no rule uses
  std::vector<std::string> dtc_;                         // sorted, unique
  uint64_t last_seq_ = 0;
  int64_t last_ts_ = kNever;
  int64_t last_seen_ = kNever;
  uint32_t profile_version_ = 0;
  uint32_t slot_names_seen_ = 0;  // plan slots with a value
  bool has_model_ = false;
  bool has_seq_ = false;
  Connectivity connectivity_ = Connectivity::kUnreported;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_DEVICE_STATE_H_
