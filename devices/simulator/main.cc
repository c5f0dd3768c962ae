// precall-sim: a simulated construction fleet with injected faults and known
// ground truth, publishing to an MQTT broker (or writing replay input), and
// `precall-sim score`, which reads the cases a gateway opened over its HTTP
// API and scores them against that truth.
#include <mosquitto.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "devices/simulator/change_feed.h"
#include "devices/simulator/fleet.h"
#include "devices/simulator/mqtt_sink.h"
#include "devices/simulator/run.h"
#include "devices/simulator/score.h"
#include "devices/simulator/truth.h"
#include "rules/duration.h"

namespace {

using namespace precall::sim;  // NOLINT: the program's own namespace

std::atomic<bool> g_stop{false};

extern "C" void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

// A CLI11 validator for the rule language's durations ("90s", "10m").
struct DurationValidator : CLI::Validator {
  DurationValidator() {
    name_ = "DURATION";
    func_ = [](const std::string& s) {
      return precall::rules::ParseDuration(s) ? std::string() : "not a duration like 90s or 10m";
    };
  }
};

int64_t Ms(const std::string& duration) { return *precall::rules::ParseDuration(duration); }

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "precall-sim: %s\n", std::string(status.message()).c_str());
  return 1;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct RunArgs {
  FleetOptions fleet;
  RunOptions run;
  MqttOptions mqtt;
  std::string broker = "tcp://127.0.0.1:1883";
  std::string output;
  std::string truth;
  std::string interval = "10s";
  std::string duration = "0s";
  std::string fault_start = "1m";
  std::string fault_window = "10m";
  std::string silent_after = "1m";
  std::string kinds;
  int64_t start = -1;
};

