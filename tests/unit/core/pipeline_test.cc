// Pipeline: many devices through several worker threads give each device the
// same case events as the single-threaded worker (replay), nothing is lost
// under back-pressure, and Stop drains what was submitted.
#include "gateway/core/pipeline.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "devices/ids.h"
#include "fakes/in_memory_store.h"
#include "gtest/gtest.h"
#include "rules/rule_file.h"
#include "support/poll.h"

namespace precall::core {
namespace {

std::shared_ptr<const rules::RuleSet> Rules() {
  rules::RuleFile file = rules::ParseRuleFile(
      "rules:\n"
      "  - name: hot\n    when: avg(t, 10s) > 80\n    for: 3s\n    clear: t < 50\n"
      "  - name: spike\n    when: max(t, 5s) - min(t, 5s) > 60\n",
      "test.yaml");
  EXPECT_TRUE(file.errors.empty());
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

// Per device: "rule type fault_started_at occurrences" of each event, in order.
struct PerDeviceSink : CaseSink {
  void OnCaseEvent(const CaseEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    by_device[e.snapshot.device].push_back(e.snapshot.rule + " " +
                                           std::string(EventTypeName(e.type)) + " " +
                                           std::to_string(e.snapshot.fault_started_at) + " " +
                                           std::to_string(e.snapshot.occurrences));
    ++events;
  }
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> by_device;
  int events = 0;
};

struct Message {
  std::string topic;
  std::string payload;
};

std::vector<Message> Traffic() {
  std::vector<Message> out;
  for (int second = 0; second < 120; ++second) {
    for (int d = 0; d < 40; ++d) {
      int t = (d % 4 == 0 && second > 30 && second < 80) ? 95 : 40 + (second * 7 + d) % 30;
      out.push_back({"fleet/acme/d" + std::to_string(d) + "/telemetry",
                     "{\"ts\":" + std::to_string(1000000 + second * 1000) + ",\"seq\":" +
                         std::to_string(second + 1) + ",\"metrics\":{\"t\":" + std::to_string(t) +
                         "}}"});
    }
  }
  return out;
}

// serve's clock-driven rules (silent()) are looked at every tick: a case
// opens at most one tick late (a 1-s tick made silent(3s) open at 3.75 s).
TEST(PipelineTest, SilentRulesAreLookedAtEvery100Ms) {
  EXPECT_LE(Pipeline::Options{}.tick, std::chrono::milliseconds(100));
}

TEST(PipelineTest, ThreadedWorkersGiveEachDeviceTheSameCasesAsOneWorker) {
  const std::vector<Message> traffic = Traffic();

  PerDeviceSink single_sink;
  {
    CaseBook cases(single_sink);
    WallClock clock;
    Worker worker(Rules(), nullptr, clock, cases);
    for (const Message& m : traffic) worker.HandleMessage(m.topic, m.payload, clock.NowMs());
  }

  PerDeviceSink threaded_sink;
  CaseBook cases(threaded_sink);
  WallClock clock;
  Pipeline pipeline(Pipeline::Options{.workers = 3, .ring_capacity = 16}, Rules(), nullptr,
                    clock, cases);
  pipeline.Start();
  uint64_t seq = 0;
  for (const Message& m : traffic) ASSERT_TRUE(pipeline.Submit(m.topic, m.payload, 0, ++seq));
  pipeline.Stop();

  ASSERT_GT(single_sink.events, 0);
  EXPECT_EQ(threaded_sink.by_device, single_sink.by_device);
  uint64_t processed = 0;
  for (int w = 0; w < pipeline.workers(); ++w) {
    processed += pipeline.counters(w).samples_processed.Get();
    EXPECT_EQ(pipeline.ring_depth(w), 0u);
  }
  EXPECT_EQ(processed, traffic.size());
}

TEST(PipelineTest, BothTopicsOfADeviceGoToTheSameWorker) {
  PerDeviceSink sink;
  CaseBook cases(sink);
  WallClock clock;
  Pipeline pipeline(Pipeline::Options{.workers = 4}, Rules(), nullptr, clock, cases);
  for (int d = 0; d < 100; ++d) {
    std::string device = "fleet/acme/dev-" + std::to_string(d);
    EXPECT_EQ(pipeline.LaneFor(device + "/telemetry"), pipeline.LaneFor(device + "/status"));
  }
}

// An operator reading `top -H` or perf tells the workers apart by name.
TEST(PipelineTest, WorkerThreadsAreNamedByTheirIndex) {
  PerDeviceSink sink;
  CaseBook cases(sink);
  WallClock clock;
  Pipeline pipeline(Pipeline::Options{.workers = 2}, Rules(), nullptr, clock, cases);
  pipeline.Start();
  auto thread_names = [] {
    std::set<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      names.insert(name);
    }
    return names;
  };
  EXPECT_TRUE(precall::testing::PollUntil([&] {
    std::set<std::string> names = thread_names();
    return names.contains("worker-0") && names.contains("worker-1");
  }));
  pipeline.Stop();
}

TEST(PipelineTest, QueryDeviceAsksTheOwningWorkerWhileItRunsAndAfterItStopped) {
  PerDeviceSink sink;
  CaseBook cases(sink);
  WallClock clock;
  // A long tick: the workers are parked when the queries come, so only the
  // nudge can wake them in time.
  Pipeline pipeline(Pipeline::Options{.workers = 2, .tick = std::chrono::hours(1)}, Rules(),
                    nullptr, clock, cases);
  pipeline.Start();
  ASSERT_TRUE(pipeline.Submit("fleet/acme/d1/telemetry",
                              R"({"ts":5000,"model":"EX200","labels":{"site":"n","a":"b"},)"
                              R"("metrics":{"t":42.5,"other":1},"dtc":["P0217","SPN1.FMI2"]})",
                              7000, 1));
  std::optional<DeviceView> view;
  // The answer reflects the sample once the worker has taken it.
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
       std::chrono::steady_clock::now() < deadline;) {
    view = pipeline.QueryDevice("acme", "d1");
    if (view) break;
  }
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->tenant, "acme");
  EXPECT_EQ(view->device, "d1");
  EXPECT_EQ(view->model, "EX200");
  using Labels = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(view->labels, (Labels{{"a", "b"}, {"site", "n"}}));
  EXPECT_EQ(view->last_seen, 7000);
  using Metrics = std::vector<std::pair<std::string, double>>;
  EXPECT_EQ(view->metrics, (Metrics{{"other", 1}, {"t", 42.5}}));
  EXPECT_EQ(view->dtc, (std::vector<std::string>{"P0217", "SPN1.FMI2"}));
  EXPECT_FALSE(pipeline.QueryDevice("acme", "nobody").has_value());
  EXPECT_FALSE(pipeline.QueryDevice("globex", "d1").has_value());
  pipeline.Stop();
  ASSERT_TRUE(pipeline.QueryDevice("acme", "d1").has_value());
  EXPECT_EQ(pipeline.QueryDevice("acme", "d1")->model, "EX200");
}

