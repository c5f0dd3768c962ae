// The journal as memory-mapped segment files; see segment_journal.h.
#include "gateway/store/segment_journal.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace precall::store {
namespace {

static_assert(std::endian::native == std::endian::little, "the journal format is little-endian");

constexpr char kMagic[8] = {'P', 'R', 'E', 'C', 'A', 'L', 'L', 'J'};
constexpr uint32_t kFormat = 1;
constexpr std::size_t kFileHeader = 16;   // magic, u32 format, u32 reserved
constexpr std::size_t kRecordHeader = 8;  // u32 body length, u32 CRC-32C of the body
constexpr std::size_t kBodyFixed = 20;    // u64 seq, i64 receive_ms, u32 topic length
constexpr std::size_t kPage = 4096;
// Pages behind the write position leave this process's mapping every so
// often, so the journal does not count in its resident memory (the data stays
// in the page cache and is written back as usual).
constexpr std::size_t kReleaseEvery = 1 << 20;
constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

std::size_t RoundUp(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

// --- CRC-32C (Castagnoli), with SSE 4.2 where the CPU has it ------------------

uint32_t Crc32cSoftware(const char* p, std::size_t n) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) {
    crc = table[(crc ^ static_cast<unsigned char>(p[i])) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const char* p, std::size_t n) {
  uint64_t crc = 0xFFFFFFFFu;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    crc = _mm_crc32_u64(crc, word);
  }
  auto crc32 = static_cast<uint32_t>(crc);
  for (; n > 0; --n, ++p) crc32 = _mm_crc32_u8(crc32, static_cast<unsigned char>(*p));
  return ~crc32;
}
#endif

uint32_t Crc32c(const char* p, std::size_t n) {
#if defined(__x86_64__)
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  if (hardware) return Crc32cHardware(p, n);
#endif
  return Crc32cSoftware(p, n);
}

// --- Records -----------------------------------------------------------------

uint64_t LoadHeader(const char* p) {
  return __atomic_load_n(reinterpret_cast<const uint64_t*>(p), __ATOMIC_ACQUIRE);
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Walks the records of one mapped segment from its start, as long as they are
// whole, intact and consecutive from `first_seq`. `visit` returns false to
// stop (then *stopped is set). Returns the offset just past the last valid one.
std::size_t Scan(const char* base, std::size_t size, uint64_t first_seq, uint64_t* last_seq,
                 const std::function<bool(const core::JournalEntry&)>& visit = nullptr,
                 bool* stopped = nullptr) {
  std::size_t off = kFileHeader;
  uint64_t expected = first_seq;
  while (off + kRecordHeader + kBodyFixed <= size) {
    const uint64_t header = LoadHeader(base + off);
    const auto length = static_cast<uint32_t>(header);
    const auto crc = static_cast<uint32_t>(header >> 32);
    const char* body = base + off + kRecordHeader;
    if (length < kBodyFixed || length > size - off - kRecordHeader) break;
    if (Crc32c(body, length) != crc || Load<uint64_t>(body) != expected) break;
    const auto topic_length = Load<uint32_t>(body + 16);
    if (topic_length > length - kBodyFixed) break;
    if (visit) {
      core::JournalEntry e;
      e.seq = expected;
      e.receive_ms = Load<int64_t>(body + 8);
      e.topic = std::string_view(body + kBodyFixed, topic_length);
      e.payload =
          std::string_view(body + kBodyFixed + topic_length, length - kBodyFixed - topic_length);
      if (!visit(e)) {
        if (stopped != nullptr) *stopped = true;
        *last_seq = expected;
        return off + kRecordHeader + RoundUp(length, 8);
      }
    }
    *last_seq = expected++;
    off += kRecordHeader + RoundUp(length, 8);
  }
  return off;
}

absl::Status Errno(const std::string& what, int err) {
  std::string message = absl::StrCat("journal: ", what, ": ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) return absl::ResourceExhaustedError(message);
  return absl::UnavailableError(message);
}

// A read-only mapping of a whole file, unmapped on destruction.
class ReadMapping {
 public:
  // False (and nothing mapped) if the file is gone, empty or unreadable.
  bool Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= kFileHeader) {
      size_ = static_cast<std::size_t>(st.st_size);
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
      if (p != MAP_FAILED) {
        base_ = static_cast<const char*>(p);
        ::madvise(p, size_, MADV_SEQUENTIAL);
      }
    }
    ::close(fd);
    return base_ != nullptr;
  }
  ~ReadMapping() {
    if (base_ != nullptr) ::munmap(const_cast<char*>(base_), size_);
  }
  bool HasMagic() const { return std::memcmp(base_, kMagic, sizeof kMagic) == 0; }
  const char* base() const { return base_; }
  std::size_t size() const { return size_; }

 private:
  const char* base_ = nullptr;
  std::size_t size_ = 0;
};

std::string SegmentPath(const std::string& dir, uint64_t first_seq) {
  return absl::StrFormat("%s/%020u.log", dir, first_seq);
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("fsync " + dir, err);
}

}  // namespace

