// Recovery time (issue 3 target: <= 5 s for 100,000 devices with 10 minutes
// of journal). A child process runs the serving path — journal Append, then
// the pipeline with checkpoints — over 10 minutes of fleet telemetry (each
// device reports every 10 s), then dies without shutting down (_exit: no
// last checkpoint round, like kill -9). The parent then recovers as
// `precall serve` does at start: restore every device checkpoint, re-apply
// the journal after the recovery start, wait until the workers are idle.
//
// usage: precall_recovery_timing [devices=100000] [minutes=10] [workers=2]
//                                [checkpoint_ms=10000]
// Prints the ingest rate of the child and the recovery phases.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/pipeline.h"
#include "gateway/core/store_sink.h"
#include "gateway/store/rocksdb_store.h"
#include "rules/rule_file.h"
#include "rules/rule_set.h"

namespace {

using namespace precall;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::shared_ptr<const rules::RuleSet> Rules() {
  // Ten rules of the example fleet's shapes: windows, for, hysteresis.
  const char* yaml = R"(rules:
  - {name: coolant_overheat, when: "avg(coolant_temp_c, 1m) > 105 and engine_rpm > 800", for: 30s, clear: coolant_temp_c < 95, clear_for: 1m}
  - {name: oil_pressure_low, when: "min(oil_pressure_kpa, 30s) < 100 and engine_rpm > 600", for: 10s}
  - {name: hydraulic_leak, when: "delta(hydraulic_pressure_bar, 5m) < -40", for: 1m}
  - {name: battery_weak, when: "avg(battery_v, 5m) < 23.5", for: 2m}
  - {name: fuel_theft, when: "delta(fuel_level_pct, 1m) < -10 and engine_rpm < 100"}
  - {name: coolant_spike, when: "max(coolant_temp_c, 1m) - min(coolant_temp_c, 1m) > 30"}
  - {name: overspeed, when: "engine_rpm > 2600", for: 20s}
  - {name: oil_noisy, when: "stddev(oil_pressure_kpa, 2m) > 80"}
  - {name: idle_waste, when: "avg(engine_rpm, 5m) < 900 and engine_rpm > 0", for: 10m}
  - {name: hot_idle, when: "coolant_temp_c > 100 and engine_rpm < 900", for: 1m}
)";
  rules::RuleFile file = rules::ParseRuleFile(yaml, "bench.yaml");
  if (!file.errors.empty()) {
    std::fprintf(stderr, "%s\n", file.errors[0].ToString().c_str());
    std::exit(2);
  }
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

std::string Payload(int64_t ts, uint64_t seq, int device) {
  char buf[320];
  const double wave = static_cast<double>((seq * 13 + static_cast<uint64_t>(device)) % 20);
  int n = std::snprintf(buf, sizeof buf,
                        "{\"ts\":%lld,\"seq\":%llu,\"model\":\"EX200\",\"metrics\":{"
                        "\"coolant_temp_c\":%.1f,\"engine_rpm\":%d,\"oil_pressure_kpa\":%.1f,"
                        "\"hydraulic_pressure_bar\":%.1f,\"battery_v\":%.2f,"
                        "\"fuel_level_pct\":%.1f},\"dtc\":[]}",
                        static_cast<long long>(ts), static_cast<unsigned long long>(seq),
                        85 + wave, 1400 + static_cast<int>(wave) * 10, 300 + wave, 210 + wave,
                        26.5 + wave / 100, 80 - static_cast<double>(seq) / 100);
  return std::string(buf, static_cast<std::size_t>(n));
}

struct Setup {
  int devices = 100000;
  int minutes = 10;
  int workers = 2;
  int checkpoint_ms = 10000;
};

store::StoreOptions Options() {
  store::StoreOptions o;
  o.journal.mode = store::JournalMode::kStrict;  // serve's default
  return o;
}

// The child: ingest like serve, then die.
[[noreturn]] void Ingest(const Setup& setup, const std::string& path) {
  auto opened = store::RocksStore::Open(path, Options());
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(opened.status().message()).c_str());
    _exit(2);
  }
  store::RocksStore& db = **opened;
  core::StoreSink sink(db.cases(), nullptr);
  core::CaseBook cases(sink, db.cases().last_event_seq() + 1, db.cases().next_case_number());
  core::WallClock clock;
  core::Pipeline pipeline(
      core::Pipeline::Options{.workers = setup.workers,
                              .checkpoints = &db.cases(),
                              .checkpoint_interval = std::chrono::milliseconds(setup.checkpoint_ms)},
      Rules(), nullptr, clock, cases);
  pipeline.Start();
  const int64_t start_ts = clock.NowMs() - int64_t{setup.minutes} * 60 * 1000;
  const int rounds = setup.minutes * 6;  // every device every 10 s
  std::string topic;
  const auto started = Clock::now();
  uint64_t messages = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int d = 0; d < setup.devices; ++d) {
      topic = "fleet/bench/dev-" + std::to_string(d) + "/telemetry";
      const int64_t ts = start_ts + int64_t{r} * 10000 + d % 10000;
      const std::string payload = Payload(ts, static_cast<uint64_t>(r + 1), d);
      auto seq = db.journal().Append(ts, topic, payload);
      if (!seq.ok()) _exit(3);
      pipeline.Submit(topic, payload, ts, *seq);
      ++messages;
      if ((messages & 4095) == 0) (void)db.journal().Flush();  // serve's timer
    }
  }
  pipeline.WaitUntilIdle();
  (void)db.journal().Flush();
  const double secs = Seconds(started);
  std::printf("ingest: %llu messages (%d devices x %d rounds) in %.1f s = %.0f messages/s "
              "(journal + %d workers + checkpoints every %d ms)\n",
              static_cast<unsigned long long>(messages), setup.devices, rounds, secs,
              static_cast<double>(messages) / secs, setup.workers, setup.checkpoint_ms);
  std::printf("ingest: journal last seq %llu, recovery start %llu\n",
              static_cast<unsigned long long>(db.journal().last_seq()),
              static_cast<unsigned long long>(db.cases().recovery_start()));
  std::fflush(stdout);
  _exit(0);  // no Stop(), no Close(): a crash
}

