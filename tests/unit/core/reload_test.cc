// Rule reload: a worker (and every worker of a running pipeline) switches to
// a new rule set between two messages; a rule whose definition did not
// change keeps its pending period and its active case, a changed rule starts
// afresh, a new rule runs at once, a removed rule is forgotten, and windows
// keep the points they hold.
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gateway/core/pipeline.h"
#include "gateway/core/worker.h"
#include "gtest/gtest.h"
#include "rules/rule_file.h"

namespace precall::core {
namespace {

std::shared_ptr<const rules::RuleSet> Rules(const std::string& yaml) {
  rules::RuleFile file = rules::ParseRuleFile(yaml, "rules.yaml");
  EXPECT_TRUE(file.errors.empty());
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

struct Recorder : CaseSink {
  void OnCaseEvent(const CaseEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    lines.push_back(e.snapshot.device + " " + e.snapshot.rule + " " +
                    std::string(EventTypeName(e.type)) + " " +
                    std::to_string(e.snapshot.fault_started_at));
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

constexpr char kHot[] = "  - name: hot\n    when: avg(temp, 10s) > 80\n    for: 4s\n";
constexpr char kSpike[] = "  - name: spike\n    when: max(temp, 10s) > 99\n";

std::string Sample(int64_t ts, int temp) {
  return "{\"ts\":" + std::to_string(ts) + ",\"metrics\":{\"temp\":" + std::to_string(temp) + "}}";
}

TEST(ReloadTest, UnchangedRulesKeepTheirStateChangedOnesStartAfresh) {
  Recorder sink;
  CaseBook cases(sink);
  DataClock clock;
  Worker worker(Rules(std::string("rules:\n") + kHot + kSpike +
                      "  - name: warm\n    when: temp > 70\n    for: 4s\n"),
                nullptr, clock, cases);
  const std::string topic = "fleet/acme/d1/telemetry";
  worker.HandleMessage(topic, Sample(1000, 100), 0);  // spike opens; hot and warm pending
  worker.HandleMessage(topic, Sample(2000, 90), 0);
  ASSERT_EQ(sink.Lines(), std::vector<std::string>{"d1 spike opened 1000"});

  // hot and spike unchanged; warm changed (for 4s -> 6s); cold is new.
  worker.Reload(Rules(std::string("rules:\n") + kSpike + kHot +
                      "  - name: warm\n    when: temp > 70\n    for: 6s\n"
                      "  - name: cold\n    when: min(temp, 10s) < 95\n"),
                nullptr);
  worker.HandleMessage(topic, Sample(5000, 90), 0);
  // hot: pending since 1000 (kept) -> opens at 5000 with t0 1000; cold opens
  // at once over the window points kept across the reload; spike's case is
  // still the active one (no second open); warm restarted at 5000.
  EXPECT_EQ(sink.Lines(), (std::vector<std::string>{"d1 spike opened 1000", "d1 hot opened 1000",
                                                    "d1 cold opened 5000"}));
  worker.HandleMessage(topic, Sample(9000, 90), 0);
  EXPECT_EQ(sink.Lines().size(), 3u);  // warm: 4 s since its fresh start, needs 6
  // At 11000 the 100 leaves spike's window: spike clears on not(when) (its
  // state was kept: it knows its case is active), and warm has held 6 s.
  worker.HandleMessage(topic, Sample(11000, 90), 0);
  std::vector<std::string> lines = sink.Lines();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[3], "d1 spike resolved 1000");
  EXPECT_EQ(lines[4], "d1 warm opened 5000");
}

TEST(ReloadTest, APipelineSwitchesEveryWorkerWhileRunning) {
  Recorder sink;
  CaseBook cases(sink);
  WallClock clock;
  Pipeline pipeline(Pipeline::Options{.workers = 2, .tick = std::chrono::hours(1)},
                    Rules(std::string("rules:\n") + kSpike), nullptr, clock, cases);
  pipeline.Start();
  for (int d = 0; d < 8; ++d) {
    pipeline.Submit("fleet/acme/d" + std::to_string(d) + "/telemetry", Sample(1000, 50), 1000, 0);
  }
  // Messages still in a ring when the reload comes are evaluated with the new
  // rules (the switch is between two messages, not at the signal's instant).
  pipeline.WaitUntilIdle();
  pipeline.Reload(Rules("rules:\n  - name: any\n    when: temp > 10\n"), nullptr);
  for (int d = 0; d < 8; ++d) {
    pipeline.Submit("fleet/acme/d" + std::to_string(d) + "/telemetry", Sample(2000, 50), 2000, 0);
  }
  pipeline.Stop();
  std::vector<std::string> lines = sink.Lines();
  std::sort(lines.begin(), lines.end());
  std::vector<std::string> expected;
  for (int d = 0; d < 8; ++d) expected.push_back("d" + std::to_string(d) + " any opened 2000");
  EXPECT_EQ(lines, expected);
  // After Stop, a reload reaches the idle workers directly.
  pipeline.Reload(Rules(std::string("rules:\n") + kHot), nullptr);
}

}  // namespace
}  // namespace precall::core
