#include "gateway/core/case_book.h"

#include <algorithm>
#include <cstddef>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace precall::core {
namespace {

// splitmix64's finalizer: a bijection on 64-bit integers.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

CaseBook::CaseBook(CaseSink& sink, uint64_t next_seq, uint64_t next_case_number)
    : sink_(sink), next_seq_(next_seq), next_case_number_(next_case_number) {}

std::string CaseBook::CaseIdFor(uint64_t case_number) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t x = Mix(case_number);
  std::string id = "c-";
  for (int shift = 60; shift >= 0; shift -= 4) id.push_back(kHex[(x >> shift) & 0xf]);
  return id;
}

std::string CaseBook::SubjectKey(const CaseSubject& subject) {
  // '\n' appears in no tenant, device or rule name: the key is injective.
  std::string key;
  key.reserve(subject.tenant.size() + subject.device.size() + subject.rule.size() + 2);
  key.append(subject.tenant).append("/").append(subject.device).append("\n").append(subject.rule);
  return key;
}

uint64_t CaseBook::last_seq() const {
  absl::MutexLock lock(&mu_);
  return next_seq_ - 1;
}

void CaseBook::CountActive(devices::Severity s, int delta) {
  active_by_severity_[static_cast<int>(s)].fetch_add(delta, std::memory_order_relaxed);
}

void CaseBook::Emit(EventType type, int64_t clock, const Case& c) {
  CaseEvent event{next_seq_++, type, clock, c, next_case_number_};
  events_by_type_[static_cast<int>(type)].fetch_add(1, std::memory_order_relaxed);
  sink_.OnCaseEvent(event);
}

void CaseBook::Apply(const CaseSubject& device, std::span<CaseDecision> decisions,
                     const DeviceCheckpoint* checkpoint) {
  absl::MutexLock lock(&mu_);
  bool emitted = false;
  for (CaseDecision& d : decisions) {
    CaseSubject subject = device;
    subject.rule = d.rule;
    subject.model = d.model ? &*d.model : nullptr;
    if (d.kind == CaseDecision::Kind::kTrigger) {
      emitted |= TriggerLocked(subject, d.tmpl, d.fault_started_at, d.clock, std::move(d.evidence));
    } else {
      emitted |= ClearLocked(subject, d.clock, std::move(d.evidence));
    }
  }
  if (emitted) sink_.EndOfChange(checkpoint);
}

void CaseBook::Trigger(const CaseSubject& subject, const rules::CaseTemplate& tmpl,
                       int64_t fault_started_at, int64_t clock, Evidence evidence) {
  absl::MutexLock lock(&mu_);
  if (TriggerLocked(subject, tmpl, fault_started_at, clock, std::move(evidence))) {
    sink_.EndOfChange(nullptr);
  }
}

void CaseBook::Clear(const CaseSubject& subject, int64_t clock, Evidence evidence) {
  absl::MutexLock lock(&mu_);
  if (ClearLocked(subject, clock, std::move(evidence))) sink_.EndOfChange(nullptr);
}

bool CaseBook::TriggerLocked(const CaseSubject& subject, const rules::CaseTemplate& tmpl,
                             int64_t fault_started_at, int64_t clock, Evidence evidence) {
  std::string key = SubjectKey(subject);
  auto latest = latest_by_subject_.find(key);
  if (latest != latest_by_subject_.end()) {
    Case& c = cases_.at(latest->second);
    if (subject.model) c.model = *subject.model;
    if (c.active()) {
      // A new trigger of the same fault: one more occurrence, never a new case.
      ++c.occurrences;
      if (c.severity != tmpl.severity) {
        CountActive(c.severity, -1);
        CountActive(tmpl.severity, +1);
        c.severity = tmpl.severity;
      }
      c.updated_at = clock;
      c.evidence = std::move(evidence);
      Emit(EventType::kUpdated, clock, c);
      return true;
    }
    if (tmpl.reopen_within_ms > 0 && c.resolved_at &&
        clock - *c.resolved_at <= tmpl.reopen_within_ms) {
      ++c.occurrences;
      c.status = CaseStatus::kOpen;
      c.severity = tmpl.severity;
      c.updated_at = clock;
      c.acknowledged_at.reset();
      c.acknowledged_by.reset();
      c.resolved_at.reset();
      c.resolved_by.reset();
      c.evidence = std::move(evidence);
      CountActive(c.severity, +1);
      Emit(EventType::kReopened, clock, c);
      return true;
    }
  }
  Case c;
  c.id = CaseIdFor(next_case_number_++);
  c.tenant = std::string(subject.tenant);
  c.device = std::string(subject.device);
  if (subject.model) c.model = *subject.model;
  c.rule = std::string(subject.rule);
  c.severity = tmpl.severity;
  c.status = CaseStatus::kOpen;
  c.fault_started_at = fault_started_at;
  c.opened_at = clock;
  c.updated_at = clock;
  c.occurrences = 1;
  c.diagnosis = tmpl.diagnosis;
  c.skill = tmpl.skill;
  c.parts = tmpl.parts;
  c.evidence = std::move(evidence);
  opened_by_severity_[static_cast<int>(c.severity)].fetch_add(1, std::memory_order_relaxed);
  CountActive(c.severity, +1);
  latest_by_subject_[key] = c.id;
  auto [it, inserted] = cases_.emplace(c.id, std::move(c));
  Emit(EventType::kOpened, clock, it->second);
  return true;
}

