#include "gateway/core/replay.h"

#include <cstring>
#include <vector>

#include <simdjson.h>

#include "devices/reject_reason.h"

namespace precall::core {
namespace {

constexpr std::size_t kChunk = 1 << 20;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

struct Line {
  std::string_view topic;
  std::string_view payload;
};

// Parses one input line; returns an error message, or nullptr on success.
// `line` must be followed by at least simdjson::SIMDJSON_PADDING readable bytes.
const char* ParseLine(simdjson::ondemand::parser& parser, std::string_view line, Line& out) {
  using namespace simdjson;
  ondemand::document doc;
  if (parser.iterate(padded_string_view(line.data(), line.size(), line.size() + simdjson::SIMDJSON_PADDING))
          .get(doc)) {
    return "not JSON";
  }
  ondemand::object obj;
  if (doc.get_object().get(obj)) return "not a JSON object";
  bool have_topic = false;
  bool have_payload = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return "not JSON";
    ondemand::value value;
    if (field.value().get(value)) return "not JSON";
    if (key == "topic") {
      if (value.get_string().get(out.topic)) return "\"topic\" is not a string";
      have_topic = true;
    } else if (key == "payload") {
      ondemand::json_type type;
      if (value.type().get(type)) return "not JSON";
      if (type == ondemand::json_type::object) {
        ondemand::object o;
        if (value.get_object().get(o) || o.raw_json().get(out.payload)) return "not JSON";
      } else if (type == ondemand::json_type::array) {
        ondemand::array a;
        if (value.get_array().get(a) || a.raw_json().get(out.payload)) return "not JSON";
      } else if (type == ondemand::json_type::string) {
        if (value.get_string().get(out.payload)) return "not JSON";
      } else {
        return "\"payload\" is not an object, array or string";
      }
      have_payload = true;
    }
  }
  // A location left after the object means trailing content.
  const char* rest = nullptr;
  if (!doc.current_location().get(rest)) return "trailing content after the JSON object";
  if (!have_topic) return "no \"topic\"";
  if (!have_payload) return "no \"payload\"";
  return nullptr;
}

}  // namespace

void JsonLinesSink::OnCaseEvent(const CaseEvent& event) {
  AppendEventJson(buffer_, event);
  buffer_.push_back('\n');
  if (buffer_.size() >= (1 << 16)) Flush();
}

void JsonLinesSink::Flush() {
  if (!buffer_.empty()) {
    std::fwrite(buffer_.data(), 1, buffer_.size(), out_);
    buffer_.clear();
  }
  std::fflush(out_);
}

ReplayStats Replay(std::FILE* input, std::string_view input_name, Worker& worker, Clock& clock,
                   std::FILE* diagnostics) {
  ReplayStats stats;
  simdjson::ondemand::parser parser;
  std::vector<char> buffer(kChunk + simdjson::SIMDJSON_PADDING);
  std::size_t filled = 0;  // bytes of buffer holding input
  std::size_t start = 0;   // start of the first unprocessed line
  uint64_t line_number = 0;
  bool eof = false;

  auto process = [&](std::string_view line) {
    // Editors on Windows start a UTF-8 file with a byte-order mark.
    if (++line_number == 1 && line.starts_with(kUtf8Bom)) line.remove_prefix(kUtf8Bom.size());
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    ++stats.lines;
    Line parsed;
    if (const char* error = ParseLine(parser, line, parsed)) {
      ++stats.malformed;
      std::fprintf(diagnostics, "%.*s:%llu: skipped: %s\n", static_cast<int>(input_name.size()),
                   input_name.data(), static_cast<unsigned long long>(line_number), error);
      return;
    }
    ++stats.messages;
    Worker::Outcome outcome = worker.HandleMessage(parsed.topic, parsed.payload, clock.NowMs());
    if (outcome.rejected > 0) {
      stats.rejected += static_cast<uint64_t>(outcome.rejected);
      std::string_view reason = devices::RejectReasonName(outcome.first_reject);
      std::fprintf(diagnostics, "%.*s:%llu: rejected: %.*s\n", static_cast<int>(input_name.size()),
                   input_name.data(), static_cast<unsigned long long>(line_number),
                   static_cast<int>(reason.size()), reason.data());
    }
  };

  while (true) {
    // Split complete lines out of the buffer.
    while (true) {
      const char* begin = buffer.data() + start;
      const char* nl = static_cast<const char*>(std::memchr(begin, '\n', filled - start));
      if (nl == nullptr) break;
      process(std::string_view(begin, static_cast<std::size_t>(nl - begin)));
      start = static_cast<std::size_t>(nl - buffer.data()) + 1;
    }
    if (eof) {
      if (start < filled) {
        std::memset(buffer.data() + filled, 0, simdjson::SIMDJSON_PADDING);
        process(std::string_view(buffer.data() + start, filled - start));
      }
      break;
    }
    // Keep the partial line, refill behind it (growing for very long lines).
    std::memmove(buffer.data(), buffer.data() + start, filled - start);
    filled -= start;
    start = 0;
    if (buffer.size() - simdjson::SIMDJSON_PADDING - filled < kChunk / 2) {
      buffer.resize((buffer.size() - simdjson::SIMDJSON_PADDING) * 2 + simdjson::SIMDJSON_PADDING);
    }
    std::size_t room = buffer.size() - simdjson::SIMDJSON_PADDING - filled;
    std::size_t got = std::fread(buffer.data() + filled, 1, room, input);
    filled += got;
    // Whatever follows the data is padding for the line parser.
    std::memset(buffer.data() + filled, 0, simdjson::SIMDJSON_PADDING);
    if (got == 0) eof = true;
  }
  return stats;
}

}  // namespace precall::core
