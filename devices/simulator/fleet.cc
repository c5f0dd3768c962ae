#include "devices/simulator/fleet.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "devices/simulator/sv.h"

namespace precall::sim {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// Faults that need a running engine keep their machine working from this long
// before the onset: coolant is then at working temperature (within 1-2 °C).
constexpr int64_t kWarmUpMs = 15 * kMinute;

// Random streams of a machine: one for its plan (fault, site), one for its
// readings; separate so adding a reading never changes which faults happen.
constexpr uint64_t kPlanStream = 1;
constexpr uint64_t kReadingStream = 2;

// Manufacturer-specific SPN (J1939 reserves 520192-524287): not in any
// catalog entry, so its case comes from default_dtc.
constexpr std::string_view kVendorCode = "SPN520448.FMI31";

constexpr std::string_view kEx200Codes[] = {"SPN97.FMI15",  "SPN107.FMI15", "SPN3719.FMI16",
                                            "SPN1638.FMI0", "SPN636.FMI2",  kVendorCode};
constexpr std::string_view kWl300Codes[] = {"SPN97.FMI15", "SPN107.FMI15",  "SPN177.FMI0",
                                            "SPN127.FMI1", "SPN4364.FMI18", kVendorCode};
constexpr std::string_view kCp45Codes[] = {"SPN97.FMI15", "SPN107.FMI15", "SPN3719.FMI16",
                                           "SPN651.FMI5", "SPN1761.FMI1", kVendorCode};

const ModelSpec kModels[] = {
    {"EX200", "ex200", true, false, 1800, 40, 89, 9.0, kEx200Codes},
    {"WL300", "wl300", true, false, 1700, 120, 91, 11.0, kWl300Codes},
    {"CP45", "cp45", false, true, 1800, 15, 86, 7.0, kCp45Codes},
};

constexpr std::string_view kSites[] = {"north", "harbour", "quarry", "depot", "ring-road"};

// A flapping coolant sensor (loose connector): the ECU reads an open circuit
// (-40 °C, SPN 110 FMI 3) or a short (150 °C, FMI 4) on some samples.
constexpr double kOpenCircuitC = -40.0;
constexpr double kShortCircuitC = 150.0;
constexpr std::string_view kOpenCircuitCode = "SPN110.FMI3";
constexpr std::string_view kShortCircuitCode = "SPN110.FMI4";

// Fleet composition: 40 % excavators, 35 % wheel loaders, 25 % compressors.
const ModelSpec& ModelFor(int index) {
  const int slot = index % 20;
  return slot < 8 ? kModels[0] : slot < 15 ? kModels[1] : kModels[2];
}

// The first sample time of machine `phase` at or after `ts`.
int64_t AlignUp(int64_t ts, int64_t start, int64_t phase, int64_t interval) {
  const int64_t from = start + phase;
  if (ts <= from) return from;
  return from + (ts - from + interval - 1) / interval * interval;
}

void AppendFixed(std::string& out, double v, int precision) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, precision);
  out.append(buf, r.ptr);
}

void AppendMetric(std::string& out, std::string_view name, double v, int precision) {
  if (std::isnan(v)) return;
  if (out.back() != '{') out.push_back(',');
  absl::StrAppend(&out, "\"", Sv(name), "\":");
  AppendFixed(out, v, precision);
}

}  // namespace

std::span<const ModelSpec> Models() { return kModels; }

