// Character-class checks for metric names and fault codes (CONTRACT §1). Hand-written
// loops rather than regexes: they run on the hot path for every metric of every sample.
#include "devices/sample.h"

namespace precall::devices {
namespace {

constexpr std::size_t kMaxMetricNameBytes = 64;

bool IsAsciiAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetricNameBytes) return false;
  if (!IsAsciiAlpha(name[0]) && name[0] != '_') return false;
  for (char c : name.substr(1)) {
    if (!IsAsciiAlpha(c) && !IsAsciiDigit(c) && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsValidDtcCode(std::string_view code) {
  if (code.empty() || code.size() > kMaxDtcCodeBytes) return false;
  for (char c : code) {
    switch (c) {
      case '_':
      case '.':
      case ':':
      case '/':
      case '+':
      case '-':
        continue;
      default:
        if (!IsAsciiAlpha(c) && !IsAsciiDigit(c)) return false;
    }
  }
  return true;
}

}  // namespace precall::devices
