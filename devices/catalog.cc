// The fault-code catalog (see catalog.h): the devices YAML, validated whole. Every
// problem becomes one Diagnostic at the offending node (the key of an unknown or
// repeated key, the value of a bad value), in file order; a file with errors yields an
// empty catalog, so that nobody runs with half of it. yaml-cpp throws: every exception
// is caught here, a syntax error becomes one Diagnostic at the parser's mark.
#include "devices/catalog.h"

#include <yaml-cpp/yaml.h>

#include <exception>
#include <utility>

#include "devices/sample.h"
#include "devices/yaml_diagnostics.h"

namespace precall::devices {
namespace {

constexpr std::size_t kMaxModelNameBytes = 64;

// Where to report a bad value. yaml-cpp places an empty value ("skill:" and nothing
// after it) at the next token, often on a later line; point at its key instead.
YAML::Mark ValueMark(const YAML::Node& key, const YAML::Node& value) {
  const YAML::Mark mark = value.Mark();
  if (value.IsNull() && (mark.line != key.Mark().line || mark.line < 0)) return key.Mark();
  return mark;
}

class CatalogParser {
 public:
  explicit CatalogParser(std::string_view file_name) : file_(file_name) {}

  void ParseRoot(const YAML::Node& root, FaultCatalog& catalog);
  void Error(const YAML::Mark& mark, std::string message);
  Diagnostics TakeErrors() { return std::move(errors_); }

 private:
  // Key of a mapping entry as text; reports non-scalar keys.
  bool Key(const YAML::Node& key, std::string& out);
  void ParseModels(const YAML::Node& node, FaultCatalog& catalog);
  void ParseModel(const YAML::Node& node, ModelEntry& model);
  void ParseDtcMap(const YAML::Node& node, ModelEntry& model);
  void ParseDtcEntry(const YAML::Node& node, std::string_view what, DtcEntry& entry);
  bool String(const YAML::Node& key, const YAML::Node& value, std::string_view field,
              std::string& out);

