#include "devices/simulator/truth.h"

#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "devices/simulator/json_read.h"
#include "devices/simulator/sv.h"

namespace precall::sim {
namespace {

void AppendDouble(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

absl::StatusOr<RunInfo> ParseRun(JsonObject& o) {
  RunInfo run;
  std::string clock;
  int64_t seed = 0;
  int64_t machines = 0;
  o.Int("seed", seed);
  o.String("tenant", run.tenant);
  o.Int("machines", machines);
  o.Int("interval_ms", run.interval_ms);
  o.Double("speed", run.speed);
  o.Int("start_ts", run.start_ts);
  o.Int("start_wall", run.start_wall);
  o.Int("max_ahead_ms", run.max_ahead_ms);
  o.Int("silent_after_ms", run.silent_after_ms);
  o.String("gateway_clock", clock);
  if (!o.status().ok()) return o.status();
  run.seed = static_cast<uint64_t>(seed);
  run.machines = static_cast<int>(machines);
  if (clock != "wall" && clock != "data") {
    return absl::InvalidArgumentError("gateway_clock must be \"wall\" or \"data\"");
  }
  run.data_clock = clock == "data";
  if (!(run.speed > 0)) return absl::InvalidArgumentError("speed must be positive");
  return run;
}

absl::StatusOr<Episode> ParseEpisode(JsonObject& o) {
  Episode e;
  std::string kind;
  std::string clock;
  o.String("device", e.device);
  o.String("model", e.model);
  o.String("kind", kind);
  o.String("clock", clock);
  o.Int("onset", e.onset);
  o.Int("onset_wall", e.onset_wall);
  o.Int("bound_ms", e.bound_ms);
  o.Int("due_wall", e.due_wall);
  o.Strings("expect", e.expect);
  if (kind == FaultKindName(FaultKind::kDtc)) {
    o.String("code", e.code);
    o.Int("until", e.until);
  }
  if (!o.status().ok()) return o.status();
  std::optional<FaultKind> parsed = ParseFaultKind(kind);
  if (!parsed) return absl::InvalidArgumentError(absl::StrCat("unknown fault kind '", kind, "'"));
  e.kind = *parsed;
  if (clock == FaultClockName(FaultClock::kEvent)) {
    e.clock = FaultClock::kEvent;
  } else if (clock == FaultClockName(FaultClock::kGateway)) {
    e.clock = FaultClock::kGateway;
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown clock '", clock, "'"));
  }
  if (e.expect.empty()) return absl::InvalidArgumentError("expect is empty");
  return e;
}

absl::StatusOr<RunEnd> ParseEnd(JsonObject& o) {
  RunEnd end;
  int64_t samples = 0;
  o.Int("end_ts", end.end_ts);
  o.Int("end_wall", end.end_wall);
  o.Int("samples", samples);
  if (!o.status().ok()) return o.status();
  end.samples = static_cast<uint64_t>(samples);
  return end;
}

}  // namespace

SimClock RunInfo::Clock() const {
  if (data_clock) return SimClock(start_ts, start_ts, 1.0, max_ahead_ms);
  return SimClock(start_wall, start_ts, speed, max_ahead_ms);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<unsigned char>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

std::string RunLine(const RunInfo& run) {
  std::string out = absl::StrCat("{\"type\":\"run\",\"seed\":", run.seed, ",\"tenant\":");
  AppendJsonString(out, run.tenant);
  absl::StrAppend(&out, ",\"machines\":", run.machines, ",\"interval_ms\":", run.interval_ms,
                  ",\"speed\":");
  AppendDouble(out, run.speed);
  absl::StrAppend(&out, ",\"start_ts\":", run.start_ts, ",\"start_wall\":", run.start_wall,
                  ",\"max_ahead_ms\":", run.max_ahead_ms,
                  ",\"silent_after_ms\":", run.silent_after_ms, ",\"gateway_clock\":\"",
                  run.data_clock ? "data" : "wall", "\"}");
  return out;
}

std::string EpisodeLine(const Episode& e) {
  std::string out = "{\"type\":\"fault\",\"device\":";
  AppendJsonString(out, e.device);
  out.append(",\"model\":");
  AppendJsonString(out, e.model);
  absl::StrAppend(&out, ",\"kind\":\"", Sv(FaultKindName(e.kind)), "\",\"clock\":\"",
                  Sv(FaultClockName(e.clock)), "\",\"onset\":", e.onset,
                  ",\"onset_wall\":", e.onset_wall, ",\"bound_ms\":", e.bound_ms,
                  ",\"due_wall\":", e.due_wall, ",\"expect\":[");
  for (std::size_t i = 0; i < e.expect.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, e.expect[i]);
  }
  out.push_back(']');
  if (e.kind == FaultKind::kDtc) {
    out.append(",\"code\":");
    AppendJsonString(out, e.code);
    absl::StrAppend(&out, ",\"until\":", e.until);
  }
  out.push_back('}');
  return out;
}

std::string EndLine(const RunEnd& end) {
  return absl::StrCat("{\"type\":\"end\",\"end_ts\":", end.end_ts, ",\"end_wall\":", end.end_wall,
                      ",\"samples\":", end.samples, "}");
}

absl::StatusOr<Truth> ParseTruth(std::string_view text) {
  Truth truth;
  bool have_run = false;
  int line_no = 0;
  JsonReader reader;
  for (std::string_view line : Lines(text)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto fail = [&](const absl::Status& s) {
      return absl::InvalidArgumentError(absl::StrCat("truth line ", line_no, ": ", s.message()));
    };
    absl::StatusOr<JsonObject> object = reader.Parse(line);
    if (!object.ok()) return fail(object.status());
    std::string type;
    object->String("type", type);
    if (!object->status().ok()) return fail(object->status());
    if (!have_run && type != "run")
      return fail(absl::InvalidArgumentError("the first line must be the run"));
    if (truth.end) return fail(absl::InvalidArgumentError("a line after the end"));
    if (type == "run") {
      if (have_run) return fail(absl::InvalidArgumentError("a second run line"));
      absl::StatusOr<RunInfo> run = ParseRun(*object);
      if (!run.ok()) return fail(run.status());
      truth.run = *std::move(run);
      have_run = true;
    } else if (type == "fault") {
      absl::StatusOr<Episode> e = ParseEpisode(*object);
      if (!e.ok()) return fail(e.status());
      truth.episodes.push_back(*std::move(e));
    } else if (type == "end") {
      absl::StatusOr<RunEnd> end = ParseEnd(*object);
      if (!end.ok()) return fail(end.status());
      truth.end = *end;
    } else {
      return fail(absl::InvalidArgumentError(absl::StrCat("unknown type '", type, "'")));
    }
  }
  if (!have_run) return absl::InvalidArgumentError("truth file is empty");
  return truth;
}

absl::StatusOr<TruthWriter> TruthWriter::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot create"));
  return TruthWriter(f);
}

TruthWriter::~TruthWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void TruthWriter::Write(std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fputc('\n', file_);
  std::fflush(file_);
}

}  // namespace precall::sim
