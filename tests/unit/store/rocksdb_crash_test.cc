// Crash tests: a child process writes to the store and dies without closing
// it (_exit, or SIGKILL at an arbitrary point of a write); the parent reopens
// the database and checks that everything acknowledged before the death is
// there and that the parts of a commit never come apart.
//
// The child is a GoogleTest death test in the "threadsafe" style (fork, then
// exec of this binary): a plain fork of a process whose RocksDB background
// threads (left by earlier tests) may hold locks could deadlock the child.
// The re-executed child finds the parent's directory in the environment.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "devices/ids.h"
#include "gateway/store/rocksdb_store.h"
#include "gtest/gtest.h"

namespace precall::store {
namespace {

constexpr char kDirVariable[] = "PRECALL_STORE_CRASH_TEST_DIR";

// The test's directory: created by the parent, inherited by the child.
std::string CrashDir() {
  if (const char* dir = getenv(kDirVariable)) return dir;
  char pattern[] = "/tmp/precall-store-crash-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return "";
  setenv(kDirVariable, pattern, 1);
  return pattern;
}

// Removes the directory when the parent's test ends, however it ends (the
// child never runs destructors: it _exits or is killed).
struct CrashDirCleanup {
  ~CrashDirCleanup() {
    unsetenv(kDirVariable);
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
  std::string dir;
};

std::unique_ptr<RocksStore> OpenOrDie(const std::string& dir, StoreOptions options) {
  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir + "/db", options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    _exit(3);
  }
  return std::move(*store);
}

core::CaseCommit CommitFor(uint64_t seq, uint64_t journal_seq) {
  core::CaseCommit c;
  c.event_seq = seq;
  c.case_id = absl::StrCat("c-", seq % 7);
  c.event_json = absl::StrCat(R"({"seq":)", seq, R"(,"case":")", c.case_id, R"("})");
  c.case_json = absl::StrCat(R"({"id":")", c.case_id, R"(","last_event":)", seq, "}");
  c.topic = absl::StrCat("service/acme/cases/", c.case_id);
  c.device_key = devices::EncodeDeviceKey("acme", absl::StrCat("d", seq % 5));
  c.checkpoint = absl::StrCat("state after ", seq);
  c.journal_watermark = journal_seq;
  c.next_case_number = seq + 1;
  return c;
}

std::string TelemetryPayload(uint64_t i) {
  return absl::StrCat(R"({"seq":)", i, R"(,"metrics":{"t":)", i % 100, "}}");
}

struct Recovered {
  std::vector<uint64_t> journal_seqs;
  std::vector<std::string> payloads;
  std::vector<std::string> events;
  std::map<uint64_t, std::string> outbox;  // seq -> payload
  std::map<std::string, std::string> cases;
  std::map<std::string, std::pair<std::string, uint64_t>> checkpoints;
  uint64_t last_event_seq = 0;
  uint64_t next_case_number = 0;
  uint64_t journal_last_seq = 0;
};

Recovered Recover(const std::string& dir) {
  Recovered r;
  absl::StatusOr<std::unique_ptr<RocksStore>> store = RocksStore::Open(dir + "/db");
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return r;
  core::Journal& journal = (*store)->journal();
  core::CaseStore& cases = (*store)->cases();
  EXPECT_TRUE(journal
                  .ForEachAfter(0,
                                [&](const core::JournalEntry& e) {
                                  r.journal_seqs.push_back(e.seq);
                                  r.payloads.emplace_back(e.payload);
                                  return true;
                                })
                  .ok());
  r.journal_last_seq = journal.last_seq();
  absl::StatusOr<std::vector<std::string>> events = cases.EventsAfter(0, 1'000'000);
  EXPECT_TRUE(events.ok());
  if (events.ok()) r.events = *events;
  absl::StatusOr<std::vector<core::OutboxEntry>> outbox = cases.Outbox(0, 1'000'000);
  EXPECT_TRUE(outbox.ok());
  if (outbox.ok()) {
    for (const core::OutboxEntry& e : *outbox) r.outbox[e.event_seq] = e.payload;
  }
  EXPECT_TRUE(cases
                  .ForEachCase([&](std::string_view c) {
                    // {"id":"c-N",... -> c-N
                    std::string_view id = c.substr(7, c.find('"', 7) - 7);
                    r.cases[std::string(id)] = std::string(c);
                  })
                  .ok());
  EXPECT_TRUE(cases
                  .ForEachCheckpoint([&](std::string_view k, std::string_view c, uint64_t w) {
                    r.checkpoints[std::string(k)] = {std::string(c), w};
                  })
                  .ok());
  r.last_event_seq = cases.last_event_seq();
  r.next_case_number = cases.next_case_number();
  return r;
}

// Checks that events 1..E, their outbox entries, the latest case of each id,
// each device's latest checkpoint and the counters agree with one another and
// with the journal, for commits made by CommitFor(seq, journal seq = seq).
void ExpectConsistent(const Recovered& r, uint64_t events_committed) {
  const uint64_t e = r.events.size();
  for (uint64_t seq = 1; seq <= e; ++seq) {
    EXPECT_EQ(r.events[seq - 1], CommitFor(seq, seq).event_json) << "events must be gapless";
  }
  EXPECT_EQ(r.last_event_seq, e);
  EXPECT_EQ(r.next_case_number, e + 1);
  // The outbox holds exactly the committed events (nothing was acknowledged).
  ASSERT_EQ(r.outbox.size(), e);
  for (const auto& [seq, payload] : r.outbox) {
    ASSERT_GE(seq, 1u);
    ASSERT_LE(seq, e) << "an outbox entry without its event";
    EXPECT_EQ(payload, r.events[seq - 1]);
  }
  // Each case and each checkpoint is that of the last event that touched it.
  std::map<std::string, std::string> cases;
  std::map<std::string, std::pair<std::string, uint64_t>> checkpoints;
  for (uint64_t seq = 1; seq <= e; ++seq) {
    core::CaseCommit c = CommitFor(seq, seq);
    cases[c.case_id] = c.case_json;
    checkpoints[c.device_key] = {c.checkpoint, c.journal_watermark};
  }
  EXPECT_EQ(r.cases, cases);
  EXPECT_EQ(r.checkpoints, checkpoints);
  // The journal: gapless from 1, never behind a checkpoint's watermark.
  for (std::size_t i = 0; i < r.journal_seqs.size(); ++i) {
    ASSERT_EQ(r.journal_seqs[i], i + 1);
    EXPECT_EQ(r.payloads[i], TelemetryPayload(i + 1));
  }
  EXPECT_EQ(r.journal_last_seq, r.journal_seqs.size());
  for (const auto& [key, checkpoint] : checkpoints) {
    EXPECT_LE(checkpoint.second, r.journal_last_seq) << "a watermark past the journal";
  }
  EXPECT_GE(e, events_committed) << "an acknowledged commit was lost";
}

// Strict journal: appends and commits K, then _exits without closing.
[[noreturn]] void CommitThenExit(const std::string& dir, uint64_t k) {
  StoreOptions options;
  options.journal.mode = JournalMode::kStrict;
  std::unique_ptr<RocksStore> store = OpenOrDie(dir, options);
  for (uint64_t i = 1; i <= k; ++i) {
    absl::StatusOr<uint64_t> seq = store->journal().Append(1000 + static_cast<int64_t>(i),
                                                           "fleet/acme/d/telemetry",
                                                           TelemetryPayload(i));
    if (!seq.ok() || *seq != i || !store->cases().Commit(CommitFor(i, i)).ok()) _exit(2);
  }
  store.release();  // never closed
  _exit(0);
}

TEST(StoreCrashTest, ExitWithoutCloseKeepsEverythingCommitted) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string dir = CrashDir();
  ASSERT_FALSE(dir.empty());
  CrashDirCleanup cleanup{dir};
  constexpr uint64_t kCommits = 200;
  EXPECT_EXIT(CommitThenExit(dir, kCommits), ::testing::ExitedWithCode(0), "");
  Recovered r = Recover(dir);
  EXPECT_EQ(r.events.size(), kCommits);
  EXPECT_EQ(r.journal_seqs.size(), kCommits);
  ExpectConsistent(r, kCommits);
}

// Group journal that never reaches its sync size: 5 appends, a commit naming
// the 5th, 3 more appends, _exit. Group mode only adds disk syncs: every
// append was written when it returned, so all 8 survive the process.
[[noreturn]] void GroupAppendsThenExit(const std::string& dir) {
  StoreOptions options;
  options.journal.mode = JournalMode::kGroup;
  options.journal.group_commit_size = 1000;
  std::unique_ptr<RocksStore> store = OpenOrDie(dir, options);
  for (uint64_t i = 1; i <= 5; ++i) {
    if (!store->journal().Append(1, "fleet/acme/d/telemetry", TelemetryPayload(i)).ok()) _exit(2);
  }
  if (!store->cases().Commit(CommitFor(1, 5)).ok()) _exit(2);
  for (uint64_t i = 6; i <= 8; ++i) {
    if (!store->journal().Append(1, "fleet/acme/d/telemetry", TelemetryPayload(i)).ok()) _exit(2);
  }
  store.release();
  _exit(0);
}

TEST(StoreCrashTest, GroupModeKeepsEveryAppendAcrossAProcessCrash) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string dir = CrashDir();
  ASSERT_FALSE(dir.empty());
  CrashDirCleanup cleanup{dir};
  EXPECT_EXIT(GroupAppendsThenExit(dir), ::testing::ExitedWithCode(0), "");
  Recovered r = Recover(dir);
  EXPECT_EQ(r.journal_seqs, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(r.journal_last_seq, 8u);
  ASSERT_EQ(r.checkpoints.size(), 1u);
  EXPECT_EQ(r.checkpoints.begin()->second.second, 5u);
  EXPECT_EQ(r.events.size(), 1u);
}

// Strict journal, appending and committing in a loop and reporting each
// finished commit with write(2) (which survives SIGKILL); another thread
// SIGKILLs the process after `kill_after` commits, wherever the loop is.
[[noreturn]] void CommitUntilKilled(const std::string& dir, uint64_t kill_after) {
  StoreOptions options;
  options.journal.mode = JournalMode::kStrict;
  options.journal.segment_bytes = 4096;  // a new segment every ~15 entries: kills hit rollovers
  std::unique_ptr<RocksStore> store = OpenOrDie(dir, options);
  const int progress = open((dir + "/progress").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (progress < 0) _exit(4);
  std::atomic<uint64_t> done{0};
  std::thread killer([&] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (done.load() < kill_after && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    kill(getpid(), SIGKILL);
  });
  for (uint64_t i = 1;; ++i) {
    absl::StatusOr<uint64_t> seq = store->journal().Append(1000 + static_cast<int64_t>(i),
                                                           "fleet/acme/d/telemetry",
                                                           TelemetryPayload(i));
    if (!seq.ok() || *seq != i || !store->cases().Commit(CommitFor(i, i)).ok()) _exit(2);
    const std::string line = absl::StrCat(i, "\n");
    if (write(progress, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
    done.store(i);
  }
}

TEST(StoreCrashTest, SigkillDuringWritesLeavesAConsistentPrefix) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const std::string dir = CrashDir();
  ASSERT_FALSE(dir.empty());
  CrashDirCleanup cleanup{dir};
  constexpr uint64_t kKillAfter = 300;
  EXPECT_EXIT(CommitUntilKilled(dir, kKillAfter), ::testing::KilledBySignal(SIGKILL), "");

  // The last complete line of the progress file: commits acknowledged.
  uint64_t acknowledged = 0;
  std::ifstream progress(dir + "/progress");
  for (std::string line; std::getline(progress, line);) {
    if (!progress.eof()) acknowledged = std::stoull(line);
  }
  EXPECT_GE(acknowledged, kKillAfter);

  Recovered r = Recover(dir);
  ExpectConsistent(r, acknowledged);
  // At most the commit in flight beyond the acknowledged ones; the journal is
  // the commits' entries plus at most the one appended before the kill.
  EXPECT_LE(r.events.size(), acknowledged + 1);
  EXPECT_GE(r.journal_seqs.size(), r.events.size());
  EXPECT_LE(r.journal_seqs.size(), r.events.size() + 1);
}

}  // namespace
}  // namespace precall::store
