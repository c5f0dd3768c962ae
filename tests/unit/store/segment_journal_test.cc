// SegmentJournal: segment files (rollover, reads across and from the middle
// of segments, an oversized record), reopening (seqs go on, a torn or
// corrupt tail is cut, an empty newest segment goes, `min_last_seq`), retention
// by whole segments, a reader beside the writer, and files that are not ours.
#include "gateway/store/segment_journal.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace precall::store {
namespace {

struct Entry {
  uint64_t seq;
  int64_t receive_ms;
  std::string topic;
  std::string payload;
  bool operator==(const Entry&) const = default;
};

class SegmentJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/precall-journal-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    journal_.reset();
    std::filesystem::remove_all(dir_);
  }

  // (Re)opens the journal with small segments, closing the previous one first.
  SegmentJournal& Open(uint64_t min_last_seq = 0, JournalMode mode = JournalMode::kStrict) {
    journal_.reset();
    JournalOptions options;
    options.mode = mode;
    options.segment_bytes = 4096;
    options.group_commit_size = 4;
    absl::StatusOr<std::unique_ptr<SegmentJournal>> j =
        SegmentJournal::Open(dir_, options, min_last_seq);
    EXPECT_TRUE(j.ok()) << j.status();
    journal_ = std::move(*j);
    return *journal_;
  }

  // Appends entries receive_ms = seq * 10 with ~100-byte payloads until `last`.
  void AppendUpTo(uint64_t last) {
    while (journal_->last_seq() < last) {
      const uint64_t next = journal_->last_seq() + 1;
      absl::StatusOr<uint64_t> seq = journal_->Append(
          static_cast<int64_t>(next * 10), absl::StrCat("fleet/acme/d", next % 7, "/telemetry"),
          std::string(100, static_cast<char>('a' + next % 26)));
      ASSERT_TRUE(seq.ok()) << seq.status();
      ASSERT_EQ(*seq, next);
    }
  }

  std::vector<Entry> Read(uint64_t after = 0) {
    std::vector<Entry> out;
    absl::Status s = journal_->ForEachAfter(after, [&](const core::JournalEntry& e) {
      out.push_back({e.seq, e.receive_ms, std::string(e.topic), std::string(e.payload)});
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }
  std::vector<uint64_t> Seqs(uint64_t after = 0) {
    std::vector<uint64_t> seqs;
    for (const Entry& e : Read(after)) seqs.push_back(e.seq);
    return seqs;
  }
  static std::vector<uint64_t> Range(uint64_t first, uint64_t last) {
    std::vector<uint64_t> v;
    for (uint64_t i = first; i <= last; ++i) v.push_back(i);
    return v;
  }
  std::vector<std::string> Files() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::string PathOf(const std::string& name) { return dir_ + "/" + name; }

  std::string dir_;
  std::unique_ptr<SegmentJournal> journal_;
};

TEST_F(SegmentJournalTest, EntriesSpanSegmentsAndReadFromAnywhere) {
  Open();
  AppendUpTo(100);  // ~136 bytes each: ~30 per 4 KiB segment
  const std::vector<std::string> files = Files();
  ASSERT_GE(files.size(), 3u);
  EXPECT_EQ(files.front(), "00000000000000000001.log");
  EXPECT_EQ(Seqs(), Range(1, 100));
  for (uint64_t after : {0, 1, 29, 30, 31, 57, 99}) EXPECT_EQ(Seqs(after), Range(after + 1, 100));
  EXPECT_TRUE(Read(100).empty());
  const std::vector<Entry> all = Read();
  EXPECT_EQ(all[41], (Entry{42, 420, "fleet/acme/d0/telemetry", std::string(100, 'a' + 42 % 26)}));

  std::vector<uint64_t> visited;  // the visitor stops the walk
  ASSERT_TRUE(journal_
                  ->ForEachAfter(20,
                                 [&](const core::JournalEntry& e) {
                                   visited.push_back(e.seq);
                                   return e.seq < 60;
                                 })
                  .ok());
  EXPECT_EQ(visited, Range(21, 60));
}

TEST_F(SegmentJournalTest, ARecordLargerThanASegmentGetsItsOwn) {
  Open();
  AppendUpTo(3);
  const std::string big(100'000, '\x7f');
  const std::string binary("a\0b\0\xff", 5);
  ASSERT_TRUE(journal_->Append(-5, "big", big).ok());
  ASSERT_TRUE(journal_->Append(7, std::string("t\0p", 3), binary).ok());
  ASSERT_TRUE(journal_->Append(8, "", "").ok());
  const std::vector<Entry> all = Read(3);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (Entry{4, -5, "big", big}));
  EXPECT_EQ(all[1], (Entry{5, 7, std::string("t\0p", 3), binary}));
  EXPECT_EQ(all[2], (Entry{6, 8, "", ""}));
  Open();  // byte-exact after reopen too
  EXPECT_EQ(Read(3), all);
}

TEST_F(SegmentJournalTest, ReopenGoesOnInANewSegment) {
  Open();
  AppendUpTo(10);
  const std::vector<std::string> before = Files();
  Open();
  EXPECT_EQ(journal_->last_seq(), 10u);
  EXPECT_EQ(Files(), before) << "opening alone creates nothing";
  AppendUpTo(12);
  EXPECT_EQ(Files().back(), "00000000000000000011.log");
  EXPECT_EQ(Seqs(), Range(1, 12));
  // The closed segment was cut to its entries.
  EXPECT_LT(std::filesystem::file_size(PathOf(before.back())), 4096u);
}

TEST_F(SegmentJournalTest, MinLastSeqSkipsSeqsNamedElsewhere) {
  Open(41);
  EXPECT_EQ(journal_->last_seq(), 41u);
  AppendUpTo(43);
  EXPECT_EQ(Seqs(), Range(42, 43));
  Open(5);  // lower than the journal's own: the journal wins
  EXPECT_EQ(journal_->last_seq(), 43u);
}

TEST_F(SegmentJournalTest, AnEmptyNewestSegmentIsRemovedOnOpen) {
  Open();
  AppendUpTo(5);
  journal_.reset();
  std::ofstream(PathOf("00000000000000000006.log")).put('\0');  // a crash right after creating it
  Open();
  EXPECT_EQ(journal_->last_seq(), 5u);
  EXPECT_EQ(Files(), (std::vector<std::string>{"00000000000000000001.log"}));
  AppendUpTo(6);
  EXPECT_EQ(Seqs(), Range(1, 6));
}

// A crash (or power loss) can leave a record whose header was never stored,
// or whose bytes do not match their checksum: the journal ends before it.
TEST_F(SegmentJournalTest, ATornTailIsCutOnOpen) {
  for (bool zero_header : {true, false}) {
    journal_.reset();
    std::filesystem::remove_all(dir_);
    Open();
    AppendUpTo(5);
    journal_.reset();
    const std::string path = PathOf("00000000000000000001.log");
    const auto size = std::filesystem::file_size(path);
    const auto record = (size - 16) / 5;
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      if (zero_header) {
        f.seekp(static_cast<std::streamoff>(16 + 3 * record));  // the 4th record's header
        f.write("\0\0\0\0\0\0\0\0", 8);
      } else {
        f.seekp(static_cast<std::streamoff>(16 + 3 * record + 40));  // inside its payload
        f.put('#');
      }
    }
    Open();
    EXPECT_EQ(journal_->last_seq(), 3u) << zero_header;
    EXPECT_EQ(Seqs(), Range(1, 3)) << zero_header;
    EXPECT_EQ(std::filesystem::file_size(path), 16 + 3 * record) << zero_header;
    AppendUpTo(4);  // seq 4 again: the torn one was never a whole entry
    EXPECT_EQ(Seqs(), Range(1, 4));
  }
}