  std::string file_;
  Diagnostics errors_;
};

void CatalogParser::Error(const YAML::Mark& mark, std::string message) {
  // yaml-cpp marks are 0-based (and -1 when unknown); diagnostics are 1-based.
  Diagnostic diagnostic;
  diagnostic.file = file_;
  diagnostic.line = mark.line >= 0 ? mark.line + 1 : 1;
  diagnostic.column = mark.column >= 0 ? mark.column + 1 : 1;
  diagnostic.message = std::move(message);
  errors_.push_back(std::move(diagnostic));
}

bool CatalogParser::Key(const YAML::Node& key, std::string& out) {
  if (!key.IsScalar()) {
    Error(key.Mark(), "expected a string key");
    return false;
  }
  out = key.Scalar();
  return true;
}

bool CatalogParser::String(const YAML::Node& key, const YAML::Node& value, std::string_view field,
                           std::string& out) {
  if (!value.IsScalar()) {
    Error(ValueMark(key, value), std::string(field) + " must be a string");
    return false;
  }
  out = value.Scalar();
  return true;
}

void CatalogParser::ParseRoot(const YAML::Node& root, FaultCatalog& catalog) {
  if (root.IsNull()) return;  // an empty file: an empty catalog
  if (!root.IsMap()) {
    Error(root.Mark(), "devices file must be a mapping (keys: models, default_dtc)");
    return;
  }
  bool seen_models = false;
  bool seen_default = false;
  for (const auto& entry : root) {
    std::string key;
    if (!Key(entry.first, key)) continue;
    if (key == "models") {
      if (seen_models) {
        Error(entry.first.Mark(), "duplicate key 'models'");
        continue;
      }
      seen_models = true;
      if (entry.second.IsNull()) continue;  // "models:" with every model commented out
      if (!entry.second.IsMap()) {
        Error(entry.second.Mark(), "models must be a mapping of model name to model entry");
        continue;
      }
      ParseModels(entry.second, catalog);
    } else if (key == "default_dtc") {
      if (seen_default) {
        Error(entry.first.Mark(), "duplicate key 'default_dtc'");
        continue;
      }
      seen_default = true;
      DtcEntry dtc;
      if (!entry.second.IsMap()) {
        Error(ValueMark(entry.first, entry.second), "default_dtc must be a mapping");
        continue;
      }
      ParseDtcEntry(entry.second, "default_dtc", dtc);
      catalog.default_dtc = std::move(dtc);
    } else {
      Error(entry.first.Mark(), "unknown key " + Quoted(key) + " in devices file");
    }
  }
}

void CatalogParser::ParseModels(const YAML::Node& node, FaultCatalog& catalog) {
  for (const auto& entry : node) {
    std::string name;
    if (!Key(entry.first, name)) continue;
    // As with fault codes: a bad or repeated name is reported and its entry
    // still checked, into a scratch entry.
    ModelEntry scratch;
    ModelEntry* target = &scratch;
    if (name.empty() || name.size() > kMaxModelNameBytes) {
      Error(entry.first.Mark(), "invalid model name " + Quoted(name) + " (expected 1 to 64 bytes)");
    } else if (catalog.models.contains(name)) {
      Error(entry.first.Mark(), "duplicate model " + Quoted(name));
    } else {
      target = &catalog.models[name];
    }
    if (!entry.second.IsMap()) {
      Error(ValueMark(entry.first, entry.second),
            "model entry must be a mapping (keys: description, dtc)");
      continue;
    }
    ParseModel(entry.second, *target);
  }
}

void CatalogParser::ParseModel(const YAML::Node& node, ModelEntry& model) {
  bool seen_description = false;
  bool seen_dtc = false;
  for (const auto& entry : node) {
    std::string key;
    if (!Key(entry.first, key)) continue;
    bool* seen = key == "description" ? &seen_description : key == "dtc" ? &seen_dtc : nullptr;
    if (seen == nullptr) {
      Error(entry.first.Mark(), "unknown key " + Quoted(key) + " in model entry");
      continue;
    }
    if (*seen) {
      Error(entry.first.Mark(), "duplicate key " + Quoted(key));
      continue;
    }
    *seen = true;
    if (key == "description") {
      String(entry.first, entry.second, "description", model.description);
    } else if (entry.second.IsNull()) {
      continue;  // "dtc:" with every code commented out
    } else if (!entry.second.IsMap()) {
      Error(entry.second.Mark(), "dtc must be a mapping of fault code to dtc entry");
    } else {
      ParseDtcMap(entry.second, model);
    }
  }
}

void CatalogParser::ParseDtcMap(const YAML::Node& node, ModelEntry& model) {
  for (const auto& entry : node) {
    std::string code;
    if (!Key(entry.first, code)) continue;
    // A bad or repeated code is reported and its entry still checked (into a
    // scratch entry), so that one run shows all of a file's errors.
    DtcEntry scratch;
    DtcEntry* target = &scratch;
    if (!IsValidDtcCode(code)) {
      Error(entry.first.Mark(),
            "invalid fault code " + Quoted(code) + " (expected [A-Za-z0-9_.:/+-]{1,64})");
    } else if (model.dtc.contains(code)) {
      Error(entry.first.Mark(), "duplicate fault code " + Quoted(code));
    } else {
      target = &model.dtc[code];
    }
    if (!entry.second.IsMap()) {
      Error(ValueMark(entry.first, entry.second), "dtc entry must be a mapping");
      continue;
    }
    ParseDtcEntry(entry.second, "dtc entry", *target);
  }
}

void CatalogParser::ParseDtcEntry(const YAML::Node& node, std::string_view what, DtcEntry& entry) {
  constexpr unsigned kOpenCase = 1, kSeverity = 2, kDiagnosis = 4, kSkill = 8, kParts = 16;
  unsigned seen = 0;
  for (const auto& field : node) {
    std::string key;
    if (!Key(field.first, key)) continue;
    unsigned bit = key == "open_case"   ? kOpenCase
                   : key == "severity"  ? kSeverity
                   : key == "diagnosis" ? kDiagnosis
                   : key == "skill"     ? kSkill
                   : key == "parts"     ? kParts
                                        : 0u;
    if (bit == 0) {
      Error(field.first.Mark(), "unknown key " + Quoted(key) + " in " + std::string(what));
      continue;
    }
    if ((seen & bit) != 0) {
      Error(field.first.Mark(), "duplicate key " + Quoted(key));
      continue;
    }
    seen |= bit;
    const YAML::Node& value = field.second;
    const YAML::Mark value_mark = ValueMark(field.first, value);
    switch (bit) {
      case kOpenCase: {
        // YAML 1.2 core-schema booleans only: a quoted "true" is a string, and "yes"/"on"
        // are the YAML 1.1 surprises this file format does not need.
        const std::string& text = value.IsScalar() ? value.Scalar() : std::string();
        const bool plain = value.IsScalar() && value.Tag() != "!";
        if (plain && (text == "true" || text == "True" || text == "TRUE")) {
          entry.open_case = true;
        } else if (plain && (text == "false" || text == "False" || text == "FALSE")) {
          entry.open_case = false;
        } else {
          Error(value_mark, "open_case must be a boolean (true or false)");
        }
        break;
      }
      case kSeverity: {
        std::string name;
        if (!String(field.first, value, "severity", name)) break;
        if (std::optional<Severity> severity = ParseSeverity(name)) {
          entry.severity = *severity;
        } else {
          Error(value_mark, "unknown severity " + Quoted(name) +
                                " (expected info, warning, major or critical)");
        }
        break;
      }
      case kDiagnosis:
        String(field.first, value, "diagnosis", entry.diagnosis);
        break;
      case kSkill:
        String(field.first, value, "skill", entry.skill);
        break;
      case kParts: {
        if (!value.IsSequence()) {
          Error(value_mark, "parts must be a list of strings");
          break;
        }
        for (const auto& part : value) {
          if (!part.IsScalar()) {
            Error(part.Mark(), "parts must be a list of strings");
            continue;
          }
          entry.parts.push_back(part.Scalar());
        }
        break;
      }
    }
  }
}

}  // namespace

const DtcEntry* FaultCatalog::Find(std::string_view model, std::string_view code) const {
  // Debian's Abseil has its own absl::string_view; heterogeneous lookup needs one.
  auto model_it = models.find(absl::string_view(model.data(), model.size()));
  if (model_it != models.end()) {
    auto code_it = model_it->second.dtc.find(absl::string_view(code.data(), code.size()));
    if (code_it != model_it->second.dtc.end()) return &code_it->second;
  }
  return default_dtc.has_value() ? &*default_dtc : nullptr;
}

CatalogFile ParseCatalogFile(std::string_view yaml_text, std::string_view file_name) {
  CatalogFile result;
  // A second document would be ignored by YAML::Load: refuse it, as rules
  // files do. Syntax errors are left to the parse below, which reports them.
  YamlDiagnostics documents(yaml_text, file_name);
  bool single_checked = false;
  try {
    single_checked = documents.CheckSingleDocument("a devices file");
  } catch (const std::exception&) {
  }
  if (single_checked && documents.size() > 0) {
    result.errors = documents.TakeSorted();
    return result;
  }
  CatalogParser parser(file_name);
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    parser.ParseRoot(root, result.catalog);
  } catch (const YAML::Exception& e) {
    parser.Error(e.mark, e.msg);
  } catch (const std::exception& e) {
    parser.Error(YAML::Mark::null_mark(), std::string("cannot read devices file: ") + e.what());
  }
  result.errors = parser.TakeErrors();
  if (!result.errors.empty()) result.catalog = FaultCatalog();
  return result;
}

}  // namespace precall::devices
