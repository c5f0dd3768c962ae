// One decoded telemetry sample (CONTRACT §1). Views point into the decoder's
// buffers and stay valid until that decoder's next Decode() call; the worker
// that owns the decoder copies what it keeps. Pure value type.
#ifndef PRECALL_DEVICES_SAMPLE_H_
#define PRECALL_DEVICES_SAMPLE_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "devices/reject_reason.h"

namespace precall::devices {

struct MetricValue {
  std::string_view name;  // matches [A-Za-z_][A-Za-z0-9_.]{0,63}
  double value;           // finite; true/false decode as 1/0
};

struct Sample {
  // kNone, or why this sample (alone, within its batch) is dropped:
  // kBadField, kTooManyMetrics or kNonFinite.
  RejectReason reject = RejectReason::kNone;

  bool has_ts = false;
  int64_t ts = 0;  // ms since the Unix epoch, >= 0
  bool has_seq = false;
  uint64_t seq = 0;
  bool has_model = false;
  std::string_view model;  // 1..64 bytes
  bool has_labels = false;
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  std::vector<MetricValue> metrics;  // in payload order
  bool has_dtc = false;              // absent = active set unchanged
  std::vector<std::string_view> dtc;  // the complete active set ([] = none)

  // Empties the sample but keeps the vectors' capacity (no allocation when
  // the decoder reuses it).
  void Clear() {
    reject = RejectReason::kNone;
    has_ts = has_seq = has_model = has_labels = has_dtc = false;
    ts = 0;
    seq = 0;
    model = {};
    labels.clear();
    metrics.clear();
    dtc.clear();
  }
};

// Field limits beyond CONTRACT §1 (a breach is kBadField).
// `ts`: up to 9999-12-31T23:59:59.999Z. Beyond it a time is no date at all,
// and adding a window or a `for` to it could overflow.
inline constexpr int64_t kMaxTimestampMs = 253402300799999;
inline constexpr std::size_t kMaxModelBytes = 64;
inline constexpr std::size_t kMaxLabels = 32;
inline constexpr std::size_t kMaxLabelKeyBytes = 64;
inline constexpr std::size_t kMaxLabelValueBytes = 256;
inline constexpr std::size_t kMaxDtcCodes = 64;
inline constexpr std::size_t kMaxDtcCodeBytes = 64;

// Metric names: [A-Za-z_][A-Za-z0-9_.]{0,63}.
bool IsValidMetricName(std::string_view name);
// Fault codes: [A-Za-z0-9_.:/+-]{1,64} (J1939 "SPN110.FMI0", OBD "P0217", vendor codes).
bool IsValidDtcCode(std::string_view code);

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_SAMPLE_H_
