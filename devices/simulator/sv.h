// Debian 12's Abseil is built with its own absl::string_view, which does not
// convert from std::string_view: Sv() bridges the two for absl::StrCat and
// friends. Pure; any thread.
#ifndef PRECALL_DEVICES_SIMULATOR_SV_H_
#define PRECALL_DEVICES_SIMULATOR_SV_H_

#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace precall::sim {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// The lines of `text`, blank ones included ('\n' separated; a final
// newline does not start another line). absl::StrSplit would hand back
// absl::string_views.
inline std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_SV_H_
