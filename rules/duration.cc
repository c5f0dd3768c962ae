#include "rules/duration.h"

#include <cstdint>

namespace precall::rules {

std::optional<int64_t> ParseDuration(std::string_view text) {
  std::size_t digits = 0;
  int64_t value = 0;
  constexpr int64_t kMaxMs = 100LL * 365 * 24 * 3600 * 1000;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + (text[digits] - '0');
    if (value > kMaxMs) return std::nullopt;
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60 * 1000;
  else if (unit == "h") scale = 3600 * 1000;
  else if (unit == "d") scale = 24 * 3600 * 1000;
  else return std::nullopt;
  if (value > kMaxMs / scale) return std::nullopt;
  return value * scale;
}

}  // namespace precall::rules
