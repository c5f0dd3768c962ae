// Fault-code catalog: the devices YAML of CONTRACT §2, its lookups, and every
// validation error with its exact file:line:col.
#include "devices/catalog.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::devices {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// The diagnostics of `yaml` as "file:line:col: message" lines.
std::vector<std::string> Errors(const std::string& yaml) {
  CatalogFile file = ParseCatalogFile(yaml, "devices.yaml");
  std::vector<std::string> out;
  for (const Diagnostic& d : file.errors) out.push_back(d.ToString());
  return out;
}

constexpr char kExample[] = R"(models:
  EX200:
    description: "20 t hydraulic excavator"
    dtc:
      "SPN110.FMI0": {severity: critical, diagnosis: "Engine coolant temperature above normal",
                      skill: engine-cooling, parts: [thermostat-EX200], open_case: true}
      P0217:
        severity: major
        open_case: false
  WL50:
    dtc: {}
default_dtc: {open_case: true, severity: warning, diagnosis: "Unlisted fault code"}
)";

TEST(CatalogTest, ParsesTheContractExample) {
  CatalogFile file = ParseCatalogFile(kExample, "devices.yaml");
  ASSERT_THAT(file.errors, IsEmpty());
  const FaultCatalog& catalog = file.catalog;
  ASSERT_EQ(catalog.models.size(), 2u);
  const ModelEntry& ex200 = catalog.models.at("EX200");
  EXPECT_EQ(ex200.description, "20 t hydraulic excavator");
  ASSERT_EQ(ex200.dtc.size(), 2u);
  const DtcEntry& coolant = ex200.dtc.at("SPN110.FMI0");
  EXPECT_TRUE(coolant.open_case);
  EXPECT_EQ(coolant.severity, Severity::kCritical);
  EXPECT_EQ(coolant.diagnosis, "Engine coolant temperature above normal");
  EXPECT_EQ(coolant.skill, "engine-cooling");
  EXPECT_THAT(coolant.parts, ElementsAre("thermostat-EX200"));
  const DtcEntry& p0217 = ex200.dtc.at("P0217");
  EXPECT_FALSE(p0217.open_case);
  EXPECT_EQ(p0217.severity, Severity::kMajor);
  EXPECT_EQ(p0217.diagnosis, "");
  EXPECT_THAT(p0217.parts, IsEmpty());
  EXPECT_TRUE(catalog.models.at("WL50").dtc.empty());
  ASSERT_TRUE(catalog.default_dtc.has_value());
  EXPECT_TRUE(catalog.default_dtc->open_case);
  EXPECT_EQ(catalog.default_dtc->severity, Severity::kWarning);
  EXPECT_EQ(catalog.default_dtc->diagnosis, "Unlisted fault code");
}

TEST(CatalogTest, DtcEntryDefaults) {
  CatalogFile file = ParseCatalogFile("models: {M: {dtc: {P1: {}}}}", "d.yaml");
  ASSERT_THAT(file.errors, IsEmpty());
  const DtcEntry& entry = file.catalog.models.at("M").dtc.at("P1");
  EXPECT_TRUE(entry.open_case);
  EXPECT_EQ(entry.severity, Severity::kWarning);
  EXPECT_TRUE(entry.diagnosis.empty());
  EXPECT_TRUE(entry.skill.empty());
  EXPECT_TRUE(entry.parts.empty());
}

TEST(CatalogTest, EverySeverity) {
  CatalogFile file = ParseCatalogFile(
      "models:\n  M:\n    dtc:\n      A: {severity: info}\n      B: {severity: warning}\n"
      "      C: {severity: major}\n      D: {severity: critical}\n",
      "d.yaml");
  ASSERT_THAT(file.errors, IsEmpty());
  const auto& dtc = file.catalog.models.at("M").dtc;
  EXPECT_EQ(dtc.at("A").severity, Severity::kInfo);
  EXPECT_EQ(dtc.at("B").severity, Severity::kWarning);
  EXPECT_EQ(dtc.at("C").severity, Severity::kMajor);
  EXPECT_EQ(dtc.at("D").severity, Severity::kCritical);
}

