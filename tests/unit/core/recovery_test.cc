// Crash recovery through the worker: restore the device checkpoints the case
// store holds (committed with case changes, and periodic ones), re-apply the
// journal after the recovery start, and the case events come out exactly as
// if the process had never stopped — none lost, none twice, seq gapless —
// whatever message the crash interrupted.
#include <memory>
#include <string>
#include <vector>

#include "devices/catalog.h"
#include "devices/ids.h"
#include "fakes/in_memory_store.h"
#include "gateway/core/case_book.h"
#include "gateway/core/store_sink.h"
#include "gateway/core/worker.h"
#include "gtest/gtest.h"
#include "rules/rule_file.h"

namespace precall::core {
namespace {

// Serving clock: wall time in production; here whatever the test says.
class ManualClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_ms; }
  bool IsDataClock() const override { return false; }
  bool HasTime() const override { return true; }
  bool Observe(int64_t) override { return false; }
  int64_t now_ms = 0;
};

constexpr char kRules[] =
    "rules:\n"
    "  - name: hot\n    when: avg(temp, 20s) > 80\n    for: 5s\n    clear: temp < 50\n"
    "    clear_for: 3s\n    reopen_within: 30s\n    severity: critical\n"
    "  - name: spike\n    when: max(temp, 10s) - min(temp, 10s) > 45\n"
    "  - name: low_oil\n    select: {model: EX200}\n    when: oil < 100 and rpm > 600\n"
    "    for: 2s\n";
constexpr char kCatalog[] =
    "models:\n  EX200:\n    dtc:\n      \"SPN110.FMI0\": {severity: critical, diagnosis: hot}\n"
    "default_dtc: {open_case: true, severity: warning, diagnosis: \"Unlisted fault code\"}\n";

struct Message {
  std::string topic;
  std::string payload;
  int64_t receive_ms;
  uint64_t journal_seq;
};

// 12 devices, 240 s, one message a second each: heat waves, oil drops, fault
// codes coming and going, batches, duplicates and bad input.
std::vector<Message> Traffic() {
  std::vector<Message> out;
  uint64_t journal_seq = 0;
  for (int s = 0; s < 240; ++s) {
    for (int d = 0; d < 12; ++d) {
      const int64_t ts = 1'700'000'000'000 + s * 1000 + d;
      const int phase = (s + d * 17) % 90;
      const int temp = phase > 40 && phase < 70 ? 95 - (phase % 3) * 20 : 40 + (s * 7 + d) % 25;
      const int oil = (s / 20 + d) % 5 == 0 ? 60 : 300;
      std::string sample = "{\"ts\":" + std::to_string(ts) + ",\"seq\":" + std::to_string(s + 1) +
                           (d % 2 == 0 ? ",\"model\":\"EX200\"" : "") +
                           ",\"metrics\":{\"temp\":" + std::to_string(temp) +
                           ",\"oil\":" + std::to_string(oil) + ",\"rpm\":1500}";
      if (s % 30 == 0) sample += (s / 30 + d) % 3 == 0 ? ",\"dtc\":[\"SPN110.FMI0\",\"P0217\"]" : ",\"dtc\":[]";
      sample += "}";
      std::string payload = sample;
      if (s % 50 == 7) payload = "[" + sample + "," + sample + "]";  // the second one: duplicate
      if (s % 61 == 3 && d == 5) payload = "{\"ts\":";                // bad json
      out.push_back({"fleet/acme/m" + std::to_string(d) + "/telemetry", payload, ts + 40,
                     ++journal_seq});
    }
  }
  return out;
}

