// The simulator's main loop: steps every machine of a Fleet at its sample
// times, hands each sample to a TelemetrySink (the MQTT broker, or a file for
// `precall replay`), and writes the truth file as fault episodes begin.
//
// Live (RunOptions::data_clock false): sample times are event times that run
// `speed` times faster than wall time (SimClock); the loop waits for each
// sample's wall time, so a fleet of N machines at interval I sends
// N * speed / I messages per second. To a file (data_clock true): no waiting,
// and the gateway clock of `precall replay` is the data itself.
//
// RunFleet runs on the calling thread; `stop` may be set from a signal
// handler or another thread.
#ifndef PRECALL_DEVICES_SIMULATOR_RUN_H_
#define PRECALL_DEVICES_SIMULATOR_RUN_H_

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "devices/simulator/fleet.h"
#include "devices/simulator/sim_clock.h"
#include "devices/simulator/truth.h"

namespace precall::sim {

// Where the fleet's messages go. Called from the run thread only.
class TelemetrySink {
 public:
  virtual ~TelemetrySink() = default;
  // One message of `machine` on `topic` (telemetry or status). A message the
  // sink could not send is counted by the sink; the run goes on.
  virtual void Publish(int machine, std::string_view topic, std::string_view payload) = 0;
  // The machine goes dark for good; its last will (status `offline`) follows.
  virtual void GoSilent(int machine) = 0;
  // Blocks until everything handed over has been delivered, or fails.
  virtual absl::Status Flush() = 0;
};

// Replay input, one JSON line per message: {"topic": ..., "payload": ...}.
// Status messages are given as a JSON string payload (CONTRACT §5 allows the
// raw bytes as a string). Does not own `out`.
class FileSink final : public TelemetrySink {
 public:
  FileSink(const Fleet& fleet, std::FILE* out) : fleet_(fleet), out_(out) {}
  void Publish(int machine, std::string_view topic, std::string_view payload) override;
  void GoSilent(int machine) override;
  absl::Status Flush() override;

 private:
  const Fleet& fleet_;
  std::FILE* out_;
  std::string line_;
};

struct RunOptions {
  double speed = 10;  // live: event time runs this many times faster than wall time
  int64_t max_ahead_ms = kDefaultMaxAheadMs;
  int64_t duration_ms = 0;           // on the gateway clock; 0 = until `stop` (live only)
  bool data_clock = false;           // true: to a file for `precall replay`, no pacing
  int64_t silent_after_ms = 60'000;  // the silent() duration of the rule catching kSilent
  int64_t grace_ms = 5'000;          // added to each episode's due time for processing delays

  absl::Status Validate() const;
};

struct RunResult {
  uint64_t samples = 0;
  int episodes = 0;
  RunEnd end;
};

// The topics of a machine (CONTRACT §1).
std::string TelemetryTopic(std::string_view tenant, std::string_view device);
std::string StatusTopic(std::string_view tenant, std::string_view device);

// Runs the fleet from `start_wall_ms` (live) until the duration passes or
// `stop` is set; writes the run line, each episode and the end line to
// `truth` when given. The fleet's start_ts is event time at `start_wall_ms`.
RunResult RunFleet(const Fleet& fleet, const RunOptions& options, TelemetrySink& sink,
                   TruthWriter* truth, const std::atomic<bool>& stop, int64_t start_wall_ms);

// Wall time, ms since the Unix epoch.
int64_t WallNowMs();

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_RUN_H_
