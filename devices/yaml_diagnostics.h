// Helpers shared by the YAML file readers (rules files, the config file): where
// a byte of the text is (line and column),
// the document outline (one document per file), and a Diagnostic collector that
// knows yaml-cpp's marks, including where a null sequence item really is.
// Pure: no I/O, no threads; each object is used by one thread at a time.
#ifndef PRECALL_DEVICES_YAML_DIAGNOSTICS_H_
#define PRECALL_DEVICES_YAML_DIAGNOSTICS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "devices/diagnostic.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace precall::devices {

inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

// `text` without a leading UTF-8 byte order mark (yaml-cpp drops it from its
// positions, so the readers do too).
std::string_view StripUtf8Bom(std::string_view text);

bool IsYamlSpace(char c);

// Whether `rest` starts with a null written out (~, null) rather than nothing.
bool IsExplicitNull(std::string_view rest);

// `c` for a message: 'c' when printable ASCII, else "byte 0xHH".
std::string DescribeByte(char c);

// 1-based line and column (in bytes) of byte offsets into the YAML text.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);

  std::pair<int, int> LineColumn(std::size_t pos) const;

 private:
  std::vector<std::size_t> line_starts_;
};

// Where each document of a YAML stream starts, and where its root is.
class DocumentProbe : public YAML::EventHandler {
 public:
  struct Document {
    YAML::Mark start;
    YAML::Mark root;
    bool null_root = true;
  };
  std::vector<Document> documents;

  void OnDocumentStart(const YAML::Mark& mark) override;
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark, true); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Root(mark, false); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Root(mark, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Root(mark, false);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Root(mark, false);
  }
  void OnMapEnd() override {}

 private:
  void Root(const YAML::Mark& mark, bool null);

  bool awaiting_root_ = false;
};

// The Diagnostics of one YAML file, at 1-based lines and columns. `text` (the
// file without its BOM) must outlive this.
class YamlDiagnostics {
 public:
  YamlDiagnostics(std::string_view text, std::string_view file_name);

  // Runs `parse`, turning what it throws into an error: yaml-cpp's exceptions
  // at their mark ("invalid YAML: ..."), anything else at 1:1 as
  // "cannot read <what>: ...".
  void Catching(std::string_view what, const std::function<void()>& parse);

  void ErrorAt(int line, int column, std::string message);
  // At `mark`; at 1:1 when the mark is null or negative.
  void Error(const YAML::Mark& mark, std::string message);
  // At the value, or at its key when the value is null (yaml-cpp gives a null
  // value the mark of the next token).
  void ValueError(const YAML::Node& key, const YAML::Node& value, std::string message);
  // At `item`, a sequence item. A null item's mark is that of the next token:
  // unless the null is written out, walk back to its '-'.
  void ItemError(const YAML::Node& item, std::string message);

  // Reads the documents' outlines: a syntax error anywhere throws, a second
  // document is an error ("<what> must hold a single YAML document", e.g. what
  // = "a rules file"). YAML::LoadAll is not used: on some garbage (a stray
  // ',') yaml-cpp 0.7 keeps returning empty documents at the same place, and
  // LoadAll loops until memory runs out. False when the text is unusable.
  bool CheckSingleDocument(std::string_view what);

  std::size_t size() const { return errors_.size(); }
  const LineIndex& lines() const { return lines_; }

  // The errors, by line then column (stable), leaving none here.
  Diagnostics TakeSorted();

 private:
  std::string_view text_;
  LineIndex lines_;
  std::string file_name_;
  Diagnostics errors_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_YAML_DIAGNOSTICS_H_