TEST_F(SegmentJournalTest, RetentionDropsWholeOldSegmentsButNeverTheNewest) {
  Open();
  AppendUpTo(100);
  const std::size_t segments = Files().size();
  ASSERT_TRUE(journal_->TrimBefore(0, UINT64_MAX).ok());
  EXPECT_EQ(Files().size(), segments);
  // Cut at seq 50's time: the segments wholly before it go; seq 50's stays.
  ASSERT_TRUE(journal_->TrimBefore(500, UINT64_MAX).ok());
  const std::vector<uint64_t> left = Seqs();
  ASSERT_FALSE(left.empty());
  EXPECT_GT(left.front(), 1u);
  EXPECT_LE(left.front(), 50u);
  EXPECT_EQ(left.back(), 100u);
  EXPECT_LT(Files().size(), segments);
  // Everything older than the cut: only the newest segment remains, and a
  // reopen still goes on after seq 100.
  ASSERT_TRUE(journal_->TrimBefore(1'000'000, UINT64_MAX).ok());
  EXPECT_EQ(Files().size(), 1u);
  EXPECT_EQ(Seqs().back(), 100u);
  Open();
  AppendUpTo(101);
  EXPECT_EQ(Seqs().back(), 101u);
}

// Retention never takes what recovery still needs: entries after the
// recovery start stay however old they are.
TEST_F(SegmentJournalTest, RetentionKeepsEverythingAfterTheRecoveryStart) {
  Open();
  AppendUpTo(100);
  ASSERT_TRUE(journal_->TrimBefore(1'000'000, 40).ok());  // everything is old enough
  const std::vector<uint64_t> left = Seqs();
  ASSERT_FALSE(left.empty());
  EXPECT_LE(left.front(), 41u) << "seq 41 onwards must stay";
  EXPECT_GT(left.front(), 1u) << "whole segments up to seq 40 may go";
  EXPECT_EQ(left.back(), 100u);
  ASSERT_TRUE(journal_->TrimBefore(1'000'000, 0).ok());  // nothing processed yet
  EXPECT_EQ(Seqs().front(), left.front());
}

