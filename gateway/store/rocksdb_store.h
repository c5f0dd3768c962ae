// RocksStore: the RocksDB adapters of the core's storage ports (core/ports.h).
// One database at a path holds everything, in column families:
//
//   journal      BE u64 journal seq -> BE u64 receive_ms, BE u32 topic length,
//                topic, payload (the raw MQTT message)
//   events       BE u64 event seq   -> case event JSON
//   cases        case id            -> case JSON (latest)
//   outbox       BE u64 event seq   -> BE u32 topic length, topic, payload
//   checkpoints  device key         -> BE u64 journal watermark, checkpoint blob
//   case_events  case id, NUL, BE u64 event seq -> "" (each case's events, in
//                                      the same batch as the event)
//   meta         name               -> value (format, last_event_seq,
//                                      next_case_number, journal_trimmed_to,
//                                      recovery_start)
//
// Big-endian fixed-width numbers make RocksDB's bytewise key order the numeric
// order. Device keys are stored exactly as given (devices::EncodeDeviceKey).
//
// Durability. The journal group-commits (JournalOptions); a CaseStore write
// (Commit, PutCheckpoint) is one atomic WriteBatch through the WAL, and first
// writes the journal's pending group, so that the WAL order guarantees what
// recovery relies on: a checkpoint's journal watermark never points past the
// journal that survived a crash. RocksDB recovers the WAL up to the last
// complete record (kPointInTimeRecovery), so a crash keeps a prefix of writes.
//
// Journal::ForEachAfter reads the database only: entries of a group not yet
// written are not visited, so a caller that needs them calls Flush() first.
//
// Threads: see core::Journal and core::CaseStore. Additionally Flush() and
// last_seq() may be called from any thread. RocksStore itself (Open, Close,
// the destructor) belongs to one owner; both ports must be idle when it closes.
#ifndef PRECALL_GATEWAY_STORE_ROCKSDB_STORE_H_
#define PRECALL_GATEWAY_STORE_ROCKSDB_STORE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gateway/core/counters.h"
#include "gateway/core/ports.h"

namespace precall::store {

enum class JournalMode {
  // Appends collect in a WriteBatch that is written (WAL, no fsync) when it
  // holds group_commit_size entries, when an Append finds its oldest entry
  // group_commit_interval old, or on Flush(). A process crash loses at most
  // the unwritten group. Nothing flushes an idle journal by itself: the owner
  // calls Flush() when traffic pauses (e.g. every interval from a timer).
  kGroup,
  // Every Append is written at once (WAL, no fsync): survives a process crash.
  kStrict,
  // Every Append is written at once and the WAL fsynced: survives power loss.
  kFsync,
};

struct JournalOptions {
  JournalMode mode = JournalMode::kGroup;                         // default: group
  absl::Duration group_commit_interval = absl::Milliseconds(5);  // default: 5 ms
  std::size_t group_commit_size = 256;                            // default: 256 entries
  // Monotonic time since an arbitrary epoch, for the age of a group (tests
  // inject a fake). Default (empty): std::chrono::steady_clock.
  std::function<absl::Duration()> monotonic_now;
};

struct StoreOptions {
  JournalOptions journal;
  // fsync the WAL on every CaseStore write (Commit, PutCheckpoint), so that a
  // committed case event survives power loss. Default: false (survives a
  // process crash; the OS writes the WAL back within seconds).
  bool sync_commits = false;
};

class RocksStore {
 public:
  // Opens (creating if missing) the database at `path`, with every column
  // family; resumes the journal after its last seq and the case store after
  // its last event. Errors: the database is locked by another process
  // (Unavailable), unreadable (DataLoss), or of an unknown format.
  static absl::StatusOr<std::unique_ptr<RocksStore>> Open(const std::string& path,
                                                          const StoreOptions& options = {});
  ~RocksStore();
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  core::Journal& journal();
  core::CaseStore& cases();
  // Write latencies (µs) of journal groups and of case-store batches, for
  // /metrics; readable from any thread.
  const core::FixedHistogram& journal_write_latency_us() const;
  const core::FixedHistogram& store_write_latency_us() const;

  // Writes the journal's pending group and closes the database. Idempotent;
  // the destructor calls it (and can only report errors on stderr). The ports
  // must not be used afterwards.
  absl::Status Close();

 private:
  struct Db;
  explicit RocksStore(std::unique_ptr<Db> db);
  std::unique_ptr<Db> db_;
};

}  // namespace precall::store

#endif  // PRECALL_GATEWAY_STORE_ROCKSDB_STORE_H_
