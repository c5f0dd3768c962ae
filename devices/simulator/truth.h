// The ground truth of a simulator run, as JSON lines (`precall-sim --truth`):
//
//   {"type":"run", ...}       first: seed, tenant, fleet size, clocks
//   {"type":"fault", ...}     one per fault episode, written when it begins
//   {"type":"end", ...}       last, when the run stops (SIGINT/SIGTERM too)
//
// The simulator writes it (TruthWriter, its run thread); `precall-sim score`
// reads it back (ParseTruth, pure). Times are ms since the Unix epoch.
#ifndef PRECALL_DEVICES_SIMULATOR_TRUTH_H_
#define PRECALL_DEVICES_SIMULATOR_TRUTH_H_

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "devices/simulator/faults.h"
#include "devices/simulator/sim_clock.h"

namespace precall::sim {

struct RunInfo {
  uint64_t seed = 0;
  std::string tenant;
  int machines = 0;
  int64_t interval_ms = 0;
  double speed = 1;
  int64_t start_ts = 0;    // event time at the start
  int64_t start_wall = 0;  // wall time at the start
  int64_t max_ahead_ms = kDefaultMaxAheadMs;
  int64_t silent_after_ms = 0;  // the silent() duration assumed for kSilent's bound
  // True when the telemetry went to a file for `precall replay`, whose
  // gateway clock is the data clock: then gateway times are event times.
  bool data_clock = false;

  SimClock Clock() const;
};

struct Episode {
  std::string device;
  std::string model;
  FaultKind kind = FaultKind::kOverheat;
  FaultClock clock = FaultClock::kEvent;
  int64_t onset = 0;       // event time (ts) of its first sample (kSilent: first missing one)
  int64_t onset_wall = 0;  // gateway time it began
  int64_t bound_ms = 0;    // DetectionBoundMs, on `clock`
  int64_t due_wall = 0;    // gateway time by which the case should be open
  std::vector<std::string> expect;  // rules that should open a case
  std::string code;                 // kDtc
  int64_t until = -1;               // kDtc: event time the code clears; else -1

  // Onset on the episode's own clock.
  int64_t OnsetOnClock() const { return clock == FaultClock::kEvent ? onset : onset_wall; }
};

struct RunEnd {
  int64_t end_ts = 0;    // event time of the last sample sent
  int64_t end_wall = 0;  // gateway time the run stopped
  uint64_t samples = 0;
};

struct Truth {
  RunInfo run;
  std::vector<Episode> episodes;
  std::optional<RunEnd> end;  // absent if the simulator was killed
};

std::string RunLine(const RunInfo& run);
std::string EpisodeLine(const Episode& episode);
std::string EndLine(const RunEnd& end);

// Parses a whole truth file; errors name the line.
absl::StatusOr<Truth> ParseTruth(std::string_view text);

// Appends lines to a file, flushed one by one, so a reader (or a crash) sees
// every episode that began. Owned by the run thread.
class TruthWriter {
 public:
  static absl::StatusOr<TruthWriter> Open(const std::string& path);
  TruthWriter(TruthWriter&& other) noexcept : file_(other.file_) { other.file_ = nullptr; }
  TruthWriter& operator=(TruthWriter&&) = delete;
  ~TruthWriter();
  void Write(std::string_view line);

 private:
  explicit TruthWriter(std::FILE* file) : file_(file) {}
  std::FILE* file_;
};

// A JSON string literal of `s` appended to `out` (quotes, backslashes and
// control characters escaped).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_TRUTH_H_
