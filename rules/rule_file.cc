// Rule files: see rule_file.h. yaml-cpp builds the document (its exceptions
// stop here); this file walks it, checks every key, and turns each problem into
// a Diagnostic. Expression errors are located by re-reading the scalar's raw
// text from its mark (MapScalar), since yaml-cpp hands back only the value of a
// quoted, folded or continued scalar.
#include "rules/rule_file.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "devices/yaml_diagnostics.h"
#include "rules/duration.h"
#include "rules/lexer.h"
#include "rules/parser.h"
#include "yaml-cpp/yaml.h"

namespace precall::rules {
namespace {

using devices::IsYamlSpace;
using devices::Quoted;

bool IsValidRuleName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// Where each byte of a scalar's value was written in the YAML text.
struct ScalarMap {
  std::vector<std::size_t> pos;   // pos[i]: source offset of value[i]
  std::size_t content_start = 0;  // source offset where the value's text begins
};

// Bytes that the YAML escape `\e...` (at src[s], src[s + 1] == e) stands for in
// the value, and bytes it takes in the source.
std::pair<std::size_t, std::size_t> EscapeSize(std::string_view src, std::size_t s) {
  const char e = s + 1 < src.size() ? src[s + 1] : '\0';
  std::size_t hex_digits = 0;
  switch (e) {
    case 'x': hex_digits = 2; break;
    case 'u': hex_digits = 4; break;
    case 'U': hex_digits = 8; break;
    case 'N':
    case '_': return {2, 2};
    case 'L':
    case 'P': return {3, 2};
    default: return {1, 2};
  }
  unsigned long code_point = 0;
  for (std::size_t k = 0; k < hex_digits && s + 2 + k < src.size(); ++k) {
    const char h = src[s + 2 + k];
    const int digit = h >= '0' && h <= '9'   ? h - '0'
                      : h >= 'a' && h <= 'f' ? h - 'a' + 10
                      : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                             : 0;
    code_point = code_point * 16 + static_cast<unsigned long>(digit);
  }
  const std::size_t bytes = code_point < 0x80      ? 1
                            : code_point < 0x800   ? 2
                            : code_point < 0x10000 ? 3
                                                   : 4;
  return {bytes, 2 + hex_digits};
}

// Re-reads the scalar whose node starts at src[start] (its mark) and maps each
// byte of `value` (what yaml-cpp made of it) to the source byte it came from:
// skipping node properties, the opening quote or block header, indentation and
// line breaks, folding, escapes and doubled single quotes. nullopt when the
// source does not spell `value` that way (the caller then falls back to
// "mark + offset" on the mark's line).
std::optional<ScalarMap> MapScalar(std::string_view src, std::size_t start,
                                   std::string_view value) {
  auto at = [src](std::size_t i) { return i < src.size() ? src[i] : '\0'; };
  std::size_t s = start;
  while (at(s) == '&' || at(s) == '!') {  // &anchor, !tag
    while (s < src.size() && !IsYamlSpace(src[s])) ++s;
    while (s < src.size() && IsYamlSpace(src[s])) ++s;
  }
  const char opener = at(s);
  const bool double_quoted = opener == '"';
  const bool single_quoted = opener == '\'';
  if (double_quoted || single_quoted) {
    ++s;
  } else if (opener == '|' || opener == '>') {
    while (s < src.size() && src[s] != '\n') ++s;  // header and its comment
    ++s;
  }
  ScalarMap map;
  map.content_start = std::min(s, src.size());
  map.pos.reserve(value.size());
  std::size_t i = 0;
  while (i < value.size()) {
    if (s >= src.size()) return std::nullopt;
    const char sc = src[s];
    const char vc = value[i];
    if (double_quoted && sc == '\\') {
      const char e = at(s + 1);
      if (e == '\n' || e == '\r') {  // escaped line break: nothing in the value
        ++s;
        while (s < src.size() && IsYamlSpace(src[s])) ++s;
        continue;
      }
      const auto [bytes, length] = EscapeSize(src, s);
      for (std::size_t k = 0; k < bytes && i < value.size(); ++k, ++i) map.pos.push_back(s);
      s += length;
      continue;
    }
    if (single_quoted && sc == '\'' && at(s + 1) == '\'' && vc == '\'') {
      map.pos.push_back(s);
      ++i;
      s += 2;
      continue;
    }
    if (vc == sc) {
      map.pos.push_back(s);
      ++i;
      ++s;
      continue;
    }
    if (vc == ' ' && (sc == '\n' || sc == '\r')) {  // a line break folded into a space
      map.pos.push_back(s);
      ++i;
      continue;
    }
    if (IsYamlSpace(sc)) {  // indentation, a line break that left no trace
      ++s;
      continue;
    }
    return std::nullopt;
  }
  return map;
}

// The keys of a rule, in the order CONTRACT §2 lists them.
enum Field : std::size_t {
  kName,
  kSelect,
  kWhen,
  kFor,
  kClear,
  kClearFor,
  kSeverity,
  kDiagnosis,
  kSkill,
  kParts,
  kReopenWithin,
  kFieldCount,
};

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "name",     "select",    "when",  "for",   "clear",         "clear_for",
    "severity", "diagnosis", "skill", "parts", "reopen_within",
};

struct KeyValue {
  YAML::Node key;
  YAML::Node value;
  bool present = false;
};

// Whether an expression names something a rule can be woken by: a metric
// (also inside a window function), dtc() or silent().
bool NamesAnInput(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kMetric:
    case Expr::Kind::kCall: return true;
    case Expr::Kind::kUnary: return NamesAnInput(*e.rhs);
    case Expr::Kind::kBinary: return NamesAnInput(*e.lhs) || NamesAnInput(*e.rhs);
    case Expr::Kind::kNumber:
    case Expr::Kind::kBool: return false;
  }
  return false;
}

