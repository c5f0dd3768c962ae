#include "gateway/core/case.h"

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

}  // namespace precall::core
