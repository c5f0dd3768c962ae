#include "gateway/core/worker.h"

#include <algorithm>
#include <limits>

#include "devices/ids.h"
#include "rules/program.h"

namespace precall::core {

using devices::RejectReason;

Worker::Worker(std::shared_ptr<const rules::RuleSet> rules,
               std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock, CaseBook& cases,
               Options options)
    : rules_(std::move(rules)),
      catalog_(std::move(catalog)),
      options_(options),
      clock_(clock),
      cases_(cases),
      woken_(rules_->bitmap_words(), 0) {}

void Worker::Reject(Outcome& outcome, RejectReason reason) {
  counters_.Reject(reason);
  if (outcome.rejected++ == 0) outcome.first_reject = reason;
}

Worker::DeviceEntry& Worker::FindOrAdd(std::string_view key, std::string_view tenant,
                                       std::string_view device, uint32_t& index) {
  auto it = index_by_key_.find(key);
  if (it != index_by_key_.end()) {
    index = it->second;
    return devices_[index];
  }
  index = static_cast<uint32_t>(devices_.size());
  devices_.emplace_back(std::string(tenant), std::string(device), &rules_->plan(),
                        &metric_names_);
  index_by_key_.emplace(std::string(key), index);
  return devices_.back();
}

const devices::DeviceState* Worker::FindDevice(std::string_view tenant,
                                               std::string_view device) const {
  auto it = index_by_key_.find(devices::DeviceKey(tenant, device));
  return it == index_by_key_.end() ? nullptr : &devices_[it->second].state;
}

std::optional<DeviceView> Worker::ViewDevice(std::string_view tenant,
                                            std::string_view device) const {
  const devices::DeviceState* state = FindDevice(tenant, device);
  if (state == nullptr) return std::nullopt;
  DeviceView view;
  view.tenant = state->tenant();
  view.device = state->device();
  if (state->has_model()) view.model = state->model();
  view.labels = state->labels();
  std::sort(view.labels.begin(), view.labels.end());
  if (state->last_seen() != devices::kNever) view.last_seen = state->last_seen();
  state->ForEachMetric(
      [&](std::string_view name, double value) { view.metrics.emplace_back(name, value); });
  std::sort(view.metrics.begin(), view.metrics.end());
  view.dtc = state->dtc();
  return view;
}

Worker::Outcome Worker::HandleMessage(std::string_view topic, std::string_view payload,
                                      int64_t receive_ms) {
  Outcome outcome;
  counters_.messages_received.Add();
  auto parsed = devices::ParseTopic(topic);
  if (!parsed) {
    Reject(outcome, RejectReason::kBadTopic);
    return outcome;
  }
  // "fleet/" + tenant + "/" + device: the device key is a slice of the topic.
  std::string_view key = topic.substr(6, parsed->tenant.size() + 1 + parsed->device.size());

  if (parsed->kind == devices::TopicKind::kStatus) {
    devices::Connectivity c;
    if (payload == "online") {
      c = devices::Connectivity::kOnline;
    } else if (payload == "offline") {
      c = devices::Connectivity::kOffline;
    } else {
      Reject(outcome, RejectReason::kBadField);
      return outcome;
    }
    uint32_t index;
    FindOrAdd(key, parsed->tenant, parsed->device, index).state.SetConnectivity(c);
    ++outcome.accepted;
    return outcome;
  }

  RejectReason message_reject = decoder_.Decode(payload);
  if (message_reject != RejectReason::kNone) {
    Reject(outcome, message_reject);
    return outcome;
  }
  for (const devices::Sample& sample : decoder_.samples()) {
    if (sample.reject != RejectReason::kNone) {
      Reject(outcome, sample.reject);
      continue;
    }
    const int64_t ts = sample.has_ts ? sample.ts : (clock_.IsDataClock() ? clock_.NowMs() : receive_ms);
    if (sample.has_ts && clock_.HasTime() && ts - clock_.NowMs() > devices::kMaxClockSkewMs) {
      Reject(outcome, RejectReason::kClockSkew);
      continue;
    }
    uint32_t index;
    DeviceEntry& entry = FindOrAdd(key, parsed->tenant, parsed->device, index);
    RejectReason reason = entry.state.Check(sample, ts);
    if (reason != RejectReason::kNone) {
      Reject(outcome, reason);
      continue;
    }
    const int64_t seen_at = clock_.IsDataClock() ? ts : receive_ms;
    entry.state.Apply(sample, ts, seen_at, effects_);
    counters_.samples_processed.Add();
    ++outcome.accepted;
    const bool advanced = clock_.Observe(ts);
    const int64_t clock = clock_.NowMs();
    if (!effects_.left.empty() || !effects_.entered.empty()) ApplyCatalog(entry, ts, clock);
    EvaluateWokenRules(entry, ts, clock);
    // The device reported: its silent() rules may read differently now.
    if (!rules_->clock_rules().empty()) ScheduleClock(entry, index, clock);
    if (advanced) AdvanceClock(clock);
  }
  return outcome;
}

CaseSubject Worker::SubjectFor(const DeviceEntry& entry, std::string_view rule) const {
  const devices::DeviceState& s = entry.state;
  return CaseSubject{s.tenant(), s.device(), rule, s.has_model() ? &s.model() : nullptr};
}

void Worker::ApplyCatalog(DeviceEntry& entry, int64_t ts, int64_t clock) {
  const devices::DeviceState& state = entry.state;
  for (const std::string& code : effects_.left) {
    rule_name_.assign("dtc:").append(code);
    cases_.Clear(SubjectFor(entry, rule_name_), clock, {});
  }
  if (!catalog_) return;
  for (const std::string& code : effects_.entered) {
    const devices::DtcEntry* found =
        catalog_->Find(state.has_model() ? std::string_view(state.model()) : std::string_view(),
                       code);
    if (found == nullptr || !found->open_case) continue;
    rule_name_.assign("dtc:").append(code);
    rules::CaseTemplate tmpl{found->severity, found->diagnosis, found->skill, found->parts, 0};
    cases_.Trigger(SubjectFor(entry, rule_name_), tmpl, ts, clock, {});
  }
}

void Worker::RefreshSelection(DeviceEntry& entry) {
  const uint32_t version = entry.state.profile_version();
  if (entry.selected_version == version) return;
  entry.selected.assign(rules_->bitmap_words(), 0);
  for (uint32_t r = 0; r < rules_->size(); ++r) {
    if (rules_->rule(r).Selects(entry.state)) entry.selected[r / 64] |= uint64_t{1} << (r % 64);
  }
  entry.selected_version = version;
}

void Worker::EvaluateWokenRules(DeviceEntry& entry, int64_t now, int64_t clock) {
  RefreshSelection(entry);
  const std::size_t words = woken_.size();
  uint64_t* woken = woken_.data();
  std::fill(woken, woken + words, 0);
  for (uint32_t slot : effects_.slots) {
    const uint64_t* bits = rules_->SlotBitmap(slot);
    for (std::size_t i = 0; i < words; ++i) woken[i] |= bits[i];
  }
  if (effects_.dtc_present) {
    const uint64_t* bits = rules_->DtcBitmap();
    for (std::size_t i = 0; i < words; ++i) woken[i] |= bits[i];
  }
  // Rule-file order: ascending bit index.
  for (std::size_t i = 0; i < words; ++i) {
    uint64_t bits = woken[i] & entry.selected[i];
    while (bits != 0) {
      const uint32_t rule = static_cast<uint32_t>(i * 64) + static_cast<uint32_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      EvaluateRule(entry, rule, now, clock);
    }
  }
}

void Worker::EvaluateRule(DeviceEntry& entry, uint32_t rule_index, int64_t now, int64_t clock) {
  const rules::CompiledRule& rule = rules_->rule(rule_index);
  devices::DeviceState& state = entry.state;
  counters_.rule_evaluations.Add();
  const double when = rules::Evaluate(rule.when, state, now, clock);

  auto& states = entry.rule_states;
  auto it = std::lower_bound(states.begin(), states.end(), rule_index,
                             [](const auto& p, uint32_t r) { return p.first < r; });
  const bool found = it != states.end() && it->first == rule_index;
  if (!found) {
    // An idle rule that is not true stays idle: keep no state for it.
    if (!rules::IsTrue(when)) return;
    it = states.insert(it, {rule_index, rules::RuleState{}});
  }
  rules::RuleState& rs = it->second;
  double clear = devices::kUnknown;
  if (rs.case_active) {
    if (rule.clear.empty()) {
      clear = rules::IsKnown(when) ? (when == 0 ? 1.0 : 0.0) : devices::kUnknown;
    } else {
      clear = rules::Evaluate(rule.clear, state, now, clock);
    }
  }
  const rules::Decision d = rules::Advance(rs, when, clear, now, rule.for_ms, rule.clear_for_ms);
  if (d.kind == rules::Decision::Kind::kFired) {
    cases_.Trigger(SubjectFor(entry, rule.name), rule.case_template, d.fault_started_at, clock,
                   EvidenceFor(rule, state));
  } else if (d.kind == rules::Decision::Kind::kCleared) {
    cases_.Clear(SubjectFor(entry, rule.name), clock, EvidenceFor(rule, state));
  }
  if (rs.idle()) states.erase(it);
}

Evidence Worker::EvidenceFor(const rules::CompiledRule& rule,
                             const devices::DeviceState& state) const {
  Evidence evidence;
  for (uint32_t slot : rule.slots) {
    double v = state.Latest(slot);
    if (rules::IsKnown(v)) evidence.emplace_back(rules_->plan().name(slot), v);
  }
  return evidence;
}

void Worker::ScheduleClock(DeviceEntry& entry, uint32_t index, int64_t due) {
  if (due >= entry.clock_due) return;  // already due no later
  entry.clock_due = due;
  clock_queue_.emplace(due, index);
}

int64_t Worker::NextClockDue(DeviceEntry& entry, int64_t now) {
  int64_t next = kNotDue;
  devices::DeviceState& state = entry.state;
  RefreshSelection(entry);
  for (uint32_t r : rules_->clock_rules()) {
    const rules::CompiledRule& rule = rules_->rule(r);
    if (!Selected(entry, r)) continue;
    if (state.last_seen() != devices::kNever) {
      for (int64_t ms : rule.silent_ms) {
        int64_t flips = state.last_seen() + ms;
        if (flips > now) next = std::min(next, flips);
      }
    }
    for (const auto& [slot, window] : rule.windows) {
      next = std::min(next, state.WindowExpiry(slot, window, now));
    }
    auto it = std::lower_bound(entry.rule_states.begin(), entry.rule_states.end(), r,
                               [](const auto& p, uint32_t x) { return p.first < x; });
    if (it != entry.rule_states.end() && it->first == r) {
      next = std::min(next, rules::NextTimer(it->second, rule.for_ms, rule.clear_for_ms));
    }
  }
  return next;
}

void Worker::AdvanceClock(int64_t now) {
  due_.clear();
  while (!clock_queue_.empty() && clock_queue_.top().first <= now) {
    auto [due, index] = clock_queue_.top();
    clock_queue_.pop();
    if (devices_[index].clock_due == due) {
      devices_[index].clock_due = kNotDue;
      due_.push_back(index);
    }
  }
  if (options_.evaluate_every_device_on_clock && !rules_->clock_rules().empty()) {
    due_.clear();
    for (uint32_t i = 0; i < devices_.size(); ++i) due_.push_back(i);
  }
  std::sort(due_.begin(), due_.end());
  for (uint32_t index : due_) {
    DeviceEntry& entry = devices_[index];
    RefreshSelection(entry);
    for (uint32_t rule : rules_->clock_rules()) {
      if (Selected(entry, rule)) EvaluateRule(entry, rule, now, now);
    }
    int64_t next = NextClockDue(entry, now);
    if (next != kNotDue) ScheduleClock(entry, index, next);
  }
}

}  // namespace precall::core
