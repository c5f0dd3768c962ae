// The journal port on RocksDB: group commit into one WriteBatch, reads and
// retention straight from the database.
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/store/rocksdb_internal.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"

namespace precall::store::internal {
namespace {

constexpr std::size_t kJournalHeader = 12;  // BE u64 receive_ms, BE u32 topic length

// Decodes one stored entry; false if malformed.
bool DecodeEntry(const rocksdb::Slice& key, const rocksdb::Slice& value, core::JournalEntry* e) {
  if (!DecodeU64(key, &e->seq) || value.size() < kJournalHeader) return false;
  e->receive_ms = static_cast<int64_t>(GetBigEndian64(value.data()));
  return SplitTopicPayload(View(value).substr(8), &e->topic, &e->payload);
}

}  // namespace

RocksJournal::RocksJournal(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* journal,
                           rocksdb::ColumnFamilyHandle* meta, const JournalOptions& options,
                           uint64_t last_seq, uint64_t first_seq)
    : db_(db),
      journal_(journal),
      meta_(meta),
      options_(options),
      next_seq_(last_seq + 1),
      last_seq_(last_seq),
      first_seq_(first_seq) {
  write_options_.sync = options_.mode == JournalMode::kFsync;
}

absl::Duration RocksJournal::Now() const {
  if (options_.monotonic_now) return options_.monotonic_now();
  return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

absl::StatusOr<uint64_t> RocksJournal::Append(int64_t receive_ms, std::string_view topic,
                                              std::string_view payload) {
  if (topic.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError("journal: topic too long");
  }
  char header[kJournalHeader];
  PutBigEndian64(static_cast<uint64_t>(receive_ms), header);
  PutBigEndian32(static_cast<uint32_t>(topic.size()), header + 8);
  const rocksdb::Slice value_parts[3] = {rocksdb::Slice(header, sizeof header),
                                         rocksdb::Slice(topic.data(), topic.size()),
                                         rocksdb::Slice(payload.data(), payload.size())};

  absl::MutexLock lock(&mu_);
  const uint64_t seq = next_seq_;
  const U64Key key(seq);
  const rocksdb::Slice key_slice = key.slice();
  rocksdb::Status s = pending_.Put(journal_, rocksdb::SliceParts(&key_slice, 1),
                                   rocksdb::SliceParts(value_parts, 3));
  if (!s.ok()) return ToAbsl(s, "journal append");
  ++next_seq_;
  last_seq_.store(seq, std::memory_order_release);

  bool write_now = options_.mode != JournalMode::kGroup;
  if (!write_now) {
    if (pending_.Count() >= options_.group_commit_size) {
      write_now = true;
    } else {
      const absl::Duration now = Now();
      if (pending_.Count() == 1) {
        oldest_pending_ = now;
      }
      write_now = now - oldest_pending_ >= options_.group_commit_interval;
    }
  }
  if (write_now) {
    if (absl::Status st = WriteLocked(); !st.ok()) return st;
  }
  return seq;
}

absl::Status RocksJournal::Flush() {
  absl::MutexLock lock(&mu_);
  return WriteLocked();
}

// A failed write loses the group as a crash would: its entries are dropped and
// their seqs are not handed out again by this process. RocksDB write errors
// are sticky (the database turns read-only), so the caller treats one as fatal.
absl::Status RocksJournal::WriteLocked() {
  if (pending_.Count() == 0) return absl::OkStatus();
  const auto started = std::chrono::steady_clock::now();
  rocksdb::Status s = db_->Write(write_options_, &pending_);
  write_latency_us_.Record(MicrosSince(started));
  pending_.Clear();
  return ToAbsl(s, "journal write");
}

absl::Status RocksJournal::ForEachAfter(
    uint64_t after, const std::function<bool(const core::JournalEntry&)>& visit) {
  if (after == std::numeric_limits<uint64_t>::max()) return absl::OkStatus();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), journal_));
  const U64Key start(after + 1);
  for (it->Seek(start.slice()); it->Valid(); it->Next()) {
    core::JournalEntry entry;
    if (!DecodeEntry(it->key(), it->value(), &entry)) {
      return absl::DataLossError("journal: malformed entry");
    }
    if (!visit(entry)) return absl::OkStatus();
  }
  return ToAbsl(it->status(), "journal read");
}

// Entries are stored in receive order, so the cut is found by binary search
// on seq (O(log n) seeks instead of reading every value up to it), and the
// entries below it go with one range tombstone.
absl::Status RocksJournal::TrimBefore(int64_t receive_ms) {
  absl::MutexLock lock(&trim_mu_);
  // One iterator: an implicit snapshot, so concurrent appends do not move the range.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), journal_));
  it->SeekToLast();
  if (!it->Valid()) return ToAbsl(it->status(), "journal trim");
  uint64_t last = 0;
  if (!DecodeU64(it->key(), &last)) return absl::DataLossError("journal: malformed key");
  const U64Key first_key(first_seq_);
  it->Seek(first_key.slice());
  if (!it->Valid()) return ToAbsl(it->status(), "journal trim");
  uint64_t lo = 0;
  if (!DecodeU64(it->key(), &lo)) return absl::DataLossError("journal: malformed key");
  const uint64_t first = lo;
  // Invariant: every stored entry with seq < lo was received before the cut;
  // the answer is in [lo, hi], hi meaning "all of them".
  uint64_t hi = last + 1;
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    const U64Key mid_key(mid);
    it->Seek(mid_key.slice());
    core::JournalEntry entry;
    if (!it->Valid()) return ToAbsl(it->status(), "journal trim");
    if (!DecodeEntry(it->key(), it->value(), &entry)) {
      return absl::DataLossError("journal: malformed entry");
    }
    if (entry.receive_ms >= receive_ms) {
      hi = mid;  // nothing is stored in [mid, entry.seq)
    } else {
      lo = entry.seq + 1;
    }
  }
  if (lo == first) return absl::OkStatus();

  rocksdb::WriteBatch batch;
  const U64Key begin(first), end(lo);
  char trimmed_to[8];
  PutBigEndian64(lo - 1, trimmed_to);
  rocksdb::Status s = batch.DeleteRange(journal_, begin.slice(), end.slice());
  if (s.ok()) s = batch.Put(meta_, kMetaJournalTrimmedTo, rocksdb::Slice(trimmed_to, 8));
  if (s.ok()) s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return ToAbsl(s, "journal trim");
  first_seq_ = lo;
  return absl::OkStatus();
}

}  // namespace precall::store::internal
