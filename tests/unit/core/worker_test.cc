// Worker: which rules a sample wakes, select, tenant isolation, rejects and
// their counters, status messages, the catalog, clock-driven silent()
// evaluation (scheduled form == evaluate-every-device-at-every-advance on
// random input), and no allocation in steady state.
#include "gateway/core/worker.h"

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rules/rule_file.h"
#include "support/allocation_counter.h"


namespace precall::core {
namespace {

using devices::RejectReason;

std::shared_ptr<const rules::RuleSet> Rules(const std::string& yaml) {
  rules::RuleFile file = rules::ParseRuleFile(yaml, "test.yaml");
  EXPECT_TRUE(file.errors.empty()) << (file.errors.empty() ? "" : file.errors[0].ToString());
  auto built = rules::RuleSet::Build(std::move(file.rules));
  EXPECT_TRUE(built.errors.empty());
  return built.rules;
}

struct RecordingSink : CaseSink {
  void OnCaseEvent(const CaseEvent& e) override {
    std::string line;
    AppendEventJson(line, e);
    lines.push_back(line);
    events.push_back(e);
  }
  std::vector<CaseEvent> events;
  std::vector<std::string> lines;
};

class WorkerTest : public ::testing::Test {
 protected:
  void Start(const std::string& yaml,
             std::shared_ptr<const devices::FaultCatalog> catalog = nullptr) {
    worker_ = std::make_unique<Worker>(Rules(yaml), std::move(catalog), clock_, cases_);
  }
  Worker::Outcome Send(const std::string& device, const std::string& payload,
                       const std::string& tenant = "acme") {
    return worker_->HandleMessage("fleet/" + tenant + "/" + device + "/telemetry", payload,
                                  clock_.NowMs());
  }
  RecordingSink sink_;
  CaseBook cases_{sink_};
  DataClock clock_;
  std::unique_ptr<Worker> worker_;
};

TEST_F(WorkerTest, ARuleRunsOnlyOnSamplesCarryingAMetricItNames) {
  // avg over the window would be > 100 at ts 3000 if the rule ran on the
  // rpm-only sample; it must not run there.
  Start("rules:\n  - name: hot\n    when: avg(temp, 10s) > 100\n    for: 2s\n");
  Send("d1", R"({"ts": 1000, "metrics": {"temp": 120}})");
  Send("d1", R"({"ts": 3000, "metrics": {"rpm": 900}})");
  EXPECT_TRUE(sink_.events.empty());
  Send("d1", R"({"ts": 3500, "metrics": {"temp": 120}})");
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].snapshot.fault_started_at, 1000);
  EXPECT_EQ(sink_.events[0].at, 3500);
}

TEST_F(WorkerTest, SelectUsesStickyModelAndLabels) {
  Start(
      "rules:\n"
      "  - name: ex_hot\n    select: {model: EX200, site: north}\n    when: temp > 100\n");
  Send("d1", R"({"ts": 1, "model": "EX200", "labels": {"site": "south"}, "metrics": {"temp": 1}})");
  Send("d1", R"({"ts": 2, "metrics": {"temp": 101}})");
  EXPECT_TRUE(sink_.events.empty());
  Send("d1", R"({"ts": 3, "labels": {"site": "north"}, "metrics": {"temp": 50}})");
  Send("d1", R"({"ts": 4, "metrics": {"temp": 101}})");
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].snapshot.model, "EX200");
}

TEST_F(WorkerTest, TenantsWithTheSameDeviceIdAreSeparate) {
  Start("rules:\n  - name: hot\n    when: avg(temp, 1m) > 100\n");
  Send("d1", R"({"ts": 1000, "metrics": {"temp": 150}})", "acme");
  Send("d1", R"({"ts": 2000, "metrics": {"temp": 10}})", "globex");
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].snapshot.tenant, "acme");
  Send("d1", R"({"ts": 3000, "metrics": {"temp": 150}})", "globex");  // avg 80: not hot
  EXPECT_EQ(sink_.events.size(), 1u);
  EXPECT_NE(worker_->FindDevice("acme", "d1"), worker_->FindDevice("globex", "d1"));
}

