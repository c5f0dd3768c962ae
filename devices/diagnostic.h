// A located error message in a user-written file (rules or devices YAML),
// printed as `file:line:col: message` by `precall check`, and how a value is
// quoted in such a message. Pure.
#ifndef PRECALL_DEVICES_DIAGNOSTIC_H_
#define PRECALL_DEVICES_DIAGNOSTIC_H_

#include <string>
#include <string_view>
#include <vector>

namespace precall::devices {

struct Diagnostic {
  std::string file;
  int line = 1;    // 1-based
  int column = 1;  // 1-based, in bytes
  std::string message;

  // "file:line:col: message"
  std::string ToString() const;
};

using Diagnostics = std::vector<Diagnostic>;

// `text` between `quote`s for a message, cut to 40 bytes and "..." (on a
// UTF-8 boundary), control characters escaped (\n, \t, \r, \xNN): a
// diagnostic stays one line whatever the value it quotes.
std::string Quoted(std::string_view text, std::string_view quote = "'");

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_DIAGNOSTIC_H_
