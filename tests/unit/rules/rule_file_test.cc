// Tests of ParseRuleFile (rules/rule_file.h): the RuleSpecs it returns, the
// defaults, and every diagnostic with its exact file:line:col, for YAML-level
// problems and for expression errors inside plain, quoted and block scalars.
#include "rules/rule_file.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/parser.h"

namespace precall::rules {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::StartsWith;

// Every diagnostic of `yaml` as "file:line:col: message"; the rules must be
// empty whenever there are diagnostics.
std::vector<std::string> Diagnostics(std::string_view yaml) {
  RuleFile file = ParseRuleFile(yaml, "r.yaml");
  std::vector<std::string> out;
  for (const devices::Diagnostic& d : file.errors) out.push_back(d.ToString());
  if (!out.empty()) {
    EXPECT_THAT(file.rules, IsEmpty()) << yaml;
  }
  return out;
}

// The rules of `yaml`, which must be valid.
std::vector<RuleSpec> Rules(std::string_view yaml) {
  RuleFile file = ParseRuleFile(yaml, "r.yaml");
  for (const devices::Diagnostic& d : file.errors) ADD_FAILURE() << d.ToString();
  return std::move(file.rules);
}

TEST(RuleFileTest, TheContractExample) {
  std::vector<RuleSpec> rules = Rules(R"(# Engine rules.
rules:
  - name: coolant_overheat            # required
    select: {model: EX200, site: north}
    when: avg(coolant_temp_c, 1m) > 105 and engine_rpm > 800
    for: 30s
    clear: coolant_temp_c < 95
    clear_for: 2m
    severity: critical
    diagnosis: "Coolant overheating: radiator core blocked or fan belt slipping"
    skill: engine-cooling
    parts: [radiator-core-EX200, fan-belt-8PK]
    reopen_within: 10m
)");
  ASSERT_EQ(rules.size(), 1u);
  const RuleSpec& rule = rules[0];
  EXPECT_EQ(rule.name, "coolant_overheat");
  EXPECT_THAT(rule.select, ElementsAre(Pair("model", "EX200"), Pair("site", "north")));
  EXPECT_EQ(rule.when_text, "avg(coolant_temp_c, 1m) > 105 and engine_rpm > 800");
  ASSERT_NE(rule.when, nullptr);
  EXPECT_EQ(rule.when->op, Op::kAnd);
  EXPECT_EQ(rule.when->lhs->lhs->func, Func::kAvg);
  EXPECT_EQ(rule.when->lhs->lhs->duration_ms, 60000);
  EXPECT_EQ(rule.clear_text, "coolant_temp_c < 95");
  ASSERT_NE(rule.clear, nullptr);
  EXPECT_EQ(rule.clear->op, Op::kLt);
  EXPECT_EQ(rule.for_ms, 30000);
  EXPECT_EQ(rule.clear_for_ms, 120000);
  EXPECT_EQ(rule.reopen_within_ms, 600000);
  EXPECT_EQ(rule.severity, devices::Severity::kCritical);
  EXPECT_EQ(rule.diagnosis, "Coolant overheating: radiator core blocked or fan belt slipping");
  EXPECT_EQ(rule.skill, "engine-cooling");
  EXPECT_THAT(rule.parts, ElementsAre("radiator-core-EX200", "fan-belt-8PK"));
  EXPECT_EQ(rule.file, "r.yaml");
  EXPECT_EQ(rule.line, 3);
}

TEST(RuleFileTest, Defaults) {
  std::vector<RuleSpec> rules = Rules("rules:\n  - {name: door, when: door_open}\n");
  ASSERT_EQ(rules.size(), 1u);
  const RuleSpec& rule = rules[0];
  EXPECT_EQ(rule.name, "door");
  EXPECT_EQ(rule.when_text, "door_open");
  ASSERT_NE(rule.when, nullptr);
  EXPECT_EQ(rule.when->kind, Expr::Kind::kMetric);
  EXPECT_THAT(rule.select, IsEmpty());
  EXPECT_EQ(rule.clear_text, "");
  EXPECT_EQ(rule.clear, nullptr);
  EXPECT_EQ(rule.for_ms, 0);
  EXPECT_EQ(rule.clear_for_ms, 0);
  EXPECT_EQ(rule.reopen_within_ms, 0);
  EXPECT_EQ(rule.severity, devices::Severity::kWarning);
  EXPECT_EQ(rule.diagnosis, "");
  EXPECT_EQ(rule.skill, "");
  EXPECT_THAT(rule.parts, IsEmpty());
  EXPECT_EQ(rule.line, 2);
}

TEST(RuleFileTest, RulesInFileOrder) {
  std::vector<RuleSpec> rules = Rules(R"(rules:
  - name: b.second-rule_2
    when: x > 1
    severity: info
    parts: []
    select: {}

  - name: a
    when: 'dtc("SPN110.*")'
    severity: major
    for: "500ms"
)");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "b.second-rule_2");
  EXPECT_EQ(rules[0].severity, devices::Severity::kInfo);
  EXPECT_EQ(rules[0].line, 2);
  EXPECT_EQ(rules[1].name, "a");
  EXPECT_EQ(rules[1].when_text, R"(dtc("SPN110.*"))");
  EXPECT_EQ(rules[1].when->code, "SPN110.");
  EXPECT_TRUE(rules[1].when->code_prefix);
  EXPECT_EQ(rules[1].severity, devices::Severity::kMajor);
  EXPECT_EQ(rules[1].for_ms, 500);
  EXPECT_EQ(rules[1].line, 8);
}

TEST(RuleFileTest, AnEmptyListIsValid) {
  RuleFile file = ParseRuleFile("rules: []\n", "r.yaml");
  EXPECT_THAT(file.errors, IsEmpty());
  EXPECT_THAT(file.rules, IsEmpty());
}

TEST(RuleFileTest, ValuesAreKeptAsWritten) {
  std::vector<RuleSpec> rules = Rules(R"(rules:
  - name: "1"
    when: >-
      x >
      5
    select: {model: 200, "serial no": "A 1"}
    diagnosis: 42
    parts:
      - p1
      - "p 2"
)");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].name, "1");
  EXPECT_EQ(rules[0].when_text, "x > 5");
  EXPECT_THAT(rules[0].select, ElementsAre(Pair("model", "200"), Pair("serial no", "A 1")));
  EXPECT_EQ(rules[0].diagnosis, "42");
  EXPECT_THAT(rules[0].parts, ElementsAre("p1", "p 2"));
}

// A rule that could never be evaluated: pointed at its `when`, also beside
// other problems of the same file (every problem is reported at once).
TEST(RuleFileTest, ARuleNamingNoMetricPointsAtItsWhen) {
  EXPECT_THAT(Diagnostics("rules:\n  - name: always\n    when: true\n"
                          "  - {name: never, when: 1 > 2}\n"
                          "  - {name: bad, when: t >}\n"
                          "  - {name: cleared, when: 1 > 2, clear: t < 5}\n"),
              ElementsAre("r.yaml:3:11: rule 'always' names no metric, dtc() or silent(), so "
                          "it would never be evaluated",
                          "r.yaml:4:25: rule 'never' names no metric, dtc() or silent(), so it "
                          "would never be evaluated",
                          "r.yaml:5:26: unexpected end of expression"));
}

TEST(RuleFileTest, TheRulesKey) {
  EXPECT_THAT(Diagnostics(""), ElementsAre("r.yaml:1:1: missing 'rules' key"));
  EXPECT_THAT(Diagnostics("# nothing yet\n"), ElementsAre("r.yaml:1:1: missing 'rules' key"));
  EXPECT_THAT(Diagnostics("groups: []\n"),
              ElementsAre("r.yaml:1:1: unknown key 'groups'", "r.yaml:1:1: missing 'rules' key"));
  EXPECT_THAT(Diagnostics("rules: []\nrule: []\n"), ElementsAre("r.yaml:2:1: unknown key 'rule'"));
  EXPECT_THAT(Diagnostics("rules: []\nrules: []\n"),
              ElementsAre("r.yaml:2:1: duplicate key 'rules'"));
  EXPECT_THAT(Diagnostics("- name: a\n  when: x\n"),
              ElementsAre("r.yaml:1:1: expected a mapping with a 'rules' key"));
  EXPECT_THAT(Diagnostics("rules\n"),
              ElementsAre("r.yaml:1:1: expected a mapping with a 'rules' key"));
  EXPECT_THAT(Diagnostics("rules:\n"), ElementsAre("r.yaml:1:1: 'rules' must be a list of rules"));
  EXPECT_THAT(Diagnostics("rules: {name: a, when: x}\n"),
              ElementsAre("r.yaml:1:8: 'rules' must be a list of rules"));
  EXPECT_THAT(Diagnostics("rules: []\n---\nrules: []\n"),
              ElementsAre("r.yaml:3:1: a rules file must hold a single YAML document"));
}

TEST(RuleFileTest, YamlSyntaxErrorsAtTheirMark) {
  EXPECT_THAT(Diagnostics("rules:\n  - name: a\n    when: [x\n"),
              ElementsAre("r.yaml:4:1: invalid YAML: end of sequence flow not found"));
  EXPECT_THAT(Diagnostics("rules:\n  - name: a\n    when: x > 1\n   for: 1s\n"),
              ElementsAre("r.yaml:4:4: invalid YAML: end of sequence not found"));
  EXPECT_THAT(Diagnostics("rules:\n  - name: a\n    when: x: y\n"),
              ElementsAre("r.yaml:3:12: invalid YAML: illegal map value"));
  EXPECT_THAT(Diagnostics("rules:\n\t- name: a\n"),
              ElementsAre("r.yaml:2:2: invalid YAML: illegal block entry"));
}

// yaml-cpp 0.7's LoadAll never returns on these (it keeps producing empty
// documents at the stray ','); they must be plain errors.
TEST(RuleFileTest, StrayFlowIndicatorsAreAnErrorNotAHang) {
  EXPECT_THAT(Diagnostics(",rules: []\n"), ElementsAre("r.yaml:1:1: invalid YAML: unexpected ','"));
  EXPECT_THAT(Diagnostics("- a\n, b\n"), ElementsAre("r.yaml:2:1: invalid YAML: unexpected ','"));
  EXPECT_THAT(Diagnostics("rules:\n  - a\n, b\n"),
              ElementsAre("r.yaml:3:1: invalid YAML: end of map not found"));
  EXPECT_THAT(Diagnostics("rules: []\n---\n,\n"),
              ElementsAre("r.yaml:3:1: invalid YAML: unexpected ','"));
}

TEST(RuleFileTest, EmptyExtraDocumentsAreHarmless) {
  EXPECT_THAT(Diagnostics("---\nrules: []\n...\n"), IsEmpty());
  EXPECT_THAT(Diagnostics("rules: []\n---\n"), IsEmpty());
  EXPECT_THAT(Diagnostics("rules: []\n--- x\n"),
              ElementsAre("r.yaml:2:5: a rules file must hold a single YAML document"));
}

TEST(RuleFileTest, HostileYamlNestingIsAnErrorNotACrash) {
  const std::string deep = "rules: " + std::string(100000, '[') + std::string(100000, ']');
  std::vector<std::string> diagnostics = Diagnostics(deep);
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_THAT(diagnostics[0], StartsWith("r.yaml:1:"));
  EXPECT_THAT(diagnostics[0], EndsWith(": invalid YAML: nested too deeply"));
}

TEST(RuleFileTest, RuleShapeErrors) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - 3
  - [name, when]
  -
  - name: ok
    when: x
)"),
              ElementsAre("r.yaml:2:5: a rule must be a mapping with at least 'name' and 'when'",
                          "r.yaml:3:5: a rule must be a mapping with at least 'name' and 'when'",
                          "r.yaml:4:3: a rule must be a mapping with at least 'name' and 'when'"));
  EXPECT_THAT(Diagnostics("rules:\n  - ~\n"),
              ElementsAre("r.yaml:2:5: a rule must be a mapping with at least 'name' and 'when'"));
}

