// MetricPlan: which metrics the loaded rules name, as small integer slots, and
// which windows each needs. Built by the rules compiler at load time; shared
// read-only by every worker and every DeviceState of a rule-set generation.
// A sample's metric name is looked up once (heterogeneous, no allocation);
// everything after that works with slot numbers.
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
  const std::string& name(uint32_t slot) const { return names_[slot]; }
  const std::vector<WindowSpec>& windows(uint32_t slot) const { return windows_[slot]; }

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<WindowSpec>> windows_;
  StringMap<uint32_t> slot_by_name_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_METRIC_PLAN_H_
