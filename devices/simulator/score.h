// Scoring a simulator run: the cases the gateway opened (read from its case
// events) against the fault episodes of the truth file.
//
// Matching. Cases of other tenants than the run's are ignored. A case whose
// fault began after the run ended (fault_started_at past the last sample's
// event time, or for silent() rules past the gateway time the run stopped)
// is out of scope: the fleet going quiet because the simulator stopped is
// not a fault. Every other case C matches the episode E of its device (the
// simulator gives a device at most one fault) when
//   - C.rule is one of E.expect, and
//   - C.fault_started_at >= E's onset, both on E's clock (event time for
//     sample-driven rules, gateway time for silent()).
// The first matching case (by opened_at) detects E; each further one is a
// duplicate. A case matching no episode is a false alarm, counted under the
// kind its rule belongs to (`other` for rules outside the example set).
// An undetected episode is pending — not missed — while its case is not yet
// due (due_wall after `now`) or when the run ended before it could be
// (onset + its detection bound after the run's end); else it is missed.
//
// recall = detected / (episodes - pending); precision = matching cases / all
// cases in scope; lead = case opened_at - fault onset, on E's clock (opened_at
// is converted to event time through the run's time compression).
//
// Pure; any thread.
#ifndef PRECALL_DEVICES_SIMULATOR_SCORE_H_
#define PRECALL_DEVICES_SIMULATOR_SCORE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "devices/simulator/json_read.h"
#include "devices/simulator/truth.h"

namespace precall::sim {

// What the scorer needs of a case, taken from the first event it appears in.
struct ScoredCase {
  std::string id;
  std::string tenant;
  std::string device;
  std::string rule;
  int64_t fault_started_at = 0;
  int64_t opened_at = 0;
  int reopened = 0;  // `reopened` events
};

// Builds the cases from case events (CONTRACT §3) in any order; an event seen
// twice (MQTT delivers at least once) counts once.
class CaseCollector {
 public:
  absl::Status Add(JsonObject& event);
  // JSON lines of case events, as `precall replay` prints them.
  absl::Status AddLines(std::string_view text);
  std::vector<ScoredCase> cases() const;
  std::size_t events() const { return seen_.size(); }

 private:
  absl::flat_hash_set<int64_t> seen_;
  absl::flat_hash_map<std::string, ScoredCase> by_id_;
  absl::flat_hash_map<std::string, int64_t> first_seq_;  // id -> seq of its earliest event
};

struct KindScore {
  std::string kind;
  int episodes = 0;
  int detected = 0;
  int pending = 0;
  int missed = 0;
  int true_cases = 0;   // cases matching an episode (duplicates included)
  int false_cases = 0;  // cases matching none
  int duplicates = 0;
  std::vector<int64_t> leads_ms;  // one per detected episode

  double Recall() const;     // NaN when every episode is pending
  double Precision() const;  // NaN without cases
  int64_t LeadP50() const;   // nearest rank; -1 without detections
  int64_t LeadMax() const;
};

struct Score {
  std::vector<KindScore> kinds;  // every fault kind, then `other` when it has cases
  KindScore total;
  int out_of_scope = 0;            // cases whose fault began after the run ended
  int awaiting = 0;                // pending episodes whose case is not due yet
  std::vector<std::string> notes;  // each miss and false alarm, one line each
};

// `now_wall`: the gateway time the cases were read at (ignored for a
// data-clock run, which is complete once it ended).
Score ScoreRun(const Truth& truth, const std::vector<ScoredCase>& cases, int64_t now_wall);

// A table for people, and a JSON object for programs.
std::string FormatScoreTable(const Score& score);
std::string FormatScoreJson(const Score& score);
// "4m05s", "12s", "1h02m"; "-" for a negative duration.
std::string FormatDuration(int64_t ms);

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_SCORE_H_
