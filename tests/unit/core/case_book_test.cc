// CaseBook: opening, occurrences, auto and manual resolution, reopening within
// reopen_within, acknowledgement rules, ids and gapless event numbering.
#include "gateway/core/case_book.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rules/rule_file.h"

namespace precall::core {
namespace {

struct RecordingSink : CaseSink {
  void OnCaseEvent(const CaseEvent& e) override { events.push_back(e); }
  std::vector<CaseEvent> events;
};

class CaseBookTest : public ::testing::Test {
 protected:
  CaseSubject Subject(std::string_view device = "d1", std::string_view rule = "hot") {
    return CaseSubject{"acme", device, rule, &model_};
  }
  rules::CaseTemplate Template(int64_t reopen_within_ms = 0) {
    return rules::CaseTemplate{devices::Severity::kCritical, "too hot", "engine-cooling",
                               {"fan-belt"}, reopen_within_ms};
  }
  std::string model_ = "EX200";
  RecordingSink sink_;
  CaseBook book_{sink_};
};

TEST_F(CaseBookTest, OpensThenCountsOccurrencesOnTheSameCase) {
  book_.Trigger(Subject(), Template(), 900, 1000, {{"temp", 107.5}});
  book_.Trigger(Subject(), Template(), 1900, 2000, {{"temp", 110}});
  ASSERT_EQ(sink_.events.size(), 2u);
  const CaseEvent& opened = sink_.events[0];
  EXPECT_EQ(opened.seq, 1u);
  EXPECT_EQ(opened.type, EventType::kOpened);
  EXPECT_EQ(opened.snapshot.fault_started_at, 900);
  EXPECT_EQ(opened.snapshot.opened_at, 1000);
  EXPECT_EQ(opened.snapshot.model, "EX200");
  const CaseEvent& updated = sink_.events[1];
  EXPECT_EQ(updated.seq, 2u);
  EXPECT_EQ(updated.type, EventType::kUpdated);
  EXPECT_EQ(updated.snapshot.id, opened.snapshot.id);
  EXPECT_EQ(updated.snapshot.occurrences, 2u);
  EXPECT_EQ(updated.snapshot.fault_started_at, 900);
  EXPECT_EQ(updated.snapshot.evidence, (Evidence{{"temp", 110}}));
  EXPECT_EQ(book_.active(devices::Severity::kCritical), 1);
  EXPECT_EQ(book_.opened_total(devices::Severity::kCritical), 1u);
}

TEST_F(CaseBookTest, DevicesAndRulesHaveTheirOwnCases) {
  book_.Trigger(Subject("d1", "hot"), Template(), 0, 0, {});
  book_.Trigger(Subject("d2", "hot"), Template(), 0, 0, {});
  book_.Trigger(Subject("d1", "cold"), Template(), 0, 0, {});
  std::set<std::string> ids;
  for (const auto& e : sink_.events) {
    EXPECT_EQ(e.type, EventType::kOpened);
    ids.insert(e.snapshot.id);
  }
  EXPECT_EQ(ids.size(), 3u);
}

TEST_F(CaseBookTest, ClearResolvesAutoAndAgainOpensANewCase) {
  book_.Trigger(Subject(), Template(), 0, 0, {});
  book_.Clear(Subject(), 5000, {});
  book_.Clear(Subject(), 6000, {});  // nothing active: no event
  book_.Trigger(Subject(), Template(), 7000, 7000, {});
  ASSERT_EQ(sink_.events.size(), 3u);
  EXPECT_EQ(sink_.events[1].type, EventType::kResolved);
  EXPECT_EQ(sink_.events[1].snapshot.resolved_by, "auto");
  EXPECT_EQ(sink_.events[1].snapshot.resolved_at, 5000);
  EXPECT_EQ(sink_.events[2].type, EventType::kOpened);
  EXPECT_NE(sink_.events[2].snapshot.id, sink_.events[0].snapshot.id);
  EXPECT_EQ(book_.active(devices::Severity::kCritical), 1);
}

TEST_F(CaseBookTest, ReopensWithinReopenWithinOnly) {
  book_.Trigger(Subject(), Template(600000), 0, 0, {});
  book_.Clear(Subject(), 1000, {});
  book_.Trigger(Subject(), Template(600000), 601000, 601000, {});  // exactly 10 min: within
  ASSERT_EQ(sink_.events.size(), 3u);
  const Case reopened = sink_.events[2].snapshot;  // a copy: events grows below
  EXPECT_EQ(sink_.events[2].type, EventType::kReopened);
  EXPECT_EQ(reopened.id, sink_.events[0].snapshot.id);
  EXPECT_EQ(reopened.status, CaseStatus::kOpen);
  EXPECT_EQ(reopened.occurrences, 2u);
  EXPECT_FALSE(reopened.resolved_at.has_value());
  EXPECT_FALSE(reopened.resolved_by.has_value());

  book_.Clear(Subject(), 700000, {});
  book_.Trigger(Subject(), Template(600000), 1300001, 1300001, {});  // 10 min + 1 ms: new
  EXPECT_EQ(sink_.events.back().type, EventType::kOpened);
  EXPECT_NE(sink_.events.back().snapshot.id, reopened.id);
}

// The default reopen_within (0s) never reopens, even at the very instant of
// the resolution; 1ms does.
TEST_F(CaseBookTest, ZeroReopenWithinNeverReopens) {
  book_.Trigger(Subject(), Template(0), 0, 0, {});
  book_.Clear(Subject(), 1000, {});
  book_.Trigger(Subject(), Template(0), 1000, 1000, {});
  ASSERT_EQ(sink_.events.size(), 3u);
  EXPECT_EQ(sink_.events[2].type, EventType::kOpened);
  EXPECT_NE(sink_.events[2].snapshot.id, sink_.events[0].snapshot.id);

  book_.Clear(Subject(), 2000, {});
  book_.Trigger(Subject(), Template(1), 2000, 2000, {});
  EXPECT_EQ(sink_.events.back().type, EventType::kReopened);
}

TEST_F(CaseBookTest, AcknowledgeAndResolveByTheServiceCenter) {
  book_.Trigger(Subject(), Template(), 0, 0, {});
  std::string id = sink_.events[0].snapshot.id;
  auto acked = book_.Acknowledge(id, "ana", 100);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->status, CaseStatus::kAcknowledged);
  EXPECT_EQ(acked->acknowledged_by, "ana");
  // The same by again (a retried request) changes nothing; another is recorded.
  std::size_t events = sink_.events.size();
  ASSERT_TRUE(book_.Acknowledge(id, "ana", 120).ok());
  EXPECT_EQ(sink_.events.size(), events);
  EXPECT_EQ(book_.Find(id)->acknowledged_at, 100);
  auto again = book_.Acknowledge(id, "ben", 130);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->acknowledged_by, "ben");
  EXPECT_EQ(sink_.events.size(), events + 1);
  ASSERT_TRUE(book_.Acknowledge(id, "ana", 140).ok());
  // An occurrence keeps it acknowledged.
  book_.Trigger(Subject(), Template(), 150, 150, {});
  EXPECT_EQ(sink_.events.back().snapshot.status, CaseStatus::kAcknowledged);
  auto resolved = book_.Resolve(id, "ana", 200);
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->resolved_by, "ana");
  EXPECT_EQ(book_.Acknowledge(id, "bob", 300).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(book_.Acknowledge("c-nope", "bob", 300).status().code(), absl::StatusCode::kNotFound);
  std::size_t before = sink_.events.size();
  EXPECT_TRUE(book_.Resolve(id, "ana", 350).ok());  // the same by again: no new event
  EXPECT_EQ(sink_.events.size(), before);
  // Another by is recorded (confirming a resolution); it stays resolved at 200.
  auto confirmed = book_.Resolve(id, "bob", 400);
  ASSERT_TRUE(confirmed.ok());
  EXPECT_EQ(confirmed->resolved_by, "bob");
  EXPECT_EQ(confirmed->resolved_at, 200);
  EXPECT_EQ(confirmed->updated_at, 400);
  ASSERT_EQ(sink_.events.size(), before + 1);
  EXPECT_EQ(sink_.events.back().type, EventType::kResolved);
  EXPECT_EQ(sink_.events.back().snapshot.resolved_by, "bob");
  before = sink_.events.size();
  // The rule's own clear after a manual resolve changes nothing.
  book_.Clear(Subject(), 500, {});
  EXPECT_EQ(sink_.events.size(), before);
  EXPECT_EQ(book_.active(devices::Severity::kCritical), 0);
}

