#include "devices/simulator/json_read.h"

#include "absl/strings/str_cat.h"
#include "devices/simulator/sv.h"

namespace precall::sim {

void JsonObject::Fail(std::string_view key, std::string_view what) {
  absl::Status& status = parent_status_ ? *parent_status_ : status_;
  if (status.ok())
    status = absl::InvalidArgumentError(absl::StrCat("\"", Sv(key), "\": ", Sv(what)));
}

bool JsonObject::Field(std::string_view key, simdjson::dom::element& out) {
  if (!valid_) return false;  // its parent already reported why
  if (object_.at_key(key).get(out) != simdjson::SUCCESS) {
    Fail(key, "missing");
    return false;
  }
  return true;
}

void JsonObject::Int(std::string_view key, int64_t& out) {
  simdjson::dom::element e;
  if (Field(key, e) && e.get_int64().get(out) != simdjson::SUCCESS) Fail(key, "not an integer");
}

void JsonObject::Double(std::string_view key, double& out) {
  simdjson::dom::element e;
  if (!Field(key, e)) return;
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) {
    out = static_cast<double>(i);
  } else if (e.get_double().get(out) != simdjson::SUCCESS) {
    Fail(key, "not a number");
  }
}

void JsonObject::String(std::string_view key, std::string& out) {
  simdjson::dom::element e;
  std::string_view s;
  if (!Field(key, e)) return;
  if (e.get_string().get(s) != simdjson::SUCCESS) {
    Fail(key, "not a string");
    return;
  }
  out.assign(s);
}

bool JsonObject::Array(std::string_view key, simdjson::dom::array& out) {
  simdjson::dom::element e;
  if (!Field(key, e)) return false;
  if (e.get_array().get(out) != simdjson::SUCCESS) {
    Fail(key, "not an array");
    return false;
  }
  return true;
}

void JsonObject::Strings(std::string_view key, std::vector<std::string>& out) {
  simdjson::dom::array array;
  if (!Array(key, array)) return;
  std::vector<std::string> values;
  for (simdjson::dom::element item : array) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) {
      Fail(key, "not an array of strings");
      return;
    }
    values.emplace_back(s);
  }
  out = std::move(values);
}

void JsonObject::IntOrNull(std::string_view key, int64_t& out) {
  simdjson::dom::element e;
  if (!Field(key, e)) return;
  if (e.is_null()) {
    out = -1;
  } else if (e.get_int64().get(out) != simdjson::SUCCESS) {
    Fail(key, "not an integer or null");
  }
}

JsonObject JsonObject::Object(std::string_view key) {
  absl::Status* status = parent_status_ ? parent_status_ : &status_;
  simdjson::dom::element e;
  simdjson::dom::object object;
  bool valid = Field(key, e);
  if (valid && e.get_object().get(object) != simdjson::SUCCESS) {
    Fail(key, "not an object");
    valid = false;
  }
  return JsonObject(object, status, valid);
}

void JsonObject::Objects(std::string_view key, const std::function<void(JsonObject&)>& each) {
  absl::Status* status = parent_status_ ? parent_status_ : &status_;
  simdjson::dom::array array;
  if (!Array(key, array)) return;
  for (simdjson::dom::element item : array) {
    simdjson::dom::object object;
    if (item.get_object().get(object) != simdjson::SUCCESS) {
      Fail(key, "not an array of objects");
      return;
    }
    JsonObject child(object, status, true);
    each(child);
  }
}

absl::StatusOr<JsonObject> JsonReader::Parse(std::string_view text) {
  simdjson::dom::element root;
  simdjson::dom::object object;
  if (parser_.parse(text.data(), text.size()).get(root) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("not JSON");
  }
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  return JsonObject(object);
}

}  // namespace precall::sim
