// The fault-code catalog (CONTRACT §2 "Fault-code catalog", the devices YAML):
// per device model, what each diagnostic trouble code means, who should fix
// it and with which parts. Immutable after loading; shared read-only by every
// worker.
#ifndef PRECALL_DEVICES_CATALOG_H_
#define PRECALL_DEVICES_CATALOG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "devices/diagnostic.h"
#include "devices/severity.h"

namespace precall::devices {

struct DtcEntry {
  bool open_case = true;
  Severity severity = Severity::kWarning;
  std::string diagnosis;
  std::string skill;
  std::vector<std::string> parts;
};

struct ModelEntry {
  std::string description;
  absl::flat_hash_map<std::string, DtcEntry> dtc;  // code -> entry
};

class FaultCatalog {
 public:
  // The entry for `code` on a device of `model`: the model's own entry, else
  // default_dtc, else nullptr. Returns entries with open_case false too; the
  // caller decides.
  const DtcEntry* Find(std::string_view model, std::string_view code) const;

  absl::flat_hash_map<std::string, ModelEntry> models;
  std::optional<DtcEntry> default_dtc;
};

struct CatalogFile {
  FaultCatalog catalog;
  Diagnostics errors;
};

// Parses and validates a devices YAML file. `file_name` is used in diagnostics.
CatalogFile ParseCatalogFile(std::string_view yaml_text, std::string_view file_name);

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_CATALOG_H_