TEST(CatalogTest, FindPrefersTheModelsEntryThenTheDefault) {
  CatalogFile file = ParseCatalogFile(kExample, "devices.yaml");
  ASSERT_THAT(file.errors, IsEmpty());
  const FaultCatalog& catalog = file.catalog;
  const DtcEntry* own = catalog.Find("EX200", "SPN110.FMI0");
  ASSERT_NE(own, nullptr);
  EXPECT_EQ(own->severity, Severity::kCritical);
  // Returned even with open_case false: the caller decides.
  const DtcEntry* closed = catalog.Find("EX200", "P0217");
  ASSERT_NE(closed, nullptr);
  EXPECT_FALSE(closed->open_case);
  // Unlisted code, other model, unknown model, empty model: default_dtc.
  EXPECT_EQ(catalog.Find("EX200", "P9999"), &*catalog.default_dtc);
  EXPECT_EQ(catalog.Find("WL50", "SPN110.FMI0"), &*catalog.default_dtc);
  EXPECT_EQ(catalog.Find("UNKNOWN", "SPN110.FMI0"), &*catalog.default_dtc);
  EXPECT_EQ(catalog.Find("", "SPN110.FMI0"), &*catalog.default_dtc);
  // Lookups are exact.
  EXPECT_EQ(catalog.Find("ex200", "SPN110.FMI0"), &*catalog.default_dtc);
  EXPECT_EQ(catalog.Find("EX200", "spn110.fmi0"), &*catalog.default_dtc);
}

TEST(CatalogTest, FindWithoutDefaultIsNull) {
  CatalogFile file = ParseCatalogFile("models: {M: {dtc: {P1: {severity: info}}}}", "d.yaml");
  ASSERT_THAT(file.errors, IsEmpty());
  EXPECT_NE(file.catalog.Find("M", "P1"), nullptr);
  EXPECT_EQ(file.catalog.Find("M", "P2"), nullptr);
  EXPECT_EQ(file.catalog.Find("N", "P1"), nullptr);
  EXPECT_EQ(FaultCatalog().Find("M", "P1"), nullptr);
}

TEST(CatalogTest, EmptyFilesAreAnEmptyCatalog) {
  for (const char* yaml : {"", "\n", "   \n\n", "# only a comment\n", "---\n", "~\n"}) {
    CatalogFile file = ParseCatalogFile(yaml, "d.yaml");
    EXPECT_THAT(file.errors, IsEmpty()) << yaml;
    EXPECT_TRUE(file.catalog.models.empty());
    EXPECT_FALSE(file.catalog.default_dtc.has_value());
  }
}

TEST(CatalogTest, EmptySectionsAreAllowed) {
  CatalogFile file = ParseCatalogFile("models:\n  M:\n    dtc:\n", "d.yaml");
  EXPECT_THAT(file.errors, IsEmpty());
  EXPECT_EQ(file.catalog.models.size(), 1u);
  EXPECT_THAT(Errors("models:\n"), IsEmpty());
  EXPECT_THAT(Errors("models: {}\ndefault_dtc: {}\n"), IsEmpty());
}

TEST(CatalogTest, SyntaxErrorIsOneDiagnosticAtTheParsersMark) {
  EXPECT_THAT(Errors("models:\n  EX200: [a, b\n"),
              ElementsAre("devices.yaml:3:1: end of sequence flow not found"));
  EXPECT_THAT(Errors("models: {EX200: x: y}\n"),
              ElementsAre("devices.yaml:1:18: end of map flow not found"));
  EXPECT_THAT(Errors("models:\n  a: 1\n   b: 2\n"),
              ElementsAre("devices.yaml:3:5: illegal map value"));
}

// YAML::Load would read the first document and ignore the rest.
TEST(CatalogTest, ASecondDocumentIsAnError) {
  EXPECT_THAT(Errors("---\nmodels: {}\n---\nfoo: 1\n"),
              ElementsAre("devices.yaml:4:1: a devices file must hold a single YAML document"));
  EXPECT_THAT(Errors("models: {}\n---\n"), IsEmpty());  // an empty second document is fine
}

