// Character-class checks for metric names and fault codes (CONTRACT §1). Hand-written
// loops rather than regexes: they run on the hot path for every metric of every sample.
#include "devices/sample.h"

namespace precall::devices {
namespace {

constexpr std::size_t kMaxMetricNameBytes = 64;

constexpr bool IsAsciiAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

// Per byte: bit 0 = may start a metric name, bit 1 = may continue one. One table
// lookup per character instead of a chain of range tests.
struct NameTable {
  unsigned char bits[256] = {};
  constexpr NameTable() {
    for (int c = 0; c < 256; ++c) {
      const char ch = static_cast<char>(c);
      if (IsAsciiAlpha(ch) || ch == '_') bits[c] = 3;
      if (IsAsciiDigit(ch) || ch == '.') bits[c] = 2;
    }
  }
};
constexpr NameTable kNameTable;

}  // namespace

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || name.size() > kMaxMetricNameBytes) return false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(name.data());
  if ((kNameTable.bits[bytes[0]] & 1) == 0) return false;
  unsigned char all = 2;
  for (std::size_t i = 1; i < name.size(); ++i) all &= kNameTable.bits[bytes[i]];
  return all != 0;
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