struct SegmentJournal::Segment {
  Segment(uint64_t first, std::string p, int descriptor = -1)
      : first_seq(first), path(std::move(p)), fd(descriptor) {}
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
  const uint64_t first_seq;
  const std::string path;
  // receive_ms of the first entry, kNoTime until there is one (retention).
  std::atomic<int64_t> first_receive_ms{kNoTime};
  int fd;  // open while active (for syncs); guarded by the journal's sync_mu_
};

struct SegmentJournal::Active {
  std::shared_ptr<Segment> segment;
  char* base = nullptr;
  std::size_t capacity = 0;
  std::size_t offset = kFileHeader;  // where the next record goes
  std::size_t released = 0;          // pages below this left our mapping
};

absl::StatusOr<std::unique_ptr<SegmentJournal>> SegmentJournal::Open(const std::string& dir,
                                                                     const JournalOptions& options,
                                                                     uint64_t min_last_seq) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat("journal ", dir, ": ", ec.message()));

  std::vector<std::pair<uint64_t, std::string>> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 24 || !name.ends_with(".log")) continue;
    uint64_t seq = 0;
    bool digits = true;
    for (char c : std::string_view(name).substr(0, 20)) {
      if (c < '0' || c > '9') digits = false;
      seq = seq * 10 + static_cast<uint64_t>(c - '0');
    }
    if (digits && seq > 0) files.emplace_back(seq, entry.path().string());
  }
  if (ec) return absl::UnavailableError(absl::StrCat("journal ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());

  std::vector<std::shared_ptr<Segment>> segments;
  uint64_t last_seq = 0;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& [first_seq, path] = files[i];
    const bool newest = i + 1 == files.size();
    ReadMapping map;
    const bool readable = map.Open(path);
    if (readable && !map.HasMagic()) {
      if (!newest) {
        return absl::DataLossError(absl::StrCat("journal: ", path, " is not a journal segment"));
      }
      // The newest one: a power cut right after its creation can leave it
      // preallocated with its header still zeros. Nothing in it is readable;
      // it is kept aside, not deleted, in case it is something else.
      std::filesystem::rename(path, path + ".unreadable", ec);
      if (ec) return Errno("rename " + path, ec.value());
      last_seq = std::max(last_seq, first_seq - 1);
      continue;
    }
    // Only the newest segment is walked to its end; of the older ones (sealed
    // whole, or cut at an earlier open) retention needs just the first entry.
    uint64_t seq = first_seq - 1;
    std::size_t end = 0;
    if (readable) {
      end = newest ? Scan(map.base(), map.size(), first_seq, &seq)
                   : Scan(map.base(), map.size(), first_seq, &seq,
                          [](const core::JournalEntry&) { return false; });
    }
    int64_t first_receive_ms = kNoTime;
    if (seq >= first_seq) first_receive_ms = Load<int64_t>(map.base() + kFileHeader + 16);
    last_seq = std::max(last_seq, seq);
    if (newest) {
      // The newest segment: a crash left it preallocated, maybe with a torn
      // record at its end. Cut it to its valid records (appends go to a new
      // segment); if it has none, its name alone said what it had to.
      if (seq < first_seq) {
        std::filesystem::remove(path, ec);
        continue;
      }
      if (end != map.size() && ::truncate(path.c_str(), static_cast<off_t>(end)) != 0) {
        return Errno("truncate " + path, errno);
      }
    }
    auto segment = std::make_shared<Segment>(first_seq, path);
    segment->first_receive_ms.store(first_receive_ms, std::memory_order_relaxed);
    segments.push_back(std::move(segment));
  }
  return std::unique_ptr<SegmentJournal>(
      new SegmentJournal(dir, options, std::max(last_seq, min_last_seq), std::move(segments)));
}

SegmentJournal::SegmentJournal(std::string dir, const JournalOptions& options, uint64_t last_seq,
                               std::vector<std::shared_ptr<Segment>> segments)
    : dir_(std::move(dir)),
      options_(options),
      last_seq_(last_seq),
      segments_(std::move(segments)) {}

SegmentJournal::~SegmentJournal() {
  if (absl::Status s = Close(); !s.ok()) {
    std::fprintf(stderr, "precall: closing the journal: %s\n", s.ToString().c_str());
  }
}

