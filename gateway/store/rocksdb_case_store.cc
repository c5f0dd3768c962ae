// The case store port on RocksDB: one atomic WriteBatch per case change.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gateway/store/rocksdb_internal.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"

namespace precall::store::internal {
namespace {

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// Adds a checkpoint value "BE u64 watermark, blob" to `batch`.
rocksdb::Status PutCheckpointValue(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* cf,
                                   std::string_view device_key, std::string_view checkpoint,
                                   uint64_t watermark) {
  char head[8];
  PutBigEndian64(watermark, head);
  const rocksdb::Slice key = ToSlice(device_key);
  const rocksdb::Slice parts[2] = {rocksdb::Slice(head, 8), ToSlice(checkpoint)};
  return batch.Put(cf, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 2));
}

}  // namespace

RocksCaseStore::RocksCaseStore(rocksdb::DB* db, const Families& families, bool sync,
                               uint64_t last_event_seq, uint64_t next_case_number,
                               uint64_t outbox_depth)
    : db_(db),
      cf_(families),
      last_event_seq_(last_event_seq),
      next_case_number_(next_case_number),
      outbox_depth_(outbox_depth) {
  commit_options_.sync = sync;
}

absl::Status RocksCaseStore::CommitAll(std::span<const core::CaseCommit> commits) {
  if (commits.empty()) return absl::OkStatus();
  for (const core::CaseCommit& commit : commits) {
    if (commit.event_seq == 0) return absl::InvalidArgumentError("commit: event seq 0");
    if (commit.case_id.empty()) return absl::InvalidArgumentError("commit: empty case id");
    if (commit.topic.size() > std::numeric_limits<uint32_t>::max()) {
      return absl::InvalidArgumentError("commit: topic too long");
    }
  }
  rocksdb::WriteBatch batch;
  uint64_t last_event = last_event_seq_.load();
  uint64_t next_case = next_case_number_.load();
  for (const core::CaseCommit& commit : commits) {
    if (absl::Status s = AddToBatch(batch, commit); !s.ok()) return s;
    last_event = std::max(last_event, commit.event_seq);
    next_case = std::max(next_case, commit.next_case_number);
  }

  absl::MutexLock lock(&commit_mu_);
  last_event = std::max(last_event, last_event_seq_.load());
  next_case = std::max(next_case, next_case_number_.load());
  const U64Key last_event_value(last_event), next_case_value(next_case);
  rocksdb::Status s = batch.Put(cf_.meta, kMetaLastEventSeq, last_event_value.slice());
  if (s.ok()) s = batch.Put(cf_.meta, kMetaNextCaseNumber, next_case_value.slice());
  if (s.ok()) {
    const auto started = std::chrono::steady_clock::now();
    s = db_->Write(commit_options_, &batch);
    write_latency_us_.Record(MicrosSince(started));
  }
  if (!s.ok()) return ToAbsl(s, "commit");
  outbox_depth_.fetch_add(commits.size(), std::memory_order_relaxed);
  // An event below the floor (not the case book's order) lowers it.
  for (const core::CaseCommit& commit : commits) {
    if (commit.event_seq < outbox_floor_.load(std::memory_order_relaxed)) {
      outbox_floor_.store(commit.event_seq, std::memory_order_relaxed);
    }
  }
  last_event_seq_.store(last_event, std::memory_order_release);
  next_case_number_.store(next_case, std::memory_order_release);
  return absl::OkStatus();
}

