#include "devices/diagnostic.h"

#include "absl/strings/str_cat.h"

namespace precall::devices {
namespace {

constexpr std::size_t kMaxQuotedBytes = 40;

}  // namespace

std::string Diagnostic::ToString() const {
  return absl::StrCat(file, ":", line, ":", column, ": ", message);
}

std::string Quoted(std::string_view text, std::string_view quote) {
  std::size_t cut = text.size();
  if (cut > kMaxQuotedBytes) {
    cut = kMaxQuotedBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  }
  std::string out(quote);
  for (char c : text.substr(0, cut)) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out.append("\\n");
    } else if (c == '\t') {
      out.append("\\t");
    } else if (c == '\r') {
      out.append("\\r");
    } else if (byte < 0x20 || byte == 0x7F) {
      constexpr std::string_view kHex = "0123456789ABCDEF";
      out.append("\\x");
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    } else {
      out.push_back(c);
    }
  }
  if (cut < text.size()) out.append("...");
  out.append(quote);
  return out;
}

}  // namespace precall::devices
