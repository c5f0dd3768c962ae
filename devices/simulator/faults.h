// The fault kinds the simulator injects and what "caught" means for each: the
// rules of deploy/examples/rules.yaml (and the fault-code catalog) that should
// open a case, the clock that rule runs on, and how long after onset the case
// may take at most. The scorer and the simulator share this one table, so the
// truth file and the scoring never disagree. Immutable data; any thread.
#ifndef PRECALL_DEVICES_SIMULATOR_FAULTS_H_
#define PRECALL_DEVICES_SIMULATOR_FAULTS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace precall::sim {

enum class FaultKind : uint8_t {
  kOverheat,         // coolant temperature ramps up under load
  kOilPressureLoss,  // oil pressure collapses while the engine runs
  kHydraulicLeak,    // hydraulic oil level falls (machines with hydraulics)
  kBatteryDecay,     // 24 V system voltage sags: alternator not charging
  kDtc,              // a J1939 fault code appears, then clears
  kSilent,           // the machine stops reporting (its last will says offline)
  kFlappingSensor,   // coolant sensor reads garbage every few samples
};
inline constexpr std::array<FaultKind, 7> kAllFaultKinds = {
    FaultKind::kOverheat,      FaultKind::kOilPressureLoss,
    FaultKind::kHydraulicLeak, FaultKind::kBatteryDecay,
    FaultKind::kDtc,           FaultKind::kSilent,
    FaultKind::kFlappingSensor};

std::string_view FaultKindName(FaultKind kind);  // "overheat", "oil_pressure_loss", ...
std::optional<FaultKind> ParseFaultKind(std::string_view name);

// The clock the catching rule measures time on. Sample-driven rules run on
// event time (`ts`, which the simulator may run faster than wall time);
// silent() runs on the gateway clock (receive time: wall time when serving).
enum class FaultClock : uint8_t { kEvent, kGateway };
FaultClock ClockOf(FaultKind kind);
std::string_view FaultClockName(FaultClock clock);  // "event", "gateway"

// True when the fault keeps the engine running (the machine keeps working
// through it), so the rules that look at a running engine can see it.
bool KeepsEngineRunning(FaultKind kind);

// The rule names that should open a case for this fault on a machine of
// `model` (for kDtc: "dtc:" + code).
std::vector<std::string> ExpectedRules(FaultKind kind, std::string_view model,
                                       std::string_view code);

// The kind a case's rule belongs to (to attribute a false alarm), if any.
std::optional<FaultKind> KindOfRule(std::string_view rule);

// How long after onset the case opens at the latest, on the kind's clock, for
// the signal shapes of fleet.cc and the thresholds of the example rules.
// `silent_after_ms` is the silent() duration of the rule that catches kSilent.
int64_t DetectionBoundMs(FaultKind kind, int64_t silent_after_ms);

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_FAULTS_H_
