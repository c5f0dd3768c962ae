// Tests of the `precall serve` config file (gateway/config/config.h): the
// defaults, every key, every diagnostic with its exact file:line:col, all
// errors at once in file order, path resolution by LoadConfig, and the example
// file shipped in deploy/.
#include "gateway/config/config.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace precall::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Every diagnostic of `yaml` as "file:line:col: message"; the config must be
// all defaults whenever there are diagnostics.
std::vector<std::string> Diagnostics(std::string_view yaml) {
  ConfigFile file = ParseConfig(yaml, "c.yaml");
  std::vector<std::string> out;
  for (const devices::Diagnostic& d : file.errors) out.push_back(d.ToString());
  if (!out.empty()) {
    EXPECT_EQ(file.config, Config{}) << yaml;
  }
  return out;
}

// The config of `yaml`, which must be valid.
Config Parse(std::string_view yaml) {
  ConfigFile file = ParseConfig(yaml, "c.yaml");
  for (const devices::Diagnostic& d : file.errors) ADD_FAILURE() << d.ToString() << "\n" << yaml;
  return file.config;
}

// The only diagnostic of `yaml`, as "line:col: message".
std::string OnlyError(std::string_view yaml) {
  std::vector<std::string> errors = Diagnostics(yaml);
  EXPECT_THAT(errors, SizeIs(1)) << yaml;
  if (errors.empty()) return "";
  const std::string prefix = "c.yaml:";
  return errors[0].substr(0, prefix.size()) == prefix ? errors[0].substr(prefix.size()) : errors[0];
}

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "precall-config-XXXXXX").string();
    const char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string Write(const std::string& name, std::string_view text) const {
    const std::filesystem::path file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

// ---- values ------------------------------------------------------------------

TEST(ConfigTest, MinimalFileGetsEveryDefault) {
  const Config config = Parse("rules: [r.yaml]\n");
  EXPECT_EQ(config.broker.uri, "tcp://127.0.0.1:1883");
  EXPECT_EQ(config.broker.scheme, BrokerScheme::kTcp);
  EXPECT_EQ(config.broker.host, "127.0.0.1");
  EXPECT_EQ(config.broker.port, 1883);
  EXPECT_EQ(config.broker.client_id, "precall-1");
  EXPECT_EQ(config.broker.username, "");
  EXPECT_EQ(config.broker.password, "");
  EXPECT_EQ(config.broker.tls, TlsFiles{});
  EXPECT_THAT(config.broker.topics, ElementsAre("fleet/+/+/telemetry", "fleet/+/+/status"));
  EXPECT_EQ(config.broker.qos, 1);
  EXPECT_EQ(config.storage.path, "./precall-data");
  EXPECT_EQ(config.storage.journal_retention_ms, 24 * 3600 * 1000);
  EXPECT_EQ(config.storage.journal_sync, JournalSync::kStrict);
  EXPECT_EQ(config.storage.group_commit_interval_ms, 5);
  EXPECT_EQ(config.storage.checkpoint_interval_ms, 10000);
  EXPECT_EQ(config.storage.group_commit_size, 256);
  EXPECT_EQ(config.http.listen, "127.0.0.1:8080");
  EXPECT_EQ(config.http.host, "127.0.0.1");
  EXPECT_EQ(config.http.port, 8080);
  EXPECT_THAT(config.http.tokens, IsEmpty());
  EXPECT_EQ(config.http.max_wait_ms, 60000);
  EXPECT_THAT(config.rules, ElementsAre("r.yaml"));
  EXPECT_EQ(config.devices, "");
  EXPECT_EQ(config.workers, 0);

  Config expected;
  expected.rules = {"r.yaml"};
  EXPECT_EQ(config, expected);
}

TEST(ConfigTest, EveryKeyParsed) {
  const Config config = Parse(R"(# all keys, none at its default
broker:
  uri: ssl://broker.example.com:8883
  client_id: gw-7
  username: precall
  password: "p@ss: word"
  tls: {ca: certs/ca.pem, cert: certs/gw.pem, key: certs/gw.key}
  topics:
    - "$share/precall/fleet/+/+/telemetry"
    - fleet/acme/#
  qos: 0
storage:
  path: /var/lib/precall
  journal_retention: 7d
  journal_sync: fsync
  group_commit_interval: 20ms
  checkpoint_interval: 30s
  group_commit_size: 1000
http:
  listen: "[::]:0"
  tokens:
    - {token: "s3cret", tenant: "*"}
    - token: acme-token
      tenant: acme
  max_wait: 30s
rules: [a.yaml, rules/b.yaml]
devices: devices.yaml
workers: 4
)");
  EXPECT_EQ(config.broker.uri, "ssl://broker.example.com:8883");
  EXPECT_EQ(config.broker.scheme, BrokerScheme::kSsl);
  EXPECT_EQ(config.broker.host, "broker.example.com");
  EXPECT_EQ(config.broker.port, 8883);
  EXPECT_EQ(config.broker.client_id, "gw-7");
  EXPECT_EQ(config.broker.username, "precall");
  EXPECT_EQ(config.broker.password, "p@ss: word");
  EXPECT_EQ(config.broker.tls, (TlsFiles{"certs/ca.pem", "certs/gw.pem", "certs/gw.key"}));
  EXPECT_THAT(config.broker.topics,
              ElementsAre("$share/precall/fleet/+/+/telemetry", "fleet/acme/#"));
  EXPECT_EQ(config.broker.qos, 0);
  EXPECT_EQ(config.storage.path, "/var/lib/precall");
  EXPECT_EQ(config.storage.journal_retention_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(config.storage.journal_sync, JournalSync::kFsync);
  EXPECT_EQ(config.storage.group_commit_interval_ms, 20);
  EXPECT_EQ(config.storage.checkpoint_interval_ms, 30000);
  EXPECT_EQ(config.storage.group_commit_size, 1000);
  EXPECT_EQ(config.http.listen, "[::]:0");
  EXPECT_EQ(config.http.host, "::");
  EXPECT_EQ(config.http.port, 0);
  EXPECT_THAT(config.http.tokens,
              ElementsAre(ApiToken{"s3cret", "*"}, ApiToken{"acme-token", "acme"}));
  EXPECT_EQ(config.http.max_wait_ms, 30000);
  EXPECT_THAT(config.rules, ElementsAre("a.yaml", "rules/b.yaml"));
  EXPECT_EQ(config.devices, "devices.yaml");
  EXPECT_EQ(config.workers, 4);
}

TEST(ConfigTest, RulesMayBeASingleString) {
  EXPECT_THAT(Parse("rules: ./rules.yaml\n").rules, ElementsAre("./rules.yaml"));
}

TEST(ConfigTest, JournalSyncModes) {
  EXPECT_EQ(Parse("storage: {journal_sync: group}\nrules: r\n").storage.journal_sync,
            JournalSync::kGroup);
  EXPECT_EQ(Parse("storage: {journal_sync: strict}\nrules: r\n").storage.journal_sync,
            JournalSync::kStrict);
  EXPECT_EQ(Parse("storage: {journal_sync: fsync}\nrules: r\n").storage.journal_sync,
            JournalSync::kFsync);
  EXPECT_EQ(JournalSyncName(JournalSync::kGroup), "group");
  EXPECT_EQ(JournalSyncName(JournalSync::kStrict), "strict");
  EXPECT_EQ(JournalSyncName(JournalSync::kFsync), "fsync");
  EXPECT_EQ(OnlyError("storage:\n  journal_sync: always\nrules: r\n"),
            "2:17: unknown 'storage.journal_sync' mode 'always' (expected group, strict or fsync)");
}

TEST(ConfigTest, EmptySectionsAndOptionalNullsTakeDefaults) {
  const Config config = Parse(R"(broker:
  username:
  password: ~
  tls:
http:
  tokens:
storage:
rules: [r.yaml]
devices:
)");
  Config expected;
  expected.rules = {"r.yaml"};
  EXPECT_EQ(config, expected);
}

TEST(ConfigTest, ByteOrderMarkIsIgnored) {
  EXPECT_THAT(Parse("\xEF\xBB\xBFrules: [r.yaml]\n").rules, ElementsAre("r.yaml"));
  EXPECT_THAT(Diagnostics("\xEF\xBB\xBFrules: [r.yaml]\nfoo: 1\n"),
              ElementsAre("c.yaml:2:1: unknown key 'foo'"));
}

// ---- broker ------------------------------------------------------------------

TEST(ConfigTest, BrokerSchemesAreNormalised) {
  struct Case {
    std::string_view uri;
    std::string_view normal;
    BrokerScheme scheme;
    std::string_view host;
    int port;
  };
  for (const Case& c : {
           Case{"tcp://10.0.0.5:1883", "tcp://10.0.0.5:1883", BrokerScheme::kTcp, "10.0.0.5", 1883},
           Case{"mqtt://broker:1884", "tcp://broker:1884", BrokerScheme::kTcp, "broker", 1884},
           Case{"ssl://broker:8883", "ssl://broker:8883", BrokerScheme::kSsl, "broker", 8883},
           Case{"mqtts://broker:8883", "ssl://broker:8883", BrokerScheme::kSsl, "broker", 8883},
           Case{"tcp://[::1]:1883", "tcp://[::1]:1883", BrokerScheme::kTcp, "::1", 1883},
           Case{"tcp://[fe80::1%eth0]:1", "tcp://[fe80::1%eth0]:1", BrokerScheme::kTcp,
                "fe80::1%eth0", 1},
       }) {
    const Config config = Parse("broker: {uri: \"" + std::string(c.uri) + "\"}\nrules: r\n");
    EXPECT_EQ(config.broker.uri, c.normal) << c.uri;
    EXPECT_EQ(config.broker.scheme, c.scheme) << c.uri;
    EXPECT_EQ(config.broker.host, c.host) << c.uri;
    EXPECT_EQ(config.broker.port, c.port) << c.uri;
  }
}

TEST(ConfigTest, BadBrokerUris) {
  struct Case {
    std::string_view uri;
    std::string_view problem;
  };
  for (const Case& c : {
           Case{"127.0.0.1:1883", "expected scheme://host:port, e.g. tcp://127.0.0.1:1883"},
           Case{"http://h:80", "unsupported scheme 'http' (expected tcp, ssl, mqtt or mqtts)"},
           Case{"ws://h:80", "unsupported scheme 'ws' (expected tcp, ssl, mqtt or mqtts)"},
           Case{"tcp://broker", "missing port"},
           Case{"tcp://broker:", "missing port"},
           Case{"tcp://:1883", "missing host"},
           Case{"tcp://", "missing port"},
           Case{"tcp://broker:0", "invalid port '0' (expected 1 to 65535)"},
           Case{"tcp://broker:65536", "invalid port '65536' (expected 1 to 65535)"},
           Case{"tcp://broker:18x3", "invalid port '18x3' (expected 1 to 65535)"},
           Case{"tcp://broker:-1", "invalid port '-1' (expected 1 to 65535)"},
           Case{"tcp://::1:1883", "an IPv6 address must be in brackets, e.g. [::1]:8080"},
           Case{"tcp://[::1:1883", "missing ']' after the IPv6 address"},
           Case{"tcp://[::1]", "missing port"},
           Case{"tcp://[::1]1883", "expected ':' and a port after ']', found '1883'"},
           Case{"tcp://[zz]:1883", "invalid IPv6 address 'zz'"},
           Case{"tcp://bro ker:1883", "invalid host 'bro ker'"},
           Case{"tcp://broker:1883/", "expected only scheme://host:port (no path, query or user; "
                                      "the user goes in broker.username)"},
           Case{"tcp://u:p@broker:1883", "expected only scheme://host:port (no path, query or "
                                         "user; the user goes in broker.username)"},
       }) {
    EXPECT_EQ(OnlyError("broker:\n  uri: \"" + std::string(c.uri) + "\"\nrules: r\n"),
              "2:8: invalid broker URI '" + std::string(c.uri) + "': " + std::string(c.problem));
  }
}

TEST(ConfigTest, QosMustBeZeroOrOne) {
  EXPECT_EQ(Parse("broker: {qos: 0}\nrules: r\n").broker.qos, 0);
  EXPECT_EQ(OnlyError("broker:\n  qos: 2\nrules: r\n"),
            "2:8: 'broker.qos' must be 0 or 1 (QoS 2 is not supported)");
  EXPECT_EQ(OnlyError("broker:\n  qos: one\nrules: r\n"),
            "2:8: 'broker.qos' must be 0 or 1 (QoS 2 is not supported)");
  EXPECT_EQ(OnlyError("broker:\n  qos: -1\nrules: r\n"),
            "2:8: 'broker.qos' must be 0 or 1 (QoS 2 is not supported)");
}

TEST(ConfigTest, SharedSubscriptionsAndOtherValidFilters) {
  const Config config = Parse(R"(broker:
  topics:
    - "$share/precall/fleet/+/+/telemetry"
    - $share/g/#
    - "#"
    - +
    - /
    - fleet/+/+/status
    - $SYS/broker/#
rules: r
)");
  EXPECT_THAT(config.broker.topics,
              ElementsAre("$share/precall/fleet/+/+/telemetry", "$share/g/#", "#", "+", "/",
                          "fleet/+/+/status", "$SYS/broker/#"));
}

TEST(ConfigTest, BadTopicFilters) {
  struct Case {
    std::string_view filter;
    std::string_view problem;
  };
  for (const Case& c : {
           Case{"fleet/#/x", "'#' must be the last level"},
           Case{"fleet/a+/b", "'+' must be a whole level"},
           Case{"fleet/+a", "'+' must be a whole level"},
           Case{"fleet/a#", "'#' must be a whole level"},
           Case{"", "a topic filter must not be empty"},
           Case{"$share", "a shared subscription is $share/<group>/<filter>"},
           Case{"$share/g", "a shared subscription is $share/<group>/<filter>"},
           Case{"$share/g/", "a shared subscription is $share/<group>/<filter>"},
           Case{"$share//fleet/#", "a shared subscription is $share/<group>/<filter>"},
           Case{"$share/g+/fleet/#", "the share group must not contain '+' or '#'"},
           Case{"$share/g/fleet/#/x", "'#' must be the last level"},
       }) {
    EXPECT_EQ(OnlyError("broker:\n  topics: [ok/+, \"" + std::string(c.filter) + "\"]\nrules: r\n"),
              "2:18: invalid topic filter '" + std::string(c.filter) + "': " +
                  std::string(c.problem));
  }
}

TEST(ConfigTest, TopicListShapeAndDuplicates) {
  EXPECT_EQ(OnlyError("broker:\n  topics: []\nrules: r\n"),
            "2:11: 'broker.topics' must be a non-empty list of topic filters");
  EXPECT_EQ(OnlyError("broker:\n  topics: fleet/#\nrules: r\n"),
            "2:11: 'broker.topics' must be a non-empty list of topic filters");
  EXPECT_EQ(OnlyError("broker:\n  topics:\nrules: r\n"),
            "2:3: 'broker.topics' must be a non-empty list of topic filters");
  EXPECT_EQ(OnlyError("broker:\n  topics: [a/#, b, a/#]\nrules: r\n"),
            "2:20: duplicate topic filter 'a/#'");
  EXPECT_EQ(OnlyError("broker:\n  topics:\n    - a/#\n    - {x: 1}\nrules: r\n"),
            "4:7: each item of 'broker.topics' must be a topic filter (a string)");
  EXPECT_EQ(OnlyError("broker:\n  topics:\n    - a/#\n    -\nrules: r\n"),
            "4:5: each item of 'broker.topics' must be a topic filter (a string)");
}

TEST(ConfigTest, TlsFiles) {
  EXPECT_EQ(Parse("broker: {uri: \"ssl://b:8883\", tls: {ca: ca.pem}}\nrules: r\n").broker.tls,
            (TlsFiles{"ca.pem", "", ""}));
  EXPECT_EQ(Parse("broker: {uri: \"ssl://b:8883\"}\nrules: r\n").broker.tls, TlsFiles{});
  // All empty is no TLS settings, fine with tcp:// (the contract's example).
  EXPECT_EQ(Parse("broker: {tls: {ca: \"\", cert: \"\", key: \"\"}}\nrules: r\n").broker.tls,
            TlsFiles{});
  EXPECT_EQ(OnlyError("broker:\n  uri: tcp://b:1883\n  tls: {ca: ca.pem}\nrules: r\n"),
            "3:3: 'broker.tls' needs an ssl:// or mqtts:// broker URI");
  EXPECT_EQ(OnlyError("broker:\n  tls: {ca: ca.pem}\nrules: r\n"),
            "2:3: 'broker.tls' needs an ssl:// or mqtts:// broker URI");
  EXPECT_EQ(OnlyError("broker:\n  uri: ssl://b:1\n  tls: {cert: c.pem}\nrules: r\n"),
            "3:15: 'broker.tls.cert' needs 'broker.tls.key'");
  EXPECT_EQ(OnlyError("broker:\n  uri: ssl://b:1\n  tls: {cert: \"\", key: k.pem}\nrules: r\n"),
            "3:24: 'broker.tls.key' needs 'broker.tls.cert'");
  EXPECT_THAT(Diagnostics("broker:\n  uri: ssl://b:1\n  tls: {cert: c.pem, keys: k.pem}\nrules: r\n"),
              ElementsAre("c.yaml:3:15: 'broker.tls.cert' needs 'broker.tls.key'",
                          "c.yaml:3:22: unknown key 'keys' in broker.tls"));
  // A key already reported wrong is not cross-checked again.
  EXPECT_THAT(Diagnostics("broker:\n  uri: ssl://b:1\n  tls: {cert: c.pem, key: [k]}\nrules: r\n"),
              ElementsAre("c.yaml:3:27: 'broker.tls.key' must be a string"));
  EXPECT_EQ(OnlyError("broker:\n  uri: ssl://b:1\n  tls: [ca.pem]\nrules: r\n"),
            "3:8: 'broker.tls' must be a mapping with ca, cert and key");
}

TEST(ConfigTest, PasswordNeedsUsername) {
  EXPECT_EQ(OnlyError("broker:\n  password: pw\nrules: r\n"),
            "2:13: 'broker.password' needs 'broker.username' (MQTT sends a password only with a "
            "user name)");
  const Config config = Parse("broker: {username: u}\nrules: r\n");
  EXPECT_EQ(config.broker.username, "u");
  EXPECT_EQ(config.broker.password, "");
}

TEST(ConfigTest, ClientIdMustNotBeEmpty) {
  EXPECT_EQ(OnlyError("broker:\n  client_id: \"\"\nrules: r\n"),
            "2:14: 'broker.client_id' must be a non-empty string");
}

// ---- storage -----------------------------------------------------------------

TEST(ConfigTest, Durations) {
  EXPECT_EQ(OnlyError("storage:\n  journal_retention: 24 hours\nrules: r\n"),
            "2:22: invalid duration '24 hours' (expected an integer followed by ms, s, m, h or d)");
  EXPECT_EQ(OnlyError("storage:\n  journal_retention: 86400\nrules: r\n"),
            "2:22: invalid duration '86400' (expected an integer followed by ms, s, m, h or d)");
  EXPECT_EQ(OnlyError("storage:\n  journal_retention: 0s\nrules: r\n"),
            "2:22: 'storage.journal_retention' must be from 1s to 36500d");
  EXPECT_EQ(OnlyError("storage:\n  journal_retention: [1h]\nrules: r\n"),
            "2:22: 'storage.journal_retention' must be a duration, e.g. 36500d");
  EXPECT_EQ(OnlyError("storage:\n  checkpoint_interval: 500ms\nrules: r\n"),
            "2:24: 'storage.checkpoint_interval' must be from 1s to 1h");
  EXPECT_EQ(OnlyError("storage:\n  group_commit_interval: 0ms\nrules: r\n"),
            "2:26: 'storage.group_commit_interval' must be from 1ms to 10s");
  EXPECT_EQ(OnlyError("storage:\n  group_commit_interval: 11s\nrules: r\n"),
            "2:26: 'storage.group_commit_interval' must be from 1ms to 10s");
  EXPECT_EQ(OnlyError("http:\n  max_wait: 2h\nrules: r\n"),
            "2:13: 'http.max_wait' must be from 0s to 1h");
  EXPECT_EQ(Parse("http: {max_wait: 0s}\nrules: r\n").http.max_wait_ms, 0);
  EXPECT_EQ(Parse("http: {max_wait: 1h}\nrules: r\n").http.max_wait_ms, 3600 * 1000);
}

TEST(ConfigTest, IntegerRanges) {
  EXPECT_EQ(OnlyError("storage:\n  group_commit_size: 0\nrules: r\n"),
            "2:22: 'storage.group_commit_size' must be an integer from 1 to 1000000");
  EXPECT_EQ(OnlyError("storage:\n  group_commit_size: 1e3\nrules: r\n"),
            "2:22: 'storage.group_commit_size' must be an integer from 1 to 1000000");
  EXPECT_EQ(OnlyError("rules: r\nworkers: 2000\n"),
            "2:10: 'workers' must be an integer from 0 to 1024 (0: one per core)");
  EXPECT_EQ(OnlyError("rules: r\nworkers: 99999999999999999999\n"),
            "2:10: 'workers' must be an integer from 0 to 1024 (0: one per core)");
  EXPECT_EQ(Parse("rules: r\nworkers: 1024\n").workers, 1024);
  EXPECT_EQ(OnlyError("storage:\n  path: \"\"\nrules: r\n"),
            "2:9: 'storage.path' must be a non-empty string");
}

// ---- http --------------------------------------------------------------------

TEST(ConfigTest, ListenForms) {
  struct Case {
    std::string_view listen;
    std::string_view host;
    int port;
  };
  for (const Case& c : {
           Case{"127.0.0.1:8080", "127.0.0.1", 8080},
           Case{"0.0.0.0:0", "0.0.0.0", 0},
           Case{"localhost:65535", "localhost", 65535},
           Case{"[::1]:9090", "::1", 9090},
           Case{"[::]:0", "::", 0},
           Case{"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80},
       }) {
    const Config config = Parse("http: {listen: \"" + std::string(c.listen) + "\"}\nrules: r\n");
    EXPECT_EQ(config.http.listen, c.listen);
    EXPECT_EQ(config.http.host, c.host) << c.listen;
    EXPECT_EQ(config.http.port, c.port) << c.listen;
  }
}

TEST(ConfigTest, BadListenAddresses) {
  struct Case {
    std::string_view listen;
    std::string_view problem;
  };
  for (const Case& c : {
           Case{"8080", "missing port"},
           Case{":8080", "missing host"},
           Case{"::1:8080", "an IPv6 address must be in brackets, e.g. [::1]:8080"},
           Case{"[::1]", "missing port"},
           Case{"[::1]8080", "expected ':' and a port after ']', found '8080'"},
           Case{"host:70000", "invalid port '70000' (expected 0 to 65535)"},
           Case{"host:http", "invalid port 'http' (expected 0 to 65535)"},
           Case{"[127.0.0.1]:80", "invalid IPv6 address '127.0.0.1'"},
           Case{"*:80", "invalid host '*'"},
       }) {
    EXPECT_EQ(OnlyError("http:\n  listen: \"" + std::string(c.listen) + "\"\nrules: r\n"),
              "2:11: invalid 'http.listen' address '" + std::string(c.listen) + "': " +
                  std::string(c.problem));
  }
}

TEST(ConfigTest, TokenErrors) {
  EXPECT_THAT(Diagnostics(R"(http:
  tokens:
    - {token: a, tenant: "*"}
    - {token: a, tenant: acme}
    - {token: "", tenant: acme}
    - {token: "has space", tenant: acme}
    - {token: b, tenant: "bad/tenant"}
    - {token: c}
    - {tenant: acme}
    - {token: d, tenant: acme, role: admin}
    - plain
    - {token: e, tenant: [acme]}
rules: r
)"),
              ElementsAre("c.yaml:4:15: duplicate token (same as line 3)",
                          "c.yaml:5:15: a token must be a non-empty string of printable ASCII "
                          "without spaces",
                          "c.yaml:6:15: a token must be a non-empty string of printable ASCII "
                          "without spaces",
                          "c.yaml:7:26: invalid tenant 'bad/tenant' (expected '*' or a tenant "
                          "id: 1 to 64 of A-Z a-z 0-9 _ . -)",
                          "c.yaml:8:7: missing required key 'tenant' in an item of http.tokens",
                          "c.yaml:9:7: missing required key 'token' in an item of http.tokens",
                          "c.yaml:10:32: unknown key 'role' in an item of http.tokens",
                          "c.yaml:11:7: each item of 'http.tokens' must be a mapping {token: "
                          "..., tenant: ...}",
                          "c.yaml:12:26: invalid tenant (expected '*' or a tenant id: 1 to 64 of "
                          "A-Z a-z 0-9 _ . -)"));
  EXPECT_EQ(OnlyError("http:\n  tokens: {token: a, tenant: b}\nrules: r\n"),
            "2:11: 'http.tokens' must be a list of {token: ..., tenant: ...}");
}

TEST(ConfigTest, DiagnosticsNeverQuoteATokenValue) {
  const std::vector<std::string> errors = Diagnostics(
      "http:\n  tokens:\n    - {token: TOPSECRET, tenant: '*'}\n"
      "    - {token: TOPSECRET, tenant: '*'}\n    - {token: 'TOP SECRET', tenant: '*'}\n"
      "rules: r\n");
  ASSERT_THAT(errors, SizeIs(2));
  for (const std::string& error : errors) {
    EXPECT_EQ(error.find("SECRET"), std::string::npos) << error;
  }
}

// ---- keys, types, shape ------------------------------------------------------

TEST(ConfigTest, UnknownKeysAnywhere) {
  EXPECT_THAT(Diagnostics(R"(broker:
  qoss: 1
  tls: {ca: "", crt: y}
storage: {paht: /x}
http:
  token: []
rule: r
rules: r
)"),
              ElementsAre("c.yaml:2:3: unknown key 'qoss' in broker",
                          "c.yaml:3:17: unknown key 'crt' in broker.tls",
                          "c.yaml:4:11: unknown key 'paht' in storage",
                          "c.yaml:6:3: unknown key 'token' in http",
                          "c.yaml:7:1: unknown key 'rule'"));
}

TEST(ConfigTest, DuplicateAndNonStringKeys) {
  EXPECT_THAT(Diagnostics("broker:\n  qos: 1\n  qos: 0\n[a]: 1\nrules: r\nrules: s\n"),
              ElementsAre("c.yaml:3:3: duplicate key 'qos' in broker",
                          "c.yaml:4:1: keys must be strings",
                          "c.yaml:6:1: duplicate key 'rules'"));
  EXPECT_THAT(Diagnostics("broker: {[x]: 1}\nrules: r\n"),
              ElementsAre("c.yaml:1:10: keys in broker must be strings"));
}

TEST(ConfigTest, WrongTypesPointAtTheValue) {
  EXPECT_THAT(Diagnostics(R"(broker: [a]
storage: 5
http:
  listen: {host: x}
rules: r
devices: {a: b}
)"),
              ElementsAre("c.yaml:1:9: 'broker' must be a mapping",
                          "c.yaml:2:10: 'storage' must be a mapping",
                          "c.yaml:4:11: 'http.listen' must be a string",
                          "c.yaml:6:10: 'devices' must be a string"));
  // A missing value has no position of its own: the key's is used.
  EXPECT_THAT(Diagnostics("broker:\n  uri:\n  qos:\nrules: r\n"),
              ElementsAre("c.yaml:2:3: 'broker.uri' must be a string",
                          "c.yaml:3:3: 'broker.qos' must be 0 or 1 (QoS 2 is not supported)"));
}

TEST(ConfigTest, RulesKey) {
  EXPECT_EQ(OnlyError("broker: {qos: 1}\n"), "1:1: missing required key 'rules'");
  EXPECT_EQ(OnlyError(""), "1:1: missing required key 'rules'");
  EXPECT_EQ(OnlyError("# only a comment\n"), "1:1: missing required key 'rules'");
  EXPECT_EQ(OnlyError("rules: []\n"),
            "1:8: 'rules' must be a file path or a non-empty list of them");
  EXPECT_EQ(OnlyError("rules:\n"), "1:1: 'rules' must be a file path or a non-empty list of them");
  EXPECT_EQ(OnlyError("rules: \"\"\n"),
            "1:8: 'rules' must be a file path or a non-empty list of them");
  EXPECT_EQ(OnlyError("rules: {a: b}\n"),
            "1:8: 'rules' must be a file path or a non-empty list of them");
  EXPECT_EQ(OnlyError("rules: [a.yaml, \"\"]\n"),
            "1:17: each item of 'rules' must be a file path (a non-empty string)");
  EXPECT_EQ(OnlyError("rules:\n  - a.yaml\n  -\n"),
            "3:3: each item of 'rules' must be a file path (a non-empty string)");
  EXPECT_EQ(OnlyError("rules: [a.yaml, ./b.yaml, b.yaml]\n"),
            "1:27: duplicate rules file 'b.yaml'");
}

TEST(ConfigTest, NotAMappingOrNotYaml) {
  EXPECT_EQ(OnlyError("- rules\n"),
            "1:1: a config file must be a mapping with at least a 'rules' key");
  EXPECT_EQ(OnlyError("just text\n"),
            "1:1: a config file must be a mapping with at least a 'rules' key");
  const std::vector<std::string> bad = Diagnostics("rules: [a\nworkers: 1\n");
  ASSERT_THAT(bad, SizeIs(1));
  EXPECT_EQ(bad[0].rfind("c.yaml:", 0), 0u);
  EXPECT_NE(bad[0].find("invalid YAML: "), std::string::npos) << bad[0];
  EXPECT_EQ(OnlyError("rules: r\n---\nrules: s\n"),
            "3:1: a config file must hold a single YAML document");
}

TEST(ConfigTest, StrayCommaDoesNotHang) {
  const std::vector<std::string> errors = Diagnostics(",rules: r\n");
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_NE(errors[0].find("invalid YAML"), std::string::npos) << errors[0];
}

TEST(ConfigTest, AllErrorsAtOnceInFileOrder) {
  EXPECT_THAT(Diagnostics(R"(workers: -3
broker:
  uri: tcp://broker
  qos: 2
  topics: ["fleet/#/x", "fleet/a+/b"]
  colour: blue
storage:
  journal_sync: sometimes
  journal_retention: forever
http:
  listen: "8080"
  tokens: [{token: t, tenant: "no good"}]
devices: [x]
)"),
              ElementsAre(
                  "c.yaml:1:1: missing required key 'rules'",
                  "c.yaml:1:10: 'workers' must be an integer from 0 to 1024 (0: one per core)",
                  "c.yaml:3:8: invalid broker URI 'tcp://broker': missing port",
                  "c.yaml:4:8: 'broker.qos' must be 0 or 1 (QoS 2 is not supported)",
                  "c.yaml:5:12: invalid topic filter 'fleet/#/x': '#' must be the last level",
                  "c.yaml:5:25: invalid topic filter 'fleet/a+/b': '+' must be a whole level",
                  "c.yaml:6:3: unknown key 'colour' in broker",
                  "c.yaml:8:17: unknown 'storage.journal_sync' mode 'sometimes' (expected "
                  "group, strict or fsync)",
                  "c.yaml:9:22: invalid duration 'forever' (expected an integer followed by ms, "
                  "s, m, h or d)",
                  "c.yaml:11:11: invalid 'http.listen' address '8080': missing port",
                  "c.yaml:12:31: invalid tenant 'no good' (expected '*' or a tenant id: 1 to 64 "
                  "of A-Z a-z 0-9 _ . -)",
                  "c.yaml:13:10: 'devices' must be a string"));
}

// ---- files -------------------------------------------------------------------

TEST(ConfigTest, LoadConfigResolvesRelativePathsAgainstTheConfigDirectory) {
  TempDir dir;
  const std::string path = dir.Write("etc/precall.yaml", R"(broker:
  uri: ssl://b:8883
  tls: {ca: certs/ca.pem, cert: /abs/gw.pem, key: ../keys/gw.key}
storage: {path: ./data}
rules: [./rules.yaml, /opt/rules/extra.yaml, sub/../more.yaml]
devices: devices.yaml
)");
  const ConfigFile file = LoadConfig(path);
  ASSERT_THAT(file.errors, IsEmpty());
  const std::filesystem::path etc = dir.path() / "etc";
  const Config& config = file.config;
  EXPECT_EQ(config.storage.path, (etc / "data").string());
  EXPECT_EQ(config.broker.tls.ca, (etc / "certs/ca.pem").string());
  EXPECT_EQ(config.broker.tls.cert, "/abs/gw.pem");
  EXPECT_EQ(config.broker.tls.key, (dir.path() / "keys/gw.key").string());
  EXPECT_THAT(config.rules, ElementsAre((etc / "rules.yaml").string(), "/opt/rules/extra.yaml",
                                        (etc / "more.yaml").string()));
  EXPECT_EQ(config.devices, (etc / "devices.yaml").string());
}

TEST(ConfigTest, LoadConfigKeepsEmptyPathsEmpty) {
  TempDir dir;
  const ConfigFile file = LoadConfig(dir.Write("c.yaml", "rules: r.yaml\n"));
  ASSERT_THAT(file.errors, IsEmpty());
  EXPECT_EQ(file.config.devices, "");
  EXPECT_EQ(file.config.broker.tls, TlsFiles{});
  EXPECT_EQ(file.config.storage.path, (dir.path() / "precall-data").string());
  EXPECT_THAT(file.config.rules, ElementsAre((dir.path() / "r.yaml").string()));
}

TEST(ConfigTest, LoadConfigReportsFileProblemsWithTheGivenPath) {
  TempDir dir;
  const std::string missing = (dir.path() / "nope.yaml").string();
  const ConfigFile unreadable = LoadConfig(missing);
  ASSERT_THAT(unreadable.errors, SizeIs(1));
  EXPECT_EQ(unreadable.errors[0].ToString(),
            missing + ":1:1: cannot read file: No such file or directory");

  const std::string bad = dir.Write("bad.yaml", "rules: r\nqos: 1\n");
  const ConfigFile invalid = LoadConfig(bad);
  ASSERT_THAT(invalid.errors, SizeIs(1));
  EXPECT_EQ(invalid.errors[0].ToString(), bad + ":2:1: unknown key 'qos'");
  EXPECT_EQ(invalid.config, Config{});
}

TEST(ConfigTest, TheExampleFileIsValidAndAllDefaults) {
  const char* data = std::getenv("PRECALL_TEST_DATA");
  ASSERT_NE(data, nullptr) << "PRECALL_TEST_DATA is not set";
  // PRECALL_TEST_DATA is <repo>/tests/data.
  std::filesystem::path test_data(data);
  if (!test_data.has_filename()) test_data = test_data.parent_path();  // a trailing '/'
  const std::filesystem::path example =
      test_data.parent_path().parent_path() / "deploy" / "precall.example.yaml";
  std::ifstream in(example, std::ios::binary);
  ASSERT_TRUE(in) << example;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const ConfigFile file = ParseConfig(text, example.string());
  for (const devices::Diagnostic& d : file.errors) ADD_FAILURE() << d.ToString();
  // It lists the defaults, plus the required rules and a devices file.
  Config expected;
  expected.rules = {"./rules.yaml"};
  expected.devices = "./devices.yaml";
  EXPECT_EQ(file.config, expected);

  const ConfigFile loaded = LoadConfig(example.string());
  ASSERT_THAT(loaded.errors, IsEmpty());
  const std::filesystem::path deploy = std::filesystem::absolute(example).parent_path();
  EXPECT_EQ(loaded.config.storage.path,
            (deploy / "precall-data").lexically_normal().string());
}

TEST(ConfigTest, TopicFiltersOverlapWhenOneTopicCanMatchBoth) {
  struct Case {
    const char* a;
    const char* b;
    bool overlap;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"fleet/#", "fleet/+/+/telemetry", true},
           {"fleet/+/+/telemetry", "fleet/+/+/status", false},
           {"fleet/+/+/telemetry", "fleet/acme/+/telemetry", true},
           {"fleet/acme/d1/telemetry", "fleet/acme/d2/telemetry", false},
           {"fleet/acme/#", "fleet/globex/#", false},
           {"a/b", "a/b", true},
           {"a/#", "a", true},  // '#' matches its parent level too
           {"a/+", "a", false},
           {"a/b/c", "a/b", false},
           {"#", "anything/at/all", true},
           {"+/+", "a/b/c", false},
           {"#", "$SYS/broker/load", false},  // wildcards do not match $-topics
           {"+/broker", "$SYS/broker", false},
           {"$SYS/#", "$SYS/broker", true},
           {"$share/g/fleet/#", "fleet/+/+/status", true},
           {"$share/g1/fleet/+/+/telemetry", "$share/g2/fleet/+/+/telemetry", true},
           {"$share/g/fleet/+/+/telemetry", "fleet/+/+/status", false},
       }) {
    EXPECT_EQ(TopicFiltersOverlap(c.a, c.b), c.overlap) << c.a << " ~ " << c.b;
    EXPECT_EQ(TopicFiltersOverlap(c.b, c.a), c.overlap) << c.b << " ~ " << c.a;
  }
}

}  // namespace
}  // namespace precall::config
