// SegmentJournal: the journal port (core::Journal) as append-only segment
// files that the ingest thread writes through a shared memory mapping.
//
// Why not RocksDB (DESIGN.md "Durability" asked for it): the broker gets its
// PUBACK when the MQTT callback returns, so every message must be recorded by
// then. A RocksDB write per message cost ~5.8 µs (a write(2) plus the write
// path); group commit was cheaper but acknowledged messages it had not yet
// written. A store into a MAP_SHARED mapping lands in the kernel's page cache
// at once: it survives the process (kill -9, a crash) exactly as a RocksDB
// WAL write without fsync does, at the cost of a memcpy.
//
// Files: `<dir>/<first seq, 20 digits>.log`, each a 16-byte file header
// ("PRECALLJ", format, reserved) and then records, 8-byte aligned:
//
//   u32 body length, u32 CRC-32C of the body    (the record header, stored last)
//   body: u64 seq, i64 receive_ms, u32 topic length, topic, payload
//
// little-endian. A zero header ends a segment. The active segment is
// preallocated (segment_bytes, or one record's size if that is larger), so a
// full disk fails an Append at the rollover instead of killing the process
// with SIGBUS on a page fault. A reader stops at the first zero, torn or
// out-of-sequence record; on open the last segment is cut to its valid end,
// and appends go to a new segment.
//
// Durability by mode:
//   kStrict  every Append is in the page cache when it returns (survives a
//            process crash; the OS writes it back within seconds);
//   kGroup   as strict, and the written data is also synced to disk
//            (fdatasync) by Flush() and whenever group_commit_size appends
//            are unsynced: power loss loses at most that much;
//   kFsync   as strict, and every Append is synced before it returns.
//
// Retention is by segment: TrimBefore deletes whole segments whose entries
// are all older than the cut and at or below `keep_after`, never the newest
// one (its name keeps seqs from being reused).
//
// Threads: Append from one ingest thread. Flush, ForEachAfter, TrimBefore and
// last_seq from any thread, concurrently with Append; ForEachAfter sees the
// entries appended before it reached them. The segment list is guarded by a
// mutex that Append takes only at a rollover (every segment_bytes).
#ifndef PRECALL_GATEWAY_STORE_SEGMENT_JOURNAL_H_
#define PRECALL_GATEWAY_STORE_SEGMENT_JOURNAL_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "gateway/core/counters.h"
#include "gateway/core/ports.h"

namespace precall::store {

enum class JournalMode {
  kGroup,   // written at once; synced to disk every group_commit_size appends and on Flush()
  kStrict,  // written at once (page cache): survives a process crash
  kFsync,   // written and synced to disk at once: survives power loss
};

struct JournalOptions {
  JournalMode mode = JournalMode::kStrict;  // default: strict
  std::size_t group_commit_size = 256;      // group: sync after this many unsynced appends
  std::size_t segment_bytes = 64 << 20;     // default: 64 MiB per segment file
  // A new segment is only started while the file system keeps this much free
  // beside it, so that a full disk fails journal appends before it fails the
  // case store's writes (RocksDB's).
  uint64_t min_free_bytes = 64 << 20;  // default: 64 MiB
};

class SegmentJournal final : public core::Journal {
 public:
  // Opens (creating if missing) the journal in `dir`. Appends resume after
  // the highest seq found, or after `min_last_seq` if that is higher (seqs
  // named elsewhere, e.g. by checkpoints, are never reused).
  static absl::StatusOr<std::unique_ptr<SegmentJournal>> Open(const std::string& dir,
                                                              const JournalOptions& options,
                                                              uint64_t min_last_seq = 0);
  ~SegmentJournal() override;
  SegmentJournal(const SegmentJournal&) = delete;
  SegmentJournal& operator=(const SegmentJournal&) = delete;

  absl::StatusOr<uint64_t> Append(int64_t receive_ms, std::string_view topic,
                                  std::string_view payload) override;
  // Syncs what was appended to disk in group and fsync mode; nothing to do in
  // strict mode (every Append is already written).
  absl::Status Flush() override;
  absl::Status ForEachAfter(uint64_t after,
                            const std::function<bool(const core::JournalEntry&)>& visit) override;
  absl::Status TrimBefore(int64_t receive_ms, uint64_t keep_after) override;
  uint64_t last_seq() const override { return last_seq_.load(std::memory_order_acquire); }

  // Syncs the active segment and cuts it to its written length. Appends must
  // have stopped; idempotent, and the destructor calls it.
  absl::Status Close();

  // Latency (µs) of each write that reaches the file system: starting a
  // segment, and each sync (group, fsync). A plain Append is a memcpy and is
  // not timed. Readable from any thread.
  const core::FixedHistogram& write_latency() const { return write_latency_us_; }

 private:
  struct Segment;
  struct Active;
  SegmentJournal(std::string dir, const JournalOptions& options, uint64_t last_seq,
                 std::vector<std::shared_ptr<Segment>> segments);
  absl::Status Rollover(std::size_t record_bytes);
  absl::Status StartSegment(std::size_t record_bytes);
  void RecordWriteLocked(std::chrono::steady_clock::time_point started)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  absl::Status SyncActive();
  std::vector<std::shared_ptr<Segment>> Snapshot() const;

  const std::string dir_;
  const JournalOptions options_;
  std::atomic<uint64_t> last_seq_;
  core::FixedHistogram write_latency_us_{core::kWriteLatencyBoundsUs};  // written under sync_mu_

  // The segment being written: owned by the Append thread.
  std::unique_ptr<Active> active_;
  std::size_t unsynced_ = 0;  // group mode: appends since the last sync

  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);  // oldest first
  absl::Mutex sync_mu_;  // one fdatasync at a time (Append in group/fsync mode, Flush)
  uint64_t synced_seq_ ABSL_GUARDED_BY(sync_mu_) = 0;  // synced up to here
};

}  // namespace precall::store

#endif  // PRECALL_GATEWAY_STORE_SEGMENT_JOURNAL_H_
