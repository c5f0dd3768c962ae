// Opening and closing the database, encodings and status mapping.
#include "gateway/store/rocksdb_store.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gateway/store/rocksdb_internal.h"
#include "rocksdb/db.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"

namespace precall::store {
namespace internal {

U64Key::U64Key(uint64_t v) { PutBigEndian64(v, bytes); }

void PutBigEndian64(uint64_t v, char* out) {
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

void PutBigEndian32(uint32_t v, char* out) {
  for (int i = 3; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

uint64_t GetBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

uint32_t GetBigEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

bool DecodeU64(const rocksdb::Slice& s, uint64_t* v) {
  if (s.size() != 8) return false;
  *v = GetBigEndian64(s.data());
  return true;
}

bool SplitTopicPayload(std::string_view value, std::string_view* topic,
                       std::string_view* payload) {
  if (value.size() < 4) return false;
  const uint32_t n = GetBigEndian32(value.data());
  if (value.size() - 4 < n) return false;
  *topic = value.substr(4, n);
  *payload = value.substr(4 + static_cast<std::size_t>(n));
  return true;
}

absl::Status ToAbsl(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat("rocksdb ", what, ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsNotSupported()) return absl::UnimplementedError(message);
  if (s.IsNoSpace() || s.IsMemoryLimit()) return absl::ResourceExhaustedError(message);
  if (s.IsAborted()) return absl::AbortedError(message);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIOError()) {
    return absl::UnavailableError(message);  // an IOError at open is also "locked by another"
  }
  return absl::InternalError(message);
}

}  // namespace internal

namespace {

using internal::DecodeU64;
using internal::ToAbsl;

constexpr const char* kFamilies[] = {internal::kEventsFamily, internal::kCasesFamily,
                                     internal::kOutboxFamily, internal::kCheckpointsFamily,
                                     internal::kMetaFamily,   internal::kCaseEventsFamily};
enum FamilyIndex { kEvents, kCases, kOutbox, kCheckpoints, kMeta, kCaseEvents, kOurFamilies };

// The BE u64 in meta[name], 0 when absent.
absl::StatusOr<uint64_t> ReadMetaU64(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* meta,
                                     const char* name) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), meta, name, &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return ToAbsl(s, "open: meta");
  uint64_t v = 0;
  if (!DecodeU64(value, &v)) return absl::DataLossError(absl::StrCat("meta ", name, ": malformed"));
  return v;
}

// The first and last BE u64 keys of a family (0, 0 when empty).
absl::Status KeyRange(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t* first,
                      uint64_t* last) {
  *first = *last = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekToFirst();
  if (!it->Valid()) return ToAbsl(it->status(), "open: scan");
  if (!DecodeU64(it->key(), first)) return absl::DataLossError("open: malformed key");
  it->SeekToLast();
  if (!it->Valid()) return ToAbsl(it->status(), "open: scan");
  if (!DecodeU64(it->key(), last)) return absl::DataLossError("open: malformed key");
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CountKeys(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) {
  uint64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  if (absl::Status s = ToAbsl(it->status(), "open: count"); !s.ok()) return s;
  return n;
}

absl::StatusOr<uint64_t> MaxWatermark(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* checkpoints) {
  uint64_t max = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), checkpoints));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->value().size() < 8) return absl::DataLossError("checkpoint: malformed value");
    max = std::max(max, internal::GetBigEndian64(it->value().data()));
  }
  if (absl::Status s = ToAbsl(it->status(), "open: checkpoints"); !s.ok()) return s;
  return max;
}

