// RuleSet: one generation of loaded rules, compiled. Holds the metric plan
// (metric names -> slots, windows per slot), each rule's programs and case
// template, and the indexes that let a sample wake only the rules naming its
// metrics (or dtc), and the clock wake the rules using silent().
//
// Thread: immutable once built; shared (shared_ptr<const>) by every worker.
#ifndef PRECALL_RULES_RULE_SET_H_
#define PRECALL_RULES_RULE_SET_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "devices/device_state.h"
#include "devices/diagnostic.h"
#include "devices/metric_plan.h"
#include "devices/severity.h"
#include "rules/program.h"
#include "rules/rule_file.h"

namespace precall::rules {

// What a case opened by a rule (or a catalog entry) says.
struct CaseTemplate {
  devices::Severity severity = devices::Severity::kWarning;
  std::string diagnosis;
  std::string skill;
  std::vector<std::string> parts;
  int64_t reopen_within_ms = 0;
};

struct CompiledRule {
  std::string name;
  // select: model (is_model) or label key -> required value.
  struct Match {
    bool is_model;
    std::string key;
    std::string value;
  };
  std::vector<Match> select;
  Program when;
  Program clear;  // empty: not (when)
  int64_t for_ms = 0;
  int64_t clear_for_ms = 0;
  CaseTemplate case_template;
  std::vector<uint32_t> slots;  // metrics named in when/clear, first mention first
  // For clock scheduling: the windows (slot, window) and silent() durations used.
  std::vector<std::pair<uint32_t, int>> windows;
  std::vector<int64_t> silent_ms;
  bool uses_dtc = false;
  std::string fingerprint;  // the rule's full definition: reload keeps state when equal

  bool Selects(const devices::DeviceState& device) const;
  bool uses_clock() const { return !silent_ms.empty(); }
};

class RuleSet {
 public:
  struct Built {
    std::shared_ptr<const RuleSet> rules;  // null when errors
    devices::Diagnostics errors;
  };
  // Compiles validated specs (from ParseRuleFile, possibly several files).
  // Errors: a rule name defined in two files.
  static Built Build(std::vector<RuleSpec> specs);

  const devices::MetricPlan& plan() const { return plan_; }
  const std::vector<CompiledRule>& rules() const { return rules_; }
  const CompiledRule& rule(uint32_t index) const { return rules_[index]; }
  std::size_t size() const { return rules_.size(); }
  // The rules naming plan slot `slot`, as a bitmap of rule indexes (bit r of
  // word r / 64), and the bitmap of rules using dtc(): a sample's woken rules
  // are the OR of these, iterated in rule order.
  std::size_t bitmap_words() const { return (rules_.size() + 63) / 64; }
  const uint64_t* SlotBitmap(uint32_t slot) const { return &slot_bits_[slot * bitmap_words()]; }
  const uint64_t* DtcBitmap() const { return dtc_bits_.data(); }
  const std::vector<uint32_t>& clock_rules() const { return clock_rules_; }

 private:
  devices::MetricPlan plan_;
  std::vector<CompiledRule> rules_;
  std::vector<uint32_t> clock_rules_;
  std::vector<uint64_t> slot_bits_;  // plan.size() x bitmap_words()
  std::vector<uint64_t> dtc_bits_;   // bitmap_words()
};

}  // namespace precall::rules

#endif  // PRECALL_RULES_RULE_SET_H_