TEST(RuleFileTest, MissingRequiredKeys) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - severity: info
  - name: a
  - when: x
)"),
              ElementsAre("r.yaml:2:5: missing required key 'name'",
                          "r.yaml:2:5: missing required key 'when'",
                          "r.yaml:3:5: missing required key 'when'",
                          "r.yaml:4:5: missing required key 'name'"));
}

TEST(RuleFileTest, UnknownAndDuplicateKeys) {
  EXPECT_THAT(
      Diagnostics(R"(rules:
  - name: a
    when: x
    clear-for: 2m
    Severity: info
    when: y
    ? [k]
    : v
)"),
      ElementsAre("r.yaml:4:5: unknown key 'clear-for'", "r.yaml:5:5: unknown key 'Severity'",
                  "r.yaml:6:5: duplicate key 'when'", "r.yaml:7:7: rule keys must be strings"));
}

TEST(RuleFileTest, Names) {
  EXPECT_THAT(
      Diagnostics(R"(rules:
  - name: Coolant Overheat
    when: x
  - name: ""
    when: x
  - name: [a]
    when: x
  - name:
    when: x
  - name: dtc:P0217
    when: x
)"),
      ElementsAre("r.yaml:2:11: invalid rule name 'Coolant Overheat' (use lowercase "
                  "letters, digits, '_', '.' and '-')",
                  "r.yaml:4:11: invalid rule name '' (use lowercase letters, digits, '_', "
                  "'.' and '-')",
                  "r.yaml:6:11: 'name' must be a string", "r.yaml:8:5: 'name' must be a string",
                  "r.yaml:10:11: invalid rule name 'dtc:P0217' (use lowercase letters, "
                  "digits, '_', '.' and '-')"));
}

