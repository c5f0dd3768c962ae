// Rule files: see rule_file.h. yaml-cpp builds the document (its exceptions
// stop here); this file walks it, checks every key, and turns each problem into
// a Diagnostic. Expression errors are located by re-reading the scalar's raw
// text from its mark (MapScalar), since yaml-cpp hands back only the value of a
// quoted, folded or continued scalar.
#include "rules/rule_file.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "rules/duration.h"
#include "rules/lexer.h"
#include "rules/parser.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace precall::rules {
namespace {

using devices::Diagnostic;

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr std::size_t kMaxQuotedLength = 40;

bool IsYamlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// `text` in single quotes, cut to a readable length (on a UTF-8 boundary).
std::string Quoted(std::string_view text) {
  if (text.size() <= kMaxQuotedLength) return Concat("'", text, "'");
  std::size_t cut = kMaxQuotedLength;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return Concat("'", text.substr(0, cut), "...'");
}

// Whether `rest` starts with a null written out (~, null) rather than nothing.
bool IsExplicitNull(std::string_view rest) {
  for (std::string_view spelling : {"~", "null", "Null", "NULL"}) {
    if (rest.substr(0, spelling.size()) == spelling &&
        (rest.size() == spelling.size() || IsYamlSpace(rest[spelling.size()]) ||
         rest[spelling.size()] == ',' || rest[spelling.size()] == ']' ||
         rest[spelling.size()] == '#')) {
      return true;
    }
  }
  return false;
}

bool IsValidRuleName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// 1-based line and column (in bytes) of byte offsets into the YAML text.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text) {
    line_starts_.push_back(0);
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::pair<int, int> LineColumn(std::size_t pos) const {
    const auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
    const auto line = static_cast<std::size_t>(next - line_starts_.begin());  // >= 1
    return {static_cast<int>(line), static_cast<int>(pos - line_starts_[line - 1]) + 1};
  }

 private:
  std::vector<std::size_t> line_starts_;
};

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

// `c` for a message: 'c' when printable ASCII, else its value in hex.
std::string DescribeByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7F) return Concat("'", std::string_view(&c, 1), "'");
  constexpr std::string_view kHex = "0123456789ABCDEF";
  return Concat("byte 0x", kHex.substr(byte >> 4, 1), kHex.substr(byte & 15, 1));
}

