// Micro-benchmarks of the hot path (issue targets in bench/README.md):
//   BM_Decode          one ~200-byte telemetry payload through PayloadDecoder
//   BM_EvaluateRules   rule evaluations/s with 10, 100, 1000 rules loaded,
//                      only the rules naming the sample's metrics run
//   BM_WorkerMessage   a whole message: topic, decode, state, windows, rules
//   BM_Pipeline        ingest-to-decision throughput of N worker threads fed
//                      through their rings by one producer (serve without the
//                      broker and journal); wall-clock samples/s
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "devices/decoder.h"
#include "devices/device_state.h"
#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/pipeline.h"
#include "gateway/core/worker.h"
#include "rules/program.h"
#include "rules/rule_file.h"
#include "rules/rule_set.h"

namespace {

using namespace precall;

constexpr int kMetricNames = 50;  // the fleet's distinct metric names
constexpr int kMetricsPerSample = 6;

std::string Payload(int64_t ts, uint64_t seq, int first_metric) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf,
                        "{\"ts\":%lld,\"seq\":%llu,\"model\":\"EX200\",\"metrics\":{", 
                        static_cast<long long>(ts), static_cast<unsigned long long>(seq));
  std::string s(buf, static_cast<std::size_t>(n));
  for (int i = 0; i < kMetricsPerSample; ++i) {
    int m = (first_metric + i) % kMetricNames;
    n = std::snprintf(buf, sizeof buf, "%s\"m%02d\":%.1f", i ? "," : "", m,
                      80.0 + static_cast<double>((seq * 7 + static_cast<uint64_t>(i)) % 40));
    s.append(buf, static_cast<std::size_t>(n));
  }
  s.append("},\"dtc\":[]}");
  return s;
}

