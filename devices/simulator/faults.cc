#include "devices/simulator/faults.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "devices/simulator/sv.h"

namespace precall::sim {
namespace {

constexpr int64_t kMinute = 60'000;

struct KindInfo {
  FaultKind kind;
  std::string_view name;
  std::string_view rule;  // the example rule that catches it ("" for kDtc and per-model rules)
};

constexpr KindInfo kKinds[] = {
    {FaultKind::kOverheat, "overheat", "coolant_overheat"},
    {FaultKind::kOilPressureLoss, "oil_pressure_loss", "oil_pressure_low"},
    {FaultKind::kHydraulicLeak, "hydraulic_leak", ""},
    {FaultKind::kBatteryDecay, "battery_decay", "battery_weak"},
    {FaultKind::kDtc, "dtc", ""},
    {FaultKind::kSilent, "silent", "machine_silent"},
    {FaultKind::kFlappingSensor, "flapping_sensor", "coolant_sensor_erratic"},
};

// One hydraulic_leak rule per model (`select: {model: ...}`), because the
// parts to bring differ.
constexpr std::string_view kHydraulicLeakPrefix = "hydraulic_leak_";

}  // namespace

std::string_view FaultKindName(FaultKind kind) { return kKinds[static_cast<int>(kind)].name; }

std::optional<FaultKind> ParseFaultKind(std::string_view name) {
  for (const KindInfo& info : kKinds) {
    if (info.name == name) return info.kind;
  }
  return std::nullopt;
}

FaultClock ClockOf(FaultKind kind) {
  return kind == FaultKind::kSilent ? FaultClock::kGateway : FaultClock::kEvent;
}

std::string_view FaultClockName(FaultClock clock) {
  return clock == FaultClock::kEvent ? "event" : "gateway";
}

bool KeepsEngineRunning(FaultKind kind) {
  return kind == FaultKind::kOverheat || kind == FaultKind::kOilPressureLoss ||
         kind == FaultKind::kHydraulicLeak;
}

std::vector<std::string> ExpectedRules(FaultKind kind, std::string_view model,
                                       std::string_view code) {
  switch (kind) {
    case FaultKind::kDtc: return {absl::StrCat("dtc:", Sv(code))};
    case FaultKind::kHydraulicLeak:
      return {absl::StrCat(Sv(kHydraulicLeakPrefix), absl::AsciiStrToLower(Sv(model)))};
    default: return {std::string(kKinds[static_cast<int>(kind)].rule)};
  }
}

std::optional<FaultKind> KindOfRule(std::string_view rule) {
  if (rule.starts_with("dtc:")) return FaultKind::kDtc;
  if (rule.starts_with(kHydraulicLeakPrefix)) return FaultKind::kHydraulicLeak;
  for (const KindInfo& info : kKinds) {
    if (!info.rule.empty() && info.rule == rule) return info.kind;
  }
  return std::nullopt;
}

int64_t DetectionBoundMs(FaultKind kind, int64_t silent_after_ms) {
  // Typical detection (fleet.cc's signal shapes against the example rules)
  // takes about half of each bound.
  switch (kind) {
    case FaultKind::kOverheat: return 8 * kMinute;            // +5 °C/min; min over 1m, for 30s
    case FaultKind::kOilPressureLoss: return 4 * kMinute;     // collapses in 1 min; for 20s
    case FaultKind::kHydraulicLeak: return 8 * kMinute;       // -1.5 %/min; delta over 5m, for 1m
    case FaultKind::kBatteryDecay: return 8 * kMinute;        // -0.4 V/min; avg over 2m, for 1m
    case FaultKind::kDtc: return kMinute;                     // opens on the first sample
    case FaultKind::kSilent: return silent_after_ms + 3'000;  // + the gateway's 1 s clock tick
    case FaultKind::kFlappingSensor: return 5 * kMinute;      // stddev over 2m, for 1m
  }
  return 0;
}

}  // namespace precall::sim
