// CaseBook: turns rule decisions (and the service center's actions) into
// cases and gapless, numbered case events (CONTRACT §2 "When rules run", §3).
//
// - One active case per (tenant, device, rule): a trigger while it is active
//   is an occurrence (`updated`); a trigger within reopen_within of the last
//   case's resolution reopens it; otherwise a new case opens. A reload that
//   gives an active case's rule another severity is an `updated` too.
// - Case ids are "c-" + 16 hex digits of a bijective mix of a case number, so
//   they are unique, URL-safe, opaque, and never reused as long as the number
//   is never reused (the store persists it across restarts).
// - Every change is one CaseEvent handed to the CaseSink, in seq order.
//
// Thread: safe to call from any thread; one mutex serializes case changes so
// that seq order is sink order. Case changes are rare next to samples, so the
// lock stays off the per-sample path.
#ifndef PRECALL_GATEWAY_CORE_CASE_BOOK_H_
#define PRECALL_GATEWAY_CORE_CASE_BOOK_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "devices/catalog.h"
#include "devices/string_map.h"
#include "gateway/core/case.h"
#include "rules/rule_set.h"

namespace precall::core {

// Where case events go: stdout for replay; store, outbox and API for serve.
// Called with the case book's lock held, in seq order; must not call back
// into the case book.
class CaseSink {
 public:
  virtual ~CaseSink() = default;
  virtual void OnCaseEvent(const CaseEvent& event) = 0;
  // Ends one change: the events since the last call belong together (one
  // message's decisions for one device), with that device's checkpoint if
  // the worker keeps them (else null). A durable sink commits them atomically.
  virtual void EndOfChange(const struct DeviceCheckpoint* /*checkpoint*/) {}
};

// A device's state as of a journal position, persisted with its case events
// so that recovery resumes right after the message that caused them.
struct DeviceCheckpoint {
  std::string_view device_key;  // devices::EncodeDeviceKey
  std::string_view blob;
  uint64_t journal_watermark = 0;  // the last journal entry the blob includes
};

// Who a decision is about.
struct CaseSubject {
  std::string_view tenant;
  std::string_view device;
  std::string_view rule;
  const std::string* model = nullptr;  // null when the device has none
};

// One rule (or catalog) decision, buffered by a worker while it handles a
// message and applied with the others of that message in one change.
struct CaseDecision {
  enum class Kind : unsigned char { kTrigger, kClear };
  Kind kind = Kind::kTrigger;
  std::string rule;
  // The device's model when the decision was taken (nullopt: none yet); a
  // later sample of the same batch may have changed it since.
  std::optional<std::string> model;
  rules::CaseTemplate tmpl;   // kTrigger
  int64_t fault_started_at = 0;  // kTrigger
  int64_t clock = 0;
  Evidence evidence;
};

class CaseBook {
 public:
  explicit CaseBook(CaseSink& sink, uint64_t next_seq = 1, uint64_t next_case_number = 1);

  // Applies one device's decisions in order, as one change (see
  // CaseSink::EndOfChange); their evidence is moved out. `device.rule` and
  // `device.model` are ignored: each decision names its rule and model.
  void Apply(const CaseSubject& device, std::span<CaseDecision> decisions,
             const DeviceCheckpoint* checkpoint);

  // A rule (or catalog code) fired at fault time `fault_started_at`.
  void Trigger(const CaseSubject& subject, const rules::CaseTemplate& tmpl,
               int64_t fault_started_at, int64_t clock, Evidence evidence);
  // A rule's clear condition held (or a code left the active set). Resolves
  // the active case, if there is one.
  void Clear(const CaseSubject& subject, int64_t clock, Evidence evidence);

  // Service-center actions. NotFound for an unknown id; FailedPrecondition
  // (HTTP 409) when acknowledging a resolved case. Resolving a resolved case
  // records the new `by` (a `resolved` event; resolved_at stays), or, with
  // the same `by`, returns it unchanged with no event.
  absl::StatusOr<Case> Acknowledge(std::string_view id, std::string_view by, int64_t clock);
  absl::StatusOr<Case> Resolve(std::string_view id, std::string_view by, int64_t clock);

