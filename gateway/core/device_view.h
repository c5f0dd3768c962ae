// DeviceView: a copy of what the gateway knows about one device, for the
// service-center API (CONTRACT §4 GET /v1/devices/{tenant}/{device}). Made by
// the worker that owns the device, between two messages, and handed to the
// asking thread; the live DeviceState itself never leaves its worker.
#ifndef PRECALL_GATEWAY_CORE_DEVICE_VIEW_H_
#define PRECALL_GATEWAY_CORE_DEVICE_VIEW_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace precall::core {

struct DeviceView {
  std::string tenant;
  std::string device;
  std::optional<std::string> model;                          // null: never reported
  std::vector<std::pair<std::string, std::string>> labels;   // sorted by key
  std::optional<int64_t> last_seen;  // ms; receive time of the last accepted sample
  std::vector<std::pair<std::string, double>> metrics;       // latest values, sorted by name
  std::vector<std::string> dtc;                              // active codes, sorted
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_DEVICE_VIEW_H_
