#include "devices/device_state.h"

#include <algorithm>

namespace precall::devices {
namespace {

std::unique_ptr<double[]> NewValues(const MetricPlan& plan) {
  if (plan.size() == 0) return nullptr;
  auto values = std::make_unique_for_overwrite<double[]>(plan.size());
  std::fill_n(values.get(), plan.size(), kUnknown);
  return values;
}

std::unique_ptr<MetricWindows[]> NewSeries(const MetricPlan& plan) {
  if (plan.series_count() == 0) return nullptr;
  return std::make_unique<MetricWindows[]>(plan.series_count());
}

}  // namespace

DeviceState::DeviceState(std::string tenant, std::string device, const MetricPlan* plan,
                         NameTable* names)
    : tenant_(std::move(tenant)),
      device_(std::move(device)),
      plan_(plan),
      names_(names),
      values_(NewValues(*plan)),
      series_(NewSeries(*plan)) {}

bool DeviceState::KnowsMetric(std::string_view name) const {
  if (auto slot = plan_->Find(name)) return !std::isnan(values_[*slot]);
  auto id = names_->Find(name);
  return id && other_metrics_.contains(*id);
}

RejectReason DeviceState::Check(const Sample& sample, int64_t ts) const {
  if (sample.has_seq && has_seq_ && sample.seq <= last_seq_) return RejectReason::kDuplicate;
  if (ts < last_ts_) return RejectReason::kOutOfOrder;
  const std::size_t known = slot_names_seen_ + other_metrics_.size();
  // Only a device near the cap needs its new names counted (rare path: it
  // hashes every name and may allocate).
  if (known + sample.metrics.size() > kMaxMetricNamesPerDevice) {
    std::vector<std::string_view> fresh;
    for (const MetricValue& m : sample.metrics) {
      if (!KnowsMetric(m.name)) fresh.push_back(m.name);
    }
    std::sort(fresh.begin(), fresh.end());
    fresh.erase(std::unique(fresh.begin(), fresh.end()), fresh.end());
    if (known + fresh.size() > kMaxMetricNamesPerDevice) return RejectReason::kTooManyMetrics;
  }
  return RejectReason::kNone;
}

void DeviceState::Apply(const Sample& sample, int64_t ts, int64_t seen_at,
                        SampleEffects& effects) {
  effects.Clear();
  if (sample.has_seq) {
    has_seq_ = true;
    last_seq_ = sample.seq;
  }
  last_ts_ = ts;
  last_seen_ = seen_at;
  if (sample.has_model && (!has_model_ || sample.model != model_)) {
    model_.assign(sample.model);
    has_model_ = true;
    ++profile_version_;
  }
  if (sample.has_labels) {
    // Sticky: each label given replaces that label; others are kept.
    for (const auto& [key, value] : sample.labels) {
      auto it = std::find_if(labels_.begin(), labels_.end(),
                             [&](const auto& kv) { return kv.first == key; });
      if (it == labels_.end()) {
        labels_.emplace_back(std::string(key), std::string(value));
        ++profile_version_;
      } else if (it->second != value) {
        it->second.assign(value);
        ++profile_version_;
      }
    }
  }
  // Two passes over the metrics: the first finds where each one goes and
  // starts loading it (value, windows, hash slot: on a large fleet each is a
  // cache miss), the second updates them, by then mostly from cache.
  for (const MetricValue& m : sample.metrics) {
    if (auto found = plan_->Find(m.name)) {
      const uint32_t slot = *found;
      effects.slots.push_back(slot);
      effects.slot_values.push_back(m.value);
      __builtin_prefetch(&values_[slot], 1);
      if (const MetricWindows* series = Series(slot)) {
        series->PrefetchForPush(plan_->windows(slot).size());
      }
    } else {
      const uint32_t id = names_->Intern(m.name);
      other_metrics_.prefetch(id);
      effects.other_values.emplace_back(id, m.value);
    }
  }
  for (std::size_t i = 0; i < effects.slots.size(); ++i) {
    const uint32_t slot = effects.slots[i];
    const double value = effects.slot_values[i];
    if (std::isnan(values_[slot])) ++slot_names_seen_;
    values_[slot] = value;
    if (MetricWindows* series = Series(slot)) series->Push(plan_->windows(slot), ts, value);
  }
  for (const auto& [id, value] : effects.other_values) other_metrics_[id] = value;
  if (sample.has_dtc) ApplyDtc(sample, effects);
}

void DeviceState::ApplyDtc(const Sample& sample, SampleEffects& effects) {
  effects.dtc_present = true;
  // Steady state: the machine rebroadcasts the same set; detect that without
  // allocating.
  bool same = true;
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < sample.dtc.size() && same; ++i) {
    std::string_view code = sample.dtc[i];
    bool repeat = std::find(sample.dtc.begin(), sample.dtc.begin() + static_cast<long>(i), code) !=
                  sample.dtc.begin() + static_cast<long>(i);
    if (repeat) continue;
    ++distinct;
    same = std::binary_search(dtc_.begin(), dtc_.end(), code);
  }
  if (same && distinct == dtc_.size()) return;