// A reload that changes a rule's severity (CONTRACT §3: `updated`, "severity
// changed"): the active cases take it, oldest opened first, each with an
// event; resolved cases, unchanged severities and cases whose rule is gone
// (nullopt) are left as they are.
TEST_F(CaseBookTest, UpdateSeveritiesChangesActiveCasesWithAnEvent) {
  book_.Trigger(Subject("d2", "hot"), Template(), 0, 2000, {});
  book_.Trigger(Subject("d1", "hot"), Template(), 0, 1000, {});
  book_.Trigger(Subject("d3", "hot"), Template(), 0, 3000, {});
  book_.Clear(Subject("d3", "hot"), 3500, {});
  book_.Trigger(Subject("d1", "gone"), Template(), 0, 1000, {});
  book_.Trigger(Subject("d1", "same"), Template(), 0, 1000, {});
  const uint64_t before = sink_.events.size();
  const std::size_t changed = book_.UpdateSeverities(
      [](const Case& c) -> std::optional<devices::Severity> {
        if (c.rule == "gone") return std::nullopt;
        return c.rule == "same" ? devices::Severity::kCritical : devices::Severity::kInfo;
      },
      9000);
  EXPECT_EQ(changed, 2u);
  ASSERT_EQ(sink_.events.size(), before + 2);
  for (uint64_t i = before; i < sink_.events.size(); ++i) {
    const CaseEvent& e = sink_.events[i];
    EXPECT_EQ(e.type, EventType::kUpdated);
    EXPECT_EQ(e.at, 9000);
    EXPECT_EQ(e.snapshot.severity, devices::Severity::kInfo);
    EXPECT_EQ(e.snapshot.updated_at, 9000);
    EXPECT_EQ(e.snapshot.occurrences, 1u);                    // not an occurrence
    EXPECT_EQ(e.snapshot.device, i == before ? "d1" : "d2");  // oldest opened first
  }
  EXPECT_EQ(book_.active(devices::Severity::kInfo), 2);
  EXPECT_EQ(book_.active(devices::Severity::kCritical), 2);  // "gone" and "same"
  // Nothing to change: no event.
  EXPECT_EQ(book_.UpdateSeverities([](const Case& c) { return c.severity; }, 9500), 0u);
  EXPECT_EQ(sink_.events.size(), before + 2);
}

