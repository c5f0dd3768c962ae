// The run loop: what reaches the sink, in what order, what the truth file
// says, and how a run ends (duration, stop).
#include "devices/simulator/run.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kStart = 1'795'849'200'000;
constexpr int64_t kMinute = 60'000;

FleetOptions Options() {
  FleetOptions o;
  o.seed = 4;
  o.machines = 40;
  o.fault_rate = 0.5;
  o.start_ts_ms = kStart;
  o.fault_window_ms = 5 * kMinute;
  return o;
}

// Records what the run hands over.
class RecordingSink final : public TelemetrySink {
 public:
  void Publish(int machine, std::string_view topic, std::string_view payload) override {
    messages.push_back({machine, std::string(topic), std::string(payload)});
  }
  void GoSilent(int machine) override { silenced.push_back(machine); }
  absl::Status Flush() override { return absl::OkStatus(); }

  struct Message {
    int machine;
    std::string topic;
    std::string payload;
  };
  std::vector<Message> messages;
  std::vector<int> silenced;
};

// A file in the test's temporary directory, read back whole.
class TempFile {
 public:
  explicit TempFile(std::string name) : path_(absl::StrCat(::testing::TempDir(), "/", name)) {}
  const std::string& path() const { return path_; }
  std::string Read() const {
    std::FILE* f = std::fopen(path_.c_str(), "rb");
    std::string text;
    char buf[4096];
    for (std::size_t n; f && (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    if (f) std::fclose(f);
    return text;
  }

 private:
  std::string path_;
};

RunOptions FileRun(int64_t duration_ms) {
  return RunOptions{.duration_ms = duration_ms, .data_clock = true};
}

TEST(RunTest, ToAFileTheSameOptionsGiveTheSameBytes) {
  const Fleet fleet(Options());
  std::string outputs[2];
  for (std::string& out : outputs) {
    TempFile file("run.jsonl");
    std::FILE* f = std::fopen(file.path().c_str(), "wb");
    FileSink sink(fleet, f);
    std::atomic<bool> stop{false};
    RunFleet(fleet, FileRun(10 * kMinute), sink, nullptr, stop, 0);
    ASSERT_TRUE(sink.Flush().ok());
    std::fclose(f);
    out = file.Read();
  }
  EXPECT_EQ(outputs[0], outputs[1]);
  EXPECT_THAT(outputs[0],
              StartsWith(R"({"topic":"fleet/acme/ex200-0001/status","payload":"online"})"
                         "\n"));
  EXPECT_THAT(outputs[0],
              HasSubstr(R"({"topic":"fleet/acme/ex200-0001/telemetry","payload":{"ts":)"));
}

TEST(RunTest, EveryMachineSaysOnlineReportsEachIntervalAndSaysOfflineOnce) {
  const Fleet fleet(Options());
  RecordingSink sink;
  std::atomic<bool> stop{false};
  const RunResult r = RunFleet(fleet, FileRun(10 * kMinute), sink, nullptr, stop, 0);
  std::map<int, int> online, offline, samples;
  int64_t last_ts = 0;
  uint64_t telemetry = 0;
  for (const auto& m : sink.messages) {
    if (m.topic.ends_with("/status")) {
      (m.payload == "online" ? online : offline)[m.machine]++;
      continue;
    }
    ++samples[m.machine];
    ++telemetry;
    const int64_t ts = std::strtoll(m.payload.c_str() + 6, nullptr, 10);  // {"ts":...
    EXPECT_GE(ts, last_ts) << "published in time order";
    EXPECT_LT(ts, kStart + 10 * kMinute);
    last_ts = ts;
  }
  int silent = 0;
  for (int i = 0; i < fleet.size(); ++i) {
    EXPECT_EQ(online[i], 1);
    const auto& f = fleet.fault(i);
    if (f && f->kind == FaultKind::kSilent) {
      ++silent;
      EXPECT_EQ(offline[i], 0) << "its last will says it, not the machine";
      EXPECT_EQ(samples[i], (f->onset_ts - kStart) / fleet.options().interval_ms);
    } else {
      EXPECT_EQ(offline[i], 1) << "end of shift";
      EXPECT_EQ(samples[i], 60);  // 10 min at 10 s
    }
  }
  EXPECT_GT(silent, 0);
  EXPECT_EQ(static_cast<int>(sink.silenced.size()), silent);
  EXPECT_EQ(r.samples, telemetry);
  EXPECT_EQ(r.end.end_ts, last_ts);
  EXPECT_EQ(r.end.end_wall, last_ts) << "a file's gateway clock is its data";
}

TEST(RunTest, TruthListsTheEpisodesThatBeganBetweenTheRunAndEndLines) {
  const Fleet fleet(Options());
  TempFile file("truth.jsonl");
  RecordingSink sink;
  std::atomic<bool> stop{false};
  RunResult result;
  {
    absl::StatusOr<TruthWriter> truth = TruthWriter::Open(file.path());
    ASSERT_TRUE(truth.ok());
    // 4 minutes: the onsets spread over [1 min, 6 min] are not all reached.
    result = RunFleet(fleet, FileRun(4 * kMinute), sink, &*truth, stop, 0);
  }
  absl::StatusOr<Truth> truth = ParseTruth(file.Read());
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_TRUE(truth->run.data_clock);
  EXPECT_EQ(truth->run.machines, 40);
  EXPECT_EQ(truth->run.start_ts, kStart);
  int begun = 0;
  for (int i = 0; i < fleet.size(); ++i) {
    if (fleet.fault(i) && fleet.fault(i)->onset_ts < kStart + 4 * kMinute) ++begun;
  }
  EXPECT_GT(begun, 0);
  EXPECT_LT(begun, fleet.faulty());
  ASSERT_EQ(static_cast<int>(truth->episodes.size()), begun);
  EXPECT_EQ(result.episodes, begun);
  for (const Episode& e : truth->episodes) {
    EXPECT_EQ(e.onset_wall, e.onset) << "data clock";
    EXPECT_EQ(e.due_wall, e.onset + e.bound_ms + 5'000);
    EXPECT_FALSE(e.expect.empty());
  }
  ASSERT_TRUE(truth->end);
  EXPECT_EQ(truth->end->samples, result.samples);
}

TEST(RunTest, LiveRunsStopWhenAskedAndRecordTheirClock) {
  const Fleet fleet(Options());
  RecordingSink sink;
  std::atomic<bool> stop{true};
  TempFile file("live-truth.jsonl");
  {
    absl::StatusOr<TruthWriter> truth = TruthWriter::Open(file.path());
    ASSERT_TRUE(truth.ok());
    RunFleet(fleet, RunOptions{.speed = 20}, sink, &*truth, stop, kStart - 1000);
  }
  absl::StatusOr<Truth> truth = ParseTruth(file.Read());
  ASSERT_TRUE(truth.ok()) << truth.status();
  EXPECT_FALSE(truth->run.data_clock);
  EXPECT_EQ(truth->run.speed, 20);
  EXPECT_EQ(truth->run.start_wall, kStart - 1000);
  ASSERT_TRUE(truth->end);
  EXPECT_EQ(truth->end->samples, 0u);
}

TEST(RunTest, LiveRunsEndAfterTheirDurationOfWallTime) {
  const int64_t start = WallNowMs();
  FleetOptions o = Options();
  o.start_ts_ms = start;
  const Fleet fleet(o);
  RecordingSink sink;
  std::atomic<bool> stop{false};
  // 200 ms of wall time at 600x: 2 minutes of event time.
  const RunResult r =
      RunFleet(fleet, RunOptions{.speed = 600, .duration_ms = 200}, sink, nullptr, stop, start);
  // The last sample was due less than an interval (17 ms of wall time) before the end.
  EXPECT_GE(r.end.end_wall, start + 200 - 17);
  EXPECT_LE(r.end.end_ts, start + 2 * kMinute);
  EXPECT_GE(r.end.end_ts, start + 2 * kMinute - o.interval_ms);
  EXPECT_GT(r.samples, 0u);
}

TEST(RunTest, OptionsAreValidated) {
  EXPECT_TRUE(RunOptions{}.Validate().ok());
  EXPECT_FALSE(RunOptions{.speed = 0}.Validate().ok());
  EXPECT_FALSE((RunOptions{.duration_ms = 0, .data_clock = true}).Validate().ok());
  EXPECT_FALSE(RunOptions{.silent_after_ms = 0}.Validate().ok());
}

TEST(RunTest, Topics) {
  EXPECT_EQ(TelemetryTopic("acme", "ex200-0001"), "fleet/acme/ex200-0001/telemetry");
  EXPECT_EQ(StatusTopic("acme", "ex200-0001"), "fleet/acme/ex200-0001/status");
}

}  // namespace
}  // namespace precall::sim
