// The benchmark fleet: which device sends which sample, and which samples
// break a rule. Shared by the load generator (which sends them) and the sink
// (which checks what arrived), so both agree without talking to each other.
//
// Message n of a run goes to device d = n % devices as that device's sample
// j = n / devices (seq j + 1). Sample (d, j) breaks a rule iff
// (d + kBreakStride * j) % break_every == 0: with the stride coprime to
// break_every, every device breaks exactly once in each block of break_every
// consecutive samples, so the k-th break of a device is its sample in block
// k = j / break_every. Break k trips rule k % kBreakRules of the device's
// model (bench/e2e/rules.yaml: engine_overspeed, exhaust_overtemp,
// hyd_pressure_spike; `for: 0s`, `clear_for: 10m`), so the first kBreakRules
// breaks of a device each open a new case and any later one adds an
// occurrence to the still active case: the expected case events are exact.
//
// Every value is a pure function of (d, j); nothing here allocates or keeps
// state, so any thread may call anything.
#ifndef PRECALL_BENCH_E2E_FLEET_H_
#define PRECALL_BENCH_E2E_FLEET_H_

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace precall::bench {

constexpr int kBreakRules = 3;
constexpr uint64_t kBreakStride = 19;
constexpr uint64_t kMaxDevices = 1000000;  // topics carry six digits: dev-000000 .. dev-999999
constexpr std::string_view kTenant = "bench";

struct Sample {
  uint64_t device;
  uint64_t index;  // j: the device's sample number, from 0; seq = j + 1
};

inline Sample SampleOf(uint64_t n, uint64_t devices) { return {n % devices, n / devices}; }

inline bool IsBreaking(Sample s, uint64_t break_every) {
  return (s.device + kBreakStride * s.index) % break_every == 0;
}
inline int BreakKind(Sample s, uint64_t break_every) {
  return static_cast<int>((s.index / break_every) % kBreakRules);
}
// A break that opens a new case (rather than adding an occurrence).
inline bool BreakOpensCase(Sample s, uint64_t break_every) {
  return s.index / break_every < static_cast<uint64_t>(kBreakRules);
}
inline bool ValidBreakEvery(uint64_t break_every) {
  return break_every >= 1 && break_every % kBreakStride != 0;
}

inline const char* ModelOf(uint64_t device) { return device % 2 == 0 ? "EX200" : "WL300"; }

// "fleet/bench/dev-000042/telemetry"; `out` holds at least 40 bytes. Returns the length.
inline int FormatTopic(char* out, uint64_t device) {
  static constexpr char kPrefix[] = "fleet/bench/dev-";
  static constexpr char kSuffix[] = "/telemetry";
  char* p = out;
  std::memcpy(p, kPrefix, sizeof kPrefix - 1);
  p += sizeof kPrefix - 1;
  for (int i = 5; i >= 0; --i) {
    p[i] = static_cast<char>('0' + device % 10);
    device /= 10;
  }
  p += 6;
  std::memcpy(p, kSuffix, sizeof kSuffix);  // with the NUL libmosquitto wants
  p += sizeof kSuffix - 1;
  return static_cast<int>(p - out);
}

// Device number from a telemetry topic, or -1.
inline int64_t DeviceOfTopic(std::string_view topic) {
  constexpr std::string_view kPrefix = "fleet/bench/dev-";
  if (topic.substr(0, kPrefix.size()) != kPrefix) return -1;
  uint64_t d = 0;
  auto [end, ec] = std::from_chars(topic.data() + kPrefix.size(), topic.data() + topic.size(), d);
  if (ec != std::errc() || d >= kMaxDevices) return -1;
  return static_cast<int64_t>(d);
}

namespace internal {
inline char* Put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
inline char* PutInt(char* p, uint64_t v) { return std::to_chars(p, p + 24, v).ptr; }
inline char* PutTenths(char* p, uint64_t tenths) {  // 853 -> "85.3"
  p = PutInt(p, tenths / 10);
  *p++ = '.';
  *p++ = static_cast<char>('0' + tenths % 10);
  return p;
}
}  // namespace internal

// The sample's JSON (CONTRACT §1) into `out` (at least 320 bytes); returns its
// length, about 230 bytes. Normal values move slowly and stay far from every
// threshold in rules.yaml (windows, rates and stddevs included); a breaking
// sample moves one instant metric over its rule's threshold. `sent_us` is the
// intended send time in µs: the breaking rules name it, so it comes back in
// the case's evidence and the probe measures latency below the 1 ms of `ts`.
inline int FormatPayload(char* out, Sample s, uint64_t sent_us, uint64_t break_every) {
  using internal::Put;
  using internal::PutInt;
  using internal::PutTenths;
  const uint64_t c = (s.device + s.index) % 10;
  uint64_t rpm = 1400 + 10 * c;
  uint64_t exhaust = 420 + 5 * c;
  uint64_t hyd_pressure = 250 + 2 * c;
  if (IsBreaking(s, break_every)) {
    switch (BreakKind(s, break_every)) {
      case 0: rpm = 2800; break;
      case 1: exhaust = 680; break;
      default: hyd_pressure = 395; break;
    }
  }
  char* p = out;
  p = Put(p, "{\"ts\":");
  p = PutInt(p, sent_us / 1000);
  p = Put(p, ",\"seq\":");
  p = PutInt(p, s.index + 1);
  p = Put(p, ",\"model\":\"");
  p = Put(p, ModelOf(s.device));
  p = Put(p, "\",\"metrics\":{\"coolant_temp_c\":");
  p = PutTenths(p, 850 + c);
  p = Put(p, ",\"engine_rpm\":");
  p = PutInt(p, rpm);
  p = Put(p, ",\"oil_pressure_kpa\":");
  p = PutInt(p, 300 + 5 * c);
  p = Put(p, ",\"hydraulic_oil_level_pct\":");
  p = PutTenths(p, 780 + c);
  p = Put(p, ",\"battery_v\":");
  p = PutTenths(p, 135 + c);
  p = Put(p, ",\"fuel_rate_lph\":");
  p = PutTenths(p, 120 + c);
  p = Put(p, ",\"exhaust_temp_c\":");
  p = PutInt(p, exhaust);
  p = Put(p, ",\"hyd_pressure_bar\":");
  p = PutInt(p, hyd_pressure);
  p = Put(p, ",\"sent_us\":");
  p = PutInt(p, sent_us);
  p = Put(p, "}}");
  return static_cast<int>(p - out);
}

}  // namespace precall::bench

#endif  // PRECALL_BENCH_E2E_FLEET_H_