bool CaseBook::ClearLocked(const CaseSubject& subject, int64_t clock, Evidence evidence) {
  auto latest = latest_by_subject_.find(SubjectKey(subject));
  if (latest == latest_by_subject_.end()) return false;
  Case& c = cases_.at(latest->second);
  if (!c.active()) return false;
  c.status = CaseStatus::kResolved;
  c.resolved_at = clock;
  c.resolved_by = "auto";
  c.updated_at = clock;
  c.evidence = std::move(evidence);
  CountActive(c.severity, -1);
  Emit(EventType::kResolved, clock, c);
  return true;
}

std::size_t CaseBook::UpdateSeverities(
    const std::function<std::optional<devices::Severity>(const Case&)>& severity_of,
    int64_t clock) {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<Case*, devices::Severity>> changed;
  for (auto& [id, c] : cases_) {
    if (!c.active()) continue;
    const std::optional<devices::Severity> severity = severity_of(c);
    if (severity && *severity != c.severity) changed.emplace_back(&c, *severity);
  }
  std::sort(changed.begin(), changed.end(), [](const auto& a, const auto& b) {
    return std::tie(a.first->opened_at, a.first->id) < std::tie(b.first->opened_at, b.first->id);
  });
  for (auto& [c, severity] : changed) {
    CountActive(c->severity, -1);
    CountActive(severity, +1);
    c->severity = severity;
    c->updated_at = clock;
    Emit(EventType::kUpdated, clock, *c);
  }
  if (!changed.empty()) sink_.EndOfChange(nullptr);
  return changed.size();
}

absl::StatusOr<Case> CaseBook::Acknowledge(std::string_view id, std::string_view by,
                                           int64_t clock) {
  absl::MutexLock lock(&mu_);
  auto it = cases_.find(id);
  if (it == cases_.end()) return absl::NotFoundError("no such case");
  Case& c = it->second;
  if (c.status == CaseStatus::kResolved) {
    return absl::FailedPreconditionError("case is resolved");
  }
  // The same `by` again (a retried request) changes nothing, as for Resolve.
  if (c.status == CaseStatus::kAcknowledged && c.acknowledged_by == by) return c;
  c.status = CaseStatus::kAcknowledged;
  c.acknowledged_at = clock;
  c.acknowledged_by = std::string(by);
  c.updated_at = clock;
  Emit(EventType::kAcknowledged, clock, c);
  sink_.EndOfChange(nullptr);
  return c;
}

absl::StatusOr<Case> CaseBook::Resolve(std::string_view id, std::string_view by, int64_t clock) {
  absl::MutexLock lock(&mu_);
  auto it = cases_.find(id);
  if (it == cases_.end()) return absl::NotFoundError("no such case");
  Case& c = it->second;
  if (c.status == CaseStatus::kResolved) {
    // resolved_by = by (CONTRACT §4), say a technician confirming an
    // automatic resolution; the resolution keeps its time. The same `by`
    // again (a retried request) changes nothing.
    if (c.resolved_by == by) return c;
    c.resolved_by = std::string(by);
    c.updated_at = clock;
    Emit(EventType::kResolved, clock, c);
    sink_.EndOfChange(nullptr);
    return c;
  }
  c.status = CaseStatus::kResolved;
  c.resolved_at = clock;
  c.resolved_by = std::string(by);
  c.updated_at = clock;
  CountActive(c.severity, -1);
  Emit(EventType::kResolved, clock, c);
  sink_.EndOfChange(nullptr);
  return c;
}