TEST_F(CaseBookTest, SeverityUnderTheCurrentRulesAndCatalog) {
  rules::RuleFile file =
      rules::ParseRuleFile("rules:\n  - {name: hot, when: t > 1, severity: major}\n", "rules.yaml");
  ASSERT_TRUE(file.errors.empty());
  auto built = rules::RuleSet::Build(std::move(file.rules));
  ASSERT_TRUE(built.errors.empty());
  auto catalog = std::make_shared<devices::FaultCatalog>();
  catalog->models["EX200"].dtc["P1"].severity = devices::Severity::kCritical;
  catalog->models["EX200"].dtc["P2"].open_case = false;
  catalog->default_dtc = devices::DtcEntry{.severity = devices::Severity::kInfo};
  auto severity_of = SeverityUnder(*built.rules, catalog);
  Case c;
  c.model = "EX200";
  c.rule = "hot";
  EXPECT_EQ(severity_of(c), devices::Severity::kMajor);
  c.rule = "cold";  // no such rule any more
  EXPECT_EQ(severity_of(c), std::nullopt);
  c.rule = "dtc:P1";
  EXPECT_EQ(severity_of(c), devices::Severity::kCritical);
  c.rule = "dtc:P2";  // opens no case any more
  EXPECT_EQ(severity_of(c), std::nullopt);
  c.rule = "dtc:P9";  // default_dtc
  EXPECT_EQ(severity_of(c), devices::Severity::kInfo);
  EXPECT_EQ(SeverityUnder(*built.rules, nullptr)(c), std::nullopt);
}

