// Internals of the RocksDB adapters (rocksdb_store.h): key and value
// encodings, status mapping, and the two port implementations. Only
// gateway/store/*.cc include this; it names RocksDB types, which the public
// header keeps out of its users' sight (precall::store links RocksDB privately).
#ifndef PRECALL_GATEWAY_STORE_ROCKSDB_INTERNAL_H_
#define PRECALL_GATEWAY_STORE_ROCKSDB_INTERNAL_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/core/counters.h"
#include "gateway/core/ports.h"
#include "gateway/store/rocksdb_store.h"
#include "rocksdb/db.h"
#include "rocksdb/slice.h"
#include "rocksdb/write_batch.h"

namespace precall::store::internal {

// The journal's family before SegmentJournal: BE u64 seq -> BE u64
// receive_ms, BE u32 topic length, topic, payload. Only read, to upgrade.
inline constexpr char kLegacyJournalFamily[] = "journal";
inline constexpr char kEventsFamily[] = "events";
inline constexpr char kCasesFamily[] = "cases";
inline constexpr char kOutboxFamily[] = "outbox";
inline constexpr char kCheckpointsFamily[] = "checkpoints";
// Per-case index of the events: case id, NUL, BE u64 event seq -> "".
inline constexpr char kCaseEventsFamily[] = "case_events";
inline constexpr char kMetaFamily[] = "meta";

// Keys of the meta family; numbers are BE u64.
inline constexpr char kMetaFormat[] = "format";  // "1"
inline constexpr char kFormatVersion[] = "1";
inline constexpr char kMetaLastEventSeq[] = "last_event_seq";
inline constexpr char kMetaNextCaseNumber[] = "next_case_number";
// The highest journal seq the legacy journal family ever trimmed (read at
// upgrade, so that seqs are not reused).
inline constexpr char kMetaJournalTrimmedTo[] = "journal_trimmed_to";
// Recovery re-applies the journal after this seq (see core::Pipeline).
inline constexpr char kMetaRecoveryStart[] = "recovery_start";

// A big-endian u64 key: bytewise order is numeric order.
struct U64Key {
  explicit U64Key(uint64_t v);
  rocksdb::Slice slice() const { return rocksdb::Slice(bytes, sizeof bytes); }
  char bytes[8];
};

void PutBigEndian64(uint64_t v, char* out);
void PutBigEndian32(uint32_t v, char* out);
uint64_t GetBigEndian64(const char* p);
uint32_t GetBigEndian32(const char* p);

// Decodes a BE u64 key or meta value; false unless exactly 8 bytes.
bool DecodeU64(const rocksdb::Slice& s, uint64_t* v);

// "BE u32 topic length, topic, payload" (journal values after receive_ms,
// outbox values). False when the length runs past the end.
bool SplitTopicPayload(std::string_view value, std::string_view* topic,
                       std::string_view* payload);

// Maps a RocksDB status to absl; `what` says what was being done.
absl::Status ToAbsl(const rocksdb::Status& s, const char* what);

inline std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// For the write-latency histograms.
inline int64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

class RocksCaseStore final : public core::CaseStore {
 public:
  struct Families {
    rocksdb::ColumnFamilyHandle* events;
    rocksdb::ColumnFamilyHandle* cases;
    rocksdb::ColumnFamilyHandle* outbox;
    rocksdb::ColumnFamilyHandle* checkpoints;
    rocksdb::ColumnFamilyHandle* meta;
    rocksdb::ColumnFamilyHandle* case_events;
  };
  RocksCaseStore(rocksdb::DB* db, const Families& families, bool sync, uint64_t last_event_seq,
                 uint64_t next_case_number, uint64_t outbox_depth);

  absl::Status CommitAll(std::span<const core::CaseCommit> commits) override;
  absl::Status PutCheckpoint(std::string_view device_key, std::string_view checkpoint,
                             uint64_t journal_watermark) override;
  absl::Status PutCheckpoints(std::span<const core::CheckpointRecord> records,
                              uint64_t recovery_start) override;
  uint64_t recovery_start() override;
  absl::Status ForEachCheckpoint(
      const std::function<void(std::string_view device_key, std::string_view checkpoint,
                               uint64_t journal_watermark)>& visit) override;
  absl::Status ForEachCase(const std::function<void(std::string_view case_json)>& visit) override;
  absl::StatusOr<std::vector<std::string>> EventsAfter(uint64_t after, std::size_t limit) override;
  absl::StatusOr<std::string> EventJson(uint64_t event_seq) override;
  absl::StatusOr<std::vector<std::string>> CaseEvents(std::string_view case_id,
                                                      std::size_t limit) override;
  uint64_t last_event_seq() const override {
    return last_event_seq_.load(std::memory_order_acquire);
  }
  uint64_t next_case_number() const override {
    return next_case_number_.load(std::memory_order_acquire);
  }
  absl::StatusOr<std::vector<core::OutboxEntry>> Outbox(uint64_t after, std::size_t limit) override;
  absl::Status RemoveFromOutbox(uint64_t event_seq) override;
  uint64_t outbox_depth() const override { return outbox_depth_.load(std::memory_order_relaxed); }
  const core::FixedHistogram& write_latency() const { return write_latency_us_; }

 private:
  absl::Status AddToBatch(rocksdb::WriteBatch& batch, const core::CaseCommit& commit);

  rocksdb::DB* const db_;
  const Families cf_;
  rocksdb::WriteOptions commit_options_;  // sync per StoreOptions::sync_commits
  rocksdb::WriteOptions outbox_options_;  // never synced: a lost removal only republishes

  // Serialises Commits so that the meta values written are monotonic (two
  // racing commits could otherwise store the smaller last_event_seq last).
  absl::Mutex commit_mu_;
  uint64_t RecoveryStartLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(commit_mu_);
  uint64_t recovery_start_ ABSL_GUARDED_BY(commit_mu_) = 0;
  bool recovery_start_loaded_ ABSL_GUARDED_BY(commit_mu_) = false;
  std::atomic<uint64_t> last_event_seq_;
  std::atomic<uint64_t> next_case_number_;
  std::atomic<uint64_t> outbox_depth_{0};  // counted at open, then kept up to date
  // Every outbox entry below this seq is gone: a read seeks here instead of
  // walking the tombstones the drainer's removals leave at the front.
  std::atomic<uint64_t> outbox_floor_{0};
  core::FixedHistogram write_latency_us_{core::kWriteLatencyBoundsUs};  // written under commit_mu_
};

}  // namespace precall::store::internal

#endif  // PRECALL_GATEWAY_STORE_ROCKSDB_INTERNAL_H_
