// `precall serve --config FILE`: wires the live gateway together — config,
// rules, the RocksDB store, the case book restored from it, the worker
// pipeline, MQTT ingest (journal first, then the worker's ring) and egress —
// and runs until SIGTERM or SIGINT, then drains and exits 0.
#ifndef PRECALL_GATEWAY_SERVE_COMMAND_H_
#define PRECALL_GATEWAY_SERVE_COMMAND_H_

#include <string>

namespace precall {

// Returns the process exit status: 0 after a clean shutdown, 1 for an invalid
// config, rules or devices file (diagnostics on stderr) or a store that
// cannot be opened.
int RunServe(const std::string& config_path);

}  // namespace precall

#endif  // PRECALL_GATEWAY_SERVE_COMMAND_H_