absl::StatusOr<uint64_t> SegmentJournal::Append(int64_t receive_ms, std::string_view topic,
                                                std::string_view payload) {
  const std::size_t body = kBodyFixed + topic.size() + payload.size();
  if (body > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError("journal: message too large");
  }
  const std::size_t record = kRecordHeader + RoundUp(body, 8);
  if (active_ == nullptr || active_->offset + record > active_->capacity) {
    if (absl::Status s = Rollover(record); !s.ok()) return s;
  }
  const uint64_t seq = last_seq_.load(std::memory_order_relaxed) + 1;
  char* const p = active_->base + active_->offset;
  char* const b = p + kRecordHeader;
  const auto topic_length = static_cast<uint32_t>(topic.size());
  std::memcpy(b, &seq, 8);
  std::memcpy(b + 8, &receive_ms, 8);
  std::memcpy(b + 16, &topic_length, 4);
  if (!topic.empty()) std::memcpy(b + kBodyFixed, topic.data(), topic.size());
  if (!payload.empty()) std::memcpy(b + kBodyFixed + topic.size(), payload.data(), payload.size());
  const uint64_t header =
      static_cast<uint64_t>(body) | (static_cast<uint64_t>(Crc32c(b, body)) << 32);
  __atomic_store_n(reinterpret_cast<uint64_t*>(p), header, __ATOMIC_RELEASE);
  if (active_->offset == kFileHeader) {
    active_->segment->first_receive_ms.store(receive_ms, std::memory_order_release);
  }
  active_->offset += record;
  last_seq_.store(seq, std::memory_order_release);

  if (active_->offset - active_->released >= kReleaseEvery) {
    const std::size_t upto = active_->offset / kPage * kPage;
    ::madvise(active_->base + active_->released, upto - active_->released, MADV_DONTNEED);
    active_->released = upto;
  }
  if (options_.mode == JournalMode::kFsync ||
      (options_.mode == JournalMode::kGroup && ++unsynced_ >= options_.group_commit_size)) {
    if (absl::Status synced = SyncActive(); !synced.ok()) return synced;
  }
  return seq;
}

// Seals the active segment (synced unless strict) and starts the next one at
// the next seq, big enough for `record_bytes`.
absl::Status SegmentJournal::Rollover(std::size_t record_bytes) {
  if (active_ != nullptr) {
    absl::Status s = options_.mode == JournalMode::kStrict ? absl::OkStatus() : SyncActive();
    ::munmap(active_->base, active_->capacity);
    {
      absl::MutexLock lock(&sync_mu_);
      ::close(active_->segment->fd);
      active_->segment->fd = -1;
    }
    active_.reset();
    if (!s.ok()) return s;
  }
  const auto started = std::chrono::steady_clock::now();
  absl::Status s = StartSegment(record_bytes);
  absl::MutexLock lock(&sync_mu_);
  RecordWriteLocked(started);
  return s;
}

absl::Status SegmentJournal::StartSegment(std::size_t record_bytes) {
  const uint64_t first_seq = last_seq_.load(std::memory_order_relaxed) + 1;
  const std::string path = SegmentPath(dir_, first_seq);
  const std::size_t capacity =
      RoundUp(std::max(options_.segment_bytes, kFileHeader + record_bytes), kPage);
  struct statvfs fs {};
  if (::statvfs(dir_.c_str(), &fs) == 0 &&
      static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize < capacity + options_.min_free_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("journal: %u MiB free in %s, a new segment needs %u MiB and leaves %u MiB",
                        static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize >> 20, dir_,
                        capacity >> 20, options_.min_free_bytes >> 20));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("create " + path, errno);
  // `error` is made (errno read) before the file goes.
  auto fail = [&](absl::Status error) {
    ::close(fd);
    ::unlink(path.c_str());
    return error;
  };
  char header[kFileHeader] = {};
  std::memcpy(header, kMagic, sizeof kMagic);
  std::memcpy(header + 8, &kFormat, 4);
  if (::pwrite(fd, header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) {
    return fail(Errno("write " + path, errno));
  }
  if (int err = ::posix_fallocate(fd, 0, static_cast<off_t>(capacity)); err != 0) {
    return fail(Errno("allocate " + path, err));
  }
  if (options_.mode != JournalMode::kStrict) {
    // Where disk syncs are promised, the header and the file's name first: a
    // segment whose size reached the disk without them is unreadable after a
    // power cut.
    if (::fdatasync(fd) != 0) return fail(Errno("sync " + path, errno));
    if (absl::Status s = SyncDirectory(dir_); !s.ok()) return fail(s);
  }
  void* base = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) return fail(Errno("map " + path, errno));
  auto segment = std::make_shared<Segment>(first_seq, path, fd);
  {
    absl::MutexLock lock(&mu_);
    segments_.push_back(segment);
  }
  active_ = std::make_unique<Active>();
  active_->segment = std::move(segment);
  active_->base = static_cast<char*>(base);
  active_->capacity = capacity;
  return absl::OkStatus();
}