int Run(RunArgs& a) {
  a.fleet.interval_ms = Ms(a.interval);
  a.fleet.fault_start_ms = Ms(a.fault_start);
  a.fleet.fault_window_ms = Ms(a.fault_window);
  a.run.duration_ms = Ms(a.duration);
  a.run.silent_after_ms = Ms(a.silent_after);
  a.run.data_clock = !a.output.empty();
  if (!a.kinds.empty()) {
    a.fleet.kinds.clear();
    for (const std::string& name : std::vector<std::string>(absl::StrSplit(a.kinds, ','))) {
      std::optional<FaultKind> kind = ParseFaultKind(name);
      if (!kind)
        return Fail(absl::InvalidArgumentError(absl::StrCat("unknown fault kind '", name, "'")));
      a.fleet.kinds.push_back(*kind);
    }
  }
  const int64_t start_wall = WallNowMs();
  a.fleet.start_ts_ms = a.start >= 0 ? a.start : start_wall / 1000 * 1000;
  if (absl::Status s = a.fleet.Validate(); !s.ok()) return Fail(s);
  if (absl::Status s = a.run.Validate(); !s.ok()) return Fail(s);

  const Fleet fleet(a.fleet);
  std::unique_ptr<TelemetrySink> sink;
  std::FILE* out = nullptr;
  if (a.run.data_clock) {
    out = a.output == "-" ? stdout : std::fopen(a.output.c_str(), "wb");
    if (out == nullptr) return Fail(absl::NotFoundError(absl::StrCat(a.output, ": cannot create")));
    sink = std::make_unique<FileSink>(fleet, out);
  } else {
    if (absl::Status s = ParseBrokerUri(a.broker, a.mqtt); !s.ok()) return Fail(s);
    absl::StatusOr<std::unique_ptr<MqttSink>> mqtt = MqttSink::Connect(a.mqtt, fleet, g_stop);
    if (!mqtt.ok()) return Fail(mqtt.status());
    sink = *std::move(mqtt);
  }
  std::optional<TruthWriter> truth;
  if (!a.truth.empty()) {
    absl::StatusOr<TruthWriter> w = TruthWriter::Open(a.truth);
    if (!w.ok()) return Fail(w.status());
    truth.emplace(*std::move(w));
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  std::fprintf(stderr,
               "precall-sim: %d machines of tenant %s, %d with a fault; a sample every %s of "
               "event time%s\n",
               fleet.size(), a.fleet.tenant.c_str(), fleet.faulty(), a.interval.c_str(),
               a.run.data_clock ? "" : absl::StrFormat(" at %gx wall speed", a.run.speed).c_str());
  const RunResult result = RunFleet(fleet, a.run, *sink, truth ? &*truth : nullptr, g_stop,
                                    a.run.data_clock ? a.fleet.start_ts_ms : start_wall);
  absl::Status flushed = sink->Flush();
  if (auto* mqtt = dynamic_cast<MqttSink*>(sink.get()); mqtt && mqtt->failed() > 0) {
    std::fprintf(stderr, "precall-sim: %llu messages could not be handed to the broker\n",
                 static_cast<unsigned long long>(mqtt->failed()));
  }
  sink.reset();
  if (out != nullptr && out != stdout) std::fclose(out);
  const double wall_s =
      a.run.data_clock ? 0.0 : static_cast<double>(result.end.end_wall - start_wall) / 1000.0;
  std::fprintf(stderr, "precall-sim: %llu samples, %d fault episodes begun, event time ran %s",
               static_cast<unsigned long long>(result.samples), result.episodes,
               FormatDuration(result.end.end_ts - a.fleet.start_ts_ms).c_str());
  if (wall_s > 0) {
    std::fprintf(stderr, " in %.1f s (%.0f samples/s)", wall_s,
                 static_cast<double>(result.samples) / wall_s);
  }
  std::fprintf(stderr, "\n");
  return flushed.ok() ? 0 : Fail(flushed);
}

struct ScoreArgs {
  std::string truth;
  std::string api;
  std::string token;
  std::string events;
  bool json = false;
  bool wait = false;
  std::string timeout = "120s";
};

int RunScore(const ScoreArgs& a) {
  absl::StatusOr<std::string> text = ReadFile(a.truth);
  if (!text.ok()) return Fail(text.status());
  absl::StatusOr<Truth> truth = ParseTruth(*text);
  if (!truth.ok()) return Fail(truth.status());

  CaseCollector cases;
  int64_t now = WallNowMs();
  if (!a.events.empty()) {
    absl::StatusOr<std::string> events = ReadFile(a.events);
    if (!events.ok()) return Fail(events.status());
    if (absl::Status s = cases.AddLines(*events); !s.ok()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(a.events, ": ", s.message())));
    }
  } else {
    ChangeFeed feed(a.api, a.token);
    if (absl::Status s = feed.Poll(0, cases); !s.ok()) return Fail(s);
    now = WallNowMs();
    // --wait: until each episode is caught or past its due time.
    const int64_t deadline = now + Ms(a.timeout);
    while (a.wait && ScoreRun(*truth, cases.cases(), now).awaiting > 0 && now < deadline) {
      const int wait_s = static_cast<int>(std::clamp<int64_t>((deadline - now) / 1000, 1, 5));
      if (absl::Status s = feed.Poll(wait_s, cases); !s.ok()) return Fail(s);
      now = WallNowMs();
    }
  }
  const Score score = ScoreRun(*truth, cases.cases(), now);
  if (a.json) {
    std::printf("%s\n", FormatScoreJson(score).c_str());
  } else {
    std::printf("%s", FormatScoreTable(score).c_str());
    for (const std::string& note : score.notes) std::printf("  %s\n", note.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "precall-sim: a simulated construction fleet (EX200 excavators, WL300 wheel loaders, CP45\n"
      "compressors) with noisy telemetry and injected faults whose ground truth it records.\n"
      "\n"
      "Without a subcommand it runs the fleet: every machine publishes a sample (engine rpm,\n"
      "coolant, oil and hydraulic pressure, hydraulic oil level, battery, fuel, engine hours)\n"
      "to fleet/{tenant}/{device}/telemetry every --interval of event time, with seq and ts,\n"
      "plus `online`/`offline` on fleet/{tenant}/{device}/status (a machine that goes silent\n"
      "leaves through its last will). A --fault-rate share of the machines develops one fault:\n"
      "overheat, oil_pressure_loss, hydraulic_leak, battery_decay, dtc (a J1939 code appears,\n"
      "then clears), silent, or flapping_sensor (a coolant sensor reading garbage on and off,\n"
      "which must open one case, not a storm). --truth writes each episode as it begins.\n"
      "\n"
      "Time compression: --speed N runs event time (ts) N times faster than wall time, never\n"
      "more than 23 h ahead (the gateway rejects ts > 24 h ahead). Windows, `for` and\n"
      "`clear_for` then pass N times faster; silent(), reopen_within and case times run on the\n"
      "gateway's wall clock and do not. --output writes replay input instead of publishing\n"
      "(`precall replay` uses the data as its clock, so everything is event time there).\n"
      "\n"
      "  precall-sim --machines 1000 --speed 10 --truth truth.jsonl\n"
      "  precall-sim score --truth truth.jsonl --api http://127.0.0.1:8080 --token T"};
  app.require_subcommand(0, 1);
  const DurationValidator duration;

  RunArgs r;
  app.add_option("--broker", r.broker, "MQTT broker, tcp://host:port")->capture_default_str();
  app.add_option(
      "--output", r.output,
      "Write replay input (JSON lines) to this file ('-': stdout) instead of publishing");
  app.add_option("--truth", r.truth, "Write the ground truth (JSON lines) to this file");
  app.add_option("--tenant", r.fleet.tenant, "Tenant of every machine")->capture_default_str();
  app.add_option("--machines", r.fleet.machines, "Fleet size")->capture_default_str();
  app.add_option("--seed", r.fleet.seed, "Same seed, same fleet, faults and readings")
      ->capture_default_str();
  app.add_option("--interval", r.interval, "Event time between two samples of a machine")
      ->check(duration)
      ->capture_default_str();
  app.add_option("--speed", r.run.speed, "Event time runs this many times faster than wall time")
      ->capture_default_str();
  app.add_option(
         "--duration", r.duration,
         "Stop after this long (wall time; event time with --output); 0s: at SIGINT/SIGTERM")
      ->check(duration)
      ->capture_default_str();
  app.add_option("--start", r.start, "Event time of the start, ms since the epoch (default: now)");
  app.add_option("--fault-rate", r.fleet.fault_rate, "Share of machines that develop a fault")
      ->capture_default_str();
  app.add_option("--fault-start", r.fault_start,
                 "Onsets begin this long (event time) after the start")
      ->check(duration)
      ->capture_default_str();
  app.add_option("--fault-window", r.fault_window, "... and spread over this long (event time)")
      ->check(duration)
      ->capture_default_str();
  app.add_option("--faults", r.kinds, "Comma-separated fault kinds to inject (default: all)");
  app.add_option("--silent-after", r.silent_after,
                 "The silent() duration of your machine_silent rule (for the truth's due times)")
      ->check(duration)
      ->capture_default_str();
  app.add_option("--connections", r.mqtt.connections, "MQTT connections the machines share")
      ->capture_default_str();
  app.add_option("--qos", r.mqtt.qos, "QoS of telemetry, 0 or 1")->capture_default_str();
  app.add_option("--client-id", r.mqtt.client_id, "Prefix of the MQTT client ids")
      ->capture_default_str();
  app.add_option("--username", r.mqtt.username, "MQTT username");
  app.add_option("--password", r.mqtt.password, "MQTT password");

  ScoreArgs s;
  CLI::App* score = app.add_subcommand(
      "score",
      "Score a run: read the cases over the gateway's HTTP API (GET /v1/changes) or from a file\n"
      "of case events, match them to the truth file's episodes (same device, an expected rule,\n"
      "fault_started_at at or after the onset), and print per fault kind: episodes, caught,\n"
      "pending (not yet due), recall, cases, false alarms, precision, duplicate cases and the\n"
      "lead time (case opened - fault onset; p50 and max).");
  score->add_option("--truth", s.truth, "The run's truth file")->required();
  auto* api = score->add_option("--api", s.api, "The gateway's API, http://host:port");
  auto* events = score->add_option("--events", s.events,
                                   "Case events as JSON lines (e.g. `precall replay` output)");
  api->excludes(events);
  score->add_option("--token", s.token, "Bearer token of the API");
  score->add_flag("--json", s.json, "Print the score as JSON");
  score->add_flag("--wait", s.wait,
                  "Keep reading until every episode is caught or past its due time");
  score->add_option("--timeout", s.timeout, "Give up waiting after this long")
      ->check(duration)
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (score->parsed()) {
    if (s.api.empty() && s.events.empty()) {
      std::fprintf(stderr, "precall-sim score: give --api or --events\n");
      return 2;
    }
    return RunScore(s);
  }
  mosquitto_lib_init();
  const int rc = Run(r);
  mosquitto_lib_cleanup();
  return rc;
}
