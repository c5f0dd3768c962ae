// The `precall` command: check, replay and serve. The only place
// that names concrete adapters and wires them together.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config/rules_loader.h"
#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/replay.h"
#include "gateway/core/worker.h"
#include "gateway/serve_command.h"

namespace {

using precall::config::LoadedRules;

// Prints diagnostics, one `file:line:col: message` per line.
void PrintDiagnostics(const precall::devices::Diagnostics& errors, std::FILE* out) {
  for (const auto& d : errors) std::fprintf(out, "%s\n", d.ToString().c_str());
}

int RunCheck(const std::vector<std::string>& rule_paths, const std::string& devices_path) {
  LoadedRules loaded = precall::config::LoadRules(rule_paths, devices_path);
  if (!loaded.errors.empty()) {
    PrintDiagnostics(loaded.errors, stdout);
    return 1;
  }
  std::size_t models = loaded.catalog ? loaded.catalog->models.size() : 0;
  std::printf("ok: %zu rules", loaded.rules->size());
  if (!devices_path.empty()) std::printf(", %zu models in the fault-code catalog", models);
  std::printf("\n");
  return 0;
}

int RunReplay(const std::vector<std::string>& rule_paths, const std::string& devices_path,
              const std::string& input_path) {
  LoadedRules loaded = precall::config::LoadRules(rule_paths, devices_path);
  if (!loaded.errors.empty()) {
    PrintDiagnostics(loaded.errors, stderr);
    return 1;
  }
  std::FILE* input = input_path == "-" ? stdin : std::fopen(input_path.c_str(), "rb");
  struct stat info {};
  if (input != nullptr && fstat(fileno(input), &info) == 0 && S_ISDIR(info.st_mode)) {
    std::fclose(input);
    input = nullptr;
    errno = EISDIR;
  }
  if (input == nullptr) {
    std::fprintf(stderr, "%s: cannot open input: %s\n", input_path.c_str(), std::strerror(errno));
    return 1;
  }
  precall::core::JsonLinesSink sink(stdout);
  precall::core::CaseBook cases(sink);
  precall::core::DataClock clock;
  precall::core::Worker worker(loaded.rules, loaded.catalog, clock, cases);
  precall::core::ReplayStats stats =
      precall::core::Replay(input, input_path == "-" ? "<stdin>" : input_path, worker, clock, stderr);
  const bool read_failed = std::ferror(input) != 0;
  const int read_errno = errno;
  if (input != stdin) std::fclose(input);
  sink.Flush();
  if (read_failed) {
    // The events printed so far stand; the input was not read to its end.
    std::fprintf(stderr, "%s: cannot read input: %s\n", input_path.c_str(),
                 std::strerror(read_errno));
    return 1;
  }
  const auto& counters = worker.counters();
  std::fprintf(stderr,
               "replay: %llu lines, %llu skipped as malformed, %llu samples processed, "
               "%llu rejected, %llu case events\n",
               static_cast<unsigned long long>(stats.lines),
               static_cast<unsigned long long>(stats.malformed),
               static_cast<unsigned long long>(counters.samples_processed.Get()),
               static_cast<unsigned long long>(stats.rejected),
               static_cast<unsigned long long>(cases.last_seq()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Precall: real-time remote diagnostics for machine fleets.\n"
      "Evaluates fault rules on telemetry and opens proactive service cases."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "precall " PRECALL_VERSION);

  std::vector<std::string> rule_paths;
  std::string devices_path;
  std::string input_path;

  CLI::App* check = app.add_subcommand(
      "check",
      "Validate rule files and a fault-code catalog. Prints `file:line:col: message` for every\n"
      "problem and exits 1, or exits 0 when everything is valid.");
  check->add_option("--rules", rule_paths, "Rules YAML file (repeatable)")->required();
  check->add_option("--devices", devices_path, "Devices YAML file: the fault-code catalog");

  CLI::App* replay = app.add_subcommand(
      "replay",
      "Evaluate recorded telemetry exactly as `serve` would, with the clock taken from the data,\n"
      "and print every case event as one JSON line on stdout. Input lines are\n"
      "{\"topic\": \"fleet/{tenant}/{device}/telemetry\", \"payload\": <payload>}; malformed "
      "lines\n"
      "are skipped with a message on stderr. Exit 1 only if the rules or devices file is invalid, "
      "or the input cannot be opened.");
  replay->add_option("--rules", rule_paths, "Rules YAML file (repeatable)")->required();
  replay->add_option("--devices", devices_path, "Devices YAML file: the fault-code catalog");
  replay->add_option("--input", input_path, "Recorded telemetry, JSON lines ('-' for stdin)")
      ->required();

  std::string config_path;
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Run the gateway: subscribe to telemetry over MQTT, evaluate the rules on worker threads,\n"
      "keep state and cases in the store, publish case events to service/{tenant}/cases/{id}.\n"
      "SIGTERM or SIGINT drain and stop it (exit 0).");
  serve->add_option("--config", config_path, "Config file (see deploy/precall.example.yaml)")
      ->required();

  // Usage errors exit 2 (as most command-line tools do), whatever CLI11's
  // own code for the error; exit 1 stays "the rules are invalid".
  constexpr int kUsageError = 2;
  if (argc > 1 && argv[1][0] != '-' &&
      !std::ranges::any_of(app.get_subcommands({}),
                           [&](const CLI::App* sub) { return sub->get_name() == argv[1]; })) {
    std::fprintf(stderr,
                 "precall: unknown command '%s' (expected check, replay or serve)\n"
                 "Run with --help for more information.\n",
                 argv[1]);
    return kUsageError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsageError;
  }
  if (check->parsed()) return RunCheck(rule_paths, devices_path);
  if (replay->parsed()) return RunReplay(rule_paths, devices_path, input_path);
  if (serve->parsed()) return precall::RunServe(config_path);
  return kUsageError;
}