TEST(RuleFileTest, DuplicateNames) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - when: x
    name: x
  - name: y
    when: x
  - name: x
    when: x
  - {when: x, name: x}
)"),
              ElementsAre("r.yaml:6:11: duplicate rule name 'x' (first defined at line 3)",
                          "r.yaml:8:21: duplicate rule name 'x' (first defined at line 3)"));
}

TEST(RuleFileTest, Durations) {
  EXPECT_THAT(
      Diagnostics(R"(rules:
  - name: a
    when: x
    for: 30
    clear_for: 1.5m
    reopen_within: [10m]
  - name: b
    when: x
    for:
    clear_for: 99999999999h
    reopen_within: 10 m
)"),
      ElementsAre(
          "r.yaml:4:10: invalid duration '30' (expected an integer followed by ms, s, m, h or d)",
          "r.yaml:5:16: invalid duration '1.5m' (expected an integer followed by ms, s, m, h or "
          "d)",
          "r.yaml:6:20: 'reopen_within' must be a duration, e.g. 30s",
          "r.yaml:9:5: 'for' must be a duration, e.g. 30s",
          "r.yaml:10:16: duration '99999999999h' is too long (at most 100 years)",
          "r.yaml:11:20: invalid duration '10 m' (expected an integer followed by ms, s, m, h or "
          "d)"));
}

