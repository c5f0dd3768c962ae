// Durations of the rule language and rule files: an integer followed by ms, s,
// m, h or d ("30s", "10m", "0s"). Pure; any thread.
#ifndef PRECALL_RULES_DURATION_H_
#define PRECALL_RULES_DURATION_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace precall::rules {

// Milliseconds, or nullopt when `text` is not exactly a duration, or the value
// would exceed 100 years.
std::optional<int64_t> ParseDuration(std::string_view text);

}  // namespace precall::rules

#endif  // PRECALL_RULES_DURATION_H_
