// StringMap<V>: a flat_hash_map keyed by std::string that can be searched
// with a std::string_view without building a string (no allocation on
// lookups). Debian 12's Abseil is built with its own absl::string_view, so
// the map's default heterogeneous lookup does not accept std::string_view;
// these transparent functors do.
#ifndef PRECALL_DEVICES_STRING_MAP_H_
#define PRECALL_DEVICES_STRING_MAP_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace precall::devices {

struct StringViewHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const {
    return absl::Hash<absl::string_view>{}(absl::string_view(s.data(), s.size()));
  }
};

struct StringViewEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const { return a == b; }
};

template <typename V>
using StringMap = absl::flat_hash_map<std::string, V, StringViewHash, StringViewEq>;
using StringSet = absl::flat_hash_set<std::string, StringViewHash, StringViewEq>;

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_STRING_MAP_H_