TEST_F(WorkerTest, RejectsAreCountedAndProcessingGoesOn) {
  Start("rules:\n  - name: hot\n    when: temp > 100\n");
  EXPECT_EQ(worker_->HandleMessage("fleet/acme/d1", "{}", 0).first_reject,
            RejectReason::kBadTopic);
  EXPECT_EQ(worker_->HandleMessage("fleet/ac me/d1/telemetry", "{}", 0).first_reject,
            RejectReason::kBadTopic);
  EXPECT_EQ(Send("d1", R"({"ts": 1000, "seq": 5, "metrics": {"temp": 1}})").accepted, 1);
  EXPECT_EQ(Send("d1", R"({"ts": 2000, "seq": 5, "metrics": {"temp": 1}})").first_reject,
            RejectReason::kDuplicate);
  EXPECT_EQ(Send("d1", R"({"ts": 500, "metrics": {"temp": 1}})").first_reject,
            RejectReason::kOutOfOrder);
  EXPECT_EQ(Send("d1", R"({"ts": 90000000, "metrics": {"temp": 1}})").first_reject,
            RejectReason::kClockSkew);
  EXPECT_EQ(Send("d1", R"({"ts": 2000, "metrics": {"temp": "hot"}})").first_reject,
            RejectReason::kBadField);
  // A batch drops only its bad sample.
  Worker::Outcome batch = Send(
      "d1", R"([{"ts": 3000, "metrics": {"temp": 1}}, {"ts": 4000, "metrics": {"temp": []}},
               {"ts": 5000, "metrics": {"temp": 150}}])");
  EXPECT_EQ(batch.accepted, 2);
  EXPECT_EQ(batch.rejected, 1);
  ASSERT_EQ(sink_.events.size(), 1u);
  const WorkerCounters& c = worker_->counters();
  EXPECT_EQ(c.rejected[static_cast<int>(RejectReason::kBadTopic)].Get(), 2u);
  EXPECT_EQ(c.rejected[static_cast<int>(RejectReason::kDuplicate)].Get(), 1u);
  EXPECT_EQ(c.rejected[static_cast<int>(RejectReason::kOutOfOrder)].Get(), 1u);
  EXPECT_EQ(c.rejected[static_cast<int>(RejectReason::kClockSkew)].Get(), 1u);
  EXPECT_EQ(c.rejected[static_cast<int>(RejectReason::kBadField)].Get(), 2u);
  EXPECT_EQ(c.samples_processed.Get(), 3u);
  EXPECT_EQ(c.messages_received.Get(), 8u);
}

TEST_F(WorkerTest, StatusMessagesSetConnectivity) {
  Start("rules:\n  - name: hot\n    when: temp > 100\n");
  EXPECT_EQ(worker_->HandleMessage("fleet/acme/d1/status", "offline", 0).accepted, 1);
  ASSERT_NE(worker_->FindDevice("acme", "d1"), nullptr);
  EXPECT_EQ(worker_->FindDevice("acme", "d1")->connectivity(), devices::Connectivity::kOffline);
  EXPECT_EQ(worker_->HandleMessage("fleet/acme/d1/status", "sleepy", 0).first_reject,
            RejectReason::kBadField);
  // As `mosquitto_pub -s` sends it: with a newline.
  EXPECT_EQ(worker_->HandleMessage("fleet/acme/d1/status", "online\n", 0).accepted, 1);
  EXPECT_EQ(worker_->FindDevice("acme", "d1")->connectivity(), devices::Connectivity::kOnline);
  EXPECT_EQ(worker_->HandleMessage("fleet/acme/d1/status", " offline\r\n", 0).accepted, 1);
  EXPECT_EQ(worker_->FindDevice("acme", "d1")->connectivity(), devices::Connectivity::kOffline);
  EXPECT_EQ(worker_->HandleMessage("fleet/acme/d1/status", "on line", 0).first_reject,
            RejectReason::kBadField);
}

TEST_F(WorkerTest, CatalogCodesOpenAndResolveCases) {
  auto catalog = std::make_shared<devices::FaultCatalog>();
  devices::ModelEntry ex;
  ex.dtc["SPN110.FMI0"] = devices::DtcEntry{true, devices::Severity::kCritical,
                                            "Coolant temperature high", "engine-cooling",
                                            {"thermostat-EX200"}};
  ex.dtc["P0001"] = devices::DtcEntry{false, devices::Severity::kInfo, "", "", {}};
  catalog->models["EX200"] = std::move(ex);
  catalog->default_dtc = devices::DtcEntry{true, devices::Severity::kWarning, "Unlisted", "", {}};
  Start("rules:\n  - name: hot\n    when: temp > 100\n", catalog);
  Send("d1", R"({"ts": 1000, "model": "EX200", "dtc": ["SPN110.FMI0", "P0001", "X9"]})");
  ASSERT_EQ(sink_.events.size(), 2u);  // P0001 has open_case: false
  EXPECT_EQ(sink_.events[0].snapshot.rule, "dtc:SPN110.FMI0");
  EXPECT_EQ(sink_.events[0].snapshot.severity, devices::Severity::kCritical);
  EXPECT_EQ(sink_.events[0].snapshot.parts, std::vector<std::string>{"thermostat-EX200"});
  EXPECT_EQ(sink_.events[1].snapshot.rule, "dtc:X9");
  EXPECT_EQ(sink_.events[1].snapshot.diagnosis, "Unlisted");
  Send("d1", R"({"ts": 2000, "dtc": ["SPN110.FMI0", "P0001", "X9"]})");  // unchanged
  EXPECT_EQ(sink_.events.size(), 2u);
  Send("d1", R"({"ts": 3000, "dtc": []})");
  ASSERT_EQ(sink_.events.size(), 4u);
  EXPECT_EQ(sink_.events[2].type, EventType::kResolved);
  EXPECT_EQ(sink_.events[2].snapshot.rule, "dtc:SPN110.FMI0");
  EXPECT_EQ(sink_.events[3].snapshot.rule, "dtc:X9");
}

