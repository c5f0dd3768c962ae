// RocksStore additions for the HTTP API and /metrics: each case's events
// (the per-case index written with the event), the outbox depth gauge, and
// the write-latency histograms.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/store/rocksdb_store.h"
#include "gtest/gtest.h"

namespace precall::store {
namespace {

core::CaseCommit EventOf(uint64_t seq, const std::string& case_id) {
  core::CaseCommit c;
  c.event_seq = seq;
  c.case_id = case_id;
  c.event_json = absl::StrCat(R"({"seq":)", seq, "}");
  c.case_json = "{}";
  c.topic = "service/acme/cases/" + case_id;
  c.next_case_number = seq + 1;
  return c;
}

uint64_t Count(const core::FixedHistogram& h) {
  uint64_t n = 0;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) n += h.bucket(i);
  return n;
}

class CaseEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/precall-case-events-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto opened = RocksStore::Open(dir_ + "/db");
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(*opened);
  }
  std::vector<std::string> Events(const std::string& case_id, std::size_t limit = 100) {
    auto events = store_->cases().CaseEvents(case_id, limit);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<std::string>{};
  }

  std::string dir_;
  std::unique_ptr<RocksStore> store_;
};

TEST_F(CaseEventsTest, ListsOneCasesEventsInSeqOrderAcrossReopen) {
  core::CaseStore& cases = store_->cases();
  // "c-1" is a prefix of "c-10": their events must not mix.
  const std::vector<core::CaseCommit> batch = {EventOf(1, "c-1"), EventOf(2, "c-10"),
                                               EventOf(3, "c-1")};
  ASSERT_TRUE(cases.CommitAll(batch).ok());
  ASSERT_TRUE(cases.Commit(EventOf(300, "c-1")).ok());  // 300 > 255: byte order is numeric
  ASSERT_TRUE(cases.Commit(EventOf(4, "c-2")).ok());
  const std::vector<std::string> c1 = {R"({"seq":1})", R"({"seq":3})", R"({"seq":300})"};
  EXPECT_EQ(Events("c-1"), c1);
  EXPECT_EQ(Events("c-10"), std::vector<std::string>{R"({"seq":2})"});
  EXPECT_EQ(Events("c-"), std::vector<std::string>{});
  EXPECT_EQ(Events("c-404"), std::vector<std::string>{});
  // A limit keeps the latest events.
  EXPECT_EQ(Events("c-1", 2), (std::vector<std::string>{R"({"seq":3})", R"({"seq":300})"}));
  EXPECT_EQ(Events("c-1", 0), std::vector<std::string>{});
  Reopen();
  EXPECT_EQ(Events("c-1"), c1);
}

TEST_F(CaseEventsTest, OutboxDepthFollowsCommitsAndRemovalsAcrossReopen) {
  core::CaseStore& cases = store_->cases();
  EXPECT_EQ(cases.outbox_depth(), 0u);
  const std::vector<core::CaseCommit> batch = {EventOf(1, "c-1"), EventOf(2, "c-2")};
  ASSERT_TRUE(cases.CommitAll(batch).ok());
  ASSERT_TRUE(cases.Commit(EventOf(3, "c-1")).ok());
  EXPECT_EQ(cases.outbox_depth(), 3u);
  ASSERT_TRUE(cases.RemoveFromOutbox(2).ok());
  ASSERT_TRUE(cases.RemoveFromOutbox(2).ok());   // again: no drift
  ASSERT_TRUE(cases.RemoveFromOutbox(99).ok());  // never there
  EXPECT_EQ(cases.outbox_depth(), 2u);
  Reopen();
  EXPECT_EQ(store_->cases().outbox_depth(), 2u);
}

