// Lexer of rule expressions: see lexer.h.
#include "rules/lexer.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <system_error>

#include "devices/diagnostic.h"
#include "rules/duration.h"

namespace precall::rules {
namespace {

using devices::Quoted;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsNameStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c) || c == '.'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsDurationUnit(std::string_view unit) {
  return unit == "ms" || unit == "s" || unit == "m" || unit == "h" || unit == "d";
}

TokenKind KeywordOrIdent(std::string_view word) {
  if (word == "and") return TokenKind::kAnd;
  if (word == "or") return TokenKind::kOr;
  if (word == "not") return TokenKind::kNot;
  if (word == "true") return TokenKind::kTrue;
  if (word == "false") return TokenKind::kFalse;
  return TokenKind::kIdent;
}

// Why byte `c` cannot start a token, with a hint for what the author meant.
std::string UnexpectedCharacter(char c) {
  switch (c) {
    case '=': return "unexpected '=' (use '==' to compare)";
    case '!': return "unexpected '!' (use 'not' or '!=')";
    case '&': return "unexpected '&' (use 'and')";
    case '|': return "unexpected '|' (use 'or')";
    case '\'': return "unexpected \"'\" (strings use double quotes)";
    default: break;
  }
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7F) {
    return Concat("unexpected character '", std::string_view(&c, 1), "'");
  }
  constexpr std::string_view kHex = "0123456789ABCDEF";
  return Concat("unexpected byte 0x", kHex.substr(byte >> 4, 1), kHex.substr(byte & 15, 1));
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> Run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
      Token token = Next();
      const bool last = token.kind == TokenKind::kEnd || token.kind == TokenKind::kError;
      tokens.push_back(std::move(token));
      if (last) return tokens;
    }
  }

 private:
  char At(std::size_t i) const { return i < text_.size() ? text_[i] : '\0'; }

  Token Make(TokenKind kind, std::size_t start) const {
    Token token;
    token.kind = kind;
    token.offset = static_cast<int>(start);
    token.text = text_.substr(start, pos_ - start);
    return token;
  }

  Token Operator(TokenKind kind, std::size_t length) {
    const std::size_t start = pos_;
    pos_ += length;
    return Make(kind, start);
  }

  Token Next() {
    const std::size_t start = pos_;
    if (pos_ >= text_.size()) return Make(TokenKind::kEnd, start);
    const char c = text_[pos_];
    const char next = At(pos_ + 1);
    if (IsDigit(c) || (c == '.' && IsDigit(next))) return NumberOrDuration();
    if (IsNameStart(c)) return Name();
    if (c == '"') return String();
    switch (c) {
      case '(': return Operator(TokenKind::kLParen, 1);
      case ')': return Operator(TokenKind::kRParen, 1);
      case ',': return Operator(TokenKind::kComma, 1);
      case '+': return Operator(TokenKind::kPlus, 1);
      case '-': return Operator(TokenKind::kMinus, 1);
      case '*': return Operator(TokenKind::kStar, 1);
      case '/': return Operator(TokenKind::kSlash, 1);
      case '<': return next == '=' ? Operator(TokenKind::kLe, 2) : Operator(TokenKind::kLt, 1);
      case '>': return next == '=' ? Operator(TokenKind::kGe, 2) : Operator(TokenKind::kGt, 1);
      case '=':
        if (next == '=') return Operator(TokenKind::kEq, 2);
        break;
      case '!':
        if (next == '=') return Operator(TokenKind::kNe, 2);
        break;
      default: break;
    }
    Token error = Operator(TokenKind::kError, 1);
    error.problem = UnexpectedCharacter(c);
    return error;
  }

  // digits ['.' digits] [('e'|'E') ['+'|'-'] digits], or '.' digits ...; a
  // number glued to a name-like suffix is a duration ("5m") or a malformed one.
  Token NumberOrDuration() {
    const std::size_t start = pos_;
    while (IsDigit(At(pos_))) ++pos_;
    bool integer = true;
    if (At(pos_) == '.' && IsDigit(At(pos_ + 1))) {
      integer = false;
      ++pos_;
      while (IsDigit(At(pos_))) ++pos_;
    }
    const char e = At(pos_);
    if ((e == 'e' || e == 'E') &&
        (IsDigit(At(pos_ + 1)) ||
         ((At(pos_ + 1) == '+' || At(pos_ + 1) == '-') && IsDigit(At(pos_ + 2))))) {
      integer = false;
      pos_ += 2;
      while (IsDigit(At(pos_))) ++pos_;
    }
    const std::size_t number_end = pos_;
    while (IsNameChar(At(pos_))) ++pos_;
    const bool has_suffix = pos_ > number_end;
    if (const std::string_view suffix = text_.substr(number_end, pos_ - number_end);
        suffix == "and" || suffix == "or" || suffix == "not") {
      Token token = Make(TokenKind::kError, start);
      token.problem =
          Concat("a space is missing between ", Quoted(text_.substr(start, number_end - start)),
                 " and ", Quoted(suffix));
      return token;
    }
    if (has_suffix && IsNameStart(text_[number_end])) {
      Token token = Make(TokenKind::kDuration, start);
      if (integer) {
        token.problem = DurationProblem(token.text);
        if (token.problem.empty()) token.duration_ms = *ParseDuration(token.text);
      } else {
        token.problem = Concat("invalid duration ", Quoted(token.text),
                               " (expected an integer followed by ms, s, m, h or d)");
      }
      return token;
    }
    Token token = Make(TokenKind::kNumber, start);
    if (has_suffix) {
      token.problem = Concat("malformed number ", Quoted(token.text));
      return token;
    }
    double value = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + number_end;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last || !std::isfinite(value)) {
      token.problem = Concat("number ", Quoted(token.text), " is out of range");
    } else {
      token.number = value;
    }
    return token;
  }

  Token Name() {
    const std::size_t start = pos_;
    while (IsNameChar(At(pos_))) ++pos_;
    Token token = Make(TokenKind::kIdent, start);
    token.kind = KeywordOrIdent(token.text);
    if (token.text.size() > static_cast<std::size_t>(kMaxNameLength)) {
      token.problem =
          Concat("name ", Quoted(token.text), " is longer than ", kMaxNameLength, " characters");
    }
    return token;
  }

  Token String() {
    const std::size_t start = pos_;
    std::size_t end = start + 1;
    while (end < text_.size() && text_[end] != '"' && text_[end] != '\n') ++end;
    if (end >= text_.size() || text_[end] != '"') {
      pos_ = start + 1;
      Token error = Make(TokenKind::kError, start);
      error.problem = "unterminated string";
      return error;
    }
    pos_ = end + 1;
    Token token = Make(TokenKind::kString, start);
    token.value = text_.substr(start + 1, end - start - 1);
    return token;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<Token> Lex(std::string_view text) { return Lexer(text).Run(); }

std::string DescribeToken(const Token& token) {
  if (token.kind == TokenKind::kEnd) return "end of expression";
  if (token.kind == TokenKind::kString) return Quoted(token.value, "\"");
  return Quoted(token.text);
}

std::string DurationProblem(std::string_view text) {
  if (ParseDuration(text).has_value()) return "";
  std::size_t digits = 0;
  while (digits < text.size() && IsDigit(text[digits])) ++digits;
  if (digits > 0 && IsDurationUnit(text.substr(digits))) {
    return Concat("duration ", Quoted(text), " is too long (at most 100 years)");
  }
  return Concat("invalid duration ", Quoted(text),
                " (expected an integer followed by ms, s, m, h or d)");
}

}  // namespace precall::rules