class RuleFileParser {
 public:
  RuleFileParser(std::string_view text, std::string_view file_name)
      : text_(text), file_name_(file_name), errors_(text, file_name) {}

  RuleFile Run() {
    RuleFile out;
    errors_.Catching("rules", [&] { ParseDocument(out); });
    out.errors = errors_.TakeSorted();
    if (!out.errors.empty()) out.rules.clear();
    return out;
  }

 private:
  void ValueError(const KeyValue& kv, std::string message) {
    errors_.ValueError(kv.key, kv.value, std::move(message));
  }

  void ParseDocument(RuleFile& out) {
    if (!errors_.CheckSingleDocument("a rules file")) return;
    const YAML::Node root = YAML::Load(std::string(text_));
    if (root.IsNull()) {
      errors_.ErrorAt(1, 1, "missing 'rules' key");
      return;
    }
    if (!root.IsMap()) {
      errors_.Error(root.Mark(), "expected a mapping with a 'rules' key");
      return;
    }
    std::optional<KeyValue> rules;
    for (const auto& entry : root) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        errors_.Error(key.Mark(), "keys must be strings");
      } else if (key.Scalar() != "rules") {
        errors_.Error(key.Mark(), Concat("unknown key ", Quoted(key.Scalar())));
      } else if (rules.has_value()) {
        errors_.Error(key.Mark(), "duplicate key 'rules'");
      } else {
        rules = KeyValue{key, entry.second, true};
      }
    }
    if (!rules.has_value()) {
      errors_.Error(root.Mark(), "missing 'rules' key");
      return;
    }
    if (!rules->value.IsSequence()) {
      ValueError(*rules, "'rules' must be a list of rules");
      return;
    }
    for (const YAML::Node& item : rules->value) {
      std::optional<RuleSpec> rule = ParseRule(item);
      if (rule.has_value()) out.rules.push_back(std::move(*rule));
    }
  }

  // nullopt when the rule has errors (all of them recorded).
  std::optional<RuleSpec> ParseRule(const YAML::Node& item) {
    if (!item.IsMap()) {
      errors_.ItemError(item, "a rule must be a mapping with at least 'name' and 'when'");
      return std::nullopt;
    }
    const std::size_t errors_before = errors_.size();
    std::array<KeyValue, kFieldCount> fields;
    for (const auto& entry : item) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        errors_.Error(key.Mark(), "rule keys must be strings");
        continue;
      }
      const auto known = std::find(kFieldNames.begin(), kFieldNames.end(), key.Scalar());
      if (known == kFieldNames.end()) {
        errors_.Error(key.Mark(), Concat("unknown key ", Quoted(key.Scalar())));
        continue;
      }
      KeyValue& field = fields[static_cast<std::size_t>(known - kFieldNames.begin())];
      if (field.present) {
        errors_.Error(key.Mark(), Concat("duplicate key ", Quoted(key.Scalar())));
        continue;
      }
      field = KeyValue{key, entry.second, true};
    }

    RuleSpec spec;
    spec.file = std::string(file_name_);
    spec.line = item.Mark().line + 1;
    auto at = [&](const KeyValue& kv, int& line, int& column) {
      const YAML::Mark mark = kv.present && !kv.value.IsNull() ? kv.value.Mark() : item.Mark();
      line = mark.line + 1;
      column = mark.column + 1;
    };
    at(fields[kName], spec.name_line, spec.name_column);
    at(fields[kWhen], spec.when_line, spec.when_column);
    ParseName(item, fields[kName], spec);
    ParseSelect(fields[kSelect], spec);
    if (!fields[kWhen].present) {
      errors_.Error(item.Mark(), "missing required key 'when'");
    } else {
      ParseExpressionField(fields[kWhen], spec.when_text, spec.when);
    }
    ParseExpressionField(fields[kClear], spec.clear_text, spec.clear);
    if (spec.when && !NamesAnInput(*spec.when) && !(spec.clear && NamesAnInput(*spec.clear))) {
      errors_.ErrorAt(
          spec.when_line, spec.when_column,
          Concat("rule ", Quoted(spec.name),
                 " names no metric, dtc() or silent(), so it would never be evaluated"));
    }
    ParseDurationField(fields[kFor], spec.for_ms);
    ParseDurationField(fields[kClearFor], spec.clear_for_ms);
    ParseDurationField(fields[kReopenWithin], spec.reopen_within_ms);
    ParseSeverityField(fields[kSeverity], spec);
    ParseStringField(fields[kDiagnosis], spec.diagnosis);
    ParseStringField(fields[kSkill], spec.skill);
    ParseParts(fields[kParts], spec);
    if (errors_.size() != errors_before) return std::nullopt;
    return spec;
  }

  void ParseName(const YAML::Node& item, const KeyValue& field, RuleSpec& spec) {
    if (!field.present) {
      errors_.Error(item.Mark(), "missing required key 'name'");
      return;
    }
    if (!field.value.IsScalar()) {
      ValueError(field, "'name' must be a string");
      return;
    }
    const std::string& name = field.value.Scalar();
    if (!IsValidRuleName(name)) {
      ValueError(field, Concat("invalid rule name ", Quoted(name),
                               " (use lowercase letters, digits, '_', '.' and '-')"));
      return;
    }
    const int line = field.value.Mark().line + 1;
    const auto [first, inserted] = name_lines_.try_emplace(name, line);
    if (!inserted) {
      ValueError(field, Concat("duplicate rule name ", Quoted(name), " (first defined at line ",
                               first->second, ")"));
      return;
    }
    spec.name = name;
  }

  void ParseSelect(const KeyValue& field, RuleSpec& spec) {
    if (!field.present) return;
    if (!field.value.IsMap()) {
      ValueError(field, "'select' must be a mapping of labels to values, e.g. {model: EX200}");
      return;
    }
    std::vector<std::string> labels;
    for (const auto& entry : field.value) {
      const KeyValue kv{entry.first, entry.second, true};
      if (!kv.key.IsScalar()) {
        errors_.Error(kv.key.Mark(), "keys of 'select' must be strings");
        continue;
      }
      const std::string& label = kv.key.Scalar();
      if (std::find(labels.begin(), labels.end(), label) != labels.end()) {
        errors_.Error(kv.key.Mark(), Concat("duplicate key ", Quoted(label)));
      } else if (!kv.value.IsScalar()) {
        ValueError(kv, Concat("value of ", Quoted(label), " in 'select' must be a string"));
      } else {
        spec.select.emplace_back(label, kv.value.Scalar());
      }
      labels.push_back(label);
    }
  }

  void ParseExpressionField(const KeyValue& field, std::string& text, ExprPtr& expr) {
    if (!field.present) return;
    const std::string_view key = field.key.Scalar();
    if (!field.value.IsScalar()) {
      ValueError(field,
                 Concat(Quoted(key), " must be an expression, e.g. ", key, ": engine_rpm > 800"));
      return;
    }
    text = field.value.Scalar();
    ParseResult result = ParseExpression(text);
    for (const ExprError& error : result.errors) {
      const auto [line, column] = Locate(field.value, error.offset);
      errors_.ErrorAt(line, column, error.message);
    }
    if (result.errors.empty()) expr = std::move(result.expr);
  }

  // Line and column of byte `offset` of a scalar's value.
  std::pair<int, int> Locate(const YAML::Node& scalar, int offset) const {
    const YAML::Mark mark = scalar.Mark();
    const std::string& value = scalar.Scalar();
    const auto index = static_cast<std::size_t>(std::max(offset, 0));
    if (mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text_.size()) {
      const std::optional<ScalarMap> map =
          MapScalar(text_, static_cast<std::size_t>(mark.pos), value);
      if (map.has_value()) {
        if (index < map->pos.size()) return errors_.lines().LineColumn(map->pos[index]);
        // The end of the expression: just after its last non-blank character.
        std::size_t last = value.size();
        while (last > 0 && IsYamlSpace(value[last - 1])) --last;
        return errors_.lines().LineColumn(last == 0 ? map->content_start
                                                    : map->pos[last - 1] + 1);
      }
    }
    const char opener = mark.pos >= 0 && static_cast<std::size_t>(mark.pos) < text_.size()
                            ? text_[static_cast<std::size_t>(mark.pos)]
                            : '\0';
    const int quote = opener == '"' || opener == '\'' ? 1 : 0;
    return {std::max(mark.line, 0) + 1,
            std::max(mark.column, 0) + 1 + quote + static_cast<int>(index)};
  }

  void ParseDurationField(const KeyValue& field, int64_t& out) {
    if (!field.present) return;
    if (!field.value.IsScalar()) {
      ValueError(field, Concat(Quoted(field.key.Scalar()), " must be a duration, e.g. 30s"));
      return;
    }
    const std::string& text = field.value.Scalar();
    const std::string problem = DurationProblem(text);
    if (!problem.empty()) {
      ValueError(field, problem);
      return;
    }
    out = *ParseDuration(text);
  }

  void ParseSeverityField(const KeyValue& field, RuleSpec& spec) {
    if (!field.present) return;
    if (!field.value.IsScalar()) {
      ValueError(field, "'severity' must be one of info, warning, major, critical");
      return;
    }
    const std::optional<devices::Severity> severity = devices::ParseSeverity(field.value.Scalar());
    if (!severity.has_value()) {
      ValueError(field, Concat("unknown severity ", Quoted(field.value.Scalar()),
                               " (expected info, warning, major or critical)"));
      return;
    }
    spec.severity = *severity;
  }

  void ParseStringField(const KeyValue& field, std::string& out) {
    if (!field.present) return;
    if (!field.value.IsScalar()) {
      ValueError(field, Concat(Quoted(field.key.Scalar()), " must be a string"));
      return;
    }
    out = field.value.Scalar();
  }

  void ParseParts(const KeyValue& field, RuleSpec& spec) {
    if (!field.present) return;
    if (!field.value.IsSequence()) {
      ValueError(field, "'parts' must be a list of part numbers, e.g. [fan-belt-8PK]");
      return;
    }
    for (const YAML::Node& part : field.value) {
      if (!part.IsScalar()) {
        errors_.ItemError(part, "each item of 'parts' must be a string");
        continue;
      }
      spec.parts.push_back(part.Scalar());
    }
  }

  std::string_view text_;
  std::string_view file_name_;
  devices::YamlDiagnostics errors_;
  absl::flat_hash_map<std::string, int> name_lines_;  // valid rule name -> its line
};

}  // namespace

RuleFile ParseRuleFile(std::string_view yaml_text, std::string_view file_name) {
  // yaml-cpp drops a UTF-8 byte order mark from its positions: so do we.
  return RuleFileParser(devices::StripUtf8Bom(yaml_text), file_name).Run();
}

}  // namespace precall::rules
