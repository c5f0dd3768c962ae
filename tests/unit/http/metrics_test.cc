// MetricsCollector: the exposition carries every required family (rejects by
// every reason, also zeros), sums the workers' counters and histograms at
// scrape time, and reads unwired sources as zero.
#include "gateway/http/metrics.h"

#include <string>
#include <vector>

#include "gateway/core/clock.h"
#include "gateway/core/worker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/rule_file.h"

namespace precall::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct NullSink : core::CaseSink {
  void OnCaseEvent(const core::CaseEvent&) override {}
};

std::shared_ptr<const rules::RuleSet> Rules() {
  rules::RuleFile file = rules::ParseRuleFile(
      "rules:\n  - name: hot\n    when: t > 100\n    severity: major\n", "test.yaml");
  EXPECT_TRUE(file.errors.empty());
  return rules::RuleSet::Build(std::move(file.rules)).rules;
}

// A serving clock that stands still, so the measured ingest lag does not
// depend on how fast the test runs.
class StillClock final : public core::Clock {
 public:
  int64_t NowMs() const override { return 1'700'000'000'000; }
  bool IsDataClock() const override { return false; }
  bool HasTime() const override { return true; }
  bool Observe(int64_t) override { return false; }
};

class MetricsTest : public ::testing::Test {
 protected:
  MetricsSources Sources() {
    MetricsSources s;
    s.workers = 2;
    s.worker_counters = [this](int i) -> const core::WorkerCounters& {
      return (i == 0 ? w0_ : w1_).counters();
    };
    s.ring_depth = [](int i) { return static_cast<std::size_t>(i == 0 ? 3 : 0); };
    s.cases = &cases_;
    s.broker_connected = [] { return true; };
    s.outbox_depth = [] { return uint64_t{7}; };
    s.publications_refused = [] { return uint64_t{4}; };
    s.retained_telemetry_dropped = [] { return uint64_t{6}; };
    s.rules_loaded = [] { return uint64_t{1}; };
    s.journal_write_us = &journal_us_;
    return s;
  }

  StillClock clock_;
  NullSink sink_;
  core::CaseBook cases_{sink_};
  core::Worker w0_{Rules(), nullptr, clock_, cases_};
  core::Worker w1_{Rules(), nullptr, clock_, cases_};
  core::FixedHistogram journal_us_{core::kWriteLatencyBoundsUs};
};

TEST_F(MetricsTest, SumsTheWorkersAndListsEveryRejectReason) {
  const int64_t now = clock_.NowMs();
  const std::string ts = std::to_string(now - 30);  // 30 ms of ingest lag
  w0_.HandleMessage("fleet/acme/d1/telemetry", "{\"ts\":" + ts + ",\"metrics\":{\"t\":120}}", now);
  w1_.HandleMessage("fleet/acme/d2/telemetry", "{\"ts\":" + ts + ",\"metrics\":{\"t\":50}}", now);
  w1_.HandleMessage("fleet/acme/d2/telemetry", "not json", now);
  w1_.HandleMessage("bad/topic", "{}", now);
  journal_us_.Record(40);

  const std::string text = ExpositionText(MetricsCollector(Sources()).Collect());
  EXPECT_THAT(text, HasSubstr("\nprecall_messages_received_total 4\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_samples_processed_total 2\n"));
  EXPECT_THAT(text, HasSubstr("precall_messages_rejected_total{reason=\"bad_json\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_messages_rejected_total{reason=\"bad_topic\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_messages_rejected_total{reason=\"clock_skew\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_messages_rejected_total{reason=\"out_of_order\"} 0\n"));
  EXPECT_THAT(text, Not(HasSubstr("reason=\"none\"")));
  EXPECT_THAT(text, HasSubstr("precall_cases_opened_total{severity=\"major\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_cases_active{severity=\"major\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_cases_active{severity=\"info\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_case_events_total{type=\"opened\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_case_events_total{type=\"reopened\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_broker_connected 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_ring_depth{worker=\"0\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("precall_ring_depth{worker=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_devices_known 2\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_rules_loaded 1\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_outbox_depth 7\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_case_event_publications_refused_total 4\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_retained_telemetry_dropped_total 6\n"));
  EXPECT_THAT(text, HasSubstr("precall_rule_reloads_total{result=\"ok\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_rule_reloads_total{result=\"error\"} 0\n"));
  // Both samples were ~30 ms late: in the 50 ms bucket, not in the 25 ms one.
  EXPECT_THAT(text, HasSubstr("precall_ingest_lag_seconds_count 2\n"));
  EXPECT_THAT(text, HasSubstr("precall_ingest_lag_seconds_bucket{le=\"0.05\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("precall_journal_write_seconds_bucket{le=\"5e-05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("precall_journal_write_seconds_bucket{le=\"2.5e-05\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_store_write_seconds_count 0\n"));
  EXPECT_THAT(text, HasSubstr("# TYPE precall_case_latency_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("precall_case_latency_seconds_count 1\n"));  // the opened case
}

TEST_F(MetricsTest, UnwiredSourcesReadAsZero) {
  const std::string text = ExpositionText(MetricsCollector(MetricsSources{}).Collect());
  EXPECT_THAT(text, HasSubstr("\nprecall_messages_received_total 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_messages_rejected_total{reason=\"duplicate\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_cases_active{severity=\"critical\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nprecall_broker_connected 0\n"));
  EXPECT_THAT(text, HasSubstr("precall_ingest_lag_seconds_count 0\n"));
}

TEST(FixedHistogramTest, BucketsAreInclusiveUpperBoundsAndNegativesCountAsZero) {
  static constexpr int64_t kBounds[] = {10, 100};
  core::FixedHistogram h(kBounds);
  h.Record(-5);
  h.Record(10);
  h.Record(11);
  h.Record(1000);
  EXPECT_EQ(h.bucket(0), 2u);
  EXPECT_EQ(h.bucket(1), 1u);
  EXPECT_EQ(h.bucket(2), 1u);
  EXPECT_EQ(h.sum(), 1021u);
}

}  // namespace
}  // namespace precall::http
