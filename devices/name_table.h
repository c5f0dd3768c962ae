// NameTable: interns metric names to small integers, once per worker, so that
// devices store the metrics no rule names by id instead of each keeping its
// own copies of the strings (memory), and lookups hash a name against one
// table that stays hot in cache instead of one cold table per device (speed).
//
// Thread: owned by one worker, like the devices that point to it. Ids are
// never reused; the table only grows (bounded by the distinct names the
// worker's devices report, at most 1,024 per device).
#ifndef PRECALL_DEVICES_NAME_TABLE_H_
#define PRECALL_DEVICES_NAME_TABLE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "devices/string_map.h"

namespace precall::devices {

class NameTable {
 public:
  // The id of `name`, adding it if new (allocates only then).
  uint32_t Intern(std::string_view name) {
    auto it = ids_.find(name);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(names_.size());
    names_.emplace_back(name);
    ids_.emplace(names_.back(), id);
    return id;
  }
  std::optional<uint32_t> Find(std::string_view name) const {
    auto it = ids_.find(name);
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  const std::string& name(uint32_t id) const { return names_[id]; }
  std::size_t size() const { return names_.size(); }

 private:
  std::deque<std::string> names_;  // stable: ids_ keys are copies, names_ is by id
  StringMap<uint32_t> ids_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_NAME_TABLE_H_
