// DeviceState checkpoints: see device_state.h. Format (version 2):
//   u8 version, u8 flags (has_model, has_seq), u8 connectivity,
//   str model, labels (count, str key, str value),
//   varint last_seq, i64 last_ts, i64 last_seen,
//   metrics (count, str name, f64 value, u8 has_series
//            [, points (count, i64 ts, f64 value)]),
//   dtc (count, str code).
#include <algorithm>
#include <cmath>

#include "devices/byte_codec.h"
#include "devices/device_state.h"

namespace precall::devices {
namespace {

constexpr uint8_t kVersion = 2;  // 1 had a shift per metric; windows now keep their own
constexpr uint8_t kHasModel = 1;
constexpr uint8_t kHasSeq = 2;

void WriteSeries(ByteWriter& w, const MetricWindows* series) {
  if (series == nullptr || series->retained_points() == 0) {
    w.U8(0);
    return;
  }
  w.U8(1);
  w.Varint(series->retained_points());
  series->ForEachPoint([&](int64_t ts, double value) {
    w.I64(ts);
    w.F64(value);
  });
}

}  // namespace

void DeviceState::AppendCheckpoint(std::string& out) const {
  ByteWriter w(out);
  w.U8(kVersion);
  w.U8((has_model_ ? kHasModel : 0) | (has_seq_ ? kHasSeq : 0));
  w.U8(static_cast<uint8_t>(connectivity_));
  w.Str(model_);
  w.Varint(labels_.size());
  for (const auto& [key, value] : labels_) {
    w.Str(key);
    w.Str(value);
  }
  w.Varint(last_seq_);
  w.I64(last_ts_);
  w.I64(last_seen_);
  w.Varint(slot_names_seen_ + other_metrics_.size());
  for (uint32_t slot = 0; slot < plan_->size(); ++slot) {
    if (std::isnan(values_[slot])) continue;
    w.Str(plan_->name(slot));
    w.F64(values_[slot]);
    WriteSeries(w, Series(slot));
  }
  for (const auto& [id, value] : other_metrics_) {
    w.Str(names_->name(id));
    w.F64(value);
    w.U8(0);
  }
  w.Varint(dtc_.size());
  for (const std::string& code : dtc_) w.Str(code);
}

bool DeviceState::RestoreCheckpoint(std::string_view blob) {
  ByteReader r(blob);
  if (r.U8() != kVersion) return false;
  const uint8_t flags = r.U8();
  const uint8_t connectivity = r.U8();
  if (connectivity > static_cast<uint8_t>(Connectivity::kOffline)) return false;
  connectivity_ = static_cast<Connectivity>(connectivity);
  has_model_ = (flags & kHasModel) != 0;
  has_seq_ = (flags & kHasSeq) != 0;
  model_ = r.Str();
  labels_.clear();
  for (uint64_t n = r.Count(2); n > 0; --n) {
    std::string_view key = r.Str();
    std::string_view value = r.Str();
    labels_.emplace_back(key, value);
  }
  ++profile_version_;
  last_seq_ = r.Varint();
  last_ts_ = r.I64();
  last_seen_ = r.I64();
  for (uint64_t n = r.Count(10); n > 0 && r.ok(); --n) {
    std::string_view name = r.Str();
    const double value = r.F64();
    const bool has_series = r.U8() != 0;
    if (!std::isfinite(value)) return false;  // values are finite; NaN is "never reported"
    auto slot = plan_->Find(name);
    MetricWindows* series = nullptr;
    MetricWindows::Specs specs;
    if (slot) {
      if (std::isnan(values_[*slot])) ++slot_names_seen_;
      values_[*slot] = value;
      if (has_series && (series = Series(*slot)) != nullptr) {
        *series = MetricWindows();
        specs = plan_->windows(*slot);
      }
    } else if (!name.empty()) {
      other_metrics_[names_->Intern(name)] = value;
    }
    if (!has_series) continue;
    int64_t previous = kNever;
    for (uint64_t points = r.Count(16); points > 0; --points) {
      const int64_t ts = r.I64();
      const double v = r.F64();
      if (ts < previous) return false;  // Push needs ts in order
      previous = ts;
      if (series != nullptr) series->Push(specs, ts, v);
    }
  }
  dtc_.clear();
  for (uint64_t n = r.Count(1); n > 0; --n) dtc_.emplace_back(r.Str());
  if (!std::is_sorted(dtc_.begin(), dtc_.end())) return false;
  return r.done();
}

}  // namespace precall::devices