std::shared_ptr<const rules::RuleSet> Rules() {
  rules::RuleFile file = rules::ParseRuleFile(kRules, "rules.yaml");
  EXPECT_TRUE(file.errors.empty());
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

std::shared_ptr<const devices::FaultCatalog> Catalog() {
  devices::CatalogFile file = devices::ParseCatalogFile(kCatalog, "devices.yaml");
  EXPECT_TRUE(file.errors.empty());
  return std::make_shared<devices::FaultCatalog>(std::move(file.catalog));
}

// One gateway process over a store: the case book restored from the store,
// the worker from its checkpoints.
struct Process {
  explicit Process(fakes::InMemoryCaseStore& store)
      : sink(store, nullptr),
        cases(sink, store.last_event_seq() + 1, store.next_case_number()),
        worker(Rules(), Catalog(), clock, cases, Worker::Options{.checkpoints = true}) {
    EXPECT_TRUE(store.ForEachCase([&](std::string_view json) {
      auto c = ParseCaseJson(json);
      ASSERT_TRUE(c.ok());
      cases.Restore(std::move(*c));
    }).ok());
    EXPECT_TRUE(store.ForEachCheckpoint([&](std::string_view key, std::string_view blob,
                                            uint64_t watermark) {
      EXPECT_TRUE(worker.RestoreDevice(key, blob, watermark));
    }).ok());
  }
  void Handle(const Message& m) {
    clock.now_ms = m.receive_ms;
    worker.HandleMessage(m.topic, m.payload, m.receive_ms, m.journal_seq);
  }
  void WriteCheckpoints(fakes::InMemoryCaseStore& store, uint64_t through) {
    std::vector<CheckpointRecord> records;
    worker.TakeCheckpoints(records);
    ASSERT_TRUE(store.PutCheckpoints(records, through).ok());
  }
  ManualClock clock;
  StoreSink sink;
  CaseBook cases;
  Worker worker;
};

std::vector<std::string> AllEvents(fakes::InMemoryCaseStore& store) {
  auto events = store.EventsAfter(0, 1'000'000);
  EXPECT_TRUE(events.ok());
  return *events;
}

TEST(RecoveryTest, ACrashAnywhereGivesTheSameCaseEventsAsNoCrash) {
  const std::vector<Message> traffic = Traffic();
  fakes::InMemoryCaseStore reference_store;
  {
    Process reference(reference_store);
    for (const Message& m : traffic) reference.Handle(m);
  }
  const std::vector<std::string> expected = AllEvents(reference_store);
  ASSERT_GT(expected.size(), 40u);

  constexpr std::size_t kCheckpointEvery = 97;  // messages between periodic checkpoints
  for (std::size_t crash_at : {std::size_t{1}, std::size_t{500}, std::size_t{1234},
                               std::size_t{1500}, std::size_t{2001}, traffic.size() - 1}) {
    SCOPED_TRACE("crash after message " + std::to_string(crash_at));
    fakes::InMemoryCaseStore store;
    {
      Process before(store);
      for (std::size_t i = 0; i < crash_at; ++i) {
        before.Handle(traffic[i]);
        if ((i + 1) % kCheckpointEvery == 0) {
          before.WriteCheckpoints(store, traffic[i].journal_seq);
        }
      }
    }  // crash: nothing more is written
    Process after(store);
    const uint64_t start = store.recovery_start();
    EXPECT_EQ(start, crash_at >= kCheckpointEvery
                         ? traffic[(crash_at / kCheckpointEvery) * kCheckpointEvery - 1].journal_seq
                         : 0u);
    for (const Message& m : traffic) {
      if (m.journal_seq > start) after.Handle(m);  // the journal, then live traffic
    }
    EXPECT_EQ(AllEvents(store), expected);
  }
}

TEST(RecoveryTest, ACheckpointKeepsOnlyTheStateOfRulesThatDidNotChange) {
  fakes::InMemoryCaseStore store;
  Process before(store);
  // hot pending since 1000 (for 5s); spike not triggered.
  for (int s = 0; s < 3; ++s) {
    before.Handle({"fleet/acme/m1/telemetry",
                   "{\"ts\":" + std::to_string(1000 + s * 1000) + ",\"metrics\":{\"temp\":90}}",
                   1000 + s * 1000, static_cast<uint64_t>(s + 1)});
  }
  std::vector<CheckpointRecord> records;
  before.worker.TakeCheckpoints(records);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].journal_watermark, 3u);
  EXPECT_EQ(records[0].device_key, devices::EncodeDeviceKey("acme", "m1"));

  auto restore_and_run = [&](const std::string& rules_yaml) {
    rules::RuleFile file = rules::ParseRuleFile(rules_yaml, "rules.yaml");
    EXPECT_TRUE(file.errors.empty());
    struct Events : CaseSink {
      void OnCaseEvent(const CaseEvent& e) override { opened.push_back(e.snapshot.fault_started_at); }
      std::vector<int64_t> opened;
    } sink;
    CaseBook cases(sink);
    ManualClock clock;
    Worker worker(rules::RuleSet::Build(std::move(file.rules)).rules, nullptr, clock, cases,
                  Worker::Options{.checkpoints = true});
    EXPECT_TRUE(worker.RestoreDevice(records[0].device_key, records[0].checkpoint, 3));
    // The journal entry the checkpoint already holds is skipped.
    EXPECT_EQ(worker.HandleMessage("fleet/acme/m1/telemetry", R"({"ts":3000,"metrics":{"temp":90}})",
                                   3000, 3).accepted, 0);
    worker.HandleMessage("fleet/acme/m1/telemetry", R"({"ts":6000,"metrics":{"temp":90}})", 6000, 4);
    return sink.opened;
  };
  // Same rule text: the pending period from t0 = 1000 goes on and opens at 6000.
  EXPECT_EQ(restore_and_run("rules:\n  - name: hot\n    when: avg(temp, 20s) > 80\n    for: 5s\n"
                            "    clear: temp < 50\n    clear_for: 3s\n    reopen_within: 30s\n"
                            "    severity: critical\n"),
            std::vector<int64_t>{1000});
  // Changed text: the rule starts afresh at 6000 and has not held for 5 s yet.
  EXPECT_EQ(restore_and_run("rules:\n  - name: hot\n    when: avg(temp, 20s) > 81\n    for: 5s\n"),
            std::vector<int64_t>{});
}