TEST(CatalogTest, AllErrorsInFileOrderWithExactPositions) {
  const std::string yaml =
      "models:\n"
      "  EX200:\n"
      "    description: \"20 t\"\n"
      "    dtc:\n"
      "      \"SPN110.FMI0\": {severity: urgent, diagnosis: \"x\", foo: 1, parts: thermostat, "
      "open_case: yes}\n"
      "      \"bad code\": {}\n"
      "    bogus: 1\n"
      "  \"\": {}\n"
      "default_dtc: {open_case: true, severity: warning, diagnosis: \"Unlisted\"}\n"
      "extra: 1\n";
  EXPECT_THAT(
      Errors(yaml),
      ElementsAre(
          "devices.yaml:5:33: unknown severity 'urgent' (expected info, warning, major or "
          "critical)",
          "devices.yaml:5:57: unknown key 'foo' in dtc entry",
          "devices.yaml:5:72: parts must be a list of strings",
          "devices.yaml:5:95: open_case must be a boolean (true or false)",
          "devices.yaml:6:7: invalid fault code 'bad code' (expected [A-Za-z0-9_.:/+-]{1,64})",
          "devices.yaml:7:5: unknown key 'bogus' in model entry",
          "devices.yaml:8:3: invalid model name '' (expected 1 to 64 bytes)",
          "devices.yaml:10:1: unknown key 'extra' in devices file"));
  // A file with errors gives no catalog at all.
  CatalogFile file = ParseCatalogFile(yaml, "devices.yaml");
  EXPECT_TRUE(file.catalog.models.empty());
  EXPECT_FALSE(file.catalog.default_dtc.has_value());
}

TEST(CatalogTest, DiagnosticFields) {
  CatalogFile file = ParseCatalogFile("default_dtc:\n  severity: urgent\n", "dev/d.yaml");
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.errors[0].file, "dev/d.yaml");
  EXPECT_EQ(file.errors[0].line, 2);
  EXPECT_EQ(file.errors[0].column, 13);
  EXPECT_EQ(file.errors[0].message,
            "unknown severity 'urgent' (expected info, warning, major or critical)");
}

TEST(CatalogTest, WrongTypesPointAtTheValue) {
  EXPECT_THAT(Errors("default_dtc:\n"
                     "  skill: [a]\n"
                     "  parts: [a, {b: c}, [d]]\n"
                     "  open_case: \"true\"\n"
                     "  diagnosis: {text: x}\n"
                     "  severity: [critical]\n"),
              ElementsAre("devices.yaml:2:10: skill must be a string",
                          "devices.yaml:3:14: parts must be a list of strings",
                          "devices.yaml:3:22: parts must be a list of strings",
                          "devices.yaml:4:14: open_case must be a boolean (true or false)",
                          "devices.yaml:5:14: diagnosis must be a string",
                          "devices.yaml:6:13: severity must be a string"));
  EXPECT_THAT(Errors("models:\n  M:\n    description: [x]\n"),
              ElementsAre("devices.yaml:3:18: description must be a string"));
  EXPECT_THAT(Errors("models:\n  M:\n    dtc: [P1]\n"),
              ElementsAre("devices.yaml:3:10: dtc must be a mapping of fault code to dtc entry"));
  EXPECT_THAT(Errors("models:\n  M:\n    dtc:\n      P1: critical\n"),
              ElementsAre("devices.yaml:4:11: dtc entry must be a mapping"));
  EXPECT_THAT(Errors("models:\n  M: EX\n"),
              ElementsAre("devices.yaml:2:6: model entry must be a mapping (keys: description, "
                          "dtc)"));
  EXPECT_THAT(Errors("models: [EX200]\n"),
              ElementsAre("devices.yaml:1:9: models must be a mapping of model name to model "
                          "entry"));
  EXPECT_THAT(Errors("default_dtc: warning\n"),
              ElementsAre("devices.yaml:1:14: default_dtc must be a mapping"));
  EXPECT_THAT(Errors("- models\n"),
              ElementsAre("devices.yaml:1:1: devices file must be a mapping (keys: models, "
                          "default_dtc)"));
  EXPECT_THAT(Errors("just text\n"),
              ElementsAre("devices.yaml:1:1: devices file must be a mapping (keys: models, "
                          "default_dtc)"));
  EXPECT_THAT(Errors("default_dtc:\n  parts: a\n"),
              ElementsAre("devices.yaml:2:10: parts must be a list of strings"));
}

