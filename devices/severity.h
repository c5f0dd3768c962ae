// Case severity, shared by the fault-code catalog and the rules.
// Pure value type; any thread.
#ifndef PRECALL_DEVICES_SEVERITY_H_
#define PRECALL_DEVICES_SEVERITY_H_

#include <optional>
#include <string_view>

namespace precall::devices {

// Ordered from least to most urgent, so that comparisons mean "more severe".
enum class Severity : unsigned char { kInfo, kWarning, kMajor, kCritical };

inline constexpr int kSeverityCount = 4;

// "info", "warning", "major", "critical".
std::string_view SeverityName(Severity severity);

// Inverse of SeverityName; nullopt for anything else.
std::optional<Severity> ParseSeverity(std::string_view name);

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_SEVERITY_H_
