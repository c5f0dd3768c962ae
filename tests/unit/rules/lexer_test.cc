// Tests of the rule-expression lexer (rules/lexer.h): token kinds, offsets,
// number and duration literals, and the problems it attaches to tokens.
#include "rules/lexer.h"

#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::rules {
namespace {

using ::testing::ElementsAre;
using TK = TokenKind;

std::vector<TokenKind> Kinds(std::string_view text) {
  std::vector<TokenKind> kinds;
  for (const Token& token : Lex(text)) kinds.push_back(token.kind);
  return kinds;
}

// The only token of `text` before kEnd.
Token Single(std::string_view text) {
  std::vector<Token> tokens = Lex(text);
  EXPECT_EQ(tokens.size(), 2u) << text;
  EXPECT_EQ(tokens.back().kind, TokenKind::kEnd) << text;
  return tokens.front();
}

TEST(LexerTest, EmptyAndBlankTextIsJustEnd) {
  std::vector<Token> tokens = Lex("");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].kind, TK::kEnd);
  EXPECT_EQ(tokens[0].offset, 0);

  tokens = Lex(" \t\r\n ");
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].kind, TK::kEnd);
  EXPECT_EQ(tokens[0].offset, 5);
}

TEST(LexerTest, KindsTextsAndOffsetsOfAWholeExpression) {
  const std::string_view text = R"(avg(x.y_z, 5m) >= -1.5e3 and not dtc("A*") or true != false)";
  std::vector<Token> tokens = Lex(text);
  std::vector<std::string_view> texts;
  std::vector<int> offsets;
  for (const Token& token : tokens) {
    texts.push_back(token.text);
    offsets.push_back(token.offset);
    EXPECT_EQ(token.problem, "") << token.text;
  }
  EXPECT_THAT(
      Kinds(text),
      ElementsAre(TK::kIdent, TK::kLParen, TK::kIdent, TK::kComma, TK::kDuration, TK::kRParen,
                  TK::kGe, TK::kMinus, TK::kNumber, TK::kAnd, TK::kNot, TK::kIdent, TK::kLParen,
                  TK::kString, TK::kRParen, TK::kOr, TK::kTrue, TK::kNe, TK::kFalse, TK::kEnd));
  EXPECT_THAT(texts,
              ElementsAre("avg", "(", "x.y_z", ",", "5m", ")", ">=", "-", "1.5e3", "and", "not",
                          "dtc", "(", "\"A*\"", ")", "or", "true", "!=", "false", ""));
  EXPECT_THAT(offsets, ElementsAre(0, 3, 4, 9, 11, 13, 15, 18, 19, 25, 29, 33, 36, 37, 41, 43, 46,
                                   51, 54, 59));
}

TEST(LexerTest, Operators) {
  EXPECT_THAT(
      Kinds("< <= > >= == != + - * / ( ) ,"),
      ElementsAre(TK::kLt, TK::kLe, TK::kGt, TK::kGe, TK::kEq, TK::kNe, TK::kPlus, TK::kMinus,
                  TK::kStar, TK::kSlash, TK::kLParen, TK::kRParen, TK::kComma, TK::kEnd));
  // Longest match, no whitespace needed.
  EXPECT_THAT(Kinds("a<=-b"), ElementsAre(TK::kIdent, TK::kLe, TK::kMinus, TK::kIdent, TK::kEnd));
  EXPECT_THAT(Kinds("a<-b"), ElementsAre(TK::kIdent, TK::kLt, TK::kMinus, TK::kIdent, TK::kEnd));
}

TEST(LexerTest, Numbers) {
  struct Case {
    std::string_view text;
    double value;
  };
  for (const Case& c : std::vector<Case>{{"0", 0},
                                         {"1", 1},
                                         {"007", 7},
                                         {"1.5", 1.5},
                                         {".5", 0.5},
                                         {"1e3", 1000},
                                         {"1E3", 1000},
                                         {"1e+3", 1000},
                                         {"2.5e-2", 0.025},
                                         {".5e1", 5},
                                         {"105", 105},
                                         {"1e308", 1e308}}) {
    const Token token = Single(c.text);
    EXPECT_EQ(token.kind, TK::kNumber) << c.text;
    EXPECT_EQ(token.problem, "") << c.text;
    EXPECT_DOUBLE_EQ(token.number, c.value) << c.text;
  }
}

TEST(LexerTest, MalformedAndOutOfRangeNumbersKeepTheirKindWithAProblem) {
  Token token = Single("1.");
  EXPECT_EQ(token.kind, TK::kNumber);
  EXPECT_EQ(token.problem, "malformed number '1.'");
  EXPECT_EQ(Single("1.2.3").problem, "malformed number '1.2.3'");
  EXPECT_EQ(Single("1.e3").problem, "malformed number '1.e3'");
  EXPECT_EQ(Single("1e999").problem, "number '1e999' is out of range");
  EXPECT_EQ(Single("1e-400").problem, "number '1e-400' is out of range");
  // A lone dot is not a number.
  EXPECT_EQ(Lex(".")[0].kind, TK::kError);
}

TEST(LexerTest, Durations) {
  struct Case {
    std::string_view text;
    int64_t ms;
  };
  for (const Case& c : std::vector<Case>{{"500ms", 500},
                                         {"30s", 30000},
                                         {"1m", 60000},
                                         {"2h", 7200000},
                                         {"1d", 86400000},
                                         {"0s", 0}}) {
    const Token token = Single(c.text);
    EXPECT_EQ(token.kind, TK::kDuration) << c.text;
    EXPECT_EQ(token.problem, "") << c.text;
    EXPECT_EQ(token.duration_ms, c.ms) << c.text;
  }
}