// After Traffic() with journal seqs 1..last: every device has a checkpoint at
// its last message (round robin over 40 devices: device d's last message is
// 40 before the end, plus d + 1).
void ExpectEveryDeviceCheckpointedAtItsLastMessage(fakes::InMemoryCaseStore& store,
                                                   uint64_t last) {
  std::map<std::string, uint64_t> watermarks;
  ASSERT_TRUE(store.ForEachCheckpoint([&](std::string_view key, std::string_view, uint64_t w) {
    watermarks[std::string(key)] = w;
  }).ok());
  ASSERT_EQ(watermarks.size(), 40u);
  for (int d = 0; d < 40; ++d) {
    EXPECT_EQ(watermarks[devices::EncodeDeviceKey("acme", "d" + std::to_string(d))],
              last - 40 + static_cast<uint64_t>(d) + 1);
  }
}

// Two workers writing checkpoints every `interval` to an in-memory store.
struct CheckpointingPipeline {
  explicit CheckpointingPipeline(std::chrono::milliseconds interval = std::chrono::milliseconds(10))
      : pipeline{
            Pipeline::Options{.workers = 2, .checkpoints = &store, .checkpoint_interval = interval},
            Rules(), nullptr, clock, cases} {}
  fakes::InMemoryCaseStore store;
  PerDeviceSink sink;
  CaseBook cases{sink};
  WallClock clock;
  Pipeline pipeline;
};

