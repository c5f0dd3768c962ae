// Ports of the gateway core: what the pipeline needs from storage, implemented
// by adapters at the edge (gateway/store: segment files for the journal,
// RocksDB for the rest; tests: in-memory fakes).
//
// Durability model (DESIGN.md "Durability"): the ingest thread appends every
// raw message to the Journal before the MQTT callback returns (the broker's
// acknowledgement); every case change is committed to the CaseStore as one
// atomic batch holding the case, its event, an outbox entry for MQTT, and the
// device's checkpoint (state blob + journal watermark), so that recovery —
// load checkpoints, re-apply the journal after each device's watermark —
// never opens a case twice and never loses an event.
#ifndef PRECALL_GATEWAY_CORE_PORTS_H_
#define PRECALL_GATEWAY_CORE_PORTS_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace precall::core {

// One raw MQTT message as it arrived.
struct JournalEntry {
  uint64_t seq = 0;        // journal sequence number: gapless, increasing, from 1
  int64_t receive_ms = 0;  // gateway wall clock at arrival
  std::string_view topic;
  std::string_view payload;
};

// Thread: Append from the ingest thread only; Flush from any thread;
// ForEachAfter and TrimBefore from one other thread at a time (recovery,
// retention).
class Journal {
 public:
  virtual ~Journal() = default;
  // Appends a message and returns its seq. The entry is written when Append
  // returns: it survives a crash of the process.
  virtual absl::StatusOr<uint64_t> Append(int64_t receive_ms, std::string_view topic,
                                          std::string_view payload) = 0;
  // Syncs to disk what the adapter's mode promises to sync (power loss).
  virtual absl::Status Flush() = 0;
  // Visits entries with seq > `after` in order until `visit` returns false.
  virtual absl::Status ForEachAfter(uint64_t after,
                                    const std::function<bool(const JournalEntry&)>& visit) = 0;
  // Drops entries received before `receive_ms` (retention), but none with a
  // seq above `keep_after`: recovery still needs those (the recovery start).
  virtual absl::Status TrimBefore(int64_t receive_ms, uint64_t keep_after) = 0;
  // The seq of the last appended entry (0 when empty).
  virtual uint64_t last_seq() const = 0;
};

// One case change, committed atomically.
struct CaseCommit {
  uint64_t event_seq = 0;
  std::string case_id;
  std::string event_json;  // the case event as published (CONTRACT §3)
  std::string case_json;   // the case after the change
  std::string topic;       // service/{tenant}/cases/{case_id}
  // The device's checkpoint at this change (empty key: none).
  std::string device_key;
  std::string checkpoint;
  uint64_t journal_watermark = 0;
  uint64_t next_case_number = 0;  // so case ids are never reused across restarts
};

// A device checkpoint written outside a case change (periodically, and at
// shutdown): the device's state including every journal entry up to
// `journal_watermark`.
struct CheckpointRecord {
  std::string device_key;
  std::string checkpoint;
  uint64_t journal_watermark = 0;
};

struct OutboxEntry {
  uint64_t event_seq = 0;
  std::string topic;
  std::string payload;
};

// Thread-safe: workers commit, the HTTP API reads, the egress drains.
class CaseStore {
 public:
  virtual ~CaseStore() = default;
  // Commits case changes in one atomic batch, in the order given (seq order):
  // all of them or none. A sample that changes several cases commits them
  // together with the device checkpoint, so recovery never re-applies half of it.
  virtual absl::Status CommitAll(std::span<const CaseCommit> commits) = 0;
  absl::Status Commit(const CaseCommit& commit) { return CommitAll({&commit, 1}); }
  // A device checkpoint without a case change (periodic, and at shutdown).
  virtual absl::Status PutCheckpoint(std::string_view device_key, std::string_view checkpoint,
                                     uint64_t journal_watermark) = 0;
  // Periodic checkpoints of many devices, and the journal seq after which
  // recovery must re-apply the journal (it never moves back), in one atomic
  // batch. See Pipeline for why one number suffices.
  virtual absl::Status PutCheckpoints(std::span<const CheckpointRecord> records,
                                      uint64_t recovery_start) = 0;
  // The last recovery start stored (0: re-apply the whole journal).
  virtual uint64_t recovery_start() = 0;
  virtual absl::Status ForEachCheckpoint(
      const std::function<void(std::string_view device_key, std::string_view checkpoint,
                                uint64_t journal_watermark)>& visit) = 0;
  // Every case's latest JSON, in id order.
  virtual absl::Status ForEachCase(const std::function<void(std::string_view case_json)>& visit) = 0;
  // Case events with seq > `after`, in order, at most `limit`.
  virtual absl::StatusOr<std::vector<std::string>> EventsAfter(uint64_t after,
                                                               std::size_t limit) = 0;
  virtual absl::StatusOr<std::string> EventJson(uint64_t event_seq) = 0;
  // One case's events, in seq order: the last `limit` of them (GET /v1/cases/{id}).
  virtual absl::StatusOr<std::vector<std::string>> CaseEvents(std::string_view case_id,
                                                              std::size_t limit) = 0;
  // The last committed event seq and next case number (0 and 1 when empty).
  virtual uint64_t last_event_seq() const = 0;
  virtual uint64_t next_case_number() const = 0;
  // Outbox entries with seq > `after`, oldest first, at most `limit`;
  // entries leave the outbox once the broker acknowledged them.
  virtual absl::StatusOr<std::vector<OutboxEntry>> Outbox(uint64_t after, std::size_t limit) = 0;
  virtual absl::Status RemoveFromOutbox(uint64_t event_seq) = 0;
  // How many entries the outbox holds now (a gauge for /metrics).
  virtual uint64_t outbox_depth() const = 0;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_PORTS_H_
