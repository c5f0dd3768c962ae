#include "devices/metric_plan.h"

namespace precall::devices {

uint32_t MetricPlan::AddMetric(std::string_view name) {
  if (auto slot = Find(name)) return *slot;
  uint32_t slot = static_cast<uint32_t>(names_.size());
  names_.emplace_back(name);
  windows_.emplace_back();
  series_.push_back(kNoSeries);
  slot_by_name_.emplace(std::string(name), slot);
  return slot;
}

int MetricPlan::AddWindow(uint32_t slot, int64_t length_ms, WindowFunc func) {
  std::vector<WindowSpec>& windows = windows_[slot];
  int index = 0;
  for (; index < static_cast<int>(windows.size()); ++index) {
    if (windows[static_cast<std::size_t>(index)].length_ms == length_ms) break;
  }
  if (windows.empty()) series_[slot] = series_count_++;
  if (index == static_cast<int>(windows.size())) windows.push_back(WindowSpec{length_ms});
  WindowSpec& spec = windows[static_cast<std::size_t>(index)];
  if (func == WindowFunc::kMin) spec.want_min = true;
  if (func == WindowFunc::kMax) spec.want_max = true;
  return index;
}

}  // namespace precall::devices
