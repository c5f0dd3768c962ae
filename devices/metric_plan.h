// MetricPlan: which metrics the loaded rules name, as small integer slots, and
// which windows each needs. Built by the rules compiler at load time; shared
// read-only by every worker and every DeviceState of a rule-set generation.
// A sample's metric name is looked up once (heterogeneous, no allocation);
// everything after that works with slot numbers. The metrics with windows
// also have a series number, so that a device keeps window state
// (MetricWindows) only for those; their window specs live here, once.
#ifndef PRECALL_DEVICES_METRIC_PLAN_H_
#define PRECALL_DEVICES_METRIC_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/string_map.h"
#include "devices/window.h"

namespace precall::devices {

class MetricPlan {
 public:
  // Returns the slot of `name`, adding it if new.
  uint32_t AddMetric(std::string_view name);
  // Returns the index of a window of `length_ms` on `slot`, adding it if new;
  // `func` decides whether the window keeps min/max deques.
  int AddWindow(uint32_t slot, int64_t length_ms, WindowFunc func);

  std::optional<uint32_t> Find(std::string_view name) const {
    auto it = slot_by_name_.find(name);
    if (it == slot_by_name_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t size() const { return names_.size(); }
  // The metrics with windows: series(slot) < series_count(), or kNoSeries.
  static constexpr uint32_t kNoSeries = UINT32_MAX;
  std::size_t series_count() const { return series_count_; }
  uint32_t series(uint32_t slot) const { return series_[slot]; }
  const std::string& name(uint32_t slot) const { return names_[slot]; }
  const std::vector<WindowSpec>& windows(uint32_t slot) const { return windows_[slot]; }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<WindowSpec>> windows_;
  std::vector<uint32_t> series_;
  uint32_t series_count_ = 0;
  StringMap<uint32_t> slot_by_name_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_METRIC_PLAN_H_