int Recover(const Setup& setup, const std::string& path) {
  const auto started = Clock::now();
  auto opened = store::RocksStore::Open(path, Options());
  if (!opened.ok()) return 2;
  store::RocksStore& db = **opened;
  const double open_s = Seconds(started);
  core::StoreSink sink(db.cases(), nullptr);
  core::CaseBook cases(sink, db.cases().last_event_seq() + 1, db.cases().next_case_number());
  std::size_t restored_cases = 0;
  (void)db.cases().ForEachCase([&](std::string_view json) {
    auto c = core::ParseCaseJson(json);
    if (c.ok()) {
      cases.Restore(std::move(*c));
      ++restored_cases;
    }
  });
  core::WallClock clock;
  core::Pipeline pipeline(
      core::Pipeline::Options{.workers = setup.workers,
                              .checkpoints = &db.cases(),
                              .checkpoint_interval = std::chrono::milliseconds(setup.checkpoint_ms),
                              .clock_running = false},
      Rules(), nullptr, clock, cases);
  const auto checkpoints_started = Clock::now();
  std::vector<core::CheckpointRecord> records;
  (void)db.cases().ForEachCheckpoint([&](std::string_view key, std::string_view blob, uint64_t w) {
    records.push_back({std::string(key), std::string(blob), w});
  });
  const std::size_t devices = records.size() - pipeline.RestoreDevices(records);
  records = {};
  const double checkpoints_s = Seconds(checkpoints_started);
  pipeline.Start();
  const auto journal_started = Clock::now();
  std::size_t entries = 0;
  const uint64_t from = db.cases().recovery_start();
  (void)db.journal().ForEachAfter(from, [&](const core::JournalEntry& e) {
    pipeline.Submit(e.topic, e.payload, e.receive_ms, e.seq);
    ++entries;
    return true;
  });
  pipeline.WaitUntilIdle();
  const double journal_s = Seconds(journal_started);
  pipeline.StartClock();
  const double total = Seconds(started);
  std::printf("recovery: open %.2f s; %zu cases; %zu device checkpoints restored in %.2f s; "
              "%zu journal entries after seq %llu re-applied in %.2f s; total %.2f s\n",
              open_s, restored_cases, devices, checkpoints_s, entries,
              static_cast<unsigned long long>(from), journal_s, total);
  pipeline.Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  if (argc > 1) setup.devices = std::atoi(argv[1]);
  if (argc > 2) setup.minutes = std::atoi(argv[2]);
  if (argc > 3) setup.workers = std::atoi(argv[3]);
  if (argc > 4) setup.checkpoint_ms = std::atoi(argv[4]);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("precall-recovery-" + std::to_string(getpid())))
          .string();
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) Ingest(setup, path);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "ingest failed\n");
    return 1;
  }
  const int rc = Recover(setup, path);
  std::filesystem::remove_all(path);
  return rc;
}
