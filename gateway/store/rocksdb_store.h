// RocksStore: the storage adapters of the core's ports (core/ports.h) in one
// directory: the journal in `<path>/journal` (SegmentJournal, segment files),
// everything else in a RocksDB database at `<path>`, in column families:
//
//   events       BE u64 event seq   -> case event JSON
//   cases        case id            -> case JSON (latest)
//   outbox       BE u64 event seq   -> BE u32 topic length, topic, payload
//   checkpoints  device key         -> BE u64 journal watermark, checkpoint blob
//   case_events  case id, NUL, BE u64 event seq -> "" (each case's events, in
//                                      the same batch as the event)
//   meta         name               -> value (format, last_event_seq,
//                                      next_case_number, recovery_start)
//
// Big-endian fixed-width numbers make RocksDB's bytewise key order the numeric
// order. Device keys are stored exactly as given (devices::EncodeDeviceKey).
//
// Durability. Every journal Append is written before it returns (see
// SegmentJournal for the modes); a CaseStore write (Commit, PutCheckpoint) is
// one atomic WriteBatch through RocksDB's WAL, which recovers up to the last
// complete record (kPointInTimeRecovery), so a crash keeps a prefix of case
// changes. A checkpoint's journal watermark never points past the journal
// that survives a process crash, because the worker that writes it only saw
// entries already appended. (After power loss without fsync either may lose
// its tail; the journal then resumes after the highest watermark, so seqs are
// never reused.)
//
// Upgrading: a database whose journal is still a RocksDB column family (the
// layout before SegmentJournal) has its entries moved to the segment files at
// Open, and the family dropped.
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
#include "gateway/store/segment_journal.h"

namespace precall::store {

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
