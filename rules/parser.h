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
// each add a level: `a or b or ...` with 1,024 operators), which bounds the
// recursion of whoever walks the tree (the compiler's frame is ~4.7 KB under
// ASan: 1,024 levels take ~5 MB of an 8 MB stack).
inline constexpr int kMaxTreeHeight = 1024;
// ... and trees whose evaluation holds more values at once (a chain holds two
// however long it is; `a + (b + (c ...` one per parenthesis); evaluation sizes
// its stack from it (program.h).
inline constexpr int kMaxPendingValues = 256;

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
