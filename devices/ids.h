// Tenant and device identifiers, MQTT topic parsing, and the storage key of a
// device. Pure functions; any thread.
#ifndef PRECALL_DEVICES_IDS_H_
#define PRECALL_DEVICES_IDS_H_

#include <optional>
#include <string>
#include <string_view>

namespace precall::devices {

// [A-Za-z0-9_.-]{1,64}: the rule for both tenant and device ids.
bool IsValidId(std::string_view id);

enum class TopicKind : unsigned char { kTelemetry, kStatus };

struct ParsedTopic {
  std::string_view tenant;  // views into the topic passed to ParseTopic
  std::string_view device;
  TopicKind kind;
};

// fleet/{tenant}/{device}/telemetry or fleet/{tenant}/{device}/status, with
// valid ids; nullopt for anything else (rejected as bad_topic).
std::optional<ParsedTopic> ParseTopic(std::string_view topic);

// The storage key prefix of a device: one length byte, the tenant, one length
// byte, the device. Injective for any byte strings of up to 255 bytes each (so
// a device id containing a separator or odd bytes can never alias another
// device's keys), and order-preserving per tenant, so that one tenant's
// devices are a contiguous key range.
std::string EncodeDeviceKey(std::string_view tenant, std::string_view device);

struct DecodedDeviceKey {
  std::string tenant;
  std::string device;
  std::size_t consumed;  // bytes of the input taken by the key
};
// Inverse of EncodeDeviceKey on a key prefix; nullopt if truncated.
std::optional<DecodedDeviceKey> DecodeDeviceKey(std::string_view key);

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_IDS_H_
