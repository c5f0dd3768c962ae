// What a device costs (the end-to-end benchmark's scenario: bench/e2e/rules.yaml,
// bench/e2e/fleet.h's 9-metric samples, a device's samples 10 s apart):
//   BM_NewDevice     the first sample of a fresh device through
//                    Worker::HandleMessage (fleets of 100,000, like the e2e run)
//   BM_KnownDevice   a further sample of a known, warm device; allocs/sample
//                    must stay 0 (steady state allocates nothing)
//   BM_DeviceMemory  heap bytes per device after N devices × k samples each
//                    (mallinfo2: bytes in use, malloc's chunk overhead included)
// A separate program from precall_bench because it replaces operator new to
// count allocations.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "bench/e2e/fleet.h"
#include "benchmark/benchmark.h"
#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/worker.h"
#include "rules/rule_file.h"
#include "rules/rule_set.h"

namespace {
uint64_t allocations = 0;  // operator new calls; the benchmarks run on one thread
}  // namespace

// Not inlined: GCC would otherwise see free() on what `new` returned and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace precall;

constexpr int64_t kStartMs = 1732260000000;
constexpr int64_t kSampleSpacingMs = 10000;  // a device's samples, as at ~10k msg/s
constexpr uint64_t kNoBreaks = 1000000007;   // only device 0's first sample breaks a rule

std::shared_ptr<const rules::RuleSet> E2eRules() {
  std::ifstream in(PRECALL_E2E_RULES);
  std::stringstream text;
  text << in.rdbuf();
  rules::RuleFile file = rules::ParseRuleFile(text.str(), PRECALL_E2E_RULES);
  if (!in || !file.errors.empty()) {
    std::fprintf(stderr, "cannot load %s\n", PRECALL_E2E_RULES);
    std::abort();
  }
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

struct NullSink : core::CaseSink {
  void OnCaseEvent(const core::CaseEvent&) override {}
};

// Topic and payload of sample `index` of `device`; ts = kStartMs + index × spacing.
struct Message {
  char topic[48];
  char payload[320];
  int topic_len;
  int payload_len;
  int64_t ts;
  void Format(uint64_t device, uint64_t index) {
    ts = kStartMs + static_cast<int64_t>(index) * kSampleSpacingMs;
    topic_len = bench::FormatTopic(topic, device);
    payload_len = bench::FormatPayload(payload, bench::Sample{device, index},
                                       static_cast<uint64_t>(ts) * 1000, kNoBreaks);
  }
  void Deliver(core::Worker& worker) const {
    worker.HandleMessage(std::string_view(topic, static_cast<std::size_t>(topic_len)),
                         std::string_view(payload, static_cast<std::size_t>(payload_len)), ts);
  }
  // The measured messages. Not inlined, so that
  //   valgrind --tool=callgrind --toggle-collect='*Message::Send*'
  // counts their instructions only (set-up messages go through Deliver).
  [[gnu::noinline]] void Send(core::Worker& worker) const { Deliver(worker); }
};

// One worker as `precall serve` runs it (wall clock: a sample's receive time
// is its ts here), with the e2e rules.
struct Gateway {
  NullSink sink;
  core::CaseBook cases{sink};
  core::WallClock clock;
  core::Worker worker{E2eRules(), nullptr, clock, cases};
};

std::size_t HeapInUse() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

void BM_NewDevice(benchmark::State& state) {
  constexpr uint64_t kFleet = 100000;
  std::vector<Message> messages(kFleet);
  for (uint64_t d = 0; d < kFleet; ++d) messages[d].Format(d, 0);
  auto gateway = std::make_unique<Gateway>();
  uint64_t d = 0;
  uint64_t allocs = 0;
  for (auto _ : state) {
    if (d == kFleet) {
      state.PauseTiming();
      gateway = std::make_unique<Gateway>();
      d = 0;
      state.ResumeTiming();
    }
    const uint64_t before = allocations;
    messages[d++].Send(gateway->worker);
    allocs += allocations - before;
  }
  state.counters["allocs/device"] =
      static_cast<double>(allocs) / static_cast<double>(state.iterations());
  if (gateway->worker.counters().rejected_total() != 0) state.SkipWithError("rejected samples");
}
BENCHMARK(BM_NewDevice);

void BM_KnownDevice(benchmark::State& state) {
  constexpr uint64_t kFleet = 1000;
  constexpr uint64_t kWarmSamples = 80;  // > the longest window (10 min) at 10 s spacing
  Gateway gateway;
  Message m;
  uint64_t index = 0;
  for (; index < kWarmSamples; ++index) {
    for (uint64_t d = 0; d < kFleet; ++d) {
      m.Format(d, index);
      m.Deliver(gateway.worker);
    }
  }
  std::vector<Message> round(kFleet);
  uint64_t d = kFleet;
  uint64_t allocs = 0;
  for (auto _ : state) {
    if (d == kFleet) {
      state.PauseTiming();
      for (uint64_t i = 0; i < kFleet; ++i) round[i].Format(i, index);
      ++index;
      d = 0;
      state.ResumeTiming();
    }
    const uint64_t before = allocations;
    round[d++].Send(gateway.worker);
    allocs += allocations - before;
  }
  state.counters["allocs/sample"] =
      static_cast<double>(allocs) / static_cast<double>(state.iterations());
  if (gateway.worker.counters().rejected_total() != 0) state.SkipWithError("rejected samples");
}
BENCHMARK(BM_KnownDevice);

// One pass: N devices, then their samples 2..k in rounds (as the e2e fleet sends).
void BM_DeviceMemory(benchmark::State& state) {
  const auto devices = static_cast<uint64_t>(state.range(0));
  const auto samples = static_cast<uint64_t>(state.range(1));
  double bytes = 0;
  double allocs = 0;
  for (auto _ : state) {
    const std::size_t heap_before = HeapInUse();
    const uint64_t allocs_before = allocations;
    {
      auto gateway = std::make_unique<Gateway>();
      Message m;
      for (uint64_t index = 0; index < samples; ++index) {
        for (uint64_t d = 0; d < devices; ++d) {
          m.Format(d, index);
          m.Send(gateway->worker);
        }
      }
      if (gateway->worker.counters().rejected_total() != 0) state.SkipWithError("rejected");
      bytes = static_cast<double>(HeapInUse() - heap_before);
      allocs = static_cast<double>(allocations - allocs_before);
    }
  }
  state.counters["bytes/device"] = bytes / static_cast<double>(devices);
  state.counters["allocs/device"] = allocs / static_cast<double>(devices);
}
BENCHMARK(BM_DeviceMemory)
    ->ArgNames({"devices", "samples"})
    ->Args({100000, 1})
    ->Args({100000, 2})
    ->Args({100000, 3})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
