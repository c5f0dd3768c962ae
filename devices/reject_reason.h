// Why a message (or one sample of a batch) was dropped. Every value is a label
// of precall_messages_rejected_total{reason=...}. Pure; any thread.
#ifndef PRECALL_DEVICES_REJECT_REASON_H_
#define PRECALL_DEVICES_REJECT_REASON_H_

#include <string_view>

namespace precall::devices {

enum class RejectReason : unsigned char {
  kNone,            // accepted
  kBadTopic,        // topic is not fleet/{tenant}/{device}/{telemetry|status}
  kBadJson,         // not valid UTF-8 JSON (the whole message is dropped)
  kBadField,        // a known field has the wrong type or an invalid value
  kTooLarge,        // payload larger than kMaxPayloadBytes
  kTooManyMetrics,  // > 256 metrics in a sample, or > 1024 distinct names per device
  kNonFinite,       // a metric value that is not a finite double
  kDuplicate,       // seq repeated or older than the device's last seq
  kClockSkew,       // ts more than 24 h ahead of the gateway clock
  kOutOfOrder,      // ts older than the device's last accepted sample
};

inline constexpr int kRejectReasonCount = 10;  // including kNone

// The metric label: "bad_topic", "bad_json", ... ("none" for kNone).
std::string_view RejectReasonName(RejectReason reason);

inline constexpr std::size_t kMaxPayloadBytes = 64 * 1024;
inline constexpr std::size_t kMaxMetricsPerSample = 256;
inline constexpr std::size_t kMaxMetricNamesPerDevice = 1024;
inline constexpr long long kMaxClockSkewMs = 24LL * 3600 * 1000;

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_REJECT_REASON_H_
