// The YAML helpers shared by the rules and config readers: quoting, byte
// descriptions, line/column lookup, the document outline and the Diagnostic
// collector (marks, null sequence items, sorting).
#include "devices/yaml_diagnostics.h"

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::devices {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

std::vector<std::string> Strings(const Diagnostics& diagnostics) {
  std::vector<std::string> out;
  for (const Diagnostic& d : diagnostics) out.push_back(d.ToString());
  return out;
}

TEST(YamlDiagnosticsTest, StripUtf8Bom) {
  EXPECT_EQ(StripUtf8Bom("\xEF\xBB\xBFrules: []"), "rules: []");
  EXPECT_EQ(StripUtf8Bom("rules: []"), "rules: []");
  EXPECT_EQ(StripUtf8Bom("\xEF\xBB"), "\xEF\xBB");
  EXPECT_EQ(StripUtf8Bom(""), "");
}

TEST(YamlDiagnosticsTest, IsYamlSpace) {
  for (char c : {' ', '\t', '\n', '\r'}) EXPECT_TRUE(IsYamlSpace(c)) << int{c};
  for (char c : {'a', '-', '\0', '\v'}) EXPECT_FALSE(IsYamlSpace(c)) << int{c};
}

TEST(YamlDiagnosticsTest, QuotedKeepsShortTextWhole) {
  EXPECT_EQ(Quoted(""), "''");
  EXPECT_EQ(Quoted("rpm"), "'rpm'");
  const std::string forty(40, 'x');
  EXPECT_EQ(Quoted(forty), "'" + forty + "'");
}

TEST(YamlDiagnosticsTest, QuotedCutsLongTextOnUtf8Boundary) {
  EXPECT_EQ(Quoted(std::string(41, 'x')), "'" + std::string(40, 'x') + "...'");
  // 'é' (2 bytes) straddles byte 40: cut before it, not in its middle.
  EXPECT_EQ(Quoted(std::string(39, 'a') + "\xC3\xA9" + "tail"),
            "'" + std::string(39, 'a') + "...'");
}

// A diagnostic stays one line, whatever the value it quotes (a block
// scalar where a duration belongs, say).
TEST(YamlDiagnosticsTest, QuotedEscapesControlCharacters) {
  EXPECT_EQ(Quoted("multi\nline\n"), "'multi\\nline\\n'");
  EXPECT_EQ(Quoted("a\tb\rc"), "'a\\tb\\rc'");
  EXPECT_EQ(Quoted(std::string_view("x\0y\x1B\x7F", 5)), "'x\\x00y\\x1B\\x7F'");
  EXPECT_EQ(Quoted("caf\xC3\xA9"), "'caf\xC3\xA9'");  // UTF-8 stays as it is
}

TEST(YamlDiagnosticsTest, IsExplicitNull) {
  for (std::string_view rest : {"~", "null", "Null", "NULL", "~\n", "null ", "null,", "NULL]",
                                "Null#c", "~\r\n"}) {
    EXPECT_TRUE(IsExplicitNull(rest)) << rest;
  }
  for (std::string_view rest : {"", "-", "nul", "nullx", "nULL", "~~", "none", " ~"}) {
    EXPECT_FALSE(IsExplicitNull(rest)) << rest;
  }
}

TEST(YamlDiagnosticsTest, DescribeByte) {
  EXPECT_EQ(DescribeByte(','), "','");
  EXPECT_EQ(DescribeByte('a'), "'a'");
  EXPECT_EQ(DescribeByte('~'), "'~'");
  EXPECT_EQ(DescribeByte(' '), "byte 0x20");
  EXPECT_EQ(DescribeByte('\t'), "byte 0x09");
  EXPECT_EQ(DescribeByte('\x7F'), "byte 0x7F");
  EXPECT_EQ(DescribeByte('\xEF'), "byte 0xEF");
  EXPECT_EQ(DescribeByte('\0'), "byte 0x00");
}

TEST(YamlDiagnosticsTest, LineIndex) {
  const LineIndex lines("ab\ncd\n\nx");
  EXPECT_THAT(lines.LineColumn(0), Pair(1, 1));
  EXPECT_THAT(lines.LineColumn(2), Pair(1, 3));  // the '\n' ends its line
  EXPECT_THAT(lines.LineColumn(3), Pair(2, 1));
  EXPECT_THAT(lines.LineColumn(4), Pair(2, 2));
  EXPECT_THAT(lines.LineColumn(6), Pair(3, 1));
  EXPECT_THAT(lines.LineColumn(7), Pair(4, 1));
  EXPECT_THAT(lines.LineColumn(8), Pair(4, 2));  // one past the end
  EXPECT_THAT(LineIndex("").LineColumn(0), Pair(1, 1));
}

TEST(YamlDiagnosticsTest, DocumentProbeFindsEachDocumentAndItsRoot) {
  std::istringstream stream("a: 1\n---\n~\n---\n- x\n");
  YAML::Parser parser(stream);
  DocumentProbe probe;
  while (parser.HandleNextDocument(probe)) {
  }
  ASSERT_EQ(probe.documents.size(), 3u);
  EXPECT_FALSE(probe.documents[0].null_root);
  EXPECT_EQ(probe.documents[0].root.line, 0);
  EXPECT_TRUE(probe.documents[1].null_root);
  EXPECT_FALSE(probe.documents[2].null_root);
  EXPECT_EQ(probe.documents[2].root.line, 4);
  EXPECT_EQ(probe.documents[2].root.column, 0);
}

TEST(YamlDiagnosticsTest, ErrorAtMarkIsOneBased) {
  YamlDiagnostics errors("", "f.yaml");
  YAML::Mark mark;
  mark.pos = 7;
  mark.line = 1;
  mark.column = 2;
  errors.Error(mark, "at mark");
  errors.Error(YAML::Mark::null_mark(), "null mark");
  errors.ErrorAt(5, 6, "explicit");
  EXPECT_EQ(errors.size(), 3u);
  EXPECT_THAT(Strings(errors.TakeSorted()),
              ElementsAre("f.yaml:1:1: null mark", "f.yaml:2:3: at mark", "f.yaml:5:6: explicit"));
  EXPECT_EQ(errors.size(), 0u);
  EXPECT_THAT(errors.TakeSorted(), IsEmpty());
}

TEST(YamlDiagnosticsTest, TakeSortedIsStable) {
  YamlDiagnostics errors("", "f");
  errors.ErrorAt(2, 1, "b");
  errors.ErrorAt(1, 5, "first");
  errors.ErrorAt(1, 5, "second");
  errors.ErrorAt(1, 2, "a");
  EXPECT_THAT(Strings(errors.TakeSorted()),
              ElementsAre("f:1:2: a", "f:1:5: first", "f:1:5: second", "f:2:1: b"));
}

TEST(YamlDiagnosticsTest, NullItemIsReportedAtItsDash) {
  const std::string text = "parts:\n  -\n  - b\n";
  const YAML::Node root = YAML::Load(text);
  YamlDiagnostics errors(text, "f");
  errors.ItemError(root["parts"][0], "null item");  // its mark is the next '-'
  errors.ItemError(root["parts"][1], "scalar item");
  EXPECT_THAT(Strings(errors.TakeSorted()),
              ElementsAre("f:2:3: null item", "f:3:5: scalar item"));
}

TEST(YamlDiagnosticsTest, WrittenOutNullItemKeepsItsMark) {
  const std::string text = "parts:\n  - ~\n  - null\n";
  const YAML::Node root = YAML::Load(text);
  YamlDiagnostics errors(text, "f");
  errors.ItemError(root["parts"][0], "tilde");
  errors.ItemError(root["parts"][1], "null");
  EXPECT_THAT(Strings(errors.TakeSorted()), ElementsAre("f:2:5: tilde", "f:3:5: null"));
}

TEST(YamlDiagnosticsTest, CheckSingleDocumentAcceptsOneDocument) {
  YamlDiagnostics errors("rules: []\n", "f");
  EXPECT_TRUE(errors.CheckSingleDocument("a rules file"));
  EXPECT_EQ(errors.size(), 0u);
}

TEST(YamlDiagnosticsTest, CheckSingleDocumentAllowsAnEmptySecondDocument) {
  YamlDiagnostics errors("rules: []\n---\n", "f");
  EXPECT_TRUE(errors.CheckSingleDocument("a rules file"));
  EXPECT_EQ(errors.size(), 0u);
}

TEST(YamlDiagnosticsTest, CheckSingleDocumentReportsASecondDocumentAtItsRoot) {
  YamlDiagnostics errors("a: 1\n---\n  b: 2\n", "f");
  EXPECT_TRUE(errors.CheckSingleDocument("a config file"));
  EXPECT_THAT(Strings(errors.TakeSorted()),
              ElementsAre("f:3:3: a config file must hold a single YAML document"));
}

TEST(YamlDiagnosticsTest, CheckSingleDocumentStopsWhereTheParserIsStuck) {
  YamlDiagnostics errors("- a\n, b\n", "f");
  EXPECT_FALSE(errors.CheckSingleDocument("a rules file"));
  EXPECT_THAT(Strings(errors.TakeSorted()), ElementsAre("f:2:1: invalid YAML: unexpected ','"));
}

TEST(YamlDiagnosticsTest, CheckSingleDocumentThrowsOnASyntaxError) {
  YamlDiagnostics errors("a: [1, 2\n", "f");
  EXPECT_THROW(errors.CheckSingleDocument("a rules file"), YAML::Exception);
}

}  // namespace
}  // namespace precall::devices
