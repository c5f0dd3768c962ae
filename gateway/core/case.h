// Cases and case events (CONTRACT §3): the values the case book produces, and
// their JSON form. Pure value types; any thread.
#ifndef PRECALL_GATEWAY_CORE_CASE_H_
#define PRECALL_GATEWAY_CORE_CASE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "devices/severity.h"

namespace precall::core {

enum class CaseStatus : unsigned char { kOpen, kAcknowledged, kResolved };
std::string_view CaseStatusName(CaseStatus status);

enum class EventType : unsigned char { kOpened, kUpdated, kAcknowledged, kResolved, kReopened };
inline constexpr int kEventTypeCount = 5;
std::string_view EventTypeName(EventType type);

// Latest values of the metrics a rule names, in the order the rule names them.
using Evidence = std::vector<std::pair<std::string, double>>;

struct Case {
  std::string id;
  std::string tenant;
  std::string device;
  std::optional<std::string> model;  // null when the device never sent one
  std::string rule;
  devices::Severity severity = devices::Severity::kWarning;
  CaseStatus status = CaseStatus::kOpen;
  int64_t fault_started_at = 0;
  int64_t opened_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> acknowledged_at;
  std::optional<std::string> acknowledged_by;
  std::optional<int64_t> resolved_at;
  std::optional<std::string> resolved_by;
  uint32_t occurrences = 1;
  std::string diagnosis;
  std::string skill;
  std::vector<std::string> parts;
  Evidence evidence;

  bool active() const { return status != CaseStatus::kResolved; }
};

struct CaseEvent {
  uint64_t seq = 0;
  EventType type = EventType::kOpened;
  int64_t at = 0;
  Case snapshot;  // the case after the change
  // The case book's next case number after this change: persisted with the
  // event so that ids are never reused across restarts. Not part of the JSON.
  uint64_t next_case_number = 0;
};

// Appends the case as a JSON object, fields in the order of CONTRACT §3.
void AppendCaseJson(std::string& out, const Case& c);
// Appends {"seq":..,"type":..,"at":..,"case":{...}}.
void AppendEventJson(std::string& out, const CaseEvent& event);

// Inverse of AppendCaseJson (the store keeps cases as JSON): restores a case
// on start-up. InvalidArgument for anything AppendCaseJson cannot produce.
absl::StatusOr<Case> ParseCaseJson(std::string_view json);

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_CASE_H_
