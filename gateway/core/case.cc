#include "gateway/core/case.h"

#include <simdjson.h>

#include "gateway/core/json_writer.h"

namespace precall::core {

std::string_view CaseStatusName(CaseStatus status) {
  switch (status) {
    case CaseStatus::kOpen: return "open";
    case CaseStatus::kAcknowledged: return "acknowledged";
    case CaseStatus::kResolved: return "resolved";
  }
  return "open";
}

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kOpened: return "opened";
    case EventType::kUpdated: return "updated";
    case EventType::kAcknowledged: return "acknowledged";
    case EventType::kResolved: return "resolved";
    case EventType::kReopened: return "reopened";
  }
  return "updated";
}

namespace {

void AppendKey(std::string& out, std::string_view key) {
  json::AppendString(out, key);
  out.push_back(':');
}

void AppendOptionalString(std::string& out, const std::optional<std::string>& v) {
  if (v) {
    json::AppendString(out, *v);
  } else {
    out.append("null");
  }
}

void AppendOptionalInt(std::string& out, const std::optional<int64_t>& v) {
  if (v) {
    json::AppendInt(out, *v);
  } else {
    out.append("null");
  }
}

}  // namespace

void AppendCaseJson(std::string& out, const Case& c) {
  out.push_back('{');
  AppendKey(out, "id"); json::AppendString(out, c.id); out.push_back(',');
  AppendKey(out, "tenant"); json::AppendString(out, c.tenant); out.push_back(',');
  AppendKey(out, "device"); json::AppendString(out, c.device); out.push_back(',');
  AppendKey(out, "model"); AppendOptionalString(out, c.model); out.push_back(',');
  AppendKey(out, "rule"); json::AppendString(out, c.rule); out.push_back(',');
  AppendKey(out, "severity"); json::AppendString(out, devices::SeverityName(c.severity));
  out.push_back(',');
  AppendKey(out, "status"); json::AppendString(out, CaseStatusName(c.status)); out.push_back(',');
  AppendKey(out, "fault_started_at"); json::AppendInt(out, c.fault_started_at); out.push_back(',');
  AppendKey(out, "opened_at"); json::AppendInt(out, c.opened_at); out.push_back(',');
  AppendKey(out, "updated_at"); json::AppendInt(out, c.updated_at); out.push_back(',');
  AppendKey(out, "acknowledged_at"); AppendOptionalInt(out, c.acknowledged_at); out.push_back(',');
  AppendKey(out, "acknowledged_by"); AppendOptionalString(out, c.acknowledged_by);
  out.push_back(',');
  AppendKey(out, "resolved_at"); AppendOptionalInt(out, c.resolved_at); out.push_back(',');
  AppendKey(out, "resolved_by"); AppendOptionalString(out, c.resolved_by); out.push_back(',');
  AppendKey(out, "occurrences"); json::AppendUint(out, c.occurrences); out.push_back(',');
  AppendKey(out, "diagnosis"); json::AppendString(out, c.diagnosis); out.push_back(',');
  AppendKey(out, "skill"); json::AppendString(out, c.skill); out.push_back(',');
  AppendKey(out, "parts");
  out.push_back('[');
  for (std::size_t i = 0; i < c.parts.size(); ++i) {
    if (i) out.push_back(',');
    json::AppendString(out, c.parts[i]);
  }
  out.append("],");
  AppendKey(out, "evidence");
  out.push_back('{');
  for (std::size_t i = 0; i < c.evidence.size(); ++i) {
    if (i) out.push_back(',');
    AppendKey(out, c.evidence[i].first);
    json::AppendDouble(out, c.evidence[i].second);
  }
  out.append("}}");
}

void AppendEventJson(std::string& out, const CaseEvent& event) {
  out.append("{\"seq\":");
  json::AppendUint(out, event.seq);
  out.append(",\"type\":");
  json::AppendString(out, EventTypeName(event.type));
  out.append(",\"at\":");
  json::AppendInt(out, event.at);
  out.append(",\"case\":");
  AppendCaseJson(out, event.snapshot);
  out.push_back('}');
}

