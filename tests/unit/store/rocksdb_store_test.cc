// RocksStore: the journal (order, binary round trip, seq continuity, group
// commit by size, age and Flush, strict modes, retention) and the case store
// (atomic commits readable after reopen, paging, outbox, counters, concurrent
// commits). Crash behaviour is in rocksdb_crash_test.cc.
#include "gateway/store/rocksdb_store.h"

#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "devices/ids.h"
#include "gtest/gtest.h"

namespace precall::store {
namespace {

using core::CaseCommit;
using core::OutboxEntry;

struct Stored {
  uint64_t seq;
  int64_t receive_ms;
  std::string topic;
  std::string payload;
  bool operator==(const Stored&) const = default;
};

std::vector<Stored> ReadJournal(core::Journal& journal, uint64_t after = 0) {
  std::vector<Stored> out;
  absl::Status s = journal.ForEachAfter(after, [&](const core::JournalEntry& e) {
    out.push_back({e.seq, e.receive_ms, std::string(e.topic), std::string(e.payload)});
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

std::vector<uint64_t> Seqs(const std::vector<Stored>& entries) {
  std::vector<uint64_t> seqs;
  for (const Stored& e : entries) seqs.push_back(e.seq);
  return seqs;
}

CaseCommit MakeCommit(uint64_t seq, std::string case_id, std::string device_key = "",
                      uint64_t watermark = 0) {
  CaseCommit c;
  c.event_seq = seq;
  c.case_id = case_id;
  c.event_json = absl::StrCat(R"({"seq":)", seq, R"(,"case":{"id":")", case_id, R"("}})");
  c.case_json = absl::StrCat(R"({"id":")", case_id, R"(","at_event":)", seq, "}");
  c.topic = absl::StrCat("service/acme/cases/", case_id);
  c.device_key = std::move(device_key);
  c.checkpoint = c.device_key.empty() ? "" : absl::StrCat("state@", seq);
  c.journal_watermark = watermark;
  c.next_case_number = seq + 1;
  return c;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/precall-store-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the store at dir_, closing the previous one first.
  RocksStore& Open(StoreOptions options = {}) {
    store_.reset();
    absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir_ + "/db", options);
    EXPECT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    return *store_;
  }
  static StoreOptions Strict() {
    StoreOptions o;
    o.journal.mode = JournalMode::kStrict;
    return o;
  }
  // Group mode on a fake clock that only moves when the test says so.
  StoreOptions Group(std::size_t size, absl::Duration interval) {
    StoreOptions o;
    o.journal.mode = JournalMode::kGroup;
    o.journal.group_commit_size = size;
    o.journal.group_commit_interval = interval;
    o.journal.monotonic_now = [this] { return now_; };
    return o;
  }

  std::string dir_;
  absl::Duration now_ = absl::Seconds(1000);
  std::unique_ptr<RocksStore> store_;
};

// --- Journal -----------------------------------------------------------------

TEST_F(StoreTest, JournalRoundTripsBinaryAndEmptyMessagesInOrder) {
  core::Journal& j = Open(Strict()).journal();
  const std::string binary("a\0b\0\0\xff\x01z", 8);
  const std::string big(70000, '\x7f');
  const std::vector<Stored> want = {{1, 1000, "fleet/acme/d1/telemetry", R"({"ts":1})"},
                                    {2, 1001, "", ""},
                                    {3, 1002, std::string("t\0p", 3), binary},
                                    {4, -5, "x", big},
                                    {5, 1003, "fleet/acme/d2/status", ""}};
  for (const Stored& e : want) {
    absl::StatusOr<uint64_t> seq = j.Append(e.receive_ms, e.topic, e.payload);
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(*seq, e.seq);
  }
  EXPECT_EQ(j.last_seq(), 5u);
  EXPECT_EQ(ReadJournal(j), want);
  EXPECT_EQ(Seqs(ReadJournal(j, 2)), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(ReadJournal(j, 5).empty());
  EXPECT_TRUE(ReadJournal(j, UINT64_MAX).empty());

  std::vector<uint64_t> visited;
  ASSERT_TRUE(j.ForEachAfter(0, [&](const core::JournalEntry& e) {
                 visited.push_back(e.seq);
                 return e.seq < 2;
               }).ok());
  EXPECT_EQ(visited, (std::vector<uint64_t>{1, 2}));

  // Byte-exact after reopen too.
  EXPECT_EQ(ReadJournal(Open(Strict()).journal()), want);
}

TEST_F(StoreTest, JournalSeqContinuesAcrossReopen) {
  {
    core::Journal& j = Open().journal();  // default: group mode
    EXPECT_EQ(j.last_seq(), 0u);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(j.Append(i, "t", "p").ok());
    EXPECT_EQ(j.last_seq(), 3u);
  }  // closing writes the pending group
  core::Journal& j = Open().journal();
  EXPECT_EQ(j.last_seq(), 3u);
  absl::StatusOr<uint64_t> seq = j.Append(10, "t", "p4");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 4u);
  ASSERT_TRUE(j.Flush().ok());
  EXPECT_EQ(Seqs(ReadJournal(j)), (std::vector<uint64_t>{1, 2, 3, 4}));
  store_.reset();
  EXPECT_EQ(Open().journal().last_seq(), 4u);
}

TEST_F(StoreTest, GroupCommitWritesWhenTheGroupIsFullOrFlushed) {
  core::Journal& j = Open(Group(4, absl::Hours(1))).journal();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(j.Append(i, "t", "p").ok());
  EXPECT_EQ(j.last_seq(), 3u);
  EXPECT_TRUE(ReadJournal(j).empty()) << "a group of 3 of 4 is still in memory";
  ASSERT_TRUE(j.Append(4, "t", "p").ok());
  EXPECT_EQ(Seqs(ReadJournal(j)), (std::vector<uint64_t>{1, 2, 3, 4}));
  ASSERT_TRUE(j.Append(5, "t", "p").ok());
  EXPECT_EQ(ReadJournal(j).size(), 4u);
  ASSERT_TRUE(j.Flush().ok());
  EXPECT_EQ(Seqs(ReadJournal(j)), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  ASSERT_TRUE(j.Flush().ok());  // nothing pending: a no-op
  EXPECT_EQ(ReadJournal(j).size(), 5u);
}

TEST_F(StoreTest, GroupCommitWritesWhenTheOldestEntryIsOld) {
  core::Journal& j = Open(Group(1000, absl::Milliseconds(5))).journal();
  ASSERT_TRUE(j.Append(1, "t", "p").ok());
  now_ += absl::Milliseconds(4);
  ASSERT_TRUE(j.Append(2, "t", "p").ok());
  EXPECT_TRUE(ReadJournal(j).empty()) << "the oldest entry is 4 ms old";
  now_ += absl::Milliseconds(1);
  ASSERT_TRUE(j.Append(3, "t", "p").ok());
  EXPECT_EQ(Seqs(ReadJournal(j)), (std::vector<uint64_t>{1, 2, 3}));
  // The age counts from the first entry of the new group.
  ASSERT_TRUE(j.Append(4, "t", "p").ok());
  now_ += absl::Milliseconds(3);
  ASSERT_TRUE(j.Append(5, "t", "p").ok());
  EXPECT_EQ(ReadJournal(j).size(), 3u);
  now_ += absl::Milliseconds(2);
  ASSERT_TRUE(j.Append(6, "t", "p").ok());
  EXPECT_EQ(ReadJournal(j).size(), 6u);
}

TEST_F(StoreTest, StrictAndFsyncModesWriteEveryAppendAtOnce) {
  for (JournalMode mode : {JournalMode::kStrict, JournalMode::kFsync}) {
    StoreOptions o;
    o.journal.mode = mode;
    o.journal.group_commit_size = 1000;
    o.journal.group_commit_interval = absl::Hours(1);
    core::Journal& j = Open(o).journal();
    const uint64_t before = j.last_seq();
    for (uint64_t i = 1; i <= 3; ++i) {
      ASSERT_TRUE(j.Append(static_cast<int64_t>(i), "t", "p").ok());
      EXPECT_EQ(ReadJournal(j, before).size(), i);
    }
  }
}

TEST_F(StoreTest, TrimBeforeDropsOlderEntriesAndSeqsAreNotReused) {
  core::Journal& j = Open(Strict()).journal();
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(j.Append(i * 100, "t", absl::StrCat(i)).ok());
  ASSERT_TRUE(j.TrimBefore(0).ok());
  EXPECT_EQ(ReadJournal(j).size(), 10u);
  ASSERT_TRUE(j.TrimBefore(450).ok());
  std::vector<Stored> left = ReadJournal(j);
  ASSERT_EQ(Seqs(left), (std::vector<uint64_t>{5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(left.front().receive_ms, 500);
  EXPECT_EQ(left.front().payload, "5");
  ASSERT_TRUE(j.TrimBefore(500).ok());  // the cut is exclusive
  EXPECT_EQ(ReadJournal(j).size(), 6u);
  ASSERT_TRUE(j.TrimBefore(300).ok());  // an older cut changes nothing
  EXPECT_EQ(ReadJournal(j).size(), 6u);
  ASSERT_TRUE(j.TrimBefore(10'000).ok());
  EXPECT_TRUE(ReadJournal(j).empty());
  EXPECT_EQ(j.last_seq(), 10u);
  ASSERT_TRUE(j.TrimBefore(20'000).ok());  // an empty journal

  // Retention emptied the journal: seqs still go on after a reopen.
  core::Journal& again = Open(Strict()).journal();
  EXPECT_EQ(again.last_seq(), 10u);
  absl::StatusOr<uint64_t> seq = again.Append(30'000, "t", "p");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 11u);
  EXPECT_EQ(Seqs(ReadJournal(again)), (std::vector<uint64_t>{11}));
}

TEST_F(StoreTest, TrimBeforeFindsTheCutAmongEqualTimes) {
  core::Journal& j = Open(Group(64, absl::Hours(1))).journal();
  // 1000 entries, three per millisecond: receive_ms = (seq - 1) / 3.
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(j.Append(i / 3, "t", "p").ok());
  ASSERT_TRUE(j.Flush().ok());
  for (int64_t cut : {1, 2, 50, 51, 52, 100, 200, 331, 332, 333, 334}) {
    ASSERT_TRUE(j.TrimBefore(cut).ok());
    std::vector<Stored> left = ReadJournal(j);
    if (cut > 333) {
      EXPECT_TRUE(left.empty()) << cut;
      continue;
    }
    ASSERT_FALSE(left.empty()) << cut;
    EXPECT_EQ(left.front().seq, static_cast<uint64_t>(cut * 3 + 1)) << cut;
    EXPECT_EQ(left.front().receive_ms, cut);
    EXPECT_EQ(left.back().seq, 1000u);
    EXPECT_EQ(left.size(), 1000u - static_cast<uint64_t>(cut * 3)) << cut;
  }
}

// --- Case store --------------------------------------------------------------

TEST_F(StoreTest, EmptyCaseStore) {
  core::CaseStore& cases = Open().cases();
  EXPECT_EQ(cases.last_event_seq(), 0u);
  EXPECT_EQ(cases.next_case_number(), 1u);
  EXPECT_TRUE(cases.EventsAfter(0, 10)->empty());
  EXPECT_TRUE(cases.Outbox(0, 10)->empty());
  EXPECT_EQ(cases.EventJson(1).status().code(), absl::StatusCode::kNotFound);
  int visited = 0;
  ASSERT_TRUE(cases.ForEachCase([&](std::string_view) { ++visited; }).ok());
  ASSERT_TRUE(
      cases.ForEachCheckpoint([&](std::string_view, std::string_view, uint64_t) { ++visited; })
          .ok());
  EXPECT_EQ(visited, 0);
}

TEST_F(StoreTest, CommitWritesEveryPartAndAllOfItSurvivesReopen) {
  const std::string device = devices::EncodeDeviceKey("acme", "ex200-0042");
  CaseCommit opened = MakeCommit(1, "c-00000001", device, 17);
  CaseCommit updated = MakeCommit(2, "c-00000001", device, 23);
  updated.checkpoint = std::string("blob\0with nul", 13);
  updated.next_case_number = 2;
  {
    core::CaseStore& cases = Open().cases();
    ASSERT_TRUE(cases.Commit(opened).ok());
    ASSERT_TRUE(cases.Commit(updated).ok());
    EXPECT_EQ(cases.last_event_seq(), 2u);
    EXPECT_EQ(cases.next_case_number(), 2u);
  }
  core::CaseStore& cases = Open().cases();
  EXPECT_EQ(cases.last_event_seq(), 2u);
  EXPECT_EQ(cases.next_case_number(), 2u);
  EXPECT_EQ(*cases.EventJson(1), opened.event_json);
  EXPECT_EQ(*cases.EventJson(2), updated.event_json);
  EXPECT_EQ(*cases.EventsAfter(0, 10),
            (std::vector<std::string>{opened.event_json, updated.event_json}));

  std::vector<std::string> case_json;
  ASSERT_TRUE(cases.ForEachCase([&](std::string_view c) { case_json.emplace_back(c); }).ok());
  EXPECT_EQ(case_json, (std::vector<std::string>{updated.case_json}));

  absl::StatusOr<std::vector<OutboxEntry>> outbox = cases.Outbox(0, 10);
  ASSERT_TRUE(outbox.ok());
  ASSERT_EQ(outbox->size(), 2u);
  EXPECT_EQ((*outbox)[0].event_seq, 1u);
  EXPECT_EQ((*outbox)[0].topic, "service/acme/cases/c-00000001");
  EXPECT_EQ((*outbox)[0].payload, opened.event_json);
  EXPECT_EQ((*outbox)[1].event_seq, 2u);
  EXPECT_EQ((*outbox)[1].payload, updated.event_json);

  std::vector<std::tuple<std::string, std::string, uint64_t>> checkpoints;
  ASSERT_TRUE(cases
                  .ForEachCheckpoint([&](std::string_view k, std::string_view c, uint64_t w) {
                    checkpoints.emplace_back(k, c, w);
                  })
                  .ok());
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_EQ(std::get<0>(checkpoints[0]), device);
  EXPECT_EQ(std::get<1>(checkpoints[0]), updated.checkpoint);
  EXPECT_EQ(std::get<2>(checkpoints[0]), 23u);
}

TEST_F(StoreTest, CommitWithoutDeviceKeyWritesNoCheckpoint) {
  core::CaseStore& cases = Open().cases();
  ASSERT_TRUE(cases.Commit(MakeCommit(1, "c-1")).ok());
  int checkpoints = 0;
  ASSERT_TRUE(
      cases.ForEachCheckpoint([&](std::string_view, std::string_view, uint64_t) { ++checkpoints; })
          .ok());
  EXPECT_EQ(checkpoints, 0);
  EXPECT_EQ(cases.Outbox(0, 10)->size(), 1u);
}

TEST_F(StoreTest, CommitRejectsMalformedInputAndWritesNothing) {
  core::CaseStore& cases = Open().cases();
  EXPECT_EQ(cases.Commit(MakeCommit(0, "c-1")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cases.Commit(MakeCommit(1, "")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cases.PutCheckpoint("", "x", 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(cases.last_event_seq(), 0u);
  EXPECT_TRUE(cases.EventsAfter(0, 10)->empty());
  EXPECT_TRUE(cases.Outbox(0, 10)->empty());
}

TEST_F(StoreTest, EventsAfterPagesThroughTheLog) {
  core::CaseStore& cases = Open().cases();
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    ASSERT_TRUE(cases.Commit(MakeCommit(seq, absl::StrCat("c-", seq % 3))).ok());
  }
  auto page = [&](uint64_t after, std::size_t limit) {
    absl::StatusOr<std::vector<std::string>> events = cases.EventsAfter(after, limit);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<uint64_t> seqs;
    for (const std::string& e : *events) {
      // MakeCommit's event JSON starts {"seq":N,
      seqs.push_back(std::stoull(e.substr(7)));
    }
    return seqs;
  };
  EXPECT_EQ(page(0, 3), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(page(3, 3), (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(page(8, 5), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(page(9, 5), (std::vector<uint64_t>{10}));
  EXPECT_TRUE(page(10, 5).empty());
  EXPECT_TRUE(page(1000, 5).empty());
  EXPECT_TRUE(page(UINT64_MAX, 5).empty());
  EXPECT_TRUE(page(0, 0).empty());
  EXPECT_EQ(page(0, 100).size(), 10u);
  // Numeric order, not text order, past one byte of seq.
  for (uint64_t seq = 11; seq <= 300; ++seq) {
    ASSERT_TRUE(cases.Commit(MakeCommit(seq, "c-x")).ok());
  }
  EXPECT_EQ(page(254, 4), (std::vector<uint64_t>{255, 256, 257, 258}));
}

TEST_F(StoreTest, OutboxIsOldestFirstAndRemovalsPersist) {
  {
    core::CaseStore& cases = Open().cases();
    for (uint64_t seq = 1; seq <= 5; ++seq) {
      ASSERT_TRUE(cases.Commit(MakeCommit(seq, absl::StrCat("c-", seq))).ok());
    }
    absl::StatusOr<std::vector<OutboxEntry>> first_two = cases.Outbox(0, 2);
    ASSERT_TRUE(first_two.ok());
    ASSERT_EQ(first_two->size(), 2u);
    EXPECT_EQ((*first_two)[0].event_seq, 1u);
    EXPECT_EQ((*first_two)[1].event_seq, 2u);
    ASSERT_TRUE(cases.RemoveFromOutbox(1).ok());
    ASSERT_TRUE(cases.RemoveFromOutbox(3).ok());
    ASSERT_TRUE(cases.RemoveFromOutbox(3).ok());   // idempotent
    ASSERT_TRUE(cases.RemoveFromOutbox(99).ok());  // never there
  }
  core::CaseStore& cases = Open().cases();
  absl::StatusOr<std::vector<OutboxEntry>> left = cases.Outbox(0, 10);
  ASSERT_TRUE(left.ok());
  std::vector<uint64_t> seqs;
  for (const OutboxEntry& e : *left) {
    seqs.push_back(e.event_seq);
    EXPECT_EQ(e.topic, absl::StrCat("service/acme/cases/c-", e.event_seq));
    EXPECT_EQ(e.payload, *cases.EventJson(e.event_seq));
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2, 4, 5}));
  // Removal from the outbox leaves the event log alone.
  EXPECT_EQ(cases.EventsAfter(0, 10)->size(), 5u);
}

TEST_F(StoreTest, CountersPersistAndNeverGoBack) {
  {
    core::CaseStore& cases = Open().cases();
    CaseCommit c = MakeCommit(5, "c-5");
    c.next_case_number = 7;
    ASSERT_TRUE(cases.Commit(c).ok());
    CaseCommit older = MakeCommit(4, "c-4");  // a commit that lost a race
    older.next_case_number = 6;
    ASSERT_TRUE(cases.Commit(older).ok());
    EXPECT_EQ(cases.last_event_seq(), 5u);
    EXPECT_EQ(cases.next_case_number(), 7u);
  }
  core::CaseStore& cases = Open().cases();
  EXPECT_EQ(cases.last_event_seq(), 5u);
  EXPECT_EQ(cases.next_case_number(), 7u);
}

TEST_F(StoreTest, CheckpointsAreKeyedByTheEncodedDeviceKey) {
  // These two would alias under a naive "tenant/device" key.
  const std::string a = devices::EncodeDeviceKey("acme", "x/y");
  const std::string b = devices::EncodeDeviceKey("acme/x", "y");
  ASSERT_NE(a, b);
  {
    core::CaseStore& cases = Open().cases();
    ASSERT_TRUE(cases.PutCheckpoint(a, "state-a1", 10).ok());
    ASSERT_TRUE(cases.PutCheckpoint(b, "", 11).ok());
    ASSERT_TRUE(cases.PutCheckpoint(a, "state-a2", 12).ok());  // replaces
  }
  std::map<std::string, std::pair<std::string, uint64_t>> seen;
  ASSERT_TRUE(Open()
                  .cases()
                  .ForEachCheckpoint([&](std::string_view k, std::string_view c, uint64_t w) {
                    seen[std::string(k)] = {std::string(c), w};
                  })
                  .ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[a], (std::pair<std::string, uint64_t>{"state-a2", 12}));
  EXPECT_EQ(seen[b], (std::pair<std::string, uint64_t>{"", 11}));
}

TEST_F(StoreTest, ForEachCaseVisitsCasesInIdOrder) {
  core::CaseStore& cases = Open().cases();
  ASSERT_TRUE(cases.Commit(MakeCommit(1, "c-b")).ok());
  ASSERT_TRUE(cases.Commit(MakeCommit(2, "c-a")).ok());
  ASSERT_TRUE(cases.Commit(MakeCommit(3, "c-c")).ok());
  ASSERT_TRUE(cases.Commit(MakeCommit(4, "c-b")).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(cases.ForEachCase([&](std::string_view c) { seen.emplace_back(c); }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{MakeCommit(2, "c-a").case_json,
                                            MakeCommit(4, "c-b").case_json,
                                            MakeCommit(3, "c-c").case_json}));
}

TEST_F(StoreTest, CommitWritesThePendingJournalGroupFirst) {
  RocksStore& store = Open(Group(1000, absl::Hours(1)));
  ASSERT_TRUE(store.journal().Append(1, "t", "p").ok());
  ASSERT_TRUE(store.journal().Append(2, "t", "p").ok());
  EXPECT_TRUE(ReadJournal(store.journal()).empty());
  ASSERT_TRUE(store.cases().Commit(MakeCommit(1, "c-1", "dev", 2)).ok());
  EXPECT_EQ(Seqs(ReadJournal(store.journal())), (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(store.journal().Append(3, "t", "p").ok());
  ASSERT_TRUE(store.cases().PutCheckpoint("dev", "s", 3).ok());
  EXPECT_EQ(ReadJournal(store.journal()).size(), 3u);
}

TEST_F(StoreTest, ConcurrentCommitsLoseNothing) {
  constexpr int kThreads = 4;
  constexpr uint64_t kPerThread = 250;
  constexpr uint64_t kTotal = kThreads * kPerThread;
  {
    core::CaseStore& cases = Open().cases();
    std::atomic<uint64_t> next_seq{1};
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const std::string device = devices::EncodeDeviceKey("acme", absl::StrCat("d", t));
        for (uint64_t i = 0; i < kPerThread; ++i) {
          const uint64_t seq = next_seq.fetch_add(1);
          if (!cases.Commit(MakeCommit(seq, absl::StrCat("c-", seq % 37), device, seq)).ok()) {
            failures.fetch_add(1);
          }
        }
      });
    }
    // Readers alongside the writers.
    std::thread reader([&] {
      for (int i = 0; i < 50; ++i) {
        if (!cases.EventsAfter(0, 2000).ok() || !cases.Outbox(0, 2000).ok()) failures.fetch_add(1);
      }
    });
    for (std::thread& th : threads) th.join();
    reader.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(cases.last_event_seq(), kTotal);
    EXPECT_EQ(cases.next_case_number(), kTotal + 1);
  }
  core::CaseStore& cases = Open().cases();
  EXPECT_EQ(cases.last_event_seq(), kTotal);
  EXPECT_EQ(cases.next_case_number(), kTotal + 1);
  absl::StatusOr<std::vector<std::string>> events = cases.EventsAfter(0, 2 * kTotal);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), kTotal);
  for (uint64_t seq = 1; seq <= kTotal; ++seq) {
    EXPECT_EQ((*events)[seq - 1], MakeCommit(seq, absl::StrCat("c-", seq % 37)).event_json);
  }
  EXPECT_EQ(cases.Outbox(0, 2 * kTotal)->size(), kTotal);
  int checkpoints = 0;
  ASSERT_TRUE(
      cases.ForEachCheckpoint([&](std::string_view, std::string_view, uint64_t) { ++checkpoints; })
          .ok());
  EXPECT_EQ(checkpoints, kThreads);
}

TEST_F(StoreTest, SecondOpenOfTheSameDatabaseFails) {
  Open();
  absl::StatusOr<std::unique_ptr<RocksStore>> second = RocksStore::Open(dir_ + "/db");
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST_F(StoreTest, OpenCreatesMissingParentDirectories) {
  const std::string path = dir_ + "/a/b/db";
  {
    absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->journal().Append(1, "t", "p").ok());
  }
  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(path);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->journal().last_seq(), 1u);
}

TEST_F(StoreTest, OpenFailsWhereNoDirectoryCanBe) {
  std::FILE* f = std::fopen((dir_ + "/file").c_str(), "w");  // a file where a directory should be
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(std::fclose(f), 0);
  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir_ + "/file/db");
  EXPECT_FALSE(store.ok());
}

TEST_F(StoreTest, CloseIsIdempotentAndKeepsPendingEntries) {
  RocksStore& store = Open(Group(1000, absl::Hours(1)));
  ASSERT_TRUE(store.journal().Append(1, "t", "p").ok());
  ASSERT_TRUE(store.Close().ok());
  ASSERT_TRUE(store.Close().ok());
  EXPECT_EQ(Seqs(ReadJournal(Open().journal())), (std::vector<uint64_t>{1}));
}

}  // namespace
}  // namespace precall::store
