// The simulator and deploy/examples agree: every rule the truth file expects
// exists in the example rules and selects the model, and every code a
// simulated ECU raises opens a case through the example catalog.
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "devices/catalog.h"
#include "devices/simulator/faults.h"
#include "devices/simulator/fleet.h"
#include "gtest/gtest.h"
#include "rules/rule_file.h"

namespace precall::sim {
namespace {

std::string ReadExample(const std::string& name) {
  const char* data = std::getenv("PRECALL_TEST_DATA");  // tests/data
  std::ifstream in(std::string(data ? data : "tests/data") + "/../../deploy/examples/" + name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(ExamplesTest, EveryExpectedRuleExistsAndSelectsTheModel) {
  rules::RuleFile file = rules::ParseRuleFile(ReadExample("rules.yaml"), "rules.yaml");
  ASSERT_TRUE(file.errors.empty()) << file.errors.front().ToString();
  ASSERT_FALSE(file.rules.empty());
  for (const ModelSpec& model : Models()) {
    for (FaultKind kind : kAllFaultKinds) {
      if (kind == FaultKind::kDtc) continue;  // the catalog's business, below
      if (kind == FaultKind::kHydraulicLeak && !model.hydraulics) continue;
      for (const std::string& name : ExpectedRules(kind, model.name, "")) {
        const rules::RuleSpec* rule = nullptr;
        for (const rules::RuleSpec& r : file.rules) {
          if (r.name == name) rule = &r;
        }
        ASSERT_NE(rule, nullptr) << name << " is not in deploy/examples/rules.yaml";
        for (const auto& [key, value] : rule->select) {
          EXPECT_TRUE(key == "model" && value == model.name)
              << name << " does not select " << model.name;
        }
      }
    }
  }
}

TEST(ExamplesTest, EveryCodeTheEcusRaiseOpensACase) {
  devices::CatalogFile file =
      devices::ParseCatalogFile(ReadExample("devices.yaml"), "devices.yaml");
  ASSERT_TRUE(file.errors.empty()) << file.errors.front().ToString();
  for (const ModelSpec& model : Models()) {
    ASSERT_TRUE(file.catalog.models.contains(std::string(model.name))) << model.name;
    for (std::string_view code : model.dtc_codes) {
      const devices::DtcEntry* entry = file.catalog.Find(model.name, code);
      ASSERT_NE(entry, nullptr) << model.name << " " << code;
      EXPECT_TRUE(entry->open_case) << model.name << " " << code;
    }
    // A flapping sensor's blinking codes must not open a case each.
    for (std::string_view code : {"SPN110.FMI3", "SPN110.FMI4"}) {
      const devices::DtcEntry* entry = file.catalog.Find(model.name, code);
      ASSERT_NE(entry, nullptr);
      EXPECT_FALSE(entry->open_case) << model.name << " " << code;
    }
  }
}

}  // namespace
}  // namespace precall::sim
