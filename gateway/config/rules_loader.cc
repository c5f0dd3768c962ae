#include "gateway/config/rules_loader.h"

#include <utility>

#include "gateway/config/text_file.h"
#include "rules/rule_file.h"

namespace precall::config {
namespace {

bool ReadFile(const std::string& path, std::string& out, devices::Diagnostics& errors) {
  std::string error;
  if (ReadTextFile(path, out, error)) return true;
  errors.push_back(devices::Diagnostic{path, 1, 1, std::move(error)});
  return false;
}

}  // namespace

LoadedRules LoadRules(const std::vector<std::string>& rule_paths, const std::string& devices_path) {
  LoadedRules loaded;
  std::vector<rules::RuleSpec> specs;
  for (const std::string& path : rule_paths) {
    std::string text;
    if (!ReadFile(path, text, loaded.errors)) continue;
    rules::RuleFile file = rules::ParseRuleFile(text, path);
    loaded.errors.insert(loaded.errors.end(), file.errors.begin(), file.errors.end());
    for (rules::RuleSpec& spec : file.rules) specs.push_back(std::move(spec));
  }
  if (!devices_path.empty()) {
    std::string text;
    if (ReadFile(devices_path, text, loaded.errors)) {
      devices::CatalogFile file = devices::ParseCatalogFile(text, devices_path);
      loaded.errors.insert(loaded.errors.end(), file.errors.begin(), file.errors.end());
      if (file.errors.empty()) {
        loaded.catalog = std::make_shared<const devices::FaultCatalog>(std::move(file.catalog));
      }
    }
  }
  if (!loaded.errors.empty()) return loaded;
  rules::RuleSet::Built built = rules::RuleSet::Build(std::move(specs));
  loaded.errors = std::move(built.errors);
  loaded.rules = std::move(built.rules);
  if (!loaded.errors.empty()) loaded.catalog.reset();
  return loaded;
}

}  // namespace precall::config
