// Rule files (CONTRACT §2): YAML text -> validated RuleSpecs, with every error
// located as file:line:col in the YAML file (expression errors point at the
// offending character inside the `when`/`clear` text). Pure: the caller reads
// the file. Load time only; any thread.
#ifndef PRECALL_RULES_RULE_FILE_H_
#define PRECALL_RULES_RULE_FILE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "devices/diagnostic.h"
#include "devices/severity.h"
#include "rules/ast.h"

namespace precall::rules {

struct RuleSpec {
  std::string name;  // [a-z0-9_.-]+, unique
  // select: model -> device model, any other key -> the device label of that name.
  std::vector<std::pair<std::string, std::string>> select;
  std::string when_text;
  ExprPtr when;
  std::string clear_text;  // empty when absent
  ExprPtr clear;           // null: not (when)
  int64_t for_ms = 0;
  int64_t clear_for_ms = 0;
  int64_t reopen_within_ms = 0;
  devices::Severity severity = devices::Severity::kWarning;
  std::string diagnosis;
  std::string skill;
  std::vector<std::string> parts;
  std::string file;  // where the rule was written: the line of its first key
  int line = 0;
  // Where its name and its `when` are written (for the checks across rules
  // and files that RuleSet::Build makes).
  int name_line = 0, name_column = 0;
  int when_line = 0, when_column = 0;
};

struct RuleFile {
  std::vector<RuleSpec> rules;         // in file order; empty if errors
  devices::Diagnostics errors;         // all of them, in file order
};

// Parses and validates a whole rules file. `file_name` is used in diagnostics.
RuleFile ParseRuleFile(std::string_view yaml_text, std::string_view file_name);

}  // namespace precall::rules

#endif  // PRECALL_RULES_RULE_FILE_H_
