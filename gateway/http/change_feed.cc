#include "gateway/http/change_feed.h"

#include <algorithm>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "simdjson.h"

namespace precall::http {
namespace {

// The seq and the case's tenant of a stored case event.
struct EventHeader {
  uint64_t seq = 0;
  std::string_view tenant;  // valid until the next call on this thread
};

absl::StatusOr<EventHeader> ReadHeader(std::string_view json) {
  thread_local simdjson::ondemand::parser parser;
  thread_local simdjson::padded_string padded;
  padded = simdjson::padded_string(json);
  EventHeader h;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
      doc["seq"].get_uint64().get(h.seq) != simdjson::SUCCESS ||
      doc["case"]["tenant"].get_string().get(h.tenant) != simdjson::SUCCESS) {
    return absl::DataLossError("store: malformed case event");
  }
  return h;
}

}  // namespace

void ChangeNotifier::Notify() {
  absl::MutexLock lock(&mu_);
  ++version_;
}

void ChangeNotifier::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

uint64_t ChangeNotifier::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

bool ChangeNotifier::shut_down() const {
  absl::MutexLock lock(&mu_);
  return shut_down_;
}

bool ChangeNotifier::WaitForChange(uint64_t seen, absl::Time deadline) const {
  absl::MutexLock lock(&mu_);
  auto woken = [this, seen]()
                   ABSL_SHARED_LOCKS_REQUIRED(mu_) { return version_ != seen || shut_down_; };
  mu_.AwaitWithDeadline(absl::Condition(&woken), deadline);
  return version_ != seen;
}

absl::StatusOr<ChangesPage> ChangeFeed::Scan(uint64_t after, std::size_t limit,
                                             const std::optional<std::string>& tenant,
                                             bool& at_end) const {
  ChangesPage page;
  uint64_t examined = after;  // the last event looked at
  uint64_t returned = after;  // the last event taken into the page
  at_end = false;
  std::size_t budget = kMaxScan;
  // `next` (CONTRACT §4): the last seq returned, or `after` when none was;
  // only a scan that spent its budget on other tenants' events moves on
  // past what it examined, so that the poller gets further next time.
  auto finish = [&] {
    page.next = page.events.empty() && at_end ? after : page.events.empty() ? examined : returned;
    return page;
  };
  while (page.events.size() < limit && budget > 0) {
    // Unfiltered, every event read is returned: read just what fits.
    const std::size_t want =
        tenant ? std::min<std::size_t>(budget, 512) : limit - page.events.size();
    absl::StatusOr<std::vector<std::string>> batch = store_.EventsAfter(examined, want);
    if (!batch.ok()) return batch.status();
    for (std::string& json : *batch) {
      absl::StatusOr<EventHeader> header = ReadHeader(json);
      if (!header.ok()) return header.status();
      --budget;
      examined = header->seq;
      if (!tenant || header->tenant == *tenant) {
        page.events.push_back(std::move(json));
        returned = header->seq;
        if (page.events.size() == limit) return finish();
      }
    }
    if (batch->size() < want) {
      at_end = true;
      break;
    }
  }
  return finish();
}

absl::StatusOr<ChangesPage> ChangeFeed::Read(uint64_t after, std::size_t limit,
                                             const std::optional<std::string>& tenant,
                                             absl::Duration wait) const {
  const absl::Time deadline = absl::Now() + wait;
  ChangesPage page{{}, after};
  if (limit == 0) return page;
  while (true) {
    // The version before the scan: a commit after it wakes the wait below.
    const uint64_t seen = notifier_.version();
    bool at_end = false;
    absl::StatusOr<ChangesPage> scanned = Scan(page.next, limit, tenant, at_end);
    if (!scanned.ok()) return scanned.status();
    page = *std::move(scanned);
    if (!page.events.empty() || !at_end) return page;
    if (!notifier_.WaitForChange(seen, deadline)) return page;
  }
}

}  // namespace precall::http