absl::Status FleetOptions::Validate() const {
  if (machines < 1 || machines > 1'000'000) {
    return absl::InvalidArgumentError("machines must be 1 to 1000000");
  }
  if (interval_ms < 100) return absl::InvalidArgumentError("interval must be at least 100ms");
  if (!(fault_rate >= 0 && fault_rate <= 1)) {
    return absl::InvalidArgumentError("fault rate must be 0 to 1");
  }
  if (fault_start_ms < 0 || fault_window_ms < 0) {
    return absl::InvalidArgumentError("fault start and window must not be negative");
  }
  if (kinds.empty()) return absl::InvalidArgumentError("no fault kinds");
  if (tenant.empty() || tenant.size() > 64 ||
      tenant.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
          std::string::npos) {
    return absl::InvalidArgumentError("tenant must match [A-Za-z0-9_.-]{1,64}");
  }
  return absl::OkStatus();
}

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {
  const int n = options_.machines;
  machines_.reserve(n);
  faults_.resize(n);
  const int kinds = static_cast<int>(options_.kinds.size());
  for (int i = 0; i < n; ++i) {
    const ModelSpec& model = ModelFor(i);
    Rng plan(StreamSeed(options_.seed, i, kPlanStream));
    MachineIdentity id{i, &model, absl::StrFormat("%s-%04d", model.id_prefix, i + 1),
                       std::string(kSites[plan.Int(0, std::size(kSites) - 1)]),
                       options_.interval_ms * i / n};
    if (plan.Chance(options_.fault_rate)) {
      // Kinds go round-robin over the faulty machines, so even a small fleet
      // gets every kind; a kind the model cannot have passes to the next.
      std::optional<FaultKind> kind;
      for (int k = 0; k < kinds && !kind; ++k) {
        FaultKind candidate = options_.kinds[(faulty_ + k) % kinds];
        if (candidate != FaultKind::kHydraulicLeak || model.hydraulics) kind = candidate;
      }
      if (kind) {
        const int64_t start = options_.start_ts_ms;
        const int64_t planned =
            start + options_.fault_start_ms +
            static_cast<int64_t>(plan.Uniform() * static_cast<double>(options_.fault_window_ms));
        PlannedFault fault{*kind, AlignUp(planned, start, id.phase_ms, options_.interval_ms),
                           kNever, ""};
        if (*kind == FaultKind::kDtc) {
          fault.code = model.dtc_codes[plan.Int(0, model.dtc_codes.size() - 1)];
          const int64_t lasts = plan.Int(2 * kMinute, 6 * kMinute);
          fault.until_ts =
              AlignUp(fault.onset_ts + lasts, start, id.phase_ms, options_.interval_ms);
        }
        faults_[i] = std::move(fault);
        ++faulty_;
      }
    }
    machines_.push_back(std::move(id));
  }
}

Machine::Machine(const Fleet& fleet, int index)
    : options_(fleet.options()),
      identity_(fleet.machine(index)),
      fault_(fleet.fault(index)),
      rng_(StreamSeed(options_.seed, index, kReadingStream)) {
  // Mid-shift: most machines at work, some idling, a few switched off.
  const double u = rng_.Uniform();
  duty_ = u < 0.6 ? Duty::kWork : u < 0.85 ? Duty::kIdle : Duty::kOff;
  if (ForcedRunning(options_.start_ts_ms)) duty_ = Duty::kWork;
  duty_left_ms_ = rng_.Int(0, duty_ == Duty::kWork   ? 20 * kMinute
                              : duty_ == Duty::kIdle ? 4 * kMinute
                                                     : 15 * kMinute);
  coolant_c_ = duty_ == Duty::kWork   ? identity_.model->work_coolant_c
               : duty_ == Duty::kIdle ? 80.0
                                      : rng_.Uniform(35, 80);
  hydraulic_level_ = rng_.Uniform(82, 90);
  fuel_pct_ = rng_.Uniform(30, 95);
  engine_hours_ = rng_.Uniform(300, 9000);
}

double Machine::Fault(int64_t ts) const {
  if (!fault_ || ts < fault_->onset_ts || ts >= fault_->until_ts) return -1;
  return static_cast<double>(ts - fault_->onset_ts) / kMinute;
}

bool Machine::ForcedRunning(int64_t ts) const {
  // The machine works from a while before the onset on, so the fault starts
  // from a warm engine whatever the duty cycle was doing.
  return fault_ && KeepsEngineRunning(fault_->kind) && ts >= fault_->onset_ts - kWarmUpMs &&
         ts < fault_->until_ts;
}

