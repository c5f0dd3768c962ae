// The case-event feed behind GET /v1/changes (CONTRACT §4): pages of case
// events read from the store, so that a poller resuming from its last `next`
// never misses an event and never sees one twice, also across restarts; and
// the long-poll wait, which parks the request on a condition variable that
// every committed case event wakes (no thread spins).
//
// Tenant-scoped readers see only their tenant's events; `next` is the last
// seq returned, or `after` when none was (CONTRACT §4), so a resumed poll
// looks again at the other tenants' events behind its last one (at most
// kMaxScan of them per request). A quiet tenant's long-poll waits for a new
// event of its own, rescanning on each commit.
//
// Thread: ChangeNotifier and ChangeFeed are safe from any thread. Notify runs
// on the committing thread (the case book's lock is held there), so it only
// bumps a counter under a short lock.
#ifndef PRECALL_GATEWAY_HTTP_CHANGE_FEED_H_
#define PRECALL_GATEWAY_HTTP_CHANGE_FEED_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/core/ports.h"

namespace precall::http {

// Wakes long-polls when case events are committed.
class ChangeNotifier {
 public:
  // Case events were committed (StoreSink's on_commit).
  void Notify();
  // Ends every wait, now and later (shutdown).
  void Shutdown();
  // A version that Notify() changes.
  uint64_t version() const;
  // Waits until version() differs from `seen`, Shutdown(), or `deadline`.
  // True when the version changed.
  bool WaitForChange(uint64_t seen, absl::Time deadline) const;
  bool shut_down() const;

 private:
  mutable absl::Mutex mu_;
  uint64_t version_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

struct ChangesPage {
  std::vector<std::string> events;  // case event JSON, seq order
  uint64_t next = 0;                // the cursor to resume from
};

class ChangeFeed {
 public:
  // At most this many events are examined per request on behalf of a
  // tenant-scoped reader; when they are all other tenants' the page ends
  // early and empty with `next` moved past them (the one case where `next`
  // is not the last seq returned or `after`), and the poller comes back at
  // once for the rest.
  static constexpr std::size_t kMaxScan = 10000;

  ChangeFeed(core::CaseStore& store, const ChangeNotifier& notifier)
      : store_(store), notifier_(notifier) {}

  // The events with seq > `after` (of `tenant` only, unless nullopt), at most
  // `limit`. With none, waits up to `wait` for one to be committed.
  absl::StatusOr<ChangesPage> Read(uint64_t after, std::size_t limit,
                                   const std::optional<std::string>& tenant,
                                   absl::Duration wait) const;

 private:
  // One pass over the store; `at_end` tells whether it reached the last event.
  absl::StatusOr<ChangesPage> Scan(uint64_t after, std::size_t limit,
                                   const std::optional<std::string>& tenant, bool& at_end) const;

  core::CaseStore& store_;
  const ChangeNotifier& notifier_;
};

}  // namespace precall::http

#endif  // PRECALL_GATEWAY_HTTP_CHANGE_FEED_H_
