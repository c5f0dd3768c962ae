// The `precall serve` configuration file (CONTRACT §5): YAML text -> one
// validated Config, with every problem reported at once as file:line:col
// (devices::Diagnostic), in file order. A config with any error is not used at
// all: there is no half-valid Config.
//
// ParseConfig is pure and leaves paths as written; LoadConfig reads the file
// and resolves relative paths (storage.path, broker.tls files, rules, devices)
// against the directory of the config file, so that `precall serve --config
// /etc/precall/precall.yaml` means the same thing from any working directory.
// `~` is not expanded.
//
// Load time only; any thread. Config is a plain value type: built once at
// start-up, then only read (hold it as `const Config` or
// `std::shared_ptr<const Config>`). Fields hold parsed forms ready for use
// (host and port split out, durations in milliseconds, enums). The defaults
// below are what a key that is absent gets; deploy/precall.example.yaml lists
// them all. Token values are secrets: no diagnostic ever quotes one, and
// callers must not log them.
#ifndef PRECALL_GATEWAY_CONFIG_CONFIG_H_
#define PRECALL_GATEWAY_CONFIG_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "devices/diagnostic.h"

namespace precall::config {

enum class BrokerScheme : unsigned char {
  kTcp,  // tcp:// or mqtt://
  kSsl,  // ssl:// or mqtts://
};

// TLS files (paths). All empty: no client-side TLS settings (an ssl:// broker
// is then verified against the system's CA store). `ca` may be given alone;
// `cert` and `key` come together. Only valid with an ssl:// broker.
struct TlsFiles {
  std::string ca;    // default "": the system's CA store
  std::string cert;  // default "": no client certificate
  std::string key;   // default "": no client certificate
  bool operator==(const TlsFiles&) const = default;
};

struct BrokerConfig {
  // Default tcp://127.0.0.1:1883. Normalised to what the MQTT client connects
  // to: "tcp://" or "ssl://", the host (an IPv6 address in brackets), ":port".
  // The file may also say mqtt:// (= tcp) or mqtts:// (= ssl); host and port
  // are required, nothing else (no user info, path or query).
  std::string uri = "tcp://127.0.0.1:1883";
  BrokerScheme scheme = BrokerScheme::kTcp;  // default kTcp
  std::string host = "127.0.0.1";            // default 127.0.0.1; IPv6 without brackets
  int port = 1883;                           // default 1883; 1..65535
  std::string client_id = "precall-1";       // default precall-1; non-empty
  std::string username;                      // default "": no user name
  std::string password;                      // default "": no password (needs a username)
  TlsFiles tls;                              // default: all empty
  // Default ["fleet/+/+/telemetry", "fleet/+/+/status"]. Non-empty, no
  // duplicates, each a valid MQTT topic filter ('+' and '#' only as whole
  // levels, '#' only last) or a shared subscription $share/<group>/<filter>.
  std::vector<std::string> topics = {"fleet/+/+/telemetry", "fleet/+/+/status"};
  int qos = 1;  // default 1; 0 or 1 (QoS 2 is not supported)
  bool operator==(const BrokerConfig&) const = default;
};

// Every message is written to the journal before its ack; what differs is
// when it is also synced to disk (what a power cut may lose).
enum class JournalSync : unsigned char {
  kGroup,   // "group": synced every group_commit_size messages and every interval
  kStrict,  // "strict": never synced by us; the OS writes it back
  kFsync,   // "fsync": synced before its ack
};

// "group", "strict" or "fsync".
std::string_view JournalSyncName(JournalSync sync);

struct StorageConfig {
  std::string path = "./precall-data";              // default ./precall-data; non-empty
  int64_t journal_retention_ms = 24 * 3600 * 1000;  // default 24h; 1s..100 years
  JournalSync journal_sync = JournalSync::kStrict;  // default strict
  int64_t group_commit_interval_ms = 5;             // default 5ms; 1ms..10s (group only)
  int group_commit_size = 256;                      // default 256; 1..1000000 (group only)
  // How often each worker checkpoints the devices that changed: recovery
  // re-applies at most about this much journal. Default 10s; 1s..1h.
  int64_t checkpoint_interval_ms = 10 * 1000;
  bool operator==(const StorageConfig&) const = default;
};

// The tenant of a token that may see every tenant.
inline constexpr std::string_view kAllTenants = "*";

// One bearer token of the HTTP API and the tenant it may see.
struct ApiToken {
  std::string token;   // non-empty, printable ASCII without spaces, unique
  std::string tenant;  // kAllTenants or a valid tenant id (devices::IsValidId)
  bool operator==(const ApiToken&) const = default;
};

struct HttpConfig {
  // Default 127.0.0.1:8080, as written: host:port or [ipv6]:port.
  std::string listen = "127.0.0.1:8080";
  std::string host = "127.0.0.1";  // default 127.0.0.1; IPv6 without brackets
  int port = 8080;                 // default 8080; 0..65535, 0: any free port
  std::vector<ApiToken> tokens;    // default none: the API is open to anyone
  int64_t max_wait_ms = 60000;     // default 60s; 0..1h, the cap on /v1/changes?wait=
  bool operator==(const HttpConfig&) const = default;
};

struct Config {
  BrokerConfig broker;
  StorageConfig storage;
  HttpConfig http;
  // Required, no default: rule files (a single string is also accepted), in
  // order; non-empty paths, no duplicates.
  std::vector<std::string> rules;
  std::string devices;  // default "": no fault-code catalog
  int workers = 0;      // default 0: one per core; 0..1024
  bool operator==(const Config&) const = default;
};

struct ConfigFile {
  Config config;                // Config{} (all defaults, no rules) when there are errors
  devices::Diagnostics errors;  // all of them, in file order
};

// Parses and validates a whole config file; `file_name` is used in the
// diagnostics. Paths are left as written. Pure.
ConfigFile ParseConfig(std::string_view yaml_text, std::string_view file_name);

// True when some topic could match both valid filters (a $share/<group>/
// prefix aside): the broker then delivers it once per filter. "#" also
// matches its parent level; wildcards in the first level do not match topics
// that start with '$'. Pure.
bool TopicFiltersOverlap(std::string_view a, std::string_view b);

// Reads `path` and parses it; then resolves every relative path in it against
// the (absolute) directory of `path`, lexically normalised. Does not check that
// those files exist (LoadRules and the store report that). A file that cannot
// be read is one diagnostic at path:1:1.
ConfigFile LoadConfig(const std::string& path);

}  // namespace precall::config

#endif  // PRECALL_GATEWAY_CONFIG_CONFIG_H_
