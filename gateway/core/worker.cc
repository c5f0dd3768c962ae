#include "gateway/core/worker.h"

#include <algorithm>
#include <limits>

#include "absl/hash/hash.h"
#include "devices/byte_codec.h"
#include "devices/ids.h"
#include "rules/program.h"

namespace precall::core {
namespace {

// Calls fn(index) for each set bit of a bitmap of `words` words, ascending.
template <typename Fn>
void ForEachSetBit(const uint64_t* bitmap, std::size_t words, Fn&& fn) {
  for (std::size_t i = 0; i < words; ++i) {
    for (uint64_t bits = bitmap[i]; bits != 0; bits &= bits - 1) {
      fn(static_cast<uint32_t>(i * 64 + static_cast<std::size_t>(__builtin_ctzll(bits))));
    }
  }
}

}  // namespace

using devices::RejectReason;

Worker::Worker(std::shared_ptr<const rules::RuleSet> rules,
               std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock, CaseBook& cases,
               Options options)
    : rules_(std::move(rules)),
      catalog_(std::move(catalog)),
      options_(options),
      clock_(clock),
      cases_(cases),
      index_by_name_(0, DeviceNameHash{&devices_}, DeviceNameEq{&devices_}),
      woken_(rules_->bitmap_words(), 0) {
  IndexRules();
}

void Worker::IndexRules() {
  rule_hashes_.clear();
  rule_by_name_.clear();
  for (uint32_t r = 0; r < rules_->size(); ++r) {
    rule_hashes_.push_back(devices::StableHash(rules_->rule(r).fingerprint));
    rule_by_name_.emplace(rules_->rule(r).name, r);
  }
}

void Worker::Reload(std::shared_ptr<const rules::RuleSet> rules,
                    std::shared_ptr<const devices::FaultCatalog> catalog) {
  std::shared_ptr<const rules::RuleSet> old = std::move(rules_);
  const std::vector<uint64_t> old_hashes = rule_hashes_;
  rules_ = std::move(rules);
  catalog_ = std::move(catalog);
  IndexRules();
  woken_.assign(rules_->bitmap_words(), 0);
  clock_queue_ = {};
  for (uint32_t index = 0; index < devices_.size(); ++index) {
    DeviceEntry& entry = devices_[index];
    entry.state.Rebind(&rules_->plan());
    // A rule keeps its state only if its definition did not change.
    std::vector<std::pair<uint32_t, rules::RuleState>> kept;
    for (const auto& [old_rule, rs] : entry.rule_states) {
      auto now = rule_by_name_.find(old->rule(old_rule).name);
      if (now != rule_by_name_.end() && rule_hashes_[now->second] == old_hashes[old_rule]) {
        kept.emplace_back(now->second, rs);
      }
    }
    std::sort(kept.begin(), kept.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    entry.rule_states = std::move(kept);
    entry.selected_version = UINT32_MAX;
    entry.clock_due = kNotDue;
    if (!rules_->clock_rules().empty()) ScheduleClock(entry, index, devices::kNever);
    MarkDirty(entry, index);
  }
}

void Worker::Reject(Outcome& outcome, RejectReason reason) {
  counters_.Reject(reason);
  if (outcome.rejected++ == 0) outcome.first_reject = reason;
}

std::size_t Worker::DeviceNameHash::operator()(DeviceName name) const {
  return absl::Hash<std::pair<absl::string_view, absl::string_view>>{}(
      {absl::string_view(name.tenant.data(), name.tenant.size()),
       absl::string_view(name.device.data(), name.device.size())});
}

std::size_t Worker::DeviceNameHash::operator()(uint32_t index) const {
  const devices::DeviceState& state = (*devices)[index].state;
  return (*this)(DeviceName{state.tenant(), state.device()});
}

bool Worker::DeviceNameEq::operator()(uint32_t index, DeviceName name) const {
  const devices::DeviceState& state = (*devices)[index].state;
  return state.device() == name.device && state.tenant() == name.tenant;
}

Worker::DeviceEntry& Worker::FindOrAdd(std::string_view tenant, std::string_view device,
                                       uint32_t& index) {
  auto it = index_by_name_.find(DeviceName{tenant, device});
  if (it != index_by_name_.end()) {
    index = *it;
    return devices_[index];
  }
  index = static_cast<uint32_t>(devices_.size());
  devices_.emplace_back(std::string(tenant), std::string(device), &rules_->plan(),
                        &metric_names_);
  index_by_name_.insert(index);  // hashed from the entry's names
  counters_.devices_known.Add();
  return devices_.back();
}

const devices::DeviceState* Worker::FindDevice(std::string_view tenant,
                                               std::string_view device) const {
  auto it = index_by_name_.find(DeviceName{tenant, device});
  return it == index_by_name_.end() ? nullptr : &devices_[*it].state;
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
                                      int64_t receive_ms, uint64_t journal_seq) {
  Outcome outcome;
  auto parsed = devices::ParseTopic(topic);
  // One lookup per message; a device is added on its first accepted message.
  uint32_t index = kNoDevice;
  if (parsed) {
    auto known = index_by_name_.find(DeviceName{parsed->tenant, parsed->device});
    if (known != index_by_name_.end()) index = *known;
  }
  if (index != kNoDevice && journal_seq != 0 && devices_[index].watermark >= journal_seq) {
    return outcome;  // already in the device's restored checkpoint
  }
  counters_.messages_received.Add();
  if (!parsed) {
    Reject(outcome, RejectReason::kBadTopic);
    return outcome;
  }

  if (parsed->kind == devices::TopicKind::kStatus) {
    // Surrounding whitespace is not part of the word: `mosquitto_pub -s` and
    // `echo online |` send a trailing newline.
    std::string_view word = payload;
    auto space = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
    while (!word.empty() && space(word.front())) word.remove_prefix(1);
    while (!word.empty() && space(word.back())) word.remove_suffix(1);
    devices::Connectivity c;
    if (word == "online") {
      c = devices::Connectivity::kOnline;
    } else if (word == "offline") {
      c = devices::Connectivity::kOffline;
    } else {
      Reject(outcome, RejectReason::kBadField);
      return outcome;
    }
    DeviceEntry& entry =
        index != kNoDevice ? devices_[index] : FindOrAdd(parsed->tenant, parsed->device, index);
    entry.state.SetConnectivity(c);
    if (journal_seq != 0) entry.watermark = journal_seq;
    MarkDirty(entry, index);
    ++outcome.accepted;
    return outcome;
  }

  RejectReason message_reject = decoder_.Decode(payload);
  if (message_reject != RejectReason::kNone) {
    Reject(outcome, message_reject);
    return outcome;
  }
  DeviceEntry* current = nullptr;
  for (const devices::Sample& sample : decoder_.samples()) {
    if (sample.reject != RejectReason::kNone) {
      Reject(outcome, sample.reject);
      continue;
    }
    // Serving, the gateway clock of a message is its receive time: the same
    // when recovery re-applies it from the journal later.
    const bool data_clock = clock_.IsDataClock();
    const int64_t gateway_now = data_clock ? clock_.NowMs() : receive_ms;
    const int64_t ts = sample.has_ts ? sample.ts : gateway_now;
    if (sample.has_ts && clock_.HasTime() && ts - gateway_now > devices::kMaxClockSkewMs) {
      Reject(outcome, RejectReason::kClockSkew);
      continue;
    }
    if (current == nullptr) {
      current =
          index != kNoDevice ? &devices_[index] : &FindOrAdd(parsed->tenant, parsed->device, index);
    }
    DeviceEntry& entry = *current;
    RejectReason reason = entry.state.Check(sample, ts);
    if (reason != RejectReason::kNone) {
      Reject(outcome, reason);
      continue;
    }
    const int64_t seen_at = data_clock ? ts : receive_ms;
    entry.state.Apply(sample, ts, seen_at, effects_);
    counters_.samples_processed.Add();
    ++outcome.accepted;
    // A sample without ts took the clock's time: it cannot move the clock
    // (nor start a data clock at 0, which would make every real ts a skew).
    const bool advanced = sample.has_ts && clock_.Observe(ts);
    const int64_t clock = data_clock ? clock_.NowMs() : receive_ms;
    counters_.ingest_lag_ms.Record(clock_.NowMs() - ts);  // now: processed, not received
    if (!effects_.left.empty() || !effects_.entered.empty()) ApplyCatalog(entry, ts);
    EvaluateWokenRules(entry, ts, clock);
    // The device reported: its silent() rules may read differently now.
    if (!rules_->clock_rules().empty()) ScheduleClock(entry, index, clock);
    if (advanced) {
      FlushDecisions(entry);  // the sample's own decisions come first
      AdvanceClock(clock);
    }
  }
  if (current != nullptr) {
    if (journal_seq != 0) current->watermark = journal_seq;
    if (outcome.accepted > 0) MarkDirty(*current, index);
    const bool decided = !decisions_.empty();
    FlushDecisions(*current);  // commits the case events
    if (decided) counters_.case_latency_ms.Record(clock_.NowMs() - current->state.last_ts());
  }
  return outcome;
}

void Worker::Decide(const devices::DeviceState& state, CaseDecision::Kind kind,
                    std::string_view rule, const rules::CaseTemplate* tmpl,
                    int64_t fault_started_at, int64_t clock, Evidence evidence) {
  CaseDecision& d = decisions_.emplace_back();
  d.kind = kind;
  d.rule.assign(rule);
  if (state.has_model()) d.model = state.model();
  if (tmpl != nullptr) d.tmpl = *tmpl;
  d.fault_started_at = fault_started_at;
  d.clock = clock;
  d.evidence = std::move(evidence);
}

void Worker::FlushDecisions(DeviceEntry& entry) {
  if (decisions_.empty()) return;
  DeviceCheckpoint checkpoint;
  if (options_.checkpoints) {
    device_key_ = devices::EncodeDeviceKey(entry.state.tenant(), entry.state.device());
    checkpoint_.clear();
    AppendCheckpoint(entry, checkpoint_);
    checkpoint = DeviceCheckpoint{device_key_, checkpoint_, entry.watermark};
  }
  // Each decision carries its rule and model: the subject is the device.
  cases_.Apply(CaseSubject{entry.state.tenant(), entry.state.device()}, decisions_,
               options_.checkpoints ? &checkpoint : nullptr);
  decisions_.clear();
}

void Worker::MarkDirty(DeviceEntry& entry, uint32_t index) {
  if (!options_.checkpoints || entry.dirty) return;
  entry.dirty = true;
  dirty_.push_back(index);
}

// Worker checkpoint (version 1): u8 version, str device state, rule states
// (count, str rule name, u64 definition hash, i64 pending_since,
// i64 clear_since, u8 flags triggered|case_active).
void Worker::AppendCheckpoint(const DeviceEntry& entry, std::string& out) {
  devices::ByteWriter w(out);
  w.U8(1);
  device_blob_.clear();
  entry.state.AppendCheckpoint(device_blob_);
  w.Str(device_blob_);
  w.Varint(entry.rule_states.size());
  for (const auto& [rule, rs] : entry.rule_states) {
    w.Str(rules_->rule(rule).name);
    w.Fixed64(rule_hashes_[rule]);
    w.I64(rs.pending_since);
    w.I64(rs.clear_since);
    w.U8((rs.triggered ? 1 : 0) | (rs.case_active ? 2 : 0));
  }
}

bool Worker::RestoreDevice(std::string_view device_key, std::string_view blob,
                           uint64_t watermark) {
  auto ids = devices::DecodeDeviceKey(device_key);
  if (!ids || ids->consumed != device_key.size() || !devices::IsValidId(ids->tenant) ||
      !devices::IsValidId(ids->device)) {
    return false;
  }
  devices::ByteReader r(blob);
  if (r.U8() != 1) return false;
  std::string_view device_blob = r.Str();
  std::vector<std::pair<uint32_t, rules::RuleState>> states;
  for (uint64_t n = r.Count(27); n > 0; --n) {
    std::string_view name = r.Str();
    const uint64_t hash = r.Fixed64();
    rules::RuleState rs;
    rs.pending_since = r.I64();
    rs.clear_since = r.I64();
    const uint8_t flags = r.U8();
    rs.triggered = (flags & 1) != 0;
    rs.case_active = (flags & 2) != 0;
    auto rule = rule_by_name_.find(name);
    if (rule == rule_by_name_.end() || rule_hashes_[rule->second] != hash) continue;
    states.emplace_back(rule->second, rs);
  }
  if (!r.done()) return false;
  std::sort(states.begin(), states.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  devices::DeviceState state(std::string(ids->tenant), std::string(ids->device), &rules_->plan(),
                             &metric_names_);
  if (!state.RestoreCheckpoint(device_blob)) return false;
  uint32_t index;
  DeviceEntry& entry = FindOrAdd(ids->tenant, ids->device, index);
  entry.state = std::move(state);
  entry.rule_states = std::move(states);
  entry.selected_version = UINT32_MAX;
  entry.watermark = watermark;
  // Silent rules: look at the device at the first clock advance.
  if (!rules_->clock_rules().empty()) ScheduleClock(entry, index, devices::kNever);
  return true;
}

std::size_t Worker::TakeCheckpoints(std::vector<CheckpointRecord>& out,
                                    std::size_t max_devices) {
  taken_.clear();
  const std::size_t n = std::min(max_devices, dirty_devices());
  for (std::size_t i = 0; i < n; ++i) {
    const uint32_t index = dirty_[dirty_head_ + i];
    DeviceEntry& entry = devices_[index];
    entry.dirty = false;
    taken_.push_back(index);
    CheckpointRecord& record = out.emplace_back();
    record.device_key = devices::EncodeDeviceKey(entry.state.tenant(), entry.state.device());
    AppendCheckpoint(entry, record.checkpoint);
    record.journal_watermark = entry.watermark;
  }
  dirty_head_ += n;
  // Reclaim the taken prefix once it outweighs what is left.
  if (dirty_head_ == dirty_.size()) {
    dirty_.clear();
    dirty_head_ = 0;
  } else if (dirty_head_ > dirty_.size() / 2) {
    dirty_.erase(dirty_.begin(), dirty_.begin() + static_cast<std::ptrdiff_t>(dirty_head_));
    dirty_head_ = 0;
  }
  return n;
}

void Worker::ReturnCheckpoints() {
  for (uint32_t index : taken_) MarkDirty(devices_[index], index);
  taken_.clear();
}

void Worker::ApplyCatalog(DeviceEntry& entry, int64_t ts) {
  // CONTRACT §2: a code's case opens and resolves "at the sample's event
  // time", so that time, not the gateway clock, stamps both changes.
  const devices::DeviceState& state = entry.state;
  for (const std::string& code : effects_.left) {
    rule_name_.assign("dtc:").append(code);
    Decide(state, CaseDecision::Kind::kClear, rule_name_, nullptr, 0, ts, {});
  }
  if (!catalog_) return;
  for (const std::string& code : effects_.entered) {
    const devices::DtcEntry* found =
        catalog_->Find(state.has_model() ? std::string_view(state.model()) : std::string_view(),
                       code);
    if (found == nullptr || !found->open_case) continue;
    rule_name_.assign("dtc:").append(code);
    rules::CaseTemplate tmpl{found->severity, found->diagnosis, found->skill, found->parts, 0};
    Decide(state, CaseDecision::Kind::kTrigger, rule_name_, &tmpl, ts, ts, {});
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
  for (std::size_t i = 0; i < words; ++i) woken[i] &= entry.selected[i];
  // The windows the rules will read are, on a large fleet, mostly not in
  // cache: start loading them all before the first evaluation waits on one.
  ForEachSetBit(woken, words, [&](uint32_t rule) {
    for (const auto& [slot, window] : rules_->rule(rule).windows) {
      entry.state.PrefetchWindow(slot, window);
    }
  });
  // Rule-file order: ascending bit index.
  ForEachSetBit(woken, words, [&](uint32_t rule) { EvaluateRule(entry, rule, now, clock); });
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
  // `clear` matters to a rule with a case active, and to one that may fire
  // now: the evaluation that opens (or reopens) a case does not clear it,
  // but `clear` true there starts the clear_for streak; one that counts an
  // occurrence may complete the streak (CONTRACT §2).
  double clear = devices::kUnknown;
  if (rs.case_active || rules::IsTrue(when)) {
    if (rule.clear.empty()) {
      clear = rules::IsKnown(when) ? (when == 0 ? 1.0 : 0.0) : devices::kUnknown;
    } else {
      clear = rules::Evaluate(rule.clear, state, now, clock);
    }
  }
  const rules::Decision d = rules::Advance(rs, when, clear, now, rule.for_ms, rule.clear_for_ms);
  if (d.kind == rules::Decision::Kind::kFired) {
    Decide(state, CaseDecision::Kind::kTrigger, rule.name, &rule.case_template, d.fault_started_at,
           clock, EvidenceFor(rule, state));
  }
  if (d.kind == rules::Decision::Kind::kCleared || d.cleared_too) {
    Decide(state, CaseDecision::Kind::kClear, rule.name, nullptr, 0, clock,
           EvidenceFor(rule, state));
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
    MarkDirty(entry, index);
    FlushDecisions(entry);
    int64_t next = NextClockDue(entry, now);
    if (next != kNotDue) ScheduleClock(entry, index, next);
  }
}

}  // namespace precall::core
