#include "devices/simulator/run.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "devices/simulator/sv.h"

namespace precall::sim {
namespace {

// The loop publishes without sleeping when a sample is due this soon: a
// sleep per message would cost more than the message.
constexpr int64_t kSleepSliceMs = 20;

Episode MakeEpisode(const Fleet& fleet, int i, const RunOptions& options, const SimClock& clock,
                    int64_t now_wall) {
  const MachineIdentity& id = fleet.machine(i);
  const PlannedFault& f = *fleet.fault(i);
  Episode e;
  e.device = id.device;
  e.model = std::string(id.model->name);
  e.kind = f.kind;
  e.clock = ClockOf(f.kind);
  e.onset = f.onset_ts;
  e.onset_wall = options.data_clock ? f.onset_ts : now_wall;
  e.bound_ms = DetectionBoundMs(f.kind, options.silent_after_ms);
  // Wall time the bound takes from here: event time may run faster.
  const int64_t bound_wall = e.clock == FaultClock::kGateway
                                 ? e.bound_ms
                                 : clock.WallAt(e.onset + e.bound_ms) - clock.WallAt(e.onset);
  e.due_wall = e.onset_wall + bound_wall + options.grace_ms;
  e.expect = ExpectedRules(f.kind, id.model->name, f.code);
  if (f.kind == FaultKind::kDtc) {
    e.code = f.code;
    e.until = f.until_ts;
  }
  return e;
}

}  // namespace

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string TelemetryTopic(std::string_view tenant, std::string_view device) {
  return absl::StrCat("fleet/", Sv(tenant), "/", Sv(device), "/telemetry");
}

std::string StatusTopic(std::string_view tenant, std::string_view device) {
  return absl::StrCat("fleet/", Sv(tenant), "/", Sv(device), "/status");
}

absl::Status RunOptions::Validate() const {
  if (!(speed > 0 && speed <= 1e6)) return absl::InvalidArgumentError("speed must be > 0");
  if (duration_ms < 0) return absl::InvalidArgumentError("duration must not be negative");
  if (data_clock && duration_ms == 0) {
    return absl::InvalidArgumentError("writing to a file needs a duration");
  }
  if (silent_after_ms <= 0) return absl::InvalidArgumentError("silent-after must be positive");
  return absl::OkStatus();
}

void FileSink::Publish(int, std::string_view topic, std::string_view payload) {
  line_.assign("{\"topic\":");
  AppendJsonString(line_, topic);
  line_.append(",\"payload\":");
  if (!payload.empty() && payload.front() == '{') {
    line_.append(payload);
  } else {
    AppendJsonString(line_, payload);
  }
  line_.append("}\n");
  std::fwrite(line_.data(), 1, line_.size(), out_);
}

void FileSink::GoSilent(int machine) {
  const MachineIdentity& id = fleet_.machine(machine);
  Publish(machine, StatusTopic(fleet_.options().tenant, id.device), "offline");
}

absl::Status FileSink::Flush() {
  if (std::fflush(out_) != 0 || std::ferror(out_)) {
    return absl::DataLossError("cannot write the telemetry file");
  }
  return absl::OkStatus();
}

RunResult RunFleet(const Fleet& fleet, const RunOptions& options, TelemetrySink& sink,
                   TruthWriter* truth, const std::atomic<bool>& stop, int64_t start_wall_ms) {
  const FleetOptions& fo = fleet.options();
  const int n = fleet.size();
  const int64_t start_ts = fo.start_ts_ms;
  const SimClock clock =
      options.data_clock ? SimClock(start_ts, start_ts, 1.0, options.max_ahead_ms)
                         : SimClock(start_wall_ms, start_ts, options.speed, options.max_ahead_ms);
  RunInfo info{.seed = fo.seed,
               .tenant = fo.tenant,
               .machines = n,
               .interval_ms = fo.interval_ms,
               .speed = options.data_clock ? 1.0 : options.speed,
               .start_ts = start_ts,
               .start_wall = options.data_clock ? start_ts : start_wall_ms,
               .max_ahead_ms = options.max_ahead_ms,
               .silent_after_ms = options.silent_after_ms,
               .data_clock = options.data_clock};
  if (truth) truth->Write(RunLine(info));

  std::vector<Machine> machines;
  std::vector<std::string> topics;
  machines.reserve(n);
  topics.reserve(n);
  for (int i = 0; i < n; ++i) {
    machines.emplace_back(fleet, i);
    topics.push_back(TelemetryTopic(fo.tenant, fleet.machine(i).device));
    sink.Publish(i, StatusTopic(fo.tenant, fleet.machine(i).device), "online");
  }
  std::vector<bool> begun(n, false);
  std::vector<bool> silent(n, false);

  RunResult result;
  result.end.end_ts = start_ts;
  // The run ends at this gateway time (event time for a file).
  const int64_t end_gateway =
      options.duration_ms == 0
          ? std::numeric_limits<int64_t>::max()
          : (options.data_clock ? start_ts : start_wall_ms) + options.duration_ms;
  Sample sample;
  std::string payload;
  bool done = false;
  for (int64_t round = 0; !done; ++round) {
    for (int i = 0; i < n && !done; ++i) {
      const int64_t ts = fleet.SampleTs(i, round);
      int64_t now = ts;
      if (options.data_clock) {
        done = ts >= end_gateway;
      } else {
        const int64_t due = clock.WallAt(ts);
        done = due >= end_gateway;
        while (!done && !(done = stop.load(std::memory_order_relaxed))) {
          now = WallNowMs();
          if (now >= due) break;
          std::this_thread::sleep_for(
              std::chrono::milliseconds(std::min(due - now, kSleepSliceMs)));
        }
      }
      if (done) break;
      const std::optional<PlannedFault>& fault = fleet.fault(i);
      if (fault && !begun[i] && ts >= fault->onset_ts) {
        begun[i] = true;
        ++result.episodes;
        if (truth) truth->Write(EpisodeLine(MakeEpisode(fleet, i, options, clock, now)));
      }
      if (silent[i]) continue;
      if (!machines[i].Step(sample)) {
        silent[i] = true;
        sink.GoSilent(i);
        continue;
      }
      payload.clear();
      machines[i].AppendPayload(sample, payload);
      sink.Publish(i, topics[i], payload);
      ++result.samples;
      result.end.end_ts = std::max(result.end.end_ts, ts);
    }
  }
  // End of shift: the machines still reporting say so.
  for (int i = 0; i < n; ++i) {
    if (!silent[i]) sink.Publish(i, StatusTopic(fo.tenant, fleet.machine(i).device), "offline");
  }
  result.end.end_wall = options.data_clock ? result.end.end_ts : WallNowMs();
  result.end.samples = result.samples;
  if (truth) truth->Write(EndLine(result.end));
  return result;
}

}  // namespace precall::sim