// A segment whose first entry a power cut damaged has no time; it must not
// stop retention of the segments before and after it for good.
TEST_F(SegmentJournalTest, RetentionGoesPastASegmentWithoutAReadableEntry) {
  Open();
  AppendUpTo(100);
  journal_.reset();
  const std::vector<std::string> files = Files();
  ASSERT_GE(files.size(), 3u);
  {
    std::fstream f(PathOf(files[1]), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(16 + 8 + 40);  // the first record's payload
    f.put('#');
  }
  Open();
  AppendUpTo(101);
  ASSERT_TRUE(journal_->TrimBefore(1'000'000, UINT64_MAX).ok());
  EXPECT_EQ(Files().size(), 1u) << "only the newest segment is left";
  EXPECT_EQ(Seqs().back(), 101u);
}

// A disk about to fill fails the journal's appends without taking what is
// left (a 64 MiB reservation could starve the case store's writes).
TEST_F(SegmentJournalTest, NoNewSegmentWithoutRoomToSpare) {
  JournalOptions options;
  options.segment_bytes = 4096;
  options.min_free_bytes = uint64_t{1} << 62;  // more than any disk has
  absl::StatusOr<std::unique_ptr<SegmentJournal>> j = SegmentJournal::Open(dir_, options);
  ASSERT_TRUE(j.ok()) << j.status();
  absl::StatusOr<uint64_t> seq = (*j)->Append(1, "t", "p");
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kResourceExhausted) << seq.status();
  EXPECT_TRUE(Files().empty());
  EXPECT_EQ((*j)->last_seq(), 0u);
}

TEST_F(SegmentJournalTest, AReaderBesideTheWriterSeesWholeEntriesInOrder) {
  Open();
  std::atomic<bool> done{false};
  std::thread writer([&] {
    AppendUpTo(2000);
    done = true;
  });
  bool ok = true;
  while (!done) {
    uint64_t expected = 1;
    ASSERT_TRUE(journal_
                    ->ForEachAfter(0,
                                   [&](const core::JournalEntry& e) {
                                     ok = ok && e.seq == expected++ &&
                                          e.receive_ms == static_cast<int64_t>(e.seq * 10) &&
                                          e.payload ==
                                              std::string(100, static_cast<char>('a' + e.seq % 26));
                                     return ok;
                                   })
                    .ok());
    if (!ok) break;
  }
  writer.join();
  EXPECT_TRUE(ok);
  EXPECT_EQ(Seqs(), Range(1, 2000));
}

TEST_F(SegmentJournalTest, GroupAndFsyncModesWriteEveryAppendAtOnce) {
  for (JournalMode mode : {JournalMode::kGroup, JournalMode::kFsync}) {
    Open(0, mode);
    const uint64_t before = journal_->last_seq();
    for (uint64_t i = 1; i <= 6; ++i) {
      AppendUpTo(before + i);
      EXPECT_EQ(Read(before).size(), i);
    }
    ASSERT_TRUE(journal_->Flush().ok());
    ASSERT_TRUE(journal_->Flush().ok());  // nothing new: a no-op
  }
}

// A newest segment without the header (a power cut after its creation) is
// set aside and the journal goes on after its name; an older one is not
// skipped silently.
TEST_F(SegmentJournalTest, ANewestSegmentWithoutHeaderIsSetAside) {
  Open();
  AppendUpTo(5);
  journal_.reset();
  std::ofstream(PathOf("00000000000000000009.log")) << std::string(4096, '\0');
  Open();
  EXPECT_EQ(journal_->last_seq(), 8u);
  EXPECT_TRUE(std::filesystem::exists(PathOf("00000000000000000009.log.unreadable")));
  AppendUpTo(9);
  EXPECT_EQ(Seqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 9}));
}

TEST_F(SegmentJournalTest, AnOlderFileThatIsNotASegmentFailsTheOpen) {
  std::ofstream(PathOf("00000000000000000001.log")) << "not a journal segment at all";
  std::ofstream(PathOf("00000000000000000002.log")) << "nor this one, the newest";
  JournalOptions options;
  absl::StatusOr<std::unique_ptr<SegmentJournal>> j = SegmentJournal::Open(dir_, options);
  EXPECT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("00000000000000000001.log is not a journal segment"),
            std::string::npos)
      << j.status();
}

}  // namespace
}  // namespace precall::store
