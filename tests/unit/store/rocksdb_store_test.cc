// RocksStore: the journal through the store (binary round trip, seq
// continuity, the upgrade of a legacy journal family; the segment files
// themselves are in segment_journal_test.cc) and the case store
// (atomic commits readable after reopen, paging, outbox, counters, concurrent
// commits). Crash behaviour is in rocksdb_crash_test.cc.
#include "gateway/store/rocksdb_store.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
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
#include "rocksdb/db.h"

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

// `n` bytes of `v`, big-endian (the legacy journal family's encoding).
std::string BigEndian(uint64_t v, int n) {
  std::string out(static_cast<std::size_t>(n), '\0');
  for (int i = n - 1; i >= 0; --i, v >>= 8)
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
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

  std::string dir_;
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

// A database from before SegmentJournal keeps its journal in a column
// family; Open moves the entries into the segment files (seqs and bytes
// unchanged), drops the family, and appends go on after them.
TEST_F(StoreTest, OpenMovesALegacyJournalFamilyIntoSegments) {
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir_ + "/db", &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* journal = nullptr;
    ASSERT_TRUE(db->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "journal", &journal).ok());
    // Seqs 3..5 (1..2 were trimmed), value: BE u64 receive_ms, BE u32 topic length, topic, payload.
    for (uint64_t seq = 3; seq <= 5; ++seq) {
      const std::string key = BigEndian(seq, 8);
      const std::string value = BigEndian(1000 + seq, 8) + BigEndian(3, 4) + "t/" +
                                std::to_string(seq) + absl::StrCat("payload ", seq);
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), journal, key, value).ok());
    }
    ASSERT_TRUE(db->DestroyColumnFamilyHandle(journal).ok());
  }
  {
    core::Journal& j = Open().journal();
    EXPECT_EQ(ReadJournal(j), (std::vector<Stored>{{3, 1003, "t/3", "payload 3"},
                                                   {4, 1004, "t/4", "payload 4"},
                                                   {5, 1005, "t/5", "payload 5"}}));
    absl::StatusOr<uint64_t> seq = j.Append(2000, "t/6", "p");
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 6u);
  }
  store_.reset();
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir_ + "/db", &families).ok());
  EXPECT_EQ(std::count(families.begin(), families.end(), "journal"), 0);
  EXPECT_EQ(Seqs(ReadJournal(Open().journal())), (std::vector<uint64_t>{3, 4, 5, 6}));
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

TEST_F(StoreTest, CloseIsIdempotentAndKeepsTheJournal) {
  RocksStore& store = Open();
  ASSERT_TRUE(store.journal().Append(1, "t", "p").ok());
  ASSERT_TRUE(store.Close().ok());
  ASSERT_TRUE(store.Close().ok());
  EXPECT_EQ(Seqs(ReadJournal(Open().journal())), (std::vector<uint64_t>{1}));
}

}  // namespace
}  // namespace precall::store
