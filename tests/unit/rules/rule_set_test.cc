// Tests of RuleSet::Build's own checks (rules/rule_set.h), which span rules
// and files: each diagnostic's exact file:line:col.
#include "rules/rule_set.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rules/rule_file.h"

namespace precall::rules {
namespace {

using ::testing::ElementsAre;

// RuleSet::Build's diagnostics for the rules of `files` (name, YAML), which
// must each parse.
std::vector<std::string> BuildDiagnostics(
    const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<RuleSpec> specs;
  for (const auto& [name, yaml] : files) {
    RuleFile file = ParseRuleFile(yaml, name);
    for (const devices::Diagnostic& d : file.errors) ADD_FAILURE() << d.ToString();
    for (RuleSpec& spec : file.rules) specs.push_back(std::move(spec));
  }
  RuleSet::Built built = RuleSet::Build(std::move(specs));
  std::vector<std::string> out;
  for (const devices::Diagnostic& d : built.errors) out.push_back(d.ToString());
  EXPECT_EQ(built.rules == nullptr, !out.empty());
  return out;
}

// A name defined in two files: the second is pointed at, at its name.
TEST(RuleSetTest, ANameDefinedInTwoFilesPointsAtTheSecondName) {
  EXPECT_THAT(BuildDiagnostics({{"a.yaml", "rules:\n  - name: hot\n    when: t > 1\n"},
                                {"b.yaml", "rules:\n  - when: t > 2\n    name: hot\n"}}),
              ElementsAre("b.yaml:3:11: duplicate rule name 'hot' (first defined at a.yaml:2)"));
}

// A flat chain (every code of an engine family in one 'or') builds however
// long it is, and its evaluation holds two values at a time.
TEST(RuleSetTest, ALongChainBuildsWithAShallowStack) {
  std::string when = "dtc(\"C0\")";
  for (int i = 1; i < 1000; ++i) when += " or dtc(\"C" + std::to_string(i) + "\")";
  RuleFile file = ParseRuleFile("rules:\n  - name: r\n    when: '" + when + "'\n", "r.yaml");
  ASSERT_TRUE(file.errors.empty()) << file.errors[0].ToString();
  RuleSet::Built built = RuleSet::Build(std::move(file.rules));
  ASSERT_NE(built.rules, nullptr);
  EXPECT_EQ(built.rules->rule(0).when.max_depth, 2);
}

// Evaluate's stack is fixed: every expression the parser accepts must fit.
// Nested `v or v and v < v + v * (...)` keeps four values waiting per level
// (the deepest stacks per height); 26 levels once overflowed a 128-slot stack.
TEST(RuleSetTest, EveryAcceptedExpressionFitsTheEvaluationStack) {
  int deepest = 0;
  for (int n = 1; n <= 80; ++n) {
    std::string when;
    for (int i = 0; i < n; ++i) when += "v or v and v < v + v * (";
    when += "v" + std::string(static_cast<std::size_t>(n), ')');
    RuleFile file = ParseRuleFile("rules:\n  - name: r\n    when: " + when + "\n", "r.yaml");
    if (!file.errors.empty()) continue;  // too deep for the parser
    RuleSet::Built built = RuleSet::Build(std::move(file.rules));
    ASSERT_NE(built.rules, nullptr) << n;
    const int depth = built.rules->rule(0).when.max_depth;
    EXPECT_LE(depth, kMaxStackDepth) << n << " levels";
    deepest = std::max(deepest, depth);
  }
  EXPECT_GT(deepest, 200) << "the test should reach deep stacks";
}

}  // namespace
}  // namespace precall::rules
