// A located error message in a user-written file (rules or devices YAML),
// printed as `file:line:col: message` by `precall check`. Pure value type.
#ifndef PRECALL_DEVICES_DIAGNOSTIC_H_
#define PRECALL_DEVICES_DIAGNOSTIC_H_

#include <string>
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

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_DIAGNOSTIC_H_