TEST(RecoveryTest, CheckpointsAreTakenInSlicesEarliestChangedFirst) {
  fakes::InMemoryCaseStore store;
  Process p(store);
  // m0..m3 report in this order, then m1 again.
  const std::vector<Message> traffic = Traffic();
  for (int d : {0, 1, 2, 3}) p.Handle(traffic[static_cast<std::size_t>(d)]);
  p.Handle(traffic[12 + 1]);
  ASSERT_EQ(p.worker.dirty_devices(), 4u);
  auto keys = [](const std::vector<CheckpointRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(std::string(devices::DecodeDeviceKey(r.device_key)->device));
    return out;
  };
  std::vector<CheckpointRecord> slice;
  EXPECT_EQ(p.worker.TakeCheckpoints(slice, 2), 2u);
  EXPECT_EQ(keys(slice), (std::vector<std::string>{"m0", "m1"}));
  EXPECT_EQ(slice[1].journal_watermark, 14u);  // m1's second message
  // m0 changes again: it queues behind m2 and m3.
  p.Handle(traffic[12 + 0]);
  slice.clear();
  EXPECT_EQ(p.worker.TakeCheckpoints(slice, 2), 2u);
  EXPECT_EQ(keys(slice), (std::vector<std::string>{"m2", "m3"}));
  // A slice the store refused comes back, behind the others.
  p.worker.ReturnCheckpoints();
  EXPECT_EQ(p.worker.dirty_devices(), 3u);
  slice.clear();
  EXPECT_EQ(p.worker.TakeCheckpoints(slice), 3u);
  EXPECT_EQ(keys(slice), (std::vector<std::string>{"m0", "m2", "m3"}));
  EXPECT_EQ(p.worker.dirty_devices(), 0u);
}

TEST(RecoveryTest, MalformedCheckpointsAndKeysAreRefused) {
  fakes::InMemoryCaseStore store;
  Process p(store);
  EXPECT_FALSE(p.worker.RestoreDevice("junk", "x", 1));
  EXPECT_FALSE(p.worker.RestoreDevice(devices::EncodeDeviceKey("acme", "m1"), "", 1));
  EXPECT_FALSE(p.worker.RestoreDevice(devices::EncodeDeviceKey("ac/me", "m1"), "\x01", 1));
  EXPECT_EQ(p.worker.device_count(), 0u);
}

}  // namespace
}  // namespace precall::core
