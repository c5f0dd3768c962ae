#include "devices/simulator/score.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "devices/simulator/sv.h"

namespace precall::sim {
namespace {

constexpr std::string_view kOther = "other";

void AddTo(KindScore& total, const KindScore& k) {
  total.episodes += k.episodes;
  total.detected += k.detected;
  total.pending += k.pending;
  total.missed += k.missed;
  total.true_cases += k.true_cases;
  total.false_cases += k.false_cases;
  total.duplicates += k.duplicates;
  total.leads_ms.insert(total.leads_ms.end(), k.leads_ms.begin(), k.leads_ms.end());
}

std::string Ratio(double v) { return std::isnan(v) ? "-" : absl::StrFormat("%.3f", v); }

void AppendJsonRatio(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("null");
  } else {
    absl::StrAppendFormat(&out, "%.4f", v);
  }
}

void AppendKindJson(std::string& out, const KindScore& k) {
  out.append("{\"kind\":");
  AppendJsonString(out, k.kind);
  absl::StrAppend(&out, ",\"episodes\":", k.episodes, ",\"detected\":", k.detected,
                  ",\"pending\":", k.pending, ",\"missed\":", k.missed,
                  ",\"cases\":", k.true_cases + k.false_cases, ",\"false\":", k.false_cases,
                  ",\"duplicates\":", k.duplicates, ",\"recall\":");
  AppendJsonRatio(out, k.Recall());
  out.append(",\"precision\":");
  AppendJsonRatio(out, k.Precision());
  absl::StrAppend(&out, ",\"lead_p50_ms\":", k.LeadP50(), ",\"lead_max_ms\":", k.LeadMax(), "}");
}

}  // namespace

absl::Status CaseCollector::Add(JsonObject& event) {
  int64_t seq = 0;
  std::string type;
  ScoredCase c;
  event.Int("seq", seq);
  event.String("type", type);
  JsonObject body = event.Object("case");
  body.String("id", c.id);
  body.String("tenant", c.tenant);
  body.String("device", c.device);
  body.String("rule", c.rule);
  body.Int("fault_started_at", c.fault_started_at);
  body.Int("opened_at", c.opened_at);
  if (!event.status().ok()) return event.status();
  if (!seen_.insert(seq).second) return absl::OkStatus();
  auto [first, added] = first_seq_.try_emplace(c.id, seq);
  ScoredCase& stored = by_id_[c.id];
  const int reopened = stored.reopened + (type == "reopened" ? 1 : 0);
  if (added || seq < first->second) {
    first->second = seq;
    stored = std::move(c);
  }
  stored.reopened = reopened;
  return absl::OkStatus();
}

absl::Status CaseCollector::AddLines(std::string_view text) {
  JsonReader reader;
  int line_no = 0;
  for (std::string_view line : Lines(text)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    absl::StatusOr<JsonObject> event = reader.Parse(line);
    absl::Status s = event.ok() ? Add(*event) : event.status();
    if (!s.ok())
      return absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", s.message()));
  }
  return absl::OkStatus();
}

std::vector<ScoredCase> CaseCollector::cases() const {
  std::vector<ScoredCase> out;
  out.reserve(by_id_.size());
  for (const auto& [id, c] : by_id_) out.push_back(c);
  std::sort(out.begin(), out.end(), [](const ScoredCase& a, const ScoredCase& b) {
    return std::tie(a.opened_at, a.id) < std::tie(b.opened_at, b.id);
  });
  return out;
}

double KindScore::Recall() const {
  const int due = episodes - pending;
  return due == 0 ? std::nan("") : static_cast<double>(detected) / due;
}

double KindScore::Precision() const {
  const int cases = true_cases + false_cases;
  return cases == 0 ? std::nan("") : static_cast<double>(true_cases) / cases;
}

int64_t KindScore::LeadP50() const {
  if (leads_ms.empty()) return -1;
  std::vector<int64_t> sorted = leads_ms;
  std::sort(sorted.begin(), sorted.end());
  return sorted[(sorted.size() + 1) / 2 - 1];
}

int64_t KindScore::LeadMax() const {
  return leads_ms.empty() ? -1 : *std::max_element(leads_ms.begin(), leads_ms.end());
}