void SegmentJournal::RecordWriteLocked(std::chrono::steady_clock::time_point started) {
  write_latency_us_.Record(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count());
}

absl::Status SegmentJournal::SyncActive() {
  unsynced_ = 0;
  const uint64_t upto = last_seq();
  absl::MutexLock lock(&sync_mu_);
  if (active_->segment->fd >= 0) {
    const auto started = std::chrono::steady_clock::now();
    const int rc = ::fdatasync(active_->segment->fd);
    RecordWriteLocked(started);
    if (rc != 0) return Errno("sync " + active_->segment->path, errno);
  }
  synced_seq_ = upto;
  return absl::OkStatus();
}

absl::Status SegmentJournal::Flush() {
  if (options_.mode == JournalMode::kStrict) return absl::OkStatus();
  const uint64_t upto = last_seq();
  std::shared_ptr<Segment> newest;
  {
    absl::MutexLock lock(&mu_);
    if (segments_.empty()) return absl::OkStatus();
    newest = segments_.back();
  }
  // Sealed segments were synced when they were sealed (or are from before
  // this process); only the newest one may hold unsynced appends.
  absl::MutexLock lock(&sync_mu_);
  if (synced_seq_ == upto) return absl::OkStatus();  // idle since the last sync
  // Sealed meanwhile (a rollover synced it): what follows is in a segment
  // this call did not see; the next Flush syncs it.
  if (newest->fd < 0) return absl::OkStatus();
  const auto started = std::chrono::steady_clock::now();
  const int rc = ::fdatasync(newest->fd);
  RecordWriteLocked(started);
  if (rc != 0) return Errno("sync " + newest->path, errno);
  synced_seq_ = upto;
  return absl::OkStatus();
}

std::vector<std::shared_ptr<SegmentJournal::Segment>> SegmentJournal::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return segments_;
}

absl::Status SegmentJournal::ForEachAfter(
    uint64_t after, const std::function<bool(const core::JournalEntry&)>& visit) {
  if (after == std::numeric_limits<uint64_t>::max()) return absl::OkStatus();
  const std::vector<std::shared_ptr<Segment>> segments = Snapshot();
  for (std::size_t i = 0; i < segments.size(); ++i) {
    // Every entry of a segment has a seq below the next segment's first.
    if (i + 1 < segments.size() && segments[i + 1]->first_seq <= after + 1) continue;
    ReadMapping map;
    if (!map.Open(segments[i]->path)) continue;  // trimmed meanwhile
    bool stopped = false;
    uint64_t last = 0;
    Scan(
        map.base(), map.size(), segments[i]->first_seq, &last,
        [&](const core::JournalEntry& e) { return e.seq <= after || visit(e); }, &stopped);
    if (stopped) break;
  }
  return absl::OkStatus();
}

absl::Status SegmentJournal::TrimBefore(int64_t receive_ms, uint64_t keep_after) {
  std::vector<std::string> doomed;
  {
    absl::MutexLock lock(&mu_);
    // Entries are in receive order: a segment is all older than the cut when
    // a later one starts before it (the next that has an entry: one left
    // empty or unreadable by a crash has no time). A segment's entries end
    // below the next one's first seq. The newest segment always stays.
    std::size_t n = 0;
    while (n + 1 < segments_.size() && segments_[n + 1]->first_seq - 1 <= keep_after) {
      int64_t later_first = kNoTime;
      for (std::size_t k = n + 1; k < segments_.size() && later_first == kNoTime; ++k) {
        later_first = segments_[k]->first_receive_ms.load(std::memory_order_acquire);
      }
      if (later_first == kNoTime || later_first >= receive_ms) break;
      doomed.push_back(segments_[n]->path);
      ++n;
    }
    segments_.erase(segments_.begin(), segments_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  for (const std::string& path : doomed) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove " + path, errno);
  }
  return absl::OkStatus();
}

absl::Status SegmentJournal::Close() {
  if (active_ == nullptr) return absl::OkStatus();
  // A clean shutdown also survives power loss right after it.
  absl::Status status = SyncActive();
  ::munmap(active_->base, active_->capacity);
  if (::ftruncate(active_->segment->fd, static_cast<off_t>(active_->offset)) != 0 && status.ok()) {
    status = Errno("truncate " + active_->segment->path, errno);
  }
  {
    absl::MutexLock lock(&sync_mu_);
    ::close(active_->segment->fd);
    active_->segment->fd = -1;
  }
  active_.reset();
  return status;
}

}  // namespace precall::store