TEST_F(CaseEventsTest, TheOutboxSkipsWhatTheDrainerRemovedAndStillSeesNewEntries) {
  core::CaseStore& cases = store_->cases();
  auto seqs = [&] {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<core::OutboxEntry>> entries = cases.Outbox(0, 100);
    EXPECT_TRUE(entries.ok());
    if (entries.ok()) {
      for (const core::OutboxEntry& e : *entries) out.push_back(e.event_seq);
    }
    return out;
  };
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(cases.Commit(EventOf(seq, "c-1")).ok());
  EXPECT_EQ(seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  // Acknowledged out of order.
  for (uint64_t seq : {2, 1, 4}) ASSERT_TRUE(cases.RemoveFromOutbox(seq).ok());
  EXPECT_EQ(seqs(), (std::vector<uint64_t>{3, 5}));
  for (uint64_t seq : {3, 5}) ASSERT_TRUE(cases.RemoveFromOutbox(seq).ok());
  EXPECT_EQ(seqs(), std::vector<uint64_t>{});
  ASSERT_TRUE(cases.Commit(EventOf(6, "c-2")).ok());
  EXPECT_EQ(seqs(), std::vector<uint64_t>{6});
  // A lower seq than any read so far is still found.
  ASSERT_TRUE(cases.Commit(EventOf(3, "c-3")).ok());
  EXPECT_EQ(seqs(), (std::vector<uint64_t>{3, 6}));
  Reopen();
  absl::StatusOr<std::vector<core::OutboxEntry>> after = store_->cases().Outbox(0, 100);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].event_seq, 3u);
  EXPECT_EQ((*after)[1].event_seq, 6u);
}

// The drainer reads forward from where it is; a read after a seq says
// nothing about the entries below it, so it must not move the floor past them.
TEST_F(CaseEventsTest, TheOutboxReadsAfterASeqWithoutLosingTheEntriesBelowIt) {
  core::CaseStore& cases = store_->cases();
  auto seqs = [&](uint64_t after, std::size_t limit) {
    std::vector<uint64_t> out;
    absl::StatusOr<std::vector<core::OutboxEntry>> entries = cases.Outbox(after, limit);
    EXPECT_TRUE(entries.ok());
    if (entries.ok()) {
      for (const core::OutboxEntry& e : *entries) out.push_back(e.event_seq);
    }
    return out;
  };
  for (uint64_t seq = 1; seq <= 6; ++seq) ASSERT_TRUE(cases.Commit(EventOf(seq, "c-1")).ok());
  ASSERT_TRUE(cases.RemoveFromOutbox(4).ok());
  EXPECT_EQ(seqs(2, 100), (std::vector<uint64_t>{3, 5, 6}));
  EXPECT_EQ(seqs(3, 1), std::vector<uint64_t>{5});
  EXPECT_EQ(seqs(6, 100), std::vector<uint64_t>{});
  EXPECT_EQ(seqs(0, 100), (std::vector<uint64_t>{1, 2, 3, 5, 6}));
  // Once the oldest are gone, reads from the start and from a seq agree.
  for (uint64_t seq : {1, 2}) ASSERT_TRUE(cases.RemoveFromOutbox(seq).ok());
  EXPECT_EQ(seqs(0, 100), (std::vector<uint64_t>{3, 5, 6}));
  EXPECT_EQ(seqs(1, 100), (std::vector<uint64_t>{3, 5, 6}));
  EXPECT_EQ(seqs(4, 100), (std::vector<uint64_t>{5, 6}));
}

TEST_F(CaseEventsTest, WritesAreTimed) {
  EXPECT_EQ(Count(store_->store_write_latency_us()), 0u);
  EXPECT_EQ(Count(store_->journal_write_latency_us()), 0u);
  // The first append starts a segment (timed); the next ones are memory
  // copies, and a strict journal's Flush has nothing to sync.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store_->journal().Append(1, "fleet/acme/d1/telemetry", "{}").ok());
  }
  ASSERT_TRUE(store_->journal().Flush().ok());
  ASSERT_TRUE(store_->cases().Commit(EventOf(1, "c-1")).ok());
  EXPECT_EQ(Count(store_->journal_write_latency_us()), 1u);
  EXPECT_EQ(Count(store_->store_write_latency_us()), 1u);
}

}  // namespace
}  // namespace precall::store