void Machine::AdvanceDuty(bool forced_running) {
  if (forced_running) {
    duty_ = Duty::kWork;
    return;
  }
  duty_left_ms_ -= options_.interval_ms;
  while (duty_left_ms_ <= 0) {
    switch (duty_) {
      case Duty::kWork:
        duty_ = Duty::kIdle;
        duty_left_ms_ += rng_.Int(1 * kMinute, 4 * kMinute);
        break;
      case Duty::kIdle:
        if (rng_.Chance(0.75)) {
          duty_ = Duty::kWork;
          duty_left_ms_ += rng_.Int(8 * kMinute, 25 * kMinute);
        } else {
          duty_ = Duty::kOff;
          duty_left_ms_ += rng_.Int(3 * kMinute, 15 * kMinute);
        }
        break;
      case Duty::kOff:
        duty_ = Duty::kIdle;
        duty_left_ms_ += rng_.Int(1 * kMinute, 3 * kMinute);
        break;
    }
  }
}

bool Machine::Step(Sample& s) {
  const ModelSpec& model = *identity_.model;
  const int64_t ts = options_.start_ts_ms + identity_.phase_ms + round_ * options_.interval_ms;
  const double since = Fault(ts);
  const FaultKind kind = fault_ ? fault_->kind : FaultKind::kDtc;
  const bool active = since >= 0;
  if (active && kind == FaultKind::kSilent) return false;
  ++round_;
  AdvanceDuty(ForcedRunning(ts));
  const bool running = duty_ != Duty::kOff;
  const double dt_min = static_cast<double>(options_.interval_ms) / kMinute;
  const double nan = std::numeric_limits<double>::quiet_NaN();

  s.ts = ts;
  s.seq = static_cast<uint64_t>(round_);
  s.dtc.clear();

  // Engine speed.
  s.engine_rpm =
      duty_ == Duty::kOff ? 0.0
      : duty_ == Duty::kIdle
          ? std::round(rng_.Gaussian(750, 10))
          : std::round(std::max(900.0, rng_.Gaussian(model.work_rpm, model.work_rpm_sd)));

  // Coolant: first-order lag towards the duty's temperature.
  const double target = duty_ == Duty::kOff    ? 18.0
                        : duty_ == Duty::kIdle ? 80.0
                                               : model.work_coolant_c;
  const double tau_min = duty_ == Duty::kOff ? 30.0 : duty_ == Duty::kIdle ? 6.0 : 5.0;
  coolant_c_ += (target - coolant_c_) * (1.0 - std::exp(-dt_min / tau_min));
  double coolant = coolant_c_;
  if (active && kind == FaultKind::kOverheat) {
    // Blocked radiator or slipping fan belt: +5 °C/min over working
    // temperature, levelling off 22 °C above it.
    coolant += std::min(5.0 * since, 22.0);
  }
  s.coolant_temp_c = coolant + rng_.Gaussian(0, 0.4);
  if (active && kind == FaultKind::kFlappingSensor) {
    const double u = rng_.Uniform();
    if (u < 0.3) {
      s.coolant_temp_c = kOpenCircuitC;
      s.dtc.push_back(kOpenCircuitCode);
    } else if (u < 0.4) {
      s.coolant_temp_c = kShortCircuitC;
      s.dtc.push_back(kShortCircuitCode);
    }
  }

  // Oil pressure follows engine speed; a failing pump or low oil collapses it
  // within a minute.
  double oil = running ? 120.0 + 0.14 * s.engine_rpm : 0.0;
  if (active && kind == FaultKind::kOilPressureLoss) oil *= std::max(0.15, 1.0 - since);
  s.oil_pressure_kpa = running ? std::max(0.0, oil + rng_.Gaussian(0, 8)) : 0.0;

  // Hydraulics: digging cycles of ~24 s under load; a leak drains the tank
  // at 1.5 %/min and the starved pump loses pressure.
  if (model.hydraulics) {
    if (active && kind == FaultKind::kHydraulicLeak) {
      hydraulic_level_ = std::max(15.0, hydraulic_level_ - 1.5 * dt_min);
    }
    double pressure = 0.0;
    if (duty_ == Duty::kIdle) pressure = rng_.Gaussian(35, 3);
    if (duty_ == Duty::kWork) {
      const double phase = std::fmod(static_cast<double>(ts), 24'000.0) / 24'000.0;
      pressure =
          180.0 + 140.0 * std::abs(std::sin(2.0 * std::numbers::pi * phase)) + rng_.Gaussian(0, 10);
    }
    if (hydraulic_level_ < 60.0) pressure *= 0.6;
    s.hydraulic_pressure_bar = std::max(0.0, pressure);
    // Extended cylinders hold about 1 % of the tank while working.
    s.hydraulic_oil_level_pct =
        hydraulic_level_ - (duty_ == Duty::kWork ? 1.0 : 0.0) + rng_.Gaussian(0, 0.3);
  } else {
    s.hydraulic_pressure_bar = nan;
    s.hydraulic_oil_level_pct = nan;
  }
  s.air_pressure_bar = !model.air_end         ? nan
                       : duty_ == Duty::kOff  ? 0.0
                       : duty_ == Duty::kIdle ? rng_.Gaussian(7.0, 0.05)
                                              : rng_.Gaussian(8.6, 0.08);

  // 24 V system: charging voltage while running, resting voltage when off.
  // A failing alternator leaves the batteries to sag 0.4 V/min.
  double volts = running ? rng_.Gaussian(27.8, 0.06) : rng_.Gaussian(25.3, 0.04);
  if (active && kind == FaultKind::kBatteryDecay) {
    volts = std::min(volts, std::max(21.0, 25.2 - 0.4 * since) + rng_.Gaussian(0, 0.05));
  }
  s.battery_v = volts;

  // Fuel: burnt by the hour; a tanker refills a machine that runs low.
  const double burn = duty_ == Duty::kWork   ? model.fuel_burn_pct_per_h
                      : duty_ == Duty::kIdle ? 2.0
                                             : 0.0;
  fuel_pct_ -= burn * dt_min / 60.0;
  if (fuel_pct_ < 12.0) fuel_pct_ = rng_.Uniform(90, 98);
  s.fuel_level_pct = std::clamp(fuel_pct_ + rng_.Gaussian(0, 0.3), 0.0, 100.0);
  if (running) engine_hours_ += dt_min / 60.0;
  s.engine_hours = engine_hours_;

  if (active && kind == FaultKind::kDtc) s.dtc.push_back(fault_->code);
  return true;
}

void Machine::AppendPayload(const Sample& s, std::string& out) const {
  absl::StrAppend(&out, "{\"ts\":", s.ts, ",\"seq\":", s.seq, ",\"model\":\"",
                  Sv(identity_.model->name), "\",\"labels\":{\"site\":\"", identity_.site,
                  "\"},\"metrics\":{");
  AppendMetric(out, "engine_rpm", s.engine_rpm, 0);
  AppendMetric(out, "coolant_temp_c", s.coolant_temp_c, 1);
  AppendMetric(out, "oil_pressure_kpa", s.oil_pressure_kpa, 1);
  AppendMetric(out, "hydraulic_pressure_bar", s.hydraulic_pressure_bar, 1);
  AppendMetric(out, "hydraulic_oil_level_pct", s.hydraulic_oil_level_pct, 1);
  AppendMetric(out, "air_pressure_bar", s.air_pressure_bar, 2);
  AppendMetric(out, "battery_v", s.battery_v, 2);
  AppendMetric(out, "fuel_level_pct", s.fuel_level_pct, 1);
  AppendMetric(out, "engine_hours", s.engine_hours, 2);
  out.append("},\"dtc\":[");
  for (std::size_t i = 0; i < s.dtc.size(); ++i) {
    absl::StrAppend(&out, i ? "," : "", "\"", Sv(s.dtc[i]), "\"");
  }
  out.append("]}");
}

}  // namespace precall::sim