// Moves the entries of the legacy journal family (if the database has one)
// into `journal`, then drops the family. An upgrade interrupted half-way is
// finished by the next Open: entries the journal already has are skipped.
absl::Status MoveLegacyJournal(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                               SegmentJournal& journal) {
  auto legacy = std::find_if(handles.begin(), handles.end(), [](rocksdb::ColumnFamilyHandle* h) {
    return h->GetName() == internal::kLegacyJournalFamily;
  });
  if (legacy == handles.end()) return absl::OkStatus();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), *legacy));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t seq = 0;
    const std::string_view value = internal::View(it->value());
    std::string_view topic, payload;
    if (!DecodeU64(it->key(), &seq) || value.size() < 12 ||
        !internal::SplitTopicPayload(value.substr(8), &topic, &payload)) {
      return absl::DataLossError("upgrade: malformed entry in the legacy journal");
    }
    if (seq <= journal.last_seq()) continue;
    if (seq != journal.last_seq() + 1) {
      return absl::DataLossError("upgrade: the legacy journal has a gap");
    }
    const auto receive_ms = static_cast<int64_t>(internal::GetBigEndian64(value.data()));
    if (absl::StatusOr<uint64_t> appended = journal.Append(receive_ms, topic, payload);
        !appended.ok()) {
      return appended.status();
    }
  }
  if (absl::Status s = ToAbsl(it->status(), "upgrade: read the legacy journal"); !s.ok()) return s;
  it.reset();
  if (absl::Status s = journal.Close(); !s.ok()) return s;  // synced before the family goes
  if (absl::Status s = ToAbsl(db->DropColumnFamily(*legacy), "upgrade: drop the legacy journal");
      !s.ok()) {
    return s;
  }
  (void)db->DestroyColumnFamilyHandle(*legacy);
  handles.erase(legacy);
  return absl::OkStatus();
}

}  // namespace

struct RocksStore::Db {
  ~Db() {
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      if (db != nullptr) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    handles.clear();
    delete db;
  }

  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // ours first (FamilyIndex), then others
  std::unique_ptr<SegmentJournal> journal;
  std::unique_ptr<internal::RocksCaseStore> cases;
  bool closed = false;
};

