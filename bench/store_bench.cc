// Micro-benchmarks of the RocksDB store (targets in bench/README.md):
//   BM_JournalAppend/group   journal cost per message, group commit (256 / 5 ms)
//   BM_JournalAppend/strict  one WAL write per message (no fsync)
//   BM_JournalAppend/fsync   one WAL write and fsync per message
//   BM_Commit                one case change: event, case, outbox, checkpoint,
//                            meta in one WriteBatch (no fsync)
// Each benchmark works in its own temporary directory under /tmp. Payloads are
// ~200-byte telemetry JSON on realistic topics.
#include <stdlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "devices/ids.h"
#include "gateway/store/rocksdb_store.h"

namespace {

using namespace precall;

class BenchDir {
 public:
  BenchDir() {
    char pattern[] = "/tmp/precall-store-bench-XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~BenchDir() {
    if (!path_.empty()) std::filesystem::remove_all(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<store::RocksStore> OpenStore(benchmark::State& state, const std::string& dir,
                                             const store::StoreOptions& options) {
  absl::StatusOr<std::unique_ptr<store::RocksStore>> s = store::RocksStore::Open(dir, options);
  if (!s.ok()) {
    state.SkipWithError(s.status().ToString().c_str());
    return nullptr;
  }
  return std::move(*s);
}

std::string Payload(uint64_t i) {
  return absl::StrCat(R"({"ts":17322600)", 10000 + i % 90000, R"(,"seq":)", i,
                      R"(,"model":"EX200","metrics":{"coolant_temp_c":98.5,"engine_rpm":1500,)",
                      R"("oil_pressure_kpa":310.2,"fuel_rate_lph":21.7,"door_open":false,)",
                      R"("hydraulic_temp_c":61.25},"dtc":["SPN110.FMI0"]})");
}

void BM_JournalAppend(benchmark::State& state) {
  const auto mode = static_cast<store::JournalMode>(state.range(0));
  BenchDir dir;
  store::StoreOptions options;
  options.journal.mode = mode;
  std::unique_ptr<store::RocksStore> s = OpenStore(state, dir.path(), options);
  if (s == nullptr) return;
  std::string topics[64];
  for (int d = 0; d < 64; ++d) topics[d] = absl::StrCat("fleet/acme/ex200-", 1000 + d, "/telemetry");
  const std::string payload = Payload(42);
  uint64_t i = 0;
  int64_t receive_ms = 1732260000000;
  for (auto _ : state) {
    absl::StatusOr<uint64_t> seq = s->journal().Append(receive_ms++, topics[i++ % 64], payload);
    if (!seq.ok()) {
      state.SkipWithError(seq.status().ToString().c_str());
      break;
    }
  }
  if (!s->journal().Flush().ok()) state.SkipWithError("flush");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(payload.size() + 32));
}
BENCHMARK(BM_JournalAppend)
    ->ArgName("mode")
    ->Arg(static_cast<int>(store::JournalMode::kGroup))
    ->Arg(static_cast<int>(store::JournalMode::kStrict))
    ->Arg(static_cast<int>(store::JournalMode::kFsync))
    ->Unit(benchmark::kMicrosecond);

void BM_Commit(benchmark::State& state) {
  BenchDir dir;
  store::StoreOptions options;
  options.sync_commits = state.range(0) != 0;
  std::unique_ptr<store::RocksStore> s = OpenStore(state, dir.path(), options);
  if (s == nullptr) return;
  core::CaseCommit c;
  c.case_json = std::string(600, 'c');  // a case is ~600 bytes of JSON
  c.event_json = std::string(650, 'e');
  c.checkpoint = std::string(300, 's');
  uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    c.event_seq = seq;
    c.case_id = absl::StrCat("c-", seq % 1000);
    c.topic = absl::StrCat("service/acme/cases/", c.case_id);
    c.device_key = devices::EncodeDeviceKey("acme", absl::StrCat("ex200-", seq % 1000));
    c.journal_watermark = seq * 10;
    c.next_case_number = seq + 1;
    if (absl::Status st = s->cases().Commit(c); !st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Commit)->ArgName("sync")->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
