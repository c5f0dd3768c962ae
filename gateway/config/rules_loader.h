// Loads rule files and the fault-code catalog from disk and compiles them:
// the one place `check`, `replay` and `serve` (start-up and reload) get their
// rules from, so all three accept and reject exactly the same files.
// Any thread; does file I/O.
#ifndef PRECALL_GATEWAY_CONFIG_RULES_LOADER_H_
#define PRECALL_GATEWAY_CONFIG_RULES_LOADER_H_

#include <memory>
#include <string>
#include <vector>

#include "devices/catalog.h"
#include "devices/diagnostic.h"
#include "rules/rule_set.h"

namespace precall::config {

struct LoadedRules {
  std::shared_ptr<const rules::RuleSet> rules;             // null when errors
  std::shared_ptr<const devices::FaultCatalog> catalog;    // null without a devices file
  devices::Diagnostics errors;                             // all of them, file order
};

// `devices_path` empty: no catalog (no `dtc:` cases).
LoadedRules LoadRules(const std::vector<std::string>& rule_paths, const std::string& devices_path);

}  // namespace precall::config

#endif  // PRECALL_GATEWAY_CONFIG_RULES_LOADER_H_