// One case change: the event, the case, the outbox entry and, if given, the
// device's checkpoint.
absl::Status RocksCaseStore::AddToBatch(rocksdb::WriteBatch& batch,
                                        const core::CaseCommit& commit) {
  const U64Key seq_key(commit.event_seq);
  rocksdb::Status s = batch.Put(cf_.events, seq_key.slice(), ToSlice(commit.event_json));
  if (s.ok()) {
    const rocksdb::Slice parts[3] = {ToSlice(commit.case_id), rocksdb::Slice("\0", 1),
                                     seq_key.slice()};
    s = batch.Put(cf_.case_events, rocksdb::SliceParts(parts, 3), rocksdb::SliceParts());
  }
  if (s.ok()) s = batch.Put(cf_.cases, ToSlice(commit.case_id), ToSlice(commit.case_json));
  if (s.ok()) {
    char topic_len[4];
    PutBigEndian32(static_cast<uint32_t>(commit.topic.size()), topic_len);
    const rocksdb::Slice key = seq_key.slice();
    const rocksdb::Slice parts[3] = {rocksdb::Slice(topic_len, 4), ToSlice(commit.topic),
                                     ToSlice(commit.event_json)};
    s = batch.Put(cf_.outbox, rocksdb::SliceParts(&key, 1), rocksdb::SliceParts(parts, 3));
  }
  if (s.ok() && !commit.device_key.empty()) {
    s = PutCheckpointValue(batch, cf_.checkpoints, commit.device_key, commit.checkpoint,
                           commit.journal_watermark);
  }
  return ToAbsl(s, "commit");
}

absl::Status RocksCaseStore::PutCheckpoint(std::string_view device_key,
                                           std::string_view checkpoint,
                                           uint64_t journal_watermark) {
  if (device_key.empty()) return absl::InvalidArgumentError("checkpoint: empty device key");
  rocksdb::WriteBatch batch;
  rocksdb::Status s =
      PutCheckpointValue(batch, cf_.checkpoints, device_key, checkpoint, journal_watermark);
  if (s.ok()) s = db_->Write(commit_options_, &batch);
  return ToAbsl(s, "checkpoint");
}

absl::Status RocksCaseStore::PutCheckpoints(std::span<const core::CheckpointRecord> records,
                                            uint64_t recovery_start) {
  for (const core::CheckpointRecord& r : records) {
    if (r.device_key.empty()) return absl::InvalidArgumentError("checkpoint: empty device key");
  }
  rocksdb::WriteBatch batch;
  rocksdb::Status s;
  for (const core::CheckpointRecord& r : records) {
    s = PutCheckpointValue(batch, cf_.checkpoints, r.device_key, r.checkpoint, r.journal_watermark);
    if (!s.ok()) return ToAbsl(s, "checkpoint");
  }
  absl::MutexLock lock(&commit_mu_);  // recovery_start only moves forward
  if (recovery_start > RecoveryStartLocked()) {
    const U64Key value(recovery_start);
    s = batch.Put(cf_.meta, kMetaRecoveryStart, value.slice());
    if (!s.ok()) return ToAbsl(s, "checkpoint");
  }
  s = db_->Write(commit_options_, &batch);
  if (!s.ok()) return ToAbsl(s, "checkpoint");
  recovery_start_ = std::max(recovery_start_, recovery_start);
  return absl::OkStatus();
}

uint64_t RocksCaseStore::recovery_start() {
  absl::MutexLock lock(&commit_mu_);
  return RecoveryStartLocked();
}

uint64_t RocksCaseStore::RecoveryStartLocked() {
  if (!recovery_start_loaded_) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_.meta, kMetaRecoveryStart, &value);
    uint64_t v = 0;
    if (s.ok() && DecodeU64(value, &v)) recovery_start_ = v;
    recovery_start_loaded_ = true;  // absent or unreadable: 0, the whole journal
  }
  return recovery_start_;
}

absl::Status RocksCaseStore::ForEachCheckpoint(
    const std::function<void(std::string_view, std::string_view, uint64_t)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.checkpoints));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice value = it->value();
    if (value.size() < 8) return absl::DataLossError("checkpoint: malformed value");
    visit(View(it->key()), View(value).substr(8), GetBigEndian64(value.data()));
  }
  return ToAbsl(it->status(), "checkpoint read");
}

absl::Status RocksCaseStore::ForEachCase(
    const std::function<void(std::string_view case_json)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.cases));
  for (it->SeekToFirst(); it->Valid(); it->Next()) visit(View(it->value()));
  return ToAbsl(it->status(), "case read");
}

