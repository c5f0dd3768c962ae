// See yaml_diagnostics.h. Pure: the text is read from memory only.
#include "devices/yaml_diagnostics.h"

#include "yaml-cpp/depthguard.h"

#include <algorithm>
#include <exception>
#include <sstream>

namespace precall::devices {
namespace {

}  // namespace

std::string_view StripUtf8Bom(std::string_view text) {
  if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) text.remove_prefix(kUtf8Bom.size());
  return text;
}

bool IsYamlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsExplicitNull(std::string_view rest) {
  for (std::string_view spelling : {"~", "null", "Null", "NULL"}) {
    if (rest.substr(0, spelling.size()) == spelling &&
        (rest.size() == spelling.size() || IsYamlSpace(rest[spelling.size()]) ||
         rest[spelling.size()] == ',' || rest[spelling.size()] == ']' ||
         rest[spelling.size()] == '#')) {
      return true;
    }
  }
  return false;
}

std::string DescribeByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  if (byte > 0x20 && byte < 0x7F) return std::string{'\'', c, '\''};
  constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out = "byte 0x";
  out.push_back(kHex[byte >> 4]);
  out.push_back(kHex[byte & 15]);
  return out;
}

LineIndex::LineIndex(std::string_view text) {
  line_starts_.push_back(0);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') line_starts_.push_back(i + 1);
  }
}

std::pair<int, int> LineIndex::LineColumn(std::size_t pos) const {
  const auto next = std::upper_bound(line_starts_.begin(), line_starts_.end(), pos);
  const auto line = static_cast<std::size_t>(next - line_starts_.begin());  // >= 1
  return {static_cast<int>(line), static_cast<int>(pos - line_starts_[line - 1]) + 1};
}

void DocumentProbe::OnDocumentStart(const YAML::Mark& mark) {
  documents.push_back({mark, mark, true});
  awaiting_root_ = true;
}

void DocumentProbe::Root(const YAML::Mark& mark, bool null) {
  if (!awaiting_root_ || documents.empty()) return;
  documents.back().root = mark;
  documents.back().null_root = null;
  awaiting_root_ = false;
}

YamlDiagnostics::YamlDiagnostics(std::string_view text, std::string_view file_name)
    : text_(text), lines_(text), file_name_(file_name) {}

void YamlDiagnostics::Catching(std::string_view what, const std::function<void()>& parse) {
  try {
    parse();
  } catch (const YAML::DeepRecursion& e) {  // its own message is "bad file"
    Error(e.mark, "invalid YAML: nested too deeply");
  } catch (const YAML::Exception& e) {
    Error(e.mark, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    ErrorAt(1, 1, "cannot read " + std::string(what) + ": " + e.what());
  }
}

void YamlDiagnostics::ErrorAt(int line, int column, std::string message) {
  errors_.push_back(Diagnostic{file_name_, line, column, std::move(message)});
}

void YamlDiagnostics::Error(const YAML::Mark& mark, std::string message) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) {
    ErrorAt(1, 1, std::move(message));
  } else {
    ErrorAt(mark.line + 1, mark.column + 1, std::move(message));
  }
}

void YamlDiagnostics::ValueError(const YAML::Node& key, const YAML::Node& value,
                                 std::string message) {
  Error(value.IsNull() ? key.Mark() : value.Mark(), std::move(message));
}

void YamlDiagnostics::ItemError(const YAML::Node& item, std::string message) {
  const YAML::Mark mark = item.Mark();
  if (!item.IsNull() || mark.pos <= 0 || static_cast<std::size_t>(mark.pos) > text_.size() ||
      IsExplicitNull(text_.substr(static_cast<std::size_t>(mark.pos)))) {
    Error(mark, std::move(message));
    return;
  }
  std::size_t pos = static_cast<std::size_t>(mark.pos) - 1;
  while (pos > 0 && IsYamlSpace(text_[pos])) --pos;
  const auto [line, column] = lines_.LineColumn(pos);
  ErrorAt(line, column, std::move(message));
}

bool YamlDiagnostics::CheckSingleDocument(std::string_view what) {
  std::istringstream stream{std::string(text_)};
  YAML::Parser parser(stream);
  DocumentProbe probe;
  constexpr int kMaxDocuments = 16;
  for (int d = 0; d < kMaxDocuments && parser.HandleNextDocument(probe); ++d) {
    const std::size_t count = probe.documents.size();
    if (count >= 2 &&
        probe.documents[count - 1].start.pos == probe.documents[count - 2].start.pos) {  // stuck
      const YAML::Mark stuck = probe.documents[count - 1].start;
      const std::size_t pos = static_cast<std::size_t>(std::max(stuck.pos, 0));
      Error(stuck, "invalid YAML: unexpected " +
                       (pos < text_.size() ? DescribeByte(text_[pos]) : "end of file"));
      return false;
    }
    if (count >= 2 && !probe.documents[count - 1].null_root) {
      Error(probe.documents[count - 1].root,
            std::string(what) + " must hold a single YAML document");
    }
  }
  return true;
}

Diagnostics YamlDiagnostics::TakeSorted() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  Diagnostics out = std::move(errors_);
  errors_.clear();
  return out;
}

}  // namespace precall::devices
