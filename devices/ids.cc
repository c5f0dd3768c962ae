// Tenant/device ids, topic parsing and device keys (see ids.h). Pure functions, no
// allocation except the returned strings.
#include "devices/ids.h"

#include <cstdint>

namespace precall::devices {
namespace {

constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxEncodedPartBytes = 255;

bool IsIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// Splits off the topic level up to the next '/' (or the end) and advances `rest` past
// it; `more` tells whether a '/' followed, i.e. whether another level comes.
void NextLevel(std::string_view& rest, std::string_view& level, bool& more) {
  std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    level = rest;
    rest = {};
    more = false;
  } else {
    level = rest.substr(0, slash);
    rest.remove_prefix(slash + 1);
    more = true;
  }
}

}  // namespace

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  for (char c : id) {
    if (!IsIdChar(c)) return false;
  }
  return true;
}

std::optional<ParsedTopic> ParseTopic(std::string_view topic) {
  std::string_view parts[4];
  std::string_view rest = topic;
  bool more = true;
  for (int i = 0; i < 4; ++i) {
    if (!more) return std::nullopt;  // fewer than 4 levels
    NextLevel(rest, parts[i], more);
  }
  if (more) return std::nullopt;  // a 5th level, even an empty one ("…/telemetry/")
  if (parts[0] != "fleet" || !IsValidId(parts[1]) || !IsValidId(parts[2])) return std::nullopt;
  TopicKind kind;
  if (parts[3] == "telemetry") {
    kind = TopicKind::kTelemetry;
  } else if (parts[3] == "status") {
    kind = TopicKind::kStatus;
  } else {
    return std::nullopt;
  }
  return ParsedTopic{parts[1], parts[2], kind};
}

std::string EncodeDeviceKey(std::string_view tenant, std::string_view device) {
  // Longer parts cannot be encoded injectively in one length byte. Ids are at most 64
  // bytes, so this only guards against misuse; truncating keeps the function total.
  if (tenant.size() > kMaxEncodedPartBytes) tenant = tenant.substr(0, kMaxEncodedPartBytes);
  if (device.size() > kMaxEncodedPartBytes) device = device.substr(0, kMaxEncodedPartBytes);
  std::string key;
  key.reserve(2 + tenant.size() + device.size());
  key.push_back(static_cast<char>(static_cast<uint8_t>(tenant.size())));
  key.append(tenant);
  key.push_back(static_cast<char>(static_cast<uint8_t>(device.size())));
  key.append(device);
  return key;
}

std::optional<DecodedDeviceKey> DecodeDeviceKey(std::string_view key) {
  if (key.empty()) return std::nullopt;
  std::size_t tenant_size = static_cast<uint8_t>(key[0]);
  if (key.size() < 1 + tenant_size + 1) return std::nullopt;
  std::size_t device_size = static_cast<uint8_t>(key[1 + tenant_size]);
  std::size_t consumed = 2 + tenant_size + device_size;
  if (key.size() < consumed) return std::nullopt;
  return DecodedDeviceKey{std::string(key.substr(1, tenant_size)),
                          std::string(key.substr(2 + tenant_size, device_size)), consumed};
}

}  // namespace precall::devices
