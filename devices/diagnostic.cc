#include "devices/diagnostic.h"

#include "absl/strings/str_cat.h"

namespace precall::devices {

std::string Diagnostic::ToString() const {
  return absl::StrCat(file, ":", line, ":", column, ": ", message);
}

}  // namespace precall::devices