TEST(CatalogTest, EmptyValuesPointAtTheirKey) {
  // yaml-cpp places an empty value at the next token, often on another line.
  EXPECT_THAT(Errors("default_dtc:\n  severity:\n  skill: x\n"),
              ElementsAre("devices.yaml:2:3: severity must be a string"));
  EXPECT_THAT(Errors("default_dtc:\n  open_case:\n"),
              ElementsAre("devices.yaml:2:3: open_case must be a boolean (true or false)"));
  EXPECT_THAT(Errors("default_dtc:\nmodels: {}\n"),
              ElementsAre("devices.yaml:1:1: default_dtc must be a mapping"));
  EXPECT_THAT(Errors("models:\n  M:\n"),
              ElementsAre("devices.yaml:2:3: model entry must be a mapping (keys: description, "
                          "dtc)"));
  // An explicit null on the same line is the value.
  EXPECT_THAT(Errors("default_dtc: {skill: ~}\n"),
              ElementsAre("devices.yaml:1:22: skill must be a string"));
}

TEST(CatalogTest, OpenCaseIsACoreSchemaBoolean) {
  for (const char* ok : {"true", "false", "True", "False", "TRUE", "FALSE"}) {
    EXPECT_THAT(Errors(std::string("default_dtc: {open_case: ") + ok + "}\n"), IsEmpty()) << ok;
  }
  for (const char* bad : {"yes", "no", "on", "off", "1", "0", "y", "\"true\"", "'false'", "[]"}) {
    EXPECT_THAT(Errors(std::string("default_dtc: {open_case: ") + bad + "}\n"),
                ElementsAre("devices.yaml:1:26: open_case must be a boolean (true or false)"))
        << bad;
  }
  CatalogFile file = ParseCatalogFile("default_dtc: {open_case: False}\n", "d.yaml");
  ASSERT_TRUE(file.catalog.default_dtc.has_value());
  EXPECT_FALSE(file.catalog.default_dtc->open_case);
}

TEST(CatalogTest, UnknownKeysPointAtTheKey) {
  EXPECT_THAT(Errors("default_dtc:\n  open_case: true\n  sevrity: major\n"),
              ElementsAre("devices.yaml:3:3: unknown key 'sevrity' in default_dtc"));
  EXPECT_THAT(Errors("models:\n  M:\n    dtc:\n      P1: {skil: x}\n"),
              ElementsAre("devices.yaml:4:12: unknown key 'skil' in dtc entry"));
  EXPECT_THAT(Errors("models:\n  M:\n    descripton: x\n"),
              ElementsAre("devices.yaml:3:5: unknown key 'descripton' in model entry"));
  EXPECT_THAT(Errors("model:\n  M: {}\n"),
              ElementsAre("devices.yaml:1:1: unknown key 'model' in devices file"));
  EXPECT_THAT(Errors("rules: []\n"),
              ElementsAre("devices.yaml:1:1: unknown key 'rules' in devices file"));
}

