#include "gateway/http/auth.h"

#include <cctype>
#include <cstddef>

namespace precall::http {
namespace {

// Equal strings, in time that depends on the lengths only.
bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view lower_prefix) {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != lower_prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<Scope> TokenAuth::Authorize(std::string_view authorization) const {
  if (tokens_.empty()) return Scope{};
  // "Bearer <token>"; the scheme is case-insensitive (RFC 7235).
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() || !StartsWithIgnoreCase(authorization, kScheme)) {
    return std::nullopt;
  }
  std::string_view presented = authorization.substr(kScheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  const ApiToken* match = nullptr;
  for (const ApiToken& t : tokens_) {
    if (ConstantTimeEqual(presented, t.token) && match == nullptr) match = &t;
  }
  if (match == nullptr) return std::nullopt;
  if (match->tenant == "*") return Scope{};
  return Scope{match->tenant};
}

}  // namespace precall::http