namespace {

namespace od = simdjson::ondemand;

std::optional<CaseStatus> ParseStatus(std::string_view s) {
  if (s == "open") return CaseStatus::kOpen;
  if (s == "acknowledged") return CaseStatus::kAcknowledged;
  if (s == "resolved") return CaseStatus::kResolved;
  return std::nullopt;
}

// Reads a string or null into an optional.
bool ReadOptionalString(od::value v, std::optional<std::string>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  std::string_view s;
  if (v.get_string().get(s)) return false;
  out = std::string(s);
  return true;
}

bool ReadOptionalInt(od::value v, std::optional<int64_t>& out) {
  if (v.is_null()) {
    out.reset();
    return true;
  }
  int64_t i;
  if (v.get_int64().get(i)) return false;
  out = i;
  return true;
}

bool ReadString(od::value v, std::string& out) {
  std::string_view s;
  if (v.get_string().get(s)) return false;
  out = std::string(s);
  return true;
}

}  // namespace

absl::StatusOr<Case> ParseCaseJson(std::string_view json) {
  simdjson::padded_string padded(json);
  od::parser parser;
  od::document doc;
  od::object obj;
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(std::string("case JSON: ") + std::string(what));
  };
  if (parser.iterate(padded).get(doc) || doc.get_object().get(obj)) return bad("not an object");
  Case c;
  for (auto field : obj) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) return bad("syntax");
    bool ok = true;
    if (key == "id") ok = ReadString(v, c.id);
    else if (key == "tenant") ok = ReadString(v, c.tenant);
    else if (key == "device") ok = ReadString(v, c.device);
    else if (key == "model") ok = ReadOptionalString(v, c.model);
    else if (key == "rule") ok = ReadString(v, c.rule);
    else if (key == "severity") {
      std::string s;
      ok = ReadString(v, s);
      auto severity = devices::ParseSeverity(s);
      ok = ok && severity.has_value();
      if (ok) c.severity = *severity;
    } else if (key == "status") {
      std::string s;
      ok = ReadString(v, s);
      auto status = ParseStatus(s);
      ok = ok && status.has_value();
      if (ok) c.status = *status;
    } else if (key == "fault_started_at") ok = !v.get_int64().get(c.fault_started_at);
    else if (key == "opened_at") ok = !v.get_int64().get(c.opened_at);
    else if (key == "updated_at") ok = !v.get_int64().get(c.updated_at);
    else if (key == "acknowledged_at") ok = ReadOptionalInt(v, c.acknowledged_at);
    else if (key == "acknowledged_by") ok = ReadOptionalString(v, c.acknowledged_by);
    else if (key == "resolved_at") ok = ReadOptionalInt(v, c.resolved_at);
    else if (key == "resolved_by") ok = ReadOptionalString(v, c.resolved_by);
    else if (key == "occurrences") {
      uint64_t n = 0;
      ok = !v.get_uint64().get(n);
      c.occurrences = static_cast<uint32_t>(n);
    } else if (key == "diagnosis") ok = ReadString(v, c.diagnosis);
    else if (key == "skill") ok = ReadString(v, c.skill);
    else if (key == "parts") {
      od::array parts;
      ok = !v.get_array().get(parts);
      for (auto part : parts) {
        std::string_view s;
        if (!ok || part.get_string().get(s)) {
          ok = false;
          break;
        }
        c.parts.emplace_back(s);
      }
    } else if (key == "evidence") {
      od::object evidence;
      ok = !v.get_object().get(evidence);
      for (auto item : evidence) {
        std::string_view name;
        double value = 0;
        if (!ok || item.unescaped_key().get(name) || item.value().get_double().get(value)) {
          ok = false;
          break;
        }
        c.evidence.emplace_back(std::string(name), value);
      }
    }
    if (!ok) return bad(key);
  }
  if (c.id.empty()) return bad("no id");
  return c;
}

}  // namespace precall::core