TEST(RuleFileTest, SeverityAndStrings) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: x
    severity: urgent
    diagnosis: {text: hot}
    skill: [a, b]
  - name: b
    when: x
    severity: [info]
    skill:
)"),
              ElementsAre("r.yaml:4:15: unknown severity 'urgent' (expected info, warning, major "
                          "or critical)",
                          "r.yaml:5:16: 'diagnosis' must be a string",
                          "r.yaml:6:12: 'skill' must be a string",
                          "r.yaml:9:15: 'severity' must be one of info, warning, major, critical",
                          "r.yaml:10:5: 'skill' must be a string"));
}

TEST(RuleFileTest, PartsAndSelect) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: x
    parts: radiator
    select: [model]
  - name: b
    when: x
    parts: [a, {b: c}, [d]]
    select: {model: [EX200], model: EX300, [k]: v, site: }
)"),
              ElementsAre("r.yaml:4:12: 'parts' must be a list of part numbers, e.g. "
                          "[fan-belt-8PK]",
                          "r.yaml:5:13: 'select' must be a mapping of labels to values, e.g. "
                          "{model: EX200}",
                          "r.yaml:8:16: each item of 'parts' must be a string",
                          "r.yaml:8:24: each item of 'parts' must be a string",
                          "r.yaml:9:21: value of 'model' in 'select' must be a string",
                          "r.yaml:9:30: duplicate key 'model'",
                          "r.yaml:9:44: keys of 'select' must be strings",
                          "r.yaml:9:52: value of 'site' in 'select' must be a string"));
}

TEST(RuleFileTest, WhenAndClearMustBeScalars) {
  EXPECT_THAT(
      Diagnostics(R"(rules:
  - name: a
    when: [x > 1]
    clear:
)"),
      ElementsAre("r.yaml:3:11: 'when' must be an expression, e.g. when: engine_rpm > 800",
                  "r.yaml:4:5: 'clear' must be an expression, e.g. clear: engine_rpm > 800"));
}

