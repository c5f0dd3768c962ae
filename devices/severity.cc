#include "devices/severity.h"

namespace precall::devices {

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kMajor: return "major";
    case Severity::kCritical: return "critical";
  }
  return "warning";
}

std::optional<Severity> ParseSeverity(std::string_view name) {
  if (name == "info") return Severity::kInfo;
  if (name == "warning") return Severity::kWarning;
  if (name == "major") return Severity::kMajor;
  if (name == "critical") return Severity::kCritical;
  return std::nullopt;
}

}  // namespace precall::devices