TEST_F(WorkerTest, SilentOpensWhileOthersMoveTheClockAndClearsOnReturn) {
  Start("rules:\n  - name: quiet\n    when: silent(5m)\n");
  Send("d1", R"({"ts": 1000000, "metrics": {"x": 1}})");
  Send("d2", R"({"ts": 1200000, "metrics": {"x": 1}})");
  EXPECT_TRUE(sink_.events.empty());
  Send("d2", R"({"ts": 1299999, "metrics": {"x": 1}})");
  EXPECT_TRUE(sink_.events.empty());
  Send("d2", R"({"ts": 1300000, "metrics": {"x": 1}})");  // d1 exactly 5 min quiet
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].snapshot.device, "d1");
  EXPECT_EQ(sink_.events[0].snapshot.opened_at, 1300000);
  Send("d1", R"({"ts": 1400000, "metrics": {"x": 1}})");
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[1].type, EventType::kResolved);
  EXPECT_EQ(sink_.events[1].at, 1400000);
}

// The scheduled clock evaluation must produce exactly what evaluating every
// device at every clock advance produces, for rules mixing silent(), windows,
// `for` and `clear_for`, and a `clear` that already holds when the clock
// opens a case (its clear_for streak starts there).
TEST(WorkerClockTest, ScheduledEqualsExhaustiveOnRandomInput) {
  const std::string yaml =
      "rules:\n"
      "  - name: quiet\n    when: silent(30s)\n    for: 10s\n    clear_for: 5s\n"
      "  - name: quiet_hot\n    when: silent(20s) and max(t, 60s) > 90\n"
      "  - name: quiet_low\n    when: silent(45s) or count(t, 15s) < 2\n    for: 3s\n"
      "  - name: hot\n    when: avg(t, 10s) > 80\n    for: 5s\n    clear: t < 50\n"
      "  - name: quiet_or_hot\n    when: silent(25s) or t > 110\n    clear: t < 60\n"
      "    clear_for: 4s\n";
  std::mt19937_64 rng(1234);
  for (int round = 0; round < 30; ++round) {
    std::vector<std::pair<std::string, std::string>> messages;
    int64_t ts = 1000000;
    for (int i = 0; i < 400; ++i) {
      ts += static_cast<int64_t>(rng() % 4000);
      int device = static_cast<int>(rng() % 6);
      // Some devices go quiet for long stretches.
      if (device >= 4 && rng() % 4 != 0) continue;
      int64_t jitter = static_cast<int64_t>(rng() % 3000);
      messages.emplace_back("fleet/acme/d" + std::to_string(device) + "/telemetry",
                            "{\"ts\":" + std::to_string(ts - jitter) + ",\"metrics\":{\"t\":" +
                                std::to_string(rng() % 120) + "}}");
    }
    std::vector<std::string> outputs[2];
    for (int mode = 0; mode < 2; ++mode) {
      RecordingSink sink;
      CaseBook cases(sink);
      DataClock clock;
      Worker worker(Rules(yaml), nullptr, clock, cases,
                    Worker::Options{.evaluate_every_device_on_clock = mode == 1});
      for (const auto& [topic, payload] : messages) {
        worker.HandleMessage(topic, payload, clock.NowMs());
      }
      outputs[mode] = sink.lines;
    }
    ASSERT_FALSE(outputs[1].empty());
    ASSERT_EQ(outputs[0], outputs[1]) << "round " << round;
  }
}

TEST_F(WorkerTest, SteadyStateAllocatesNothing) {
  Start(
      "rules:\n"
      "  - name: hot\n    when: avg(temp, 1m) > 100 and rpm > 800\n    for: 30s\n"
      "  - name: low\n    when: min(oil, 30s) < 80\n"
      "  - name: quiet\n    when: silent(5m)\n"
      "  - name: code\n    when: dtc(\"SPN110.*\")\n");
  auto payload = [](int64_t ts, int i) {
    return "{\"ts\":" + std::to_string(ts) + ",\"seq\":" + std::to_string(ts) +
           ",\"model\":\"EX200\",\"labels\":{\"site\":\"north\"},\"metrics\":{\"temp\":" +
           std::to_string(60 + i % 20) + ",\"rpm\":1500,\"oil\":300,\"other\":1},\"dtc\":[\"P1\"]}";
  };
  std::vector<std::string> topics, payloads;
  for (int d = 0; d < 50; ++d) topics.push_back("fleet/acme/d" + std::to_string(d) + "/telemetry");
  int64_t ts = 1000000;
  for (int i = 0; i < 20000; ++i) payloads.push_back(payload(ts + i * 100, i));
  for (int i = 0; i < 10000; ++i) worker_->HandleMessage(topics[i % 50], payloads[i], 0);
  precall::testing::AllocationCounter counter;
  for (int i = 10000; i < 20000; ++i) worker_->HandleMessage(topics[i % 50], payloads[i], 0);
  EXPECT_EQ(counter.Stop(), 0u);
  EXPECT_EQ(worker_->counters().rejected_total(), 0u);
  EXPECT_EQ(worker_->counters().samples_processed.Get(), 20000u);
}

}  // namespace
}  // namespace precall::core