  // A rule reload (or a start with edited rules): each active case for which
  // `severity_of` names a severity other than its own takes it, with an
  // `updated` event stamped `clock` (CONTRACT §3: "severity changed"), oldest
  // opened first; nullopt leaves a case as it is (its rule is gone). One
  // change. Returns how many cases changed.
  std::size_t UpdateSeverities(
      const std::function<std::optional<devices::Severity>(const Case&)>& severity_of,
      int64_t clock);

  std::optional<Case> Find(std::string_view id) const;

  // The service center's queries (GET /v1/cases, /v1/devices): copies of the
  // matching cases, newest opened_at first (ties: by id, so pages are stable), at
  // most `limit`. A scan of every case under the lock: O(cases), which keeps
  // the per-event path free of secondary indexes; cases are few next to samples.
  struct Query {
    std::optional<std::string> tenant;     // nullopt: every tenant
    std::optional<CaseStatus> status;      // nullopt: any status
    bool active_only = false;              // open or acknowledged
    std::optional<std::string> device;
    std::optional<std::string> rule;
    std::optional<devices::Severity> severity;
    std::size_t limit = 100;
  };
  std::vector<Case> List(const Query& query) const;
  // Ids of the device's open or acknowledged cases, oldest opened first.
  std::vector<std::string> ActiveCaseIds(std::string_view tenant, std::string_view device) const;

  // Start-up: takes back a case loaded from the store, before any decision
  // is made. A subject's latest case (the one a trigger updates or reopens)
  // is its active case, else the one resolved last. Restoring a case id
  // again replaces the earlier copy.
  void Restore(Case c);

  // Counters for /metrics (relaxed reads from any thread).
  uint64_t events_total(EventType type) const {
    return events_by_type_[static_cast<int>(type)].load(std::memory_order_relaxed);
  }
  uint64_t opened_total(devices::Severity s) const {
    return opened_by_severity_[static_cast<int>(s)].load(std::memory_order_relaxed);
  }
  int64_t active(devices::Severity s) const {
    return active_by_severity_[static_cast<int>(s)].load(std::memory_order_relaxed);
  }
  uint64_t last_seq() const;

  static std::string CaseIdFor(uint64_t case_number);

 private:
  struct Entry {
    Case current;
  };
  static std::string SubjectKey(const CaseSubject& subject);
  // Return whether an event was emitted.
  bool TriggerLocked(const CaseSubject& subject, const rules::CaseTemplate& tmpl,
                     int64_t fault_started_at, int64_t clock, Evidence evidence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ClearLocked(const CaseSubject& subject, int64_t clock, Evidence evidence)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Emit(EventType type, int64_t clock, const Case& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountActive(devices::Severity s, int delta);

  CaseSink& sink_;
  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_);
  uint64_t next_case_number_ ABSL_GUARDED_BY(mu_);
  devices::StringMap<Case> cases_ ABSL_GUARDED_BY(mu_);  // by id
  // (tenant, device, rule) -> id of its latest case.
  devices::StringMap<std::string> latest_by_subject_ ABSL_GUARDED_BY(mu_);

  std::array<std::atomic<uint64_t>, kEventTypeCount> events_by_type_{};
  std::array<std::atomic<uint64_t>, devices::kSeverityCount> opened_by_severity_{};
  std::array<std::atomic<int64_t>, devices::kSeverityCount> active_by_severity_{};
};

// For CaseBook::UpdateSeverities after a reload: the severity `rules` and
// `catalog` give a case now — its rule's, or for a `dtc:<CODE>` case the
// catalog entry's for the case's model (one that opens cases) — or nullopt
// when there is no such rule or entry any more.
std::function<std::optional<devices::Severity>(const Case&)> SeverityUnder(
    const rules::RuleSet& rules, std::shared_ptr<const devices::FaultCatalog> catalog);

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_CASE_BOOK_H_
