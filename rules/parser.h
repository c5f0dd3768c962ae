// Lexer and recursive-descent parser of rule expressions (CONTRACT §2), with
// semantic checks (known functions, argument kinds, windows, durations).
// Pure; any thread; load time only.
#ifndef PRECALL_RULES_PARSER_H_
#define PRECALL_RULES_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "rules/ast.h"

namespace precall::rules {

// The parser refuses trees taller than this (binary operators and unary ones
// each add a level); evaluation sizes its stack from it (program.h).
inline constexpr int kMaxTreeHeight = 256;

struct ExprError {
  int offset;  // byte offset into the expression text where the problem is
  std::string message;
};

struct ParseResult {
  ExprPtr expr;                  // null when errors is not empty
  std::vector<ExprError> errors;  // syntax: the first error; semantics: all of them
};

ParseResult ParseExpression(std::string_view text);

}  // namespace precall::rules

#endif  // PRECALL_RULES_PARSER_H_