// Where each document of a YAML stream starts, and where its root is.
class DocumentProbe : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    YAML::Mark root;
    bool null_root = true;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override {
    documents.push_back({mark, mark, true});
    awaiting_root_ = true;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Root(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Root(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Root(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void Root(const YAML::Mark& mark, bool null) {
    if (!awaiting_root_ || documents.empty()) return;
    documents.back().root = mark;
    documents.back().null_root = null;
    awaiting_root_ = false;
  }

  bool awaiting_root_ = false;
};

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

class RuleFileParser {
 public:
  RuleFileParser(std::string_view text, std::string_view file_name)
      : text_(text), lines_(text), file_name_(file_name) {}

  RuleFile Run() {
    RuleFile out;
    try {
      ParseDocument(out);
    } catch (const YAML::DeepRecursion& e) {  // its own message is "bad file"
      Error(e.mark, "invalid YAML: nested too deeply");
    } catch (const YAML::Exception& e) {
      Error(e.mark, Concat("invalid YAML: ", e.msg));
    } catch (const std::exception& e) {
      ErrorAt(1, 1, Concat("cannot read rules: ", e.what()));
    }
    std::stable_sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    out.errors = std::move(errors_);
    if (!out.errors.empty()) out.rules.clear();
    return out;
  }

 private:
  void ErrorAt(int line, int column, std::string message) {
    errors_.push_back(Diagnostic{std::string(file_name_), line, column, std::move(message)});
  }
  void Error(const YAML::Mark& mark, std::string message) {
    if (mark.is_null() || mark.line < 0 || mark.column < 0) {
      ErrorAt(1, 1, std::move(message));
    } else {
      ErrorAt(mark.line + 1, mark.column + 1, std::move(message));
    }
  }
  // A null value's mark is that of the next token; report it at its key.
  void ValueError(const KeyValue& kv, std::string message) {
    Error(kv.value.IsNull() ? kv.key.Mark() : kv.value.Mark(), std::move(message));
  }
  // A null sequence item's mark is that of the next token: walk back to its '-'.
  void ItemError(const YAML::Node& item, std::string message) {
    const YAML::Mark mark = item.Mark();
    if (!item.IsNull() || mark.pos <= 0 || static_cast<std::size_t>(mark.pos) > text_.size() ||
        IsExplicitNull(text_.substr(static_cast<std::size_t>(mark.pos)))) {
      Error(mark, std::move(message));
      return;
    }
    std::size_t pos = static_cast<std::size_t>(mark.pos) - 1;
    while (pos > 0 && IsYamlSpace(text_[pos])) --pos;
    const auto [line, column] = lines_.LineColumn(pos);
    ErrorAt(line, column, std::move(message));
  }

  void ParseDocument(RuleFile& out) {
    if (!CheckDocuments()) return;
    const YAML::Node root = YAML::Load(std::string(text_));
    if (root.IsNull()) {
      ErrorAt(1, 1, "missing 'rules' key");
      return;
    }
    if (!root.IsMap()) {
      Error(root.Mark(), "expected a mapping with a 'rules' key");
      return;
    }
    std::optional<KeyValue> rules;
    for (const auto& entry : root) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        Error(key.Mark(), "keys must be strings");
      } else if (key.Scalar() != "rules") {
        Error(key.Mark(), Concat("unknown key ", Quoted(key.Scalar())));
      } else if (rules.has_value()) {
        Error(key.Mark(), "duplicate key 'rules'");
      } else {
        rules = KeyValue{key, entry.second, true};
      }
    }
    if (!rules.has_value()) {
      Error(root.Mark(), "missing 'rules' key");
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

  // Reads the documents' outlines: a syntax error anywhere throws, a second
  // document is an error. YAML::LoadAll is not used: on some garbage (a stray
  // ',') yaml-cpp 0.7 keeps returning empty documents at the same place, and
  // LoadAll loops until memory runs out. False when the text is unusable.
  bool CheckDocuments() {
    std::istringstream stream{std::string(text_)};
    YAML::Parser parser(stream);
    DocumentProbe probe;
    constexpr int kMaxDocuments = 16;
    for (int d = 0; d < kMaxDocuments && parser.HandleNextDocument(probe); ++d) {
      const std::size_t count = probe.documents.size();
      if (count >= 2 &&
          probe.documents[count - 1].start.pos == probe.documents[count - 2].start.pos) {  // stuck
        const YAML::Mark stuck = probe.documents[count - 1].start;
        const std::size_t pos = static_cast<std::size_t>(std::max(stuck.pos, 0));
        Error(stuck, Concat("invalid YAML: unexpected ",
                            pos < text_.size() ? DescribeByte(text_[pos]) : "end of file"));
        return false;
      }
      if (count >= 2 && !probe.documents[count - 1].null_root) {
        Error(probe.documents[count - 1].root, "a rules file must hold a single YAML document");
      }
    }
    return true;
  }

  // nullopt when the rule has errors (all of them recorded).
  std::optional<RuleSpec> ParseRule(const YAML::Node& item) {
    if (!item.IsMap()) {
      ItemError(item, "a rule must be a mapping with at least 'name' and 'when'");
      return std::nullopt;
    }
    const std::size_t errors_before = errors_.size();
    std::array<KeyValue, kFieldCount> fields;
    for (const auto& entry : item) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        Error(key.Mark(), "rule keys must be strings");
        continue;
      }
      const auto known = std::find(kFieldNames.begin(), kFieldNames.end(), key.Scalar());
      if (known == kFieldNames.end()) {
        Error(key.Mark(), Concat("unknown key ", Quoted(key.Scalar())));
        continue;
      }
      KeyValue& field = fields[static_cast<std::size_t>(known - kFieldNames.begin())];
      if (field.present) {
        Error(key.Mark(), Concat("duplicate key ", Quoted(key.Scalar())));
        continue;
      }
      field = KeyValue{key, entry.second, true};
    }

    RuleSpec spec;
    spec.file = std::string(file_name_);
    spec.line = item.Mark().line + 1;
    ParseName(item, fields[kName], spec);
    ParseSelect(fields[kSelect], spec);
    if (!fields[kWhen].present) {
      Error(item.Mark(), "missing required key 'when'");
    } else {
      ParseExpressionField(fields[kWhen], spec.when_text, spec.when);
    }
    ParseExpressionField(fields[kClear], spec.clear_text, spec.clear);
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
      Error(item.Mark(), "missing required key 'name'");
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
        Error(kv.key.Mark(), "keys of 'select' must be strings");
        continue;
      }
      const std::string& label = kv.key.Scalar();
      if (std::find(labels.begin(), labels.end(), label) != labels.end()) {
        Error(kv.key.Mark(), Concat("duplicate key ", Quoted(label)));
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
      ErrorAt(line, column, error.message);
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
        if (index < map->pos.size()) return lines_.LineColumn(map->pos[index]);
        // The end of the expression: just after its last non-blank character.
        std::size_t last = value.size();
        while (last > 0 && IsYamlSpace(value[last - 1])) --last;
        return lines_.LineColumn(last == 0 ? map->content_start : map->pos[last - 1] + 1);
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
        ItemError(part, "each item of 'parts' must be a string");
        continue;
      }
      spec.parts.push_back(part.Scalar());
    }
  }

  std::string_view text_;
  LineIndex lines_;
  std::string_view file_name_;
  devices::Diagnostics errors_;
  absl::flat_hash_map<std::string, int> name_lines_;  // valid rule name -> its line
};

}  // namespace

RuleFile ParseRuleFile(std::string_view yaml_text, std::string_view file_name) {
  // yaml-cpp drops a UTF-8 byte order mark from its positions: so do we.
  if (yaml_text.substr(0, kUtf8Bom.size()) == kUtf8Bom) yaml_text.remove_prefix(kUtf8Bom.size());
  return RuleFileParser(yaml_text, file_name).Run();
}

}  // namespace precall::rules