absl::StatusOr<std::vector<std::string>> RocksCaseStore::EventsAfter(uint64_t after,
                                                                     std::size_t limit) {
  std::vector<std::string> events;
  if (limit == 0 || after == std::numeric_limits<uint64_t>::max()) return events;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.events));
  const U64Key start(after + 1);
  for (it->Seek(start.slice()); it->Valid() && events.size() < limit; it->Next()) {
    events.emplace_back(it->value().data(), it->value().size());
  }
  if (absl::Status s = ToAbsl(it->status(), "event read"); !s.ok()) return s;
  return events;
}

absl::StatusOr<std::string> RocksCaseStore::EventJson(uint64_t event_seq) {
  std::string value;
  const U64Key key(event_seq);
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_.events, key.slice(), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no case event ", event_seq));
  if (!s.ok()) return ToAbsl(s, "event read");
  return value;
}

absl::StatusOr<std::vector<std::string>> RocksCaseStore::CaseEvents(std::string_view case_id,
                                                                    std::size_t limit) {
  std::vector<std::string> events;
  if (limit == 0) return events;
  // Newest first from the end of the case's key range, then put in seq order.
  std::string prefix(case_id);
  prefix.push_back('\0');
  std::string end = prefix;
  end.back() = '\1';
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.case_events));
  for (it->SeekForPrev(end); it->Valid() && events.size() < limit; it->Prev()) {
    const std::string_view key = View(it->key());
    if (key.size() != prefix.size() + 8 || key.substr(0, prefix.size()) != prefix) break;
    absl::StatusOr<std::string> event = EventJson(GetBigEndian64(key.data() + prefix.size()));
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
  }
  if (absl::Status s = ToAbsl(it->status(), "case event read"); !s.ok()) return s;
  std::reverse(events.begin(), events.end());
  return events;
}

absl::StatusOr<std::vector<core::OutboxEntry>> RocksCaseStore::Outbox(uint64_t after,
                                                                      std::size_t limit) {
  std::vector<core::OutboxEntry> entries;
  if (limit == 0) return entries;
  // Changes are committed one at a time in event seq order (the case book
  // commits under its lock) and last_event_seq_ moves after each commit, so
  // every entry up to `committed` is either in the iterator's snapshot or
  // removed.
  const uint64_t committed = last_event_seq_.load(std::memory_order_acquire);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_.outbox));
  // Below the floor are only the drainer's tombstones: never walk them. (The
  // floor is 0 until a read from the start raised it; seqs start at 1.)
  const uint64_t floor = std::max<uint64_t>(outbox_floor_.load(std::memory_order_relaxed), 1);
  const bool from_floor = after < floor;
  const U64Key start(from_floor ? floor : after + 1);
  for (it->Seek(start.slice()); it->Valid() && entries.size() < limit; it->Next()) {
    core::OutboxEntry entry;
    std::string_view topic, payload;
    if (!DecodeU64(it->key(), &entry.event_seq) ||
        !SplitTopicPayload(View(it->value()), &topic, &payload)) {
      return absl::DataLossError("outbox: malformed entry");
    }
    entry.topic = topic;
    entry.payload = payload;
    entries.push_back(std::move(entry));
  }
  if (absl::Status s = ToAbsl(it->status(), "outbox read"); !s.ok()) return s;
  if (!from_floor) return entries;  // says nothing about what lies below `after`
  uint64_t floor_now = entries.empty() ? committed + 1 : entries.front().event_seq;
  // Concurrent reads (the drainer, a test) only ever raise the floor.
  for (uint64_t was = outbox_floor_.load(std::memory_order_relaxed);
       floor_now > was && !outbox_floor_.compare_exchange_weak(was, floor_now);) {
  }
  return entries;
}

absl::Status RocksCaseStore::RemoveFromOutbox(uint64_t event_seq) {
  const U64Key key(event_seq);
  // Count only an entry that was there, so that the gauge cannot drift.
  rocksdb::PinnableSlice value;
  rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), cf_.outbox, key.slice(), &value);
  if (found.IsNotFound()) return absl::OkStatus();
  if (!found.ok()) return ToAbsl(found, "outbox remove");
  rocksdb::Status s = db_->Delete(outbox_options_, cf_.outbox, key.slice());
  if (s.ok()) outbox_depth_.fetch_sub(1, std::memory_order_relaxed);
  return ToAbsl(s, "outbox remove");
}

}  // namespace precall::store::internal