absl::StatusOr<std::unique_ptr<RocksStore>> RocksStore::Open(const std::string& path,
                                                             const StoreOptions& options) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.keep_log_file_num = 5;  // RocksDB's own LOG files, not the WAL
  // The rarely written families (cases, meta, ...) pin old WAL files until
  // they flush; RocksDB's default cap (4x all write buffers, ~3 GiB here) would
  // let the WAL grow that large and make recovery replay all of it.
  db_options.max_total_wal_size = 256 << 20;
  // After a crash, keep the replayed WAL in the memtables instead of writing
  // them to SST files before Open returns: recovery time matters most then.
  db_options.avoid_flush_during_recovery = true;
  // One memtable budget for all families: by default each may hold 64 MiB
  // (twice while flushing), so the journal and the checkpoints of a large
  // fleet kept ~100 MiB resident. Past the budget the largest one flushes.
  db_options.db_write_buffer_size = 48 << 20;

  // Every family on disk must be opened: ours, "default", and any a newer
  // version may have added.
  std::vector<std::string> names(std::begin(kFamilies), std::end(kFamilies));
  names.push_back(rocksdb::kDefaultColumnFamilyName);
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok()) {
    for (const std::string& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : names) {
    descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }

  // RocksDB creates the database directory but not its parents.
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", path, ": cannot create the directory: ", ec.message()));
  }

  auto db = std::make_unique<Db>();
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &db->handles, &db->db);
  if (!s.ok()) {
    return ToAbsl(s, absl::StrCat("open ", path).c_str());
  }
  rocksdb::DB* raw = db->db;
  const auto& h = db->handles;

  // The format marker: written on creation, checked afterwards.
  std::string format;
  s = raw->Get(rocksdb::ReadOptions(), h[kMeta], internal::kMetaFormat, &format);
  if (s.IsNotFound()) {
    s = raw->Put(rocksdb::WriteOptions(), h[kMeta], internal::kMetaFormat,
                 internal::kFormatVersion);
    if (!s.ok()) return ToAbsl(s, "open: meta");
  } else if (!s.ok()) {
    return ToAbsl(s, "open: meta");
  } else if (format != internal::kFormatVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", path, ": unknown format \"", format, "\""));
  }

  // The journal resumes after the highest seq it ever used, or that a
  // checkpoint names (a guard: the commit order makes a watermark past the
  // journal impossible after a process crash, not after power loss). An
  // upgraded database's legacy family starts where it was trimmed.
  uint64_t legacy_first = 0, legacy_last = 0;
  for (rocksdb::ColumnFamilyHandle* handle : h) {
    if (handle->GetName() != internal::kLegacyJournalFamily) continue;
    if (absl::Status st = KeyRange(raw, handle, &legacy_first, &legacy_last); !st.ok()) return st;
  }
  absl::StatusOr<uint64_t> trimmed_to = ReadMetaU64(raw, h[kMeta], internal::kMetaJournalTrimmedTo);
  if (!trimmed_to.ok()) return trimmed_to.status();
  absl::StatusOr<uint64_t> watermark = MaxWatermark(raw, h[kCheckpoints]);
  if (!watermark.ok()) return watermark.status();
  const uint64_t journal_floor = legacy_first != 0 ? std::max(*trimmed_to, legacy_first - 1)
                                                   : std::max(*trimmed_to, *watermark);
  absl::StatusOr<std::unique_ptr<SegmentJournal>> journal =
      SegmentJournal::Open(path + "/journal", options.journal, journal_floor);
  if (!journal.ok()) return journal.status();
  db->journal = std::move(*journal);
  if (absl::Status st = MoveLegacyJournal(raw, db->handles, *db->journal); !st.ok()) return st;

  uint64_t events_first = 0, events_last = 0;
  if (absl::Status st = KeyRange(raw, h[kEvents], &events_first, &events_last); !st.ok()) {
    return st;
  }
  absl::StatusOr<uint64_t> last_event = ReadMetaU64(raw, h[kMeta], internal::kMetaLastEventSeq);
  if (!last_event.ok()) return last_event.status();
  absl::StatusOr<uint64_t> next_case = ReadMetaU64(raw, h[kMeta], internal::kMetaNextCaseNumber);
  if (!next_case.ok()) return next_case.status();

  absl::StatusOr<uint64_t> outbox_depth = CountKeys(raw, h[kOutbox]);
  if (!outbox_depth.ok()) return outbox_depth.status();
  internal::RocksCaseStore::Families families{h[kEvents],      h[kCases], h[kOutbox],
                                              h[kCheckpoints], h[kMeta],  h[kCaseEvents]};
  db->cases = std::make_unique<internal::RocksCaseStore>(
      raw, families, options.sync_commits, std::max(*last_event, events_last),
      std::max<uint64_t>(*next_case, 1), *outbox_depth);
  return std::unique_ptr<RocksStore>(new RocksStore(std::move(db)));
}

RocksStore::RocksStore(std::unique_ptr<Db> db) : db_(std::move(db)) {}

RocksStore::~RocksStore() {
  if (absl::Status s = Close(); !s.ok()) {
    std::fprintf(stderr, "precall: closing the store: %s\n", s.ToString().c_str());
  }
}

core::Journal& RocksStore::journal() { return *db_->journal; }
core::CaseStore& RocksStore::cases() { return *db_->cases; }
const core::FixedHistogram& RocksStore::journal_write_latency_us() const {
  return db_->journal->write_latency();
}
const core::FixedHistogram& RocksStore::store_write_latency_us() const {
  return db_->cases->write_latency();
}

absl::Status RocksStore::Close() {
  if (db_->closed) return absl::OkStatus();
  db_->closed = true;
  // A clean shutdown also survives power loss right after it.
  absl::Status status = db_->journal->Close();
  if (absl::Status s = ToAbsl(db_->db->SyncWAL(), "close: sync"); status.ok()) status = s;
  for (rocksdb::ColumnFamilyHandle* handle : db_->handles) {
    if (absl::Status s = ToAbsl(db_->db->DestroyColumnFamilyHandle(handle), "close"); status.ok()) {
      status = s;
    }
  }
  db_->handles.clear();
  if (absl::Status s = ToAbsl(db_->db->Close(), "close"); status.ok()) status = s;
  delete db_->db;
  db_->db = nullptr;
  return status;
}

}  // namespace precall::store