Score ScoreRun(const Truth& truth, const std::vector<ScoredCase>& cases, int64_t now_wall) {
  const RunInfo& run = truth.run;
  const SimClock clock = run.Clock();
  if (run.data_clock) now_wall = std::numeric_limits<int64_t>::max();

  Score score;
  for (FaultKind kind : kAllFaultKinds)
    score.kinds.push_back({.kind = std::string(FaultKindName(kind))});
  KindScore other{.kind = std::string(kOther)};

  absl::flat_hash_map<std::string_view, std::size_t> episode_of;
  for (std::size_t i = 0; i < truth.episodes.size(); ++i) episode_of[truth.episodes[i].device] = i;
  std::vector<std::vector<const ScoredCase*>> matched(truth.episodes.size());

  std::vector<const ScoredCase*> ordered;
  for (const ScoredCase& c : cases) ordered.push_back(&c);
  std::sort(ordered.begin(), ordered.end(), [](const ScoredCase* a, const ScoredCase* b) {
    return std::tie(a->opened_at, a->id) < std::tie(b->opened_at, b->id);
  });
  for (const ScoredCase* c : ordered) {
    if (c->tenant != run.tenant) continue;
    const std::optional<FaultKind> rule_kind = KindOfRule(c->rule);
    const FaultClock rule_clock = rule_kind ? ClockOf(*rule_kind) : FaultClock::kEvent;
    if (truth.end) {
      const int64_t end =
          rule_clock == FaultClock::kEvent ? truth.end->end_ts : truth.end->end_wall;
      if (c->fault_started_at > end) {
        ++score.out_of_scope;
        continue;
      }
    }
    auto it = episode_of.find(c->device);
    if (it != episode_of.end()) {
      const Episode& e = truth.episodes[it->second];
      const bool expected = std::find(e.expect.begin(), e.expect.end(), c->rule) != e.expect.end();
      if (expected && c->fault_started_at >= e.OnsetOnClock()) {
        matched[it->second].push_back(c);
        continue;
      }
    }
    KindScore& k = rule_kind ? score.kinds[static_cast<int>(*rule_kind)] : other;
    ++k.false_cases;
    score.notes.push_back(
        absl::StrFormat("false alarm: %s %s %s (fault_started_at %d, opened_at %d)", c->id,
                        c->device, c->rule, c->fault_started_at, c->opened_at));
  }

  for (std::size_t i = 0; i < truth.episodes.size(); ++i) {
    const Episode& e = truth.episodes[i];
    KindScore& k = score.kinds[static_cast<int>(e.kind)];
    ++k.episodes;
    const auto& found = matched[i];
    if (!found.empty()) {
      ++k.detected;
      k.true_cases += static_cast<int>(found.size());
      k.duplicates += static_cast<int>(found.size()) - 1;
      // opened_at is the gateway clock, except for a fault code's case, which
      // opens at its sample's event time (CONTRACT §2 catalog).
      const int64_t opened = found.front()->opened_at;
      k.leads_ms.push_back(e.clock != FaultClock::kEvent ? opened - e.onset_wall
                           : e.kind == FaultKind::kDtc   ? opened - e.onset
                                                         : clock.EventAt(opened) - e.onset);
      for (std::size_t d = 1; d < found.size(); ++d) {
        score.notes.push_back(absl::StrFormat("duplicate: %s %s %s of the %s episode at %d",
                                              found[d]->id, e.device, found[d]->rule,
                                              FaultKindName(e.kind), e.onset));
      }
      continue;
    }
    bool cut_short = false;
    if (truth.end) {
      cut_short = e.clock == FaultClock::kEvent ? e.onset + e.bound_ms > truth.end->end_ts
                                                : e.onset_wall + e.bound_ms > truth.end->end_wall;
    }
    if (cut_short || e.due_wall > now_wall) {
      ++k.pending;
      if (!cut_short) ++score.awaiting;
    } else {
      ++k.missed;
      score.notes.push_back(absl::StrFormat("missed: %s %s (%s) onset %d, expected %s", e.device,
                                            FaultKindName(e.kind), e.model, e.onset,
                                            absl::StrJoin(e.expect, " or ")));
    }
  }

  if (other.false_cases > 0) score.kinds.push_back(std::move(other));
  score.total.kind = "total";
  for (const KindScore& k : score.kinds) AddTo(score.total, k);
  return score;
}

std::string FormatDuration(int64_t ms) {
  if (ms < 0) return "-";
  const int64_t s = (ms + 500) / 1000;
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
}

std::string FormatScoreTable(const Score& score) {
  std::string out = absl::StrFormat("%-17s %8s %6s %7s %6s %6s %6s %9s %4s %9s %9s\n", "fault kind",
                                    "episodes", "caught", "pending", "recall", "cases", "false",
                                    "precision", "dup", "lead p50", "lead max");
  auto row = [&](const KindScore& k) {
    absl::StrAppendFormat(&out, "%-17s %8d %6d %7d %6s %6d %6d %9s %4d %9s %9s\n", k.kind,
                          k.episodes, k.detected, k.pending, Ratio(k.Recall()),
                          k.true_cases + k.false_cases, k.false_cases, Ratio(k.Precision()),
                          k.duplicates, FormatDuration(k.LeadP50()), FormatDuration(k.LeadMax()));
  };
  for (const KindScore& k : score.kinds) row(k);
  row(score.total);
  absl::StrAppend(&out,
                  "lead: case opened - fault onset, in event time for sample-driven rules (the "
                  "simulated clock), in gateway time for silent().\n");
  if (score.out_of_scope > 0) {
    absl::StrAppendFormat(&out, "%d case(s) whose fault began after the run ended not counted.\n",
                          score.out_of_scope);
  }
  return out;
}

std::string FormatScoreJson(const Score& score) {
  std::string out = "{\"kinds\":[";
  for (std::size_t i = 0; i < score.kinds.size(); ++i) {
    if (i) out.push_back(',');
    AppendKindJson(out, score.kinds[i]);
  }
  out.append("],\"total\":");
  AppendKindJson(out, score.total);
  absl::StrAppend(&out, ",\"out_of_scope\":", score.out_of_scope, ",\"awaiting\":", score.awaiting,
                  ",\"notes\":[");
  for (std::size_t i = 0; i < score.notes.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, score.notes[i]);
  }
  out.append("]}");
  return out;
}

}  // namespace precall::sim