// Expression errors point at the exact character inside the YAML file.

TEST(RuleFileTest, ExpressionErrorInAPlainScalar) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: avgg(x, 1m) > 105 and avg(y) > 3
    clear: x < 95 z
)"),
              ElementsAre("r.yaml:3:11: unknown function 'avgg'",
                          "r.yaml:3:33: avg() needs a window, e.g. avg(y, 5m)",
                          "r.yaml:4:19: expected an operator or end of expression but found 'z'"));
}

TEST(RuleFileTest, ExpressionErrorInQuotedScalars) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: "x > 3 y"
    clear: 'x < 1 and avgg(x, 1m)'
  - name: b
    when: "dtc(\"A B\") and x > 3 y"
    clear: 'x '' y'
)"),
              ElementsAre("r.yaml:3:18: expected an operator or end of expression but found 'y'",
                          "r.yaml:4:23: unknown function 'avgg'",
                          "r.yaml:6:16: invalid fault code \"A B\" (expected 1 to 64 of A-Z a-z "
                          "0-9 _ . : / + -, optionally followed by '*' to match a prefix)",
                          "r.yaml:6:35: expected an operator or end of expression but found 'y'",
                          "r.yaml:7:15: unexpected \"'\" (strings use double quotes)"));
}

TEST(RuleFileTest, ExpressionErrorInALiteralBlock) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: |   # a comment
      avg(coolant_temp_c, 1m) > 105

        and avgg(engine_rpm, 1m) > 800
         and silent(0s)
    for: 1m
)"),
              ElementsAre("r.yaml:6:13: unknown function 'avgg'",
                          "r.yaml:7:21: duration of silent() must be greater than 0"));
}

TEST(RuleFileTest, ExpressionErrorInAFoldedBlock) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: >
      avg(coolant_temp_c, 1m) > 105
      and avgg(engine_rpm, 1m) > 800
    clear: >-
      x < 1 and
)"),
              ElementsAre("r.yaml:5:11: unknown function 'avgg'",
                          "r.yaml:7:16: unexpected end of expression"));
}

TEST(RuleFileTest, ExpressionErrorInAPlainScalarContinuedOnTheNextLines) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: avg(coolant_temp_c, 1m) > 105 and
          engine_rpm > 800 and   

          avgg(x, 1m) > 3
    clear: x <
)"),
              ElementsAre("r.yaml:6:11: unknown function 'avgg'",
                          "r.yaml:7:15: unexpected end of expression"));
}

TEST(RuleFileTest, ExpressionErrorInADoubleQuotedScalarOnSeveralLines) {
  EXPECT_THAT(
      Diagnostics(R"(rules:
  - name: a
    when: "x > 1 and
      avgg(y, 1m) > 2 and \
      z > 5m"
)"),
      ElementsAre("r.yaml:4:7: unknown function 'avgg'",
                  "r.yaml:5:11: duration '5m' can only be a window, e.g. avg(x, 5m), or the "
                  "argument of silent()"));
}

// Whatever the scalar style, the error lands on the 'avgg' written in the file.
TEST(RuleFileTest, ExpressionErrorLandsOnTheTokenInEveryScalarStyle) {
  for (std::string_view when : {
           "    when: x > 1 and avgg(y, 1m) > 2\n",
           "    when:   x > 1 and   avgg(y, 1m)   # comment\n",
           "    when: x >\t1 and avgg(y, 1m)\n",
           "    when: \"x > 1 and avgg(y, 1m) > 2\"\n",
           "    when: 'x > 1 and avgg(y, 1m) > 2'\n",
           "    when: \"x > 1 and\n      avgg(y, 1m) > 2\"\n",
           "    when: \"x > 1 and   \n\n   avgg(y, 1m) > 2\"\n",
           "    when: 'x > 1 and\n\n      avgg(y, 1m) > 2'\n",
           "    when: \"\\tx > 1 and \\u0020avgg(y, 1m)\"\n",
           "    when: \"dtc(\\\"A\\\") and \\\n      avgg(y, 1m)\"\n",
           "    when: x > 1 and\n            avgg(y, 1m) > 2\n",
           "    when:\n      x > 1 and\n      avgg(y, 1m) > 2\n",
           "    when: |\n      x > 1 and\n      avgg(y, 1m) > 2\n",
           "    when: |-\n        x > 1\n        and avgg(y, 1m)\n",
           "    when: |2\n        x > 1 and avgg(y, 1m)\n",
           "    when: >\n      x > 1 and\n\n        avgg(y, 1m) > 2\n",
           "    when: >+\n\n      x > 1 and\n      avgg(y, 1m) > 2\n\n",
           "    when: |\r\n      x > 1 and\r\n      avgg(y, 1m) > 2\r\n",
           "    when: !!str &w\n      x > 1 and avgg(y, 1m)\n",
       }) {
    const std::string yaml = "rules:\n  - name: a\n" + std::string(when) + "    for: 1m\n";
    const std::size_t at = yaml.find("avgg");
    const std::size_t line_start = yaml.rfind('\n', at) + 1;
    const int line = 1 + static_cast<int>(std::count(yaml.begin(), yaml.begin() + at, '\n'));
    const int column = 1 + static_cast<int>(at - line_start);
    EXPECT_THAT(Diagnostics(yaml),
                ElementsAre("r.yaml:" + std::to_string(line) + ":" + std::to_string(column) +
                            ": unknown function 'avgg'"))
        << yaml;
  }
}