TEST(LexerTest, MalformedDurationsAreDurationsWithAProblem) {
  constexpr std::string_view kExpected = " (expected an integer followed by ms, s, m, h or d)";
  for (std::string_view text : {"5x", "1.5s", "1e3s", "1m30s", "5sec", "1e", "1_000", "5S"}) {
    const Token token = Single(text);
    EXPECT_EQ(token.kind, TK::kDuration) << text;
    EXPECT_EQ(token.problem, Concat("invalid duration '", text, "'", kExpected));
  }
  EXPECT_EQ(Single("36501d").problem, "duration '36501d' is too long (at most 100 years)");
}

TEST(LexerTest, NamesAndKeywords) {
  EXPECT_THAT(Kinds("and or not true false"),
              ElementsAre(TK::kAnd, TK::kOr, TK::kNot, TK::kTrue, TK::kFalse, TK::kEnd));
  // Keywords are case-sensitive, and only whole words.
  EXPECT_THAT(Kinds("AND True android nothing _x a.b.c x9"),
              ElementsAre(TK::kIdent, TK::kIdent, TK::kIdent, TK::kIdent, TK::kIdent, TK::kIdent,
                          TK::kIdent, TK::kEnd));
  EXPECT_EQ(Single("engine.coolant_temp_c").text, "engine.coolant_temp_c");

  const std::string longest(kMaxNameLength, 'a');
  EXPECT_EQ(Single(longest).problem, "");
  const std::string too_long = "b" + longest;
  const Token token = Single(too_long);
  EXPECT_EQ(token.kind, TK::kIdent);
  EXPECT_EQ(token.text, too_long);
  EXPECT_EQ(token.problem,
            "name 'baaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is longer than 64 characters");
}

TEST(LexerTest, Strings) {
  const Token token = Single(R"("SPN110.FMI0")");
  EXPECT_EQ(token.kind, TK::kString);
  EXPECT_EQ(token.value, "SPN110.FMI0");
  EXPECT_EQ(token.text, R"("SPN110.FMI0")");
  EXPECT_EQ(Single(R"("")").value, "");
  EXPECT_EQ(Single(R"("a\")").value, "a\\");  // no escapes
}

TEST(LexerTest, UnterminatedStringIsAnErrorAtItsQuote) {
  std::vector<Token> tokens = Lex(R"(dtc("abc)");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[2].kind, TK::kError);
  EXPECT_EQ(tokens[2].offset, 4);
  EXPECT_EQ(tokens[2].problem, "unterminated string");

  tokens = Lex("\"ab\ncd\"");  // a string does not span lines
  EXPECT_EQ(tokens[0].kind, TK::kError);
  EXPECT_EQ(tokens[0].problem, "unterminated string");
}

TEST(LexerTest, BadCharactersEndTheTokensWithAHint) {
  struct Case {
    std::string_view text;
    int offset;
    std::string_view problem;
  };
  for (const Case& c : std::vector<Case>{
           {"x = 1", 2, "unexpected '=' (use '==' to compare)"},
           {"!x", 0, "unexpected '!' (use 'not' or '!=')"},
           {"a && b", 2, "unexpected '&' (use 'and')"},
           {"a || b", 2, "unexpected '|' (use 'or')"},
           {"dtc('A')", 4, "unexpected \"'\" (strings use double quotes)"},
           {"x # comment", 2, "unexpected character '#'"},
           {"x > \xC3\xA9", 4, "unexpected byte 0xC3"},
           {"x\x01", 1, "unexpected byte 0x01"},
       }) {
    std::vector<Token> tokens = Lex(c.text);
    EXPECT_EQ(tokens.back().kind, TK::kError) << c.text;
    EXPECT_EQ(tokens.back().offset, c.offset) << c.text;
    EXPECT_EQ(tokens.back().problem, c.problem) << c.text;
    EXPECT_EQ(tokens.back().text.size(), 1u) << c.text;
  }
}

TEST(LexerTest, DescribeToken) {
  std::vector<Token> tokens = Lex(R"(and "SPN1" 5m)");
  EXPECT_EQ(DescribeToken(tokens[0]), "'and'");
  EXPECT_EQ(DescribeToken(tokens[1]), "\"SPN1\"");
  EXPECT_EQ(DescribeToken(tokens[2]), "'5m'");
  EXPECT_EQ(DescribeToken(tokens[3]), "end of expression");
  // Long tokens are cut at 40 bytes, never inside a UTF-8 character.
  const std::string text = "\"" + std::string(39, 'a') + "\xC3\xA9" + "b\"";
  EXPECT_EQ(DescribeToken(Lex(text)[0]), "\"" + std::string(39, 'a') + "...\"");
}

TEST(LexerTest, DurationProblem) {
  EXPECT_EQ(DurationProblem("30s"), "");
  EXPECT_EQ(DurationProblem("0s"), "");
  EXPECT_EQ(DurationProblem("30"),
            "invalid duration '30' (expected an integer followed by ms, s, m, h or d)");
  EXPECT_EQ(DurationProblem(""),
            "invalid duration '' (expected an integer followed by ms, s, m, h or d)");
  EXPECT_EQ(DurationProblem("99999999999999h"),
            "duration '99999999999999h' is too long (at most 100 years)");
}

TEST(LexerTest, ConcatBuildsMessages) {
  const std::string name = "x";
  EXPECT_EQ(Concat("a", std::string_view("b"), name, 42, std::size_t{7}, -1), "abx427-1");
}

}  // namespace
}  // namespace precall::rules