TEST(CatalogTest, InvalidCodesAndModelNames) {
  const std::string long_model(65, 'm');
  const std::string long_code(65, 'P');
  EXPECT_THAT(Errors("models:\n  " + long_model + ": {}\n  " + std::string(64, 'm') + ": {}\n"),
              ElementsAre("devices.yaml:2:3: invalid model name '" + std::string(40, 'm') +
                          "...' (expected 1 to 64 bytes)"));
  EXPECT_THAT(
      Errors("models:\n  M:\n    dtc:\n      " + long_code +
             ": {}\n      \"SPN110.*\": {}\n"
             "      \"\": {}\n      " +
             std::string(64, 'P') + ": {}\n"),
      ElementsAre("devices.yaml:4:7: invalid fault code '" + std::string(40, 'P') +
                      "...' (expected [A-Za-z0-9_.:/+-]{1,64})",
                  "devices.yaml:5:7: invalid fault code 'SPN110.*' (expected "
                  "[A-Za-z0-9_.:/+-]{1,64})",
                  "devices.yaml:6:7: invalid fault code '' (expected [A-Za-z0-9_.:/+-]{1,64})"));
}

TEST(CatalogTest, EntriesOfBadOrRepeatedKeysAreStillChecked) {
  // One run of `check` shows every error: those inside an entry whose code or
  // model name is itself an error too.
  EXPECT_THAT(Errors("models:\n"
                     "  M:\n"
                     "    dtc:\n"
                     "      \"bad code\": {severity: huge}\n"
                     "      P1: {}\n"
                     "      P1: {parts: 5}\n"
                     "  \"\":\n"
                     "    dtc: {P2: {open_case: maybe}}\n"),
              ElementsAre("devices.yaml:4:7: invalid fault code 'bad code' (expected "
                          "[A-Za-z0-9_.:/+-]{1,64})",
                          "devices.yaml:4:30: unknown severity 'huge' (expected info, warning, "
                          "major or critical)",
                          "devices.yaml:6:7: duplicate fault code 'P1'",
                          "devices.yaml:6:19: parts must be a list of strings",
                          "devices.yaml:7:3: invalid model name '' (expected 1 to 64 bytes)",
                          "devices.yaml:8:27: open_case must be a boolean (true or false)"));
}

TEST(CatalogTest, DuplicateKeysAreErrors) {
  EXPECT_THAT(Errors("models:\n  M: {}\n  M: {}\n"),
              ElementsAre("devices.yaml:3:3: duplicate model 'M'"));
  EXPECT_THAT(Errors("models:\n  M:\n    dtc:\n      P1: {}\n      P1: {}\n"),
              ElementsAre("devices.yaml:5:7: duplicate fault code 'P1'"));
  EXPECT_THAT(Errors("default_dtc: {severity: info, severity: major}\n"),
              ElementsAre("devices.yaml:1:31: duplicate key 'severity'"));
  EXPECT_THAT(Errors("models: {}\nmodels: {}\n"),
              ElementsAre("devices.yaml:2:1: duplicate key 'models'"));
  EXPECT_THAT(Errors("models:\n  M:\n    description: a\n    description: b\n"),
              ElementsAre("devices.yaml:4:5: duplicate key 'description'"));
}

TEST(CatalogTest, NonStringKeysAreErrors) {
  EXPECT_THAT(Errors("models:\n  ? [a, b]\n  : {}\n"),
              ElementsAre("devices.yaml:2:5: expected a string key"));
}

TEST(CatalogTest, OddInputNeverThrows) {
  for (const char* yaml :
       {"\t", "%YAML 9.9\n---\na: 1\n", "*unknown_alias\n", "a: &x [*x]\n", "{{{{", "]]]",
        "models: !!binary aGVsbG8=\n", "models:\n  M: &m {dtc: {}}\n  N: *m\n", "\xff\xfe",
        "---\na: 1\n---\nb: 2\n", "models: {M: {dtc: {P1: {parts: [[[[]]]]}}}}\n"}) {
    CatalogFile file;
    EXPECT_NO_THROW(file = ParseCatalogFile(yaml, "d.yaml")) << yaml;
  }
  // Aliases are resolved like the nodes they name.
  CatalogFile file =
      ParseCatalogFile("models:\n  M: &m {dtc: {P1: {severity: major}}}\n  N: *m\n", "d.yaml");
  EXPECT_THAT(file.errors, IsEmpty());
  EXPECT_EQ(file.catalog.Find("N", "P1")->severity, Severity::kMajor);
}

}  // namespace
}  // namespace precall::devices