TEST(RuleFileTest, ExpressionErrorAfterAnAnchorOrTag) {
  EXPECT_THAT(Diagnostics(R"(rules:
  - name: a
    when: &w x > 3 y
  - name: b
    when: !!str x > 4 y
)"),
              ElementsAre("r.yaml:3:20: expected an operator or end of expression but found 'y'",
                          "r.yaml:5:23: expected an operator or end of expression but found 'y'"));
}

TEST(RuleFileTest, EmptyExpression) {
  EXPECT_THAT(Diagnostics("rules:\n  - name: a\n    when: \"\"\n"),
              ElementsAre("r.yaml:3:12: empty expression"));
}

TEST(RuleFileTest, ByteOrderMarkAndCrLfLineEnds) {
  EXPECT_THAT(Diagnostics("\xEF\xBB\xBFrules:\r\n  - name: a\r\n    when: |\r\n      x > 1\r\n"
                          "      and avgg(y, 1m)\r\n    for: 30\r\n"),
              ElementsAre("r.yaml:5:11: unknown function 'avgg'",
                          "r.yaml:6:10: invalid duration '30' (expected an integer followed by "
                          "ms, s, m, h or d)"));
  EXPECT_EQ(Rules("\xEF\xBB\xBFrules:\r\n  - name: a\r\n    when: x\r\n").size(), 1u);
}

TEST(RuleFileTest, ColumnsAreInBytes) {
  EXPECT_THAT(Diagnostics("rules:\n  - name: a\n    diagnosis: \"\xC3\xA9t\xC3\xA9\"\n"
                          "    when: x == \"\xC3\xA9\" y\n"),
              ElementsAre("r.yaml:4:16: string \"\xC3\xA9\" can only be the argument of dtc()",
                          "r.yaml:4:21: expected an operator or end of expression but found 'y'"));
}

TEST(RuleFileTest, AllErrorsAtOnceInFileOrder) {
  RuleFile file = ParseRuleFile(R"(rules:
  - name: good
    when: x > 1
  - name: Bad
    when: avg(x) > 1
    for: 5
  - when: y >
    severity: urgent
    colour: red
)",
                                "rules/engine.yaml");
  EXPECT_THAT(file.rules, IsEmpty());
  std::vector<std::string> messages;
  for (const devices::Diagnostic& d : file.errors) messages.push_back(d.ToString());
  EXPECT_THAT(
      messages,
      ElementsAre(
          "rules/engine.yaml:4:11: invalid rule name 'Bad' (use lowercase letters, digits, '_', "
          "'.' and '-')",
          "rules/engine.yaml:5:11: avg() needs a window, e.g. avg(x, 5m)",
          "rules/engine.yaml:6:10: invalid duration '5' (expected an integer followed by ms, s, m, "
          "h or d)",
          "rules/engine.yaml:7:5: missing required key 'name'",
          "rules/engine.yaml:7:14: unexpected end of expression",
          "rules/engine.yaml:8:15: unknown severity 'urgent' (expected info, warning, major or "
          "critical)",
          "rules/engine.yaml:9:5: unknown key 'colour'"));
}

}  // namespace
}  // namespace precall::rules
