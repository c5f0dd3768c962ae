// StoreSink: every case event is committed with its case, outbox entry and
// counters; the commit hook runs after each; failures are counted.
#include "gateway/core/store_sink.h"

#include "fakes/in_memory_store.h"
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace precall::core {
namespace {

TEST(StoreSinkTest, CommitsEventCaseOutboxAndCounters) {
  fakes::InMemoryCaseStore store;
  int commits = 0;
  StoreSink sink(store, [&] { ++commits; });
  CaseBook book(sink);
  std::string model = "EX200";
  CaseSubject subject{"acme", "d1", "hot", &model};
  rules::CaseTemplate tmpl{devices::Severity::kMajor, "hot", "cooling", {"fan"}, 0};
  book.Trigger(subject, tmpl, 1, 2, {});
  book.Clear(subject, 3, {});
  EXPECT_EQ(commits, 2);
  EXPECT_EQ(store.last_event_seq(), 2u);
  EXPECT_EQ(store.next_case_number(), 2u);
  auto events = store.EventsAfter(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);
  EXPECT_NE((*events)[1].find("\"type\":\"resolved\""), std::string::npos);
  auto outbox = store.Outbox(0, 10);
  ASSERT_TRUE(outbox.ok());
  ASSERT_EQ(outbox->size(), 2u);
  const std::string id = CaseBook::CaseIdFor(1);
  EXPECT_EQ((*outbox)[0].topic, "service/acme/cases/" + id);
  EXPECT_EQ((*outbox)[0].payload, (*events)[0]);
  int cases = 0;
  ASSERT_TRUE(store.ForEachCase([&](std::string_view json) {
    ++cases;
    auto c = ParseCaseJson(json);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->status, CaseStatus::kResolved);
  }).ok());
  EXPECT_EQ(cases, 1);
}

TEST(StoreSinkTest, OneMessagesDecisionsAndTheDeviceCheckpointAreOneAtomicCommit) {
  fakes::InMemoryCaseStore store;
  int commits = 0;
  StoreSink sink(store, [&] { ++commits; });
  CaseBook book(sink);
  std::vector<CaseDecision> decisions(3);
  decisions[0].rule = "hot";
  decisions[1].rule = "dtc:P0217";
  decisions[2].kind = CaseDecision::Kind::kClear;
  decisions[2].rule = "hot";
  DeviceCheckpoint checkpoint{"key-d1", "state", 42};
  book.Apply(CaseSubject{"acme", "d1", "", nullptr}, decisions, &checkpoint);
  EXPECT_EQ(commits, 1);
  EXPECT_EQ(store.commit_batches(), 1);
  EXPECT_EQ(store.last_event_seq(), 3u);
  std::vector<std::tuple<std::string, std::string, uint64_t>> checkpoints;
  ASSERT_TRUE(store.ForEachCheckpoint([&](std::string_view k, std::string_view c, uint64_t w) {
    checkpoints.emplace_back(k, c, w);
  }).ok());
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(checkpoints[0], std::make_tuple(std::string("key-d1"), std::string("state"), 42u));

  // A change that emits nothing (clearing a case that is not active) commits nothing.
  std::vector<CaseDecision> nothing(1);
  nothing[0].kind = CaseDecision::Kind::kClear;
  nothing[0].rule = "cold";
  book.Apply(CaseSubject{"acme", "d1", "", nullptr}, nothing, &checkpoint);
  EXPECT_EQ(store.commit_batches(), 1);
}

TEST(StoreSinkTest, AFailedCommitIsCountedAndSkipsTheHook) {
  fakes::InMemoryCaseStore store;
  store.set_fail_commits(true);
  int commits = 0;
  StoreSink sink(store, [&] { ++commits; });
  CaseBook book(sink);
  book.Trigger(CaseSubject{"acme", "d1", "hot", nullptr}, rules::CaseTemplate{}, 1, 2, {});
  EXPECT_EQ(sink.failures(), 1u);
  EXPECT_EQ(commits, 0);
}

}  // namespace
}  // namespace precall::core
