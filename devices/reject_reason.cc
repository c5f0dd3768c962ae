#include "devices/reject_reason.h"

namespace precall::devices {

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone: return "none";
    case RejectReason::kBadTopic: return "bad_topic";
    case RejectReason::kBadJson: return "bad_json";
    case RejectReason::kBadField: return "bad_field";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kTooManyMetrics: return "too_many_metrics";
    case RejectReason::kNonFinite: return "non_finite";
    case RejectReason::kDuplicate: return "duplicate";
    case RejectReason::kClockSkew: return "clock_skew";
    case RejectReason::kOutOfOrder: return "out_of_order";
  }
  return "none";
}

}  // namespace precall::devices
