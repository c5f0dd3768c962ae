// The simulated fleet: which machines exist (model, id, site), which of them
// develop which fault when, and each machine's telemetry, sample by sample.
// Everything follows from FleetOptions (the seed included) and nothing else:
// the same options give the same fleet, faults and readings, whatever the
// speed, the wall clock or the order machines are stepped in.
//
// Fleet is immutable after construction (any thread may read it). A Machine
// is owned and stepped by one thread.
#ifndef PRECALL_DEVICES_SIMULATOR_FLEET_H_
#define PRECALL_DEVICES_SIMULATOR_FLEET_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "devices/simulator/faults.h"
#include "devices/simulator/rng.h"

namespace precall::sim {

// A machine model of the example fleet (deploy/examples/devices.yaml).
struct ModelSpec {
  std::string_view name;       // "EX200": the telemetry `model`
  std::string_view id_prefix;  // "ex200": device ids are ex200-0001, ...
  bool hydraulics;             // reports hydraulic pressure and oil level
  bool air_end;                // a compressor: reports air pressure
  double work_rpm;             // engine speed under load, and its spread
  double work_rpm_sd;
  double work_coolant_c;       // coolant temperature under load
  double fuel_burn_pct_per_h;  // fuel use under load, % of the tank per hour
  // Codes its ECU raises in kDtc episodes; each is in the model's catalog
  // entry in deploy/examples/devices.yaml, except the manufacturer-specific
  // (SPN >= 520192) one, which exercises default_dtc.
  std::span<const std::string_view> dtc_codes;
};
std::span<const ModelSpec> Models();

struct FleetOptions {
  uint64_t seed = 1;
  std::string tenant = "acme";
  int machines = 1000;
  int64_t start_ts_ms = 0;                // event time of the run's start
  int64_t interval_ms = 10'000;           // event time between two samples of a machine
  double fault_rate = 0.05;               // share of machines that develop a fault
  int64_t fault_start_ms = 60'000;        // onsets fall in [start + fault_start,
  int64_t fault_window_ms = 10 * 60'000;  //   start + fault_start + fault_window]
  std::vector<FaultKind> kinds{kAllFaultKinds.begin(), kAllFaultKinds.end()};

  absl::Status Validate() const;
};

struct PlannedFault {
  FaultKind kind;
  // Event time of the first sample the fault shows in; for kSilent, of the
  // first sample the machine does not send.
  int64_t onset_ts;
  int64_t until_ts;  // kDtc: the first sample without the code; else INT64_MAX
  std::string code;  // kDtc: the J1939 code, "SPN<n>.FMI<m>"
};

struct MachineIdentity {
  int index;
  const ModelSpec* model;
  std::string device;  // "ex200-0001"
  std::string site;    // the `site` label
  int64_t phase_ms;    // offset of its samples in the interval (spreads the load)
};

class Fleet {
 public:
  explicit Fleet(FleetOptions options);  // options must be valid

  const FleetOptions& options() const { return options_; }
  int size() const { return static_cast<int>(machines_.size()); }
  const MachineIdentity& machine(int i) const { return machines_[i]; }
  const std::optional<PlannedFault>& fault(int i) const { return faults_[i]; }
  int faulty() const { return faulty_; }
  // Event time of machine i's sample number `round` (0-based).
  int64_t SampleTs(int i, int64_t round) const {
    return options_.start_ts_ms + machines_[i].phase_ms + round * options_.interval_ms;
  }

 private:
  FleetOptions options_;
  std::vector<MachineIdentity> machines_;
  std::vector<std::optional<PlannedFault>> faults_;
  int faulty_ = 0;
};

// One sample as a machine reports it. Metrics a model does not have are NaN.
struct Sample {
  int64_t ts = 0;
  uint64_t seq = 0;
  double engine_rpm = 0;
  double coolant_temp_c = 0;
  double oil_pressure_kpa = 0;
  double hydraulic_pressure_bar = 0;
  double hydraulic_oil_level_pct = 0;
  double air_pressure_bar = 0;
  double battery_v = 0;
  double fuel_level_pct = 0;
  double engine_hours = 0;
  std::vector<std::string_view> dtc;  // the complete active set
};

enum class Duty : uint8_t { kOff, kIdle, kWork };

class Machine {
 public:
  Machine(const Fleet& fleet, int index);

  // The next sample; false from the onset of a kSilent fault on (the machine
  // sends nothing more).
  bool Step(Sample& out);
  // The telemetry payload of `sample` (CONTRACT §1), appended to `out`.
  void AppendPayload(const Sample& sample, std::string& out) const;

  const MachineIdentity& identity() const { return identity_; }
  Duty duty() const { return duty_; }

 private:
  void AdvanceDuty(bool forced_running);
  double Fault(int64_t ts) const;  // minutes since onset while active, else -1
  bool ForcedRunning(int64_t ts) const;

  const FleetOptions& options_;
  const MachineIdentity& identity_;
  const std::optional<PlannedFault>& fault_;
  Rng rng_;
  int64_t round_ = 0;
  Duty duty_ = Duty::kWork;
  int64_t duty_left_ms_ = 0;
  double coolant_c_ = 0;        // true temperature (readings add noise and faults)
  double hydraulic_level_ = 0;  // true tank level, %
  double fuel_pct_ = 0;
  double engine_hours_ = 0;
};

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_FLEET_H_