  std::vector<std::string> next;
  next.reserve(sample.dtc.size());
  for (std::string_view code : sample.dtc) {
    if (std::find(next.begin(), next.end(), code) != next.end()) continue;
    next.emplace_back(code);
    if (!std::binary_search(dtc_.begin(), dtc_.end(), code)) effects.entered.emplace_back(code);
  }
  std::sort(next.begin(), next.end());
  for (std::string& code : dtc_) {
    if (!std::binary_search(next.begin(), next.end(), code)) effects.left.push_back(std::move(code));
  }
  dtc_ = std::move(next);
}

double DeviceState::Window(uint32_t slot, int window, WindowFunc func, int64_t now) {
  MetricWindows* series = Series(slot);
  if (series == nullptr) return func == WindowFunc::kCount ? 0.0 : kUnknown;
  // No later sample of this device is older than its last: points that left
  // before that are gone for good, later ones only for this `now`.
  return series->Query(plan_->windows(slot), window, func, now, last_ts_);
}

int64_t DeviceState::WindowExpiry(uint32_t slot, int window, int64_t now) {
  MetricWindows* series = Series(slot);
  if (series == nullptr) return std::numeric_limits<int64_t>::max();
  return series->NextExpiry(plan_->windows(slot), window, now, last_ts_);
}

bool DeviceState::DtcActive(std::string_view code) const {
  return std::binary_search(dtc_.begin(), dtc_.end(), code);
}

bool DeviceState::DtcActivePrefix(std::string_view prefix) const {
  auto it = std::lower_bound(dtc_.begin(), dtc_.end(), prefix);
  return it != dtc_.end() && std::string_view(*it).substr(0, prefix.size()) == prefix;
}

const std::string* DeviceState::Label(std::string_view key) const {
  for (const auto& [k, v] : labels_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void DeviceState::Rebind(const MetricPlan* plan) {
  std::unique_ptr<double[]> values = NewValues(*plan);
  std::unique_ptr<MetricWindows[]> series = NewSeries(*plan);
  uint32_t seen = 0;
  for (uint32_t old = 0; old < plan_->size(); ++old) {
    if (std::isnan(values_[old])) continue;
    const std::string& name = plan_->name(old);
    if (auto slot = plan->Find(name)) {
      values[*slot] = values_[old];
      ++seen;
      MetricWindows* from = Series(old);
      const uint32_t to = plan->series(*slot);
      if (from != nullptr && to != MetricPlan::kNoSeries) {
        series[to] = std::move(*from);
        series[to].Reshape(plan->windows(*slot));
      }
    } else {
      other_metrics_.emplace(names_->Intern(name), values_[old]);
    }
  }
  for (auto it = other_metrics_.begin(); it != other_metrics_.end();) {
    if (auto slot = plan->Find(names_->name(it->first))) {
      values[*slot] = it->second;
      ++seen;
      other_metrics_.erase(it++);
    } else {
      ++it;
    }
  }
  values_ = std::move(values);
  series_ = std::move(series);
  slot_names_seen_ = seen;
  plan_ = plan;
}

}  // namespace precall::devices