TEST(PipelineTest, PeriodicCheckpointsCoverEveryDeviceAndMoveTheRecoveryStart) {
  CheckpointingPipeline p;
  fakes::InMemoryCaseStore& store = p.store;
  Pipeline& pipeline = p.pipeline;
  pipeline.Start();
  const std::vector<Message> traffic = Traffic();
  uint64_t seq = 0;
  for (const Message& m : traffic) ASSERT_TRUE(pipeline.Submit(m.topic, m.payload, 0, ++seq));
  // Every worker has processed everything: the recovery start reaches the
  // last journal seq, and every device has a checkpoint at its last message.
  // The pipeline reports the recovery start only after the store holds it.
  ASSERT_TRUE(precall::testing::PollUntil([&] { return pipeline.checkpointed_through() == seq; }));
  EXPECT_EQ(store.recovery_start(), seq);
  ExpectEveryDeviceCheckpointedAtItsLastMessage(store, seq);
  pipeline.Stop();
  EXPECT_EQ(pipeline.checkpoint_failures(), 0u);

  // Another pipeline takes the devices back, each on the worker that owns it.
  std::vector<CheckpointRecord> records;
  ASSERT_TRUE(store.ForEachCheckpoint([&](std::string_view k, std::string_view c, uint64_t w) {
    records.push_back({std::string(k), std::string(c), w});
  }).ok());
  records.push_back({"junk", "x", 1});
  Pipeline restored(Pipeline::Options{.workers = 3}, Rules(), nullptr, p.clock, p.cases);
  EXPECT_EQ(restored.RestoreDevices(records), 1u);
  for (int d = 0; d < 40; ++d) {
    auto view = restored.QueryDevice("acme", "d" + std::to_string(d));
    ASSERT_TRUE(view.has_value()) << d;
    EXPECT_FALSE(view->metrics.empty());
  }
}

// A rule switch checkpoints every device at once: the journal before it must
// not be re-applied through the new rules after a crash.
TEST(PipelineTest, AReloadCheckpointsEveryDevice) {
  CheckpointingPipeline p(std::chrono::hours(1));  // no periodic round in this test
  Pipeline& pipeline = p.pipeline;
  pipeline.Start();
  pipeline.StartClock();
  const std::vector<Message> traffic = Traffic();
  uint64_t seq = 0;
  for (const Message& m : traffic) ASSERT_TRUE(pipeline.Submit(m.topic, m.payload, 0, ++seq));
  pipeline.WaitUntilIdle();
  std::size_t before = 0;
  ASSERT_TRUE(p.store.ForEachCheckpoint([&](auto, auto, auto) { ++before; }).ok());
  EXPECT_EQ(before, 0u);
  pipeline.Reload(Rules(), nullptr);
  ASSERT_TRUE(precall::testing::PollUntil([&] { return p.store.recovery_start() == seq; }));
  ExpectEveryDeviceCheckpointedAtItsLastMessage(p.store, seq);
  pipeline.Stop();
}

TEST(PipelineTest, DevicesOfAFailedCheckpointWriteAreWrittenByALaterRound) {
  CheckpointingPipeline p;
  fakes::InMemoryCaseStore& store = p.store;
  Pipeline& pipeline = p.pipeline;
  store.set_fail_commits(true);
  pipeline.Start();
  const std::vector<Message> traffic = Traffic();
  uint64_t seq = 0;
  for (const Message& m : traffic) ASSERT_TRUE(pipeline.Submit(m.topic, m.payload, 0, ++seq));
  ASSERT_TRUE(precall::testing::PollUntil([&] { return pipeline.checkpoint_failures() >= 4; }));
  EXPECT_EQ(store.recovery_start(), 0u);
  // The store recovers; no message arrives any more, yet every device is
  // written at its last message and the recovery start reaches the end.
  store.set_fail_commits(false);
  ASSERT_TRUE(precall::testing::PollUntil([&] { return store.recovery_start() == seq; }));
  ExpectEveryDeviceCheckpointedAtItsLastMessage(store, seq);
  pipeline.Stop();
}

}  // namespace
}  // namespace precall::core