void CaseBook::Restore(Case c) {
  absl::MutexLock lock(&mu_);
  // Restoring a case again replaces it (the later snapshot wins).
  if (auto old = cases_.find(c.id); old != cases_.end() && old->second.active()) {
    CountActive(old->second.severity, -1);
  }
  const std::string key = SubjectKey(CaseSubject{c.tenant, c.device, c.rule, nullptr});
  auto latest = latest_by_subject_.find(key);
  bool take = latest == latest_by_subject_.end();
  if (!take) {
    const Case& other = cases_.at(latest->second);
    take = other.id == c.id || c.active() || (!other.active() && c.resolved_at.value_or(0) > other.resolved_at.value_or(0));
  }
  if (take) latest_by_subject_[key] = c.id;
  if (c.active()) CountActive(c.severity, +1);
  std::string id = c.id;
  cases_.insert_or_assign(std::move(id), std::move(c));
}

std::vector<Case> CaseBook::List(const Query& q) const {
  auto matches = [&q](const Case& c) {
    if (q.tenant && c.tenant != *q.tenant) return false;
    if (q.status && c.status != *q.status) return false;
    if (q.active_only && !c.active()) return false;
    if (q.device && c.device != *q.device) return false;
    if (q.rule && c.rule != *q.rule) return false;
    return !q.severity || c.severity == *q.severity;
  };
  auto newer = [](const Case* a, const Case* b) {
    return a->opened_at != b->opened_at ? a->opened_at > b->opened_at : a->id < b->id;
  };
  absl::MutexLock lock(&mu_);
  std::vector<const Case*> found;
  for (const auto& [id, c] : cases_) {
    if (matches(c)) found.push_back(&c);
  }
  const std::size_t n = std::min(q.limit, found.size());
  std::partial_sort(found.begin(), found.begin() + static_cast<std::ptrdiff_t>(n), found.end(),
                    newer);
  std::vector<Case> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(*found[i]);
  return out;
}

std::vector<std::string> CaseBook::ActiveCaseIds(std::string_view tenant,
                                                 std::string_view device) const {
  absl::MutexLock lock(&mu_);
  std::vector<const Case*> found;
  for (const auto& [id, c] : cases_) {
    if (c.active() && c.tenant == tenant && c.device == device) found.push_back(&c);
  }
  std::sort(found.begin(), found.end(), [](const Case* a, const Case* b) {
    return a->opened_at != b->opened_at ? a->opened_at < b->opened_at : a->id < b->id;
  });
  std::vector<std::string> ids;
  ids.reserve(found.size());
  for (const Case* c : found) ids.push_back(c->id);
  return ids;
}

std::optional<Case> CaseBook::Find(std::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = cases_.find(id);
  if (it == cases_.end()) return std::nullopt;
  return it->second;
}

std::function<std::optional<devices::Severity>(const Case&)> SeverityUnder(
    const rules::RuleSet& rules, std::shared_ptr<const devices::FaultCatalog> catalog) {
  absl::flat_hash_map<std::string, devices::Severity> by_rule;
  for (const rules::CompiledRule& rule : rules.rules()) {
    by_rule.emplace(rule.name, rule.case_template.severity);
  }
  return [by_rule = std::move(by_rule),
          catalog = std::move(catalog)](const Case& c) -> std::optional<devices::Severity> {
    constexpr std::string_view kDtc = "dtc:";
    if (std::string_view(c.rule).starts_with(kDtc)) {
      if (catalog == nullptr) return std::nullopt;
      const devices::DtcEntry* entry =
          catalog->Find(c.model ? std::string_view(*c.model) : std::string_view(),
                        std::string_view(c.rule).substr(kDtc.size()));
      if (entry == nullptr || !entry->open_case) return std::nullopt;
      return entry->severity;
    }
    auto it = by_rule.find(c.rule);
    if (it == by_rule.end()) return std::nullopt;
    return it->second;
  };
}

}  // namespace precall::core