// `count` rules over kMetricNames metrics; every rule names two metrics, one
// through a window, in the shapes rule authors write.
std::shared_ptr<const rules::RuleSet> MakeRules(int count) {
  std::string yaml = "rules:\n";
  const char* shapes[] = {
      "avg(m%02d, 1m) > 115 and m%02d > 100",
      "max(m%02d, 5m) > 118 or m%02d < 10",
      "delta(m%02d, 2m) > 30 and not (m%02d < 50)",
      "stddev(m%02d, 1m) > 25 and m%02d > 90",
  };
  char when[128];
  for (int i = 0; i < count; ++i) {
    std::snprintf(when, sizeof when, shapes[i % 4], i % kMetricNames, (i * 7 + 3) % kMetricNames);
    yaml += "  - name: r" + std::to_string(i) + "\n    when: " + when +
            "\n    for: 30s\n    severity: major\n";
  }
  rules::RuleFile file = rules::ParseRuleFile(yaml, "bench.yaml");
  if (!file.errors.empty()) {
    std::fprintf(stderr, "%s\n", file.errors[0].ToString().c_str());
    std::abort();
  }
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

struct NullSink : core::CaseSink {
  void OnCaseEvent(const core::CaseEvent&) override {}
};

void BM_Decode(benchmark::State& state) {
  devices::PayloadDecoder decoder;
  std::string payload = Payload(1732260000123, 42, 0);
  for (auto _ : state) {
    auto reason = decoder.Decode(payload);
    benchmark::DoNotOptimize(reason);
    benchmark::DoNotOptimize(decoder.samples().data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
  state.counters["payload_bytes"] = static_cast<double>(payload.size());
}
BENCHMARK(BM_Decode);

// The example payload of CONTRACT §1, with two more metrics: ~200 bytes.
void BM_DecodeContractExample(benchmark::State& state) {
  devices::PayloadDecoder decoder;
  const std::string payload =
      R"({"ts": 1732260000123, "seq": 42, "model": "EX200", "labels": {"site": "north"},)"
      R"( "metrics": {"coolant_temp_c": 98.5, "engine_rpm": 1500, "door_open": true,)"
      R"( "oil_pressure_kpa": 310.2, "battery_v": 27.6},)"
      R"( "dtc": ["SPN110.FMI0", "P0217"]})";
  for (auto _ : state) {
    auto reason = decoder.Decode(payload);
    benchmark::DoNotOptimize(reason);
    benchmark::DoNotOptimize(decoder.samples().data());
  }
  if (decoder.Decode(payload) != devices::RejectReason::kNone ||
      decoder.samples()[0].reject != devices::RejectReason::kNone) {
    state.SkipWithError("the example payload did not decode");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * payload.size()));
  state.counters["payload_bytes"] = static_cast<double>(payload.size());
}
BENCHMARK(BM_DecodeContractExample);

// Times only the evaluations: each iteration first applies a sample (decode,
// state, window push: untimed, see BM_WorkerMessage for the whole path), then
// evaluates the rules it woke, windows included.
void BM_EvaluateRules(benchmark::State& state) {
  auto rules = MakeRules(static_cast<int>(state.range(0)));
  devices::NameTable names;
  devices::DeviceState device("acme", "ex1", &rules->plan(), &names);
  devices::PayloadDecoder decoder;
  devices::SampleEffects effects;
  int64_t ts = 1732260000000;
  uint64_t seq = 0;
  std::vector<std::string> payloads;
  for (int i = 0; i < 64; ++i) payloads.push_back(Payload(0, 0, i % kMetricNames));
  std::vector<uint32_t> woken;
  std::vector<uint64_t> bits(rules->bitmap_words());
  int64_t evaluations = 0;
  double evaluating_ns = 0;
  for (auto _ : state) {
    decoder.Decode(payloads[seq % payloads.size()]);
    ts += 1000;
    ++seq;
    device.Apply(decoder.samples()[0], ts, ts, effects);
    // The woken rules, as the worker finds them: OR of the slots' bitmaps.
    std::fill(bits.begin(), bits.end(), 0);
    for (uint32_t slot : effects.slots) {
      const uint64_t* slot_bits = rules->SlotBitmap(slot);
      for (std::size_t i = 0; i < bits.size(); ++i) bits[i] |= slot_bits[i];
    }
    woken.clear();
    for (std::size_t i = 0; i < bits.size(); ++i) {
      for (uint64_t b = bits[i]; b != 0; b &= b - 1) {
        woken.push_back(static_cast<uint32_t>(i * 64 + static_cast<std::size_t>(__builtin_ctzll(b))));
      }
    }
    auto start = std::chrono::steady_clock::now();
    for (uint32_t r : woken) {
      double v = rules::Evaluate(rules->rule(r).when, device, ts, ts);
      benchmark::DoNotOptimize(v);
    }
    auto elapsed = std::chrono::steady_clock::now() - start;
    state.SetIterationTime(std::chrono::duration<double>(elapsed).count());
    evaluating_ns += std::chrono::duration<double, std::nano>(elapsed).count();
    evaluations += static_cast<int64_t>(woken.size());
  }
  state.counters["ns/evaluation"] = evaluating_ns / static_cast<double>(evaluations);
  state.counters["evaluations/s"] = 1e9 * static_cast<double>(evaluations) / evaluating_ns;
  state.counters["rules_per_sample"] =
      static_cast<double>(evaluations) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_EvaluateRules)->Arg(10)->Arg(100)->Arg(1000)->UseManualTime();

void BM_WorkerMessage(benchmark::State& state) {
  auto rules = MakeRules(static_cast<int>(state.range(0)));
  const int devices_count = static_cast<int>(state.range(1));
  NullSink sink;
  core::CaseBook cases(sink);
  core::WallClock clock;  // samples carry no ts: each takes the receive time we pass
  core::Worker worker(rules, nullptr, clock, cases);
  std::vector<std::string> topics;
  for (int d = 0; d < devices_count; ++d) {
    topics.push_back("fleet/acme/dev-" + std::to_string(d) + "/telemetry");
  }
  std::vector<std::string> payloads;
  for (int i = 0; i < 64; ++i) {
    std::string p = Payload(0, 0, i % kMetricNames);
    // Drop "ts" and "seq": ordering then comes from the receive time.
    p.erase(1, p.find("\"model\"") - 1);
    payloads.push_back(p);
  }
  int64_t now = 1732260000000;
  uint64_t n = 0;
  for (auto _ : state) {
    if (n % static_cast<uint64_t>(devices_count) == 0) now += 1000;  // each device: 1 sample/s
    worker.HandleMessage(topics[n % topics.size()], payloads[(n / 7) % payloads.size()], now);
    ++n;
  }
  state.counters["samples/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["evaluations/sample"] =
      static_cast<double>(worker.counters().rule_evaluations.Get()) /
      static_cast<double>(state.iterations());
  if (worker.counters().rejected_total() != 0) state.SkipWithError("samples were rejected");
}
BENCHMARK(BM_WorkerMessage)->Args({10, 1000})->Args({100, 10000})->Args({1000, 10000});

void BM_Pipeline(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  auto rules = MakeRules(static_cast<int>(state.range(1)));
  constexpr int kDevices = 10000;
  constexpr int kBatch = 200000;
  constexpr int kWarmUpSeconds = 5 * 60 + 10;
  NullSink sink;
  core::CaseBook cases(sink);
  core::WallClock clock;
  core::Pipeline pipeline(core::Pipeline::Options{.workers = workers}, rules, nullptr, clock,
                          cases);
  pipeline.Start();
  std::vector<std::string> topics;
  for (int d = 0; d < kDevices; ++d) {
    topics.push_back("fleet/acme/dev-" + std::to_string(d) + "/telemetry");
  }
  std::vector<std::string> payloads;
  for (int i = 0; i < 64; ++i) {
    std::string p = Payload(0, 0, i % kMetricNames);
    p.erase(1, p.find("\"model\"") - 1);  // no ts/seq: ordered by receive time
    payloads.push_back(p);
  }
  int64_t now = 1732260000000;
  uint64_t n = 0;
  // Untimed: fill every device's windows (the longest is 5 min at one
  // sample per device per second), so the figure is the steady state of a
  // fleet that has been reporting, not the first minutes' window growth.
  for (; n < static_cast<uint64_t>(kDevices) * kWarmUpSeconds; ++n) {
    if (n % kDevices == 0) now += 1000;
    pipeline.Submit(topics[n % kDevices], payloads[(n / 7) % payloads.size()], now, 0);
  }
  pipeline.WaitUntilIdle();
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i, ++n) {
      if (n % kDevices == 0) now += 1000;
      pipeline.Submit(topics[n % kDevices], payloads[(n / 7) % payloads.size()], now, 0);
    }
    pipeline.WaitUntilIdle();
  }
  pipeline.Stop();
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kBatch);
  uint64_t rejected = 0;
  for (int w = 0; w < workers; ++w) rejected += pipeline.counters(w).rejected_total();
  if (rejected != 0) state.SkipWithError("samples were rejected");
}
BENCHMARK(BM_Pipeline)
    ->ArgNames({"workers", "rules"})
    ->Args({1, 10})
    ->Args({2, 10})
    ->Args({1, 100})
    ->Args({2, 100})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
