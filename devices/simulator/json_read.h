// Reading the JSON the simulator's scorer consumes (truth lines, case events)
// with simdjson's DOM: a JsonObject reads required fields one after another
// and keeps the first error, so a parser reads like the format it parses and
// checks status() once. An object is valid until its JsonReader parses again.
// One thread per JsonReader.
#ifndef PRECALL_DEVICES_SIMULATOR_JSON_READ_H_
#define PRECALL_DEVICES_SIMULATOR_JSON_READ_H_

#include <simdjson.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace precall::sim {

class JsonObject {
 public:
  explicit JsonObject(simdjson::dom::object object) : object_(object) {}

  // Each reads a required field into `out`; a missing or mistyped field sets
  // status() (the first error wins) and leaves `out` unchanged.
  void Int(std::string_view key, int64_t& out);
  void Double(std::string_view key, double& out);  // integers too
  void String(std::string_view key, std::string& out);
  void Strings(std::string_view key, std::vector<std::string>& out);
  // An integer or null (-1); for the nullable times of a case.
  void IntOrNull(std::string_view key, int64_t& out);
  // A nested object; on error, an empty one.
  JsonObject Object(std::string_view key);
  // Calls `each` for every element of an array of objects.
  void Objects(std::string_view key, const std::function<void(JsonObject&)>& each);

  const absl::Status& status() const { return parent_status_ ? *parent_status_ : status_; }

 private:
  JsonObject(simdjson::dom::object object, absl::Status* status, bool valid)
      : object_(object), parent_status_(status), valid_(valid) {}
  bool Field(std::string_view key, simdjson::dom::element& out);
  bool Array(std::string_view key, simdjson::dom::array& out);
  void Fail(std::string_view key, std::string_view what);

  simdjson::dom::object object_;
  absl::Status status_;
  absl::Status* parent_status_ = nullptr;  // nested objects report to their parent
  bool valid_ = true;                      // false: a nested object that was not there
};

class JsonReader {
 public:
  // Parses one JSON object (e.g. a line).
  absl::StatusOr<JsonObject> Parse(std::string_view text);

 private:
  simdjson::dom::parser parser_;
};

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_JSON_READ_H_
