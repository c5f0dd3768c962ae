// Lexer of rule expressions (CONTRACT §2 "Expressions"). Internal to
// precall::rules: the parser is its only client. Pure; any thread; load time only.
//
// The lexer never fails as a whole: a character that cannot start a token ends
// the token list with one kError token (a syntax error, so nothing after it
// matters). A token that is well formed but unusable (a number out of range, a
// malformed duration, a name longer than 64 characters) is still returned with
// its kind and `problem` set, so that the parser can report it as a semantic
// error and keep going.
#ifndef PRECALL_RULES_LEXER_H_
#define PRECALL_RULES_LEXER_H_

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace precall::rules {

// Longest metric or function name, in bytes.
inline constexpr int kMaxNameLength = 64;

enum class TokenKind : unsigned char {
  kEnd,    // after the last token; offset = text size
  kError,  // a character that cannot start a token; `problem` says why
  kNumber,
  kDuration,  // an integer glued to letters: "5m", "500ms" (or a malformed "5x")
  kString,    // "..." (no escapes)
  kIdent,     // metric or function name
  kAnd,
  kOr,
  kNot,
  kTrue,
  kFalse,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kLParen,
  kRParen,
  kComma,
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  int offset = 0;           // byte offset of the first character
  std::string_view text;    // the token as written (strings: with their quotes)
  double number = 0;        // kNumber, when problem is empty
  int64_t duration_ms = 0;  // kDuration, when problem is empty
  std::string_view value;   // kString: the characters between the quotes
  std::string problem;      // kError: the syntax error; others: a semantic error
};

// Concatenates strings and integers into a message. (Debian's Abseil is built
// with its own string_view, so absl::StrCat does not take std::string_view.)
inline std::string MessagePiece(std::integral auto number) { return std::to_string(number); }
inline std::string_view MessagePiece(std::string_view text) { return text; }
template <typename... Parts>
std::string Concat(const Parts&... parts) {
  std::string out;
  (out.append(MessagePiece(parts)), ...);
  return out;
}

// Tokens of `text`, ending with exactly one kEnd or kError token.
// Precondition: text.size() fits an int (the parser caps expression length).
std::vector<Token> Lex(std::string_view text);

// How a token is named in messages ("expected X but found Y"): 'and', "SPN1",
// end of expression. Long tokens are cut to 40 bytes and "...".
std::string DescribeToken(const Token& token);

// Empty when `text` is a valid duration (CONTRACT §2); else why it is not, e.g.
// "invalid duration '5x' (expected an integer followed by ms, s, m, h or d)".
// Shared with rule files (for:, clear_for:, reopen_within:).
std::string DurationProblem(std::string_view text);

}  // namespace precall::rules

#endif  // PRECALL_RULES_LEXER_H_