TEST_F(CaseBookTest, EventSeqIsGaplessAndIdsAreUrlSafeAndUnique) {
  for (int i = 0; i < 50; ++i) {
    std::string device = "d" + std::to_string(i);
    book_.Trigger(Subject(device), Template(), i, i, {});
    book_.Clear(Subject(device), i + 1, {});
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < sink_.events.size(); ++i) {
    EXPECT_EQ(sink_.events[i].seq, i + 1);
    const std::string& id = sink_.events[i].snapshot.id;
    ids.insert(id);
    for (char c : id) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-') << id;
  }
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(book_.last_seq(), 100u);
  // Ids come from a bijection of the case number: distinct numbers, distinct ids.
  std::set<std::string> many;
  for (uint64_t n = 1; n <= 100000; ++n) many.insert(CaseBook::CaseIdFor(n));
  EXPECT_EQ(many.size(), 100000u);
}

TEST_F(CaseBookTest, JsonFollowsTheContractFieldOrder) {
  book_.Trigger(Subject(), Template(), 900, 1000, {{"temp", 107.2}, {"rpm", 1500}});
  std::string json;
  AppendEventJson(json, sink_.events[0]);
  const std::string id = sink_.events[0].snapshot.id;
  EXPECT_EQ(json, "{\"seq\":1,\"type\":\"opened\",\"at\":1000,\"case\":{\"id\":\"" + id +
                      "\",\"tenant\":\"acme\",\"device\":\"d1\",\"model\":\"EX200\",\"rule\":"
                      "\"hot\",\"severity\":\"critical\",\"status\":\"open\",\"fault_started_at\":"
                      "900,\"opened_at\":1000,\"updated_at\":1000,\"acknowledged_at\":null,"
                      "\"acknowledged_by\":null,\"resolved_at\":null,\"resolved_by\":null,"
                      "\"occurrences\":1,\"diagnosis\":\"too hot\",\"skill\":\"engine-cooling\","
                      "\"parts\":[\"fan-belt\"],\"evidence\":{\"temp\":107.2,\"rpm\":1500}}}");
}

}  // namespace
}  // namespace precall::core

namespace precall::core {
namespace {

TEST_F(CaseBookTest, CasesSurviveAJsonRoundTripIntoANewBook) {
  book_.Trigger(Subject("d1"), Template(600000), 900, 1000, {{"temp", 107.25}, {"rpm", 1500}});
  book_.Trigger(Subject("d2"), Template(600000), 900, 1000, {});
  book_.Clear(Subject("d2"), 2000, {});
  ASSERT_TRUE(book_.Acknowledge(sink_.events[0].snapshot.id, "ana \"the\" tech", 1500).ok());

  RecordingSink sink;
  CaseBook restored(sink, book_.last_seq() + 1, 3);
  for (const CaseEvent& e : sink_.events) {
    std::string json;
    AppendCaseJson(json, e.snapshot);
    auto parsed = ParseCaseJson(json);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    std::string again;
    AppendCaseJson(again, *parsed);
    EXPECT_EQ(again, json);  // lossless
    restored.Restore(*parsed);
  }
  EXPECT_EQ(restored.active(devices::Severity::kCritical), 1);
  // d1's case is active: a trigger is an occurrence, not a new case.
  restored.Trigger(Subject("d1"), Template(600000), 3000, 3000, {});
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].type, EventType::kUpdated);
  EXPECT_EQ(sink.events[0].seq, 5u);  // continues the numbering
  EXPECT_EQ(sink.events[0].snapshot.status, CaseStatus::kAcknowledged);
  // d2's case was resolved at 2000: within reopen_within it reopens.
  restored.Trigger(Subject("d2"), Template(600000), 4000, 4000, {});
  EXPECT_EQ(sink.events[1].type, EventType::kReopened);
  EXPECT_EQ(sink.events[1].snapshot.id, sink_.events[1].snapshot.id);
}

TEST(CaseJsonTest, RejectsWhatItCannotRestore) {
  EXPECT_FALSE(ParseCaseJson("[]").ok());
  EXPECT_FALSE(ParseCaseJson("{\"id\":\"c-1\",\"severity\":\"urgent\"}").ok());
  EXPECT_FALSE(ParseCaseJson("{\"tenant\":\"acme\"}").ok());
}

}  // namespace
}  // namespace precall::core
