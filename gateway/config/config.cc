// The config file: see config.h. yaml-cpp builds the document (its exceptions
// stop here); this file walks it section by section, checks every key, and
// turns each problem into a Diagnostic: unknown and duplicate keys at the key,
// wrong types and bad values at the value (at the key when the value is null,
// since yaml-cpp gives a null value the mark of the next token).
//
// The YAML plumbing (document outline, quoting, null-item positions) is
// devices/yaml_diagnostics.h, shared with rules/rule_file.cc.
#include "gateway/config/config.h"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "devices/ids.h"
#include "devices/yaml_diagnostics.h"
#include "gateway/config/text_file.h"
#include "rules/duration.h"
#include "rules/lexer.h"
#include "yaml-cpp/yaml.h"

namespace precall::config {

std::string_view JournalSyncName(JournalSync sync) {
  switch (sync) {
    case JournalSync::kGroup: return "group";
    case JournalSync::kStrict: return "strict";
    case JournalSync::kFsync: return "fsync";
  }
  return "group";
}

namespace {

using devices::Diagnostic;
using devices::Quoted;
using rules::Concat;

constexpr int kMaxWorkers = 1024;
constexpr int kMaxGroupCommitSize = 1000000;
constexpr std::size_t kMaxTopicFilterBytes = 65535;  // an MQTT UTF-8 string
constexpr std::size_t kMaxHostBytes = 253;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A decimal integer of at most 9 digits (no sign, no YAML 0x/0o forms).
std::optional<int> ParseSmallInt(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

// host:port or [ipv6]:port, split. `problem` is empty when valid.
struct HostPort {
  std::string host;  // without brackets
  int port = 0;
  bool ipv6 = false;
  std::string problem;
};

bool IsValidHostName(std::string_view host) {
  return !host.empty() && host.size() <= kMaxHostBytes &&
         std::all_of(host.begin(), host.end(),
                     [](char c) { return IsAlnum(c) || c == '.' || c == '-' || c == '_'; });
}

// Hex digits, ':' and '.' (an embedded IPv4), at least one ':', and an optional
// zone ("%eth0"). Not a full check: the resolver has the last word.
bool IsPlausibleIpv6(std::string_view address) {
  const std::size_t percent = address.find('%');
  const std::string_view zone =
      percent == std::string_view::npos ? std::string_view() : address.substr(percent + 1);
  if (percent != std::string_view::npos &&
      (zone.empty() || !std::all_of(zone.begin(), zone.end(), [](char c) {
        return IsAlnum(c) || c == '.' || c == '-' || c == '_';
      }))) {
    return false;
  }
  const std::string_view ip = address.substr(0, percent);
  return ip.find(':') != std::string_view::npos &&
         std::all_of(ip.begin(), ip.end(),
                     [](char c) { return IsHexDigit(c) || c == ':' || c == '.'; });
}

HostPort SplitHostPort(std::string_view text, int min_port) {
  HostPort out;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) {
      out.problem = "missing ']' after the IPv6 address";
      return out;
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (rest.empty()) {
      out.problem = "missing port";
      return out;
    }
    if (rest.front() != ':') {
      out.problem = Concat("expected ':' and a port after ']', found ", Quoted(rest));
      return out;
    }
    port = rest.substr(1);
    if (!IsPlausibleIpv6(host)) {
      out.problem = Concat("invalid IPv6 address ", Quoted(host));
      return out;
    }
    out.ipv6 = true;
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      out.problem = "missing port";
      return out;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      out.problem = "an IPv6 address must be in brackets, e.g. [::1]:8080";
      return out;
    }
    if (host.empty()) {
      out.problem = "missing host";
      return out;
    }
    if (!IsValidHostName(host)) {
      out.problem = Concat("invalid host ", Quoted(host));
      return out;
    }
  }
  const std::optional<int> number = port.size() <= 5 ? ParseSmallInt(port) : std::nullopt;
  if (!number.has_value() || *number < min_port || *number > 65535) {
    out.problem = port.empty() ? std::string("missing port")
                               : Concat("invalid port ", Quoted(port), " (expected ", min_port,
                                        " to 65535)");
    return out;
  }
  out.host = std::string(host);
  out.port = *number;
  return out;
}

// `filter` without a "$share/<group>/" prefix.
std::string_view WithoutShare(std::string_view filter) {
  constexpr std::string_view kShare = "$share/";
  if (filter.substr(0, kShare.size()) != kShare) return filter;
  const std::size_t slash = filter.find('/', kShare.size());
  return slash == std::string_view::npos ? filter : filter.substr(slash + 1);
}

// Empty when `filter` is a valid MQTT topic filter (with $share/<group>/
// allowed in front); else why it is not.
std::string TopicFilterProblem(std::string_view filter) {
  if (filter.empty()) return "a topic filter must not be empty";
  if (filter.size() > kMaxTopicFilterBytes) return "longer than 65535 bytes";
  if (filter.find('\0') != std::string_view::npos) return "contains a NUL character";
  constexpr std::string_view kShare = "$share";
  if (filter.substr(0, kShare.size()) == kShare &&
      (filter.size() == kShare.size() || filter[kShare.size()] == '/')) {
    const std::string_view rest = filter.substr(std::min(filter.size(), kShare.size() + 1));
    const std::size_t slash = rest.find('/');
    const std::string_view group = rest.substr(0, slash);
    if (slash == std::string_view::npos || group.empty() || rest.size() == slash + 1) {
      return "a shared subscription is $share/<group>/<filter>";
    }
    if (group.find_first_of("+#") != std::string_view::npos) {
      return "the share group must not contain '+' or '#'";
    }
    filter = WithoutShare(filter);
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t end = filter.find('/', start);
    const std::string_view level = filter.substr(start, end - start);
    const bool last = end == std::string_view::npos;
    if (level.find('#') != std::string_view::npos) {
      if (level != "#") return "'#' must be a whole level";
      if (!last) return "'#' must be the last level";
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return "'+' must be a whole level";
    }
    if (last) break;
    start = end + 1;
  }
  return "";
}

// A key of a mapping and its value, as read (present: the key was there).
struct KeyValue {
  std::string name;  // for messages: "broker.qos", "rules"
  YAML::Node key;
  YAML::Node value;
  bool present = false;
};

// The known keys of one mapping, in a fixed order, each with what the file
// said (if anything).
class Section {
 public:
  Section(std::string prefix, std::initializer_list<std::string_view> names) {
    for (std::string_view name : names) {
      names_.push_back(name);
      values_.push_back(KeyValue{Concat(prefix, name), YAML::Node(), YAML::Node(), false});
    }
  }

  // nullptr when `name` is not a key of this section.
  KeyValue* Find(std::string_view name) {
    const auto it = std::find(names_.begin(), names_.end(), name);
    return it == names_.end() ? nullptr : &values_[static_cast<std::size_t>(it - names_.begin())];
  }
  const KeyValue& operator[](std::string_view name) const {
    const auto it = std::find(names_.begin(), names_.end(), name);
    return values_[static_cast<std::size_t>(it - names_.begin())];  // names are compile-time
  }

 private:
  std::vector<std::string_view> names_;
  std::vector<KeyValue> values_;
};

class ConfigParser {
 public:
  ConfigParser(std::string_view text, std::string_view file_name)
      : text_(text), errors_(text, file_name) {}

  ConfigFile Run() {
    ConfigFile out;
    errors_.Catching("config", [&] { ParseDocument(out.config); });
    out.errors = errors_.TakeSorted();
    if (!out.errors.empty()) out.config = Config{};
    return out;
  }

 private:
  void ValueError(const KeyValue& kv, std::string message) {
    errors_.ValueError(kv.key, kv.value, std::move(message));
  }

  // Fills `section` from mapping `map`: unknown, duplicate and non-string keys
  // are errors. `where` names the mapping in messages ("" at the top level).
  void ReadKeys(const YAML::Node& map, std::string_view where, Section& section) {
    const std::string in = where.empty() ? std::string() : Concat(" in ", where);
    for (const auto& entry : map) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        errors_.Error(key.Mark(), Concat("keys", in, " must be strings"));
        continue;
      }
      KeyValue* field = section.Find(key.Scalar());
      if (field == nullptr) {
        errors_.Error(key.Mark(), Concat("unknown key ", Quoted(key.Scalar()), in));
      } else if (field->present) {
        errors_.Error(key.Mark(), Concat("duplicate key ", Quoted(key.Scalar()), in));
      } else {
        field->key = key;
        field->value = entry.second;
        field->present = true;
      }
    }
  }

  // A section's keys; absent or null: all defaults.
  void ReadSection(const KeyValue& kv, Section& section) {
    if (!kv.present || kv.value.IsNull()) return;
    if (!kv.value.IsMap()) {
      ValueError(kv, Concat(Quoted(kv.name), " must be a mapping"));
      return;
    }
    ReadKeys(kv.value, kv.name, section);
  }

  void ParseDocument(Config& config) {
    if (!errors_.CheckSingleDocument("a config file")) return;
    const YAML::Node root = YAML::Load(std::string(text_));
    if (root.IsNull()) {
      errors_.ErrorAt(1, 1, "missing required key 'rules'");
      return;
    }
    if (!root.IsMap()) {
      errors_.Error(root.Mark(), "a config file must be a mapping with at least a 'rules' key");
      return;
    }
    Section top("", {"broker", "storage", "http", "rules", "devices", "workers"});
    ReadKeys(root, "", top);
    ParseBroker(top["broker"], config.broker);
    ParseStorage(top["storage"], config.storage);
    ParseHttp(top["http"], config.http);
    if (!top["rules"].present) {
      errors_.Error(root.Mark(), "missing required key 'rules'");
    } else {
      ParseRules(top["rules"], config.rules);
    }
    if (std::optional<std::string> devices = String(top["devices"], /*null_is_empty=*/true)) {
      config.devices = std::move(*devices);
    }
    Int(top["workers"], 0, kMaxWorkers, " (0: one per core)", config.workers);
  }

  // ---- typed values ---------------------------------------------------------

  // The scalar's text; null counts as "" when `null_is_empty`. nullopt when
  // absent or not a string (reported).
  std::optional<std::string> String(const KeyValue& kv, bool null_is_empty) {
    if (!kv.present) return std::nullopt;
    if (null_is_empty && kv.value.IsNull()) return std::string();
    if (!kv.value.IsScalar()) {
      ValueError(kv, Concat(Quoted(kv.name), " must be a string"));
      return std::nullopt;
    }
    return kv.value.Scalar();
  }

  // Like String, and the text must not be empty.
  std::optional<std::string> NonEmptyString(const KeyValue& kv) {
    if (!kv.present) return std::nullopt;
    if (!kv.value.IsScalar() || kv.value.Scalar().empty()) {
      ValueError(kv, Concat(Quoted(kv.name), " must be a non-empty string"));
      return std::nullopt;
    }
    return kv.value.Scalar();
  }

  void Int(const KeyValue& kv, int min, int max, std::string_view note, int& out) {
    if (!kv.present) return;
    const std::optional<int> value =
        kv.value.IsScalar() ? ParseSmallInt(kv.value.Scalar()) : std::nullopt;
    if (!value.has_value() || *value < min || *value > max) {
      ValueError(kv, max == min + 1
                         ? Concat(Quoted(kv.name), " must be ", min, " or ", max, note)
                         : Concat(Quoted(kv.name), " must be an integer from ", min, " to ", max,
                                  note));
      return;
    }
    out = *value;
  }

  // A duration between `min_text` and `max_text` (both durations, for messages).
  void Duration(const KeyValue& kv, std::string_view min_text, std::string_view max_text,
                int64_t& out) {
    if (!kv.present) return;
    if (!kv.value.IsScalar()) {
      ValueError(kv, Concat(Quoted(kv.name), " must be a duration, e.g. ", max_text));
      return;
    }
    const std::string& text = kv.value.Scalar();
    const std::optional<int64_t> ms = rules::ParseDuration(text);
    if (!ms.has_value()) {
      ValueError(kv, rules::DurationProblem(text));
      return;
    }
    if (*ms < *rules::ParseDuration(min_text) || *ms > *rules::ParseDuration(max_text)) {
      ValueError(kv, Concat(Quoted(kv.name), " must be from ", min_text, " to ", max_text));
      return;
    }
    out = *ms;
  }

  // ---- sections -------------------------------------------------------------

  void ParseBroker(const KeyValue& kv, BrokerConfig& broker) {
    Section section("broker.",
                    {"uri", "client_id", "username", "password", "tls", "topics", "qos"});
    ReadSection(kv, section);
    bool scheme_known = !section["uri"].present;  // else: whether the URI's scheme was read
    if (std::optional<std::string> uri = String(section["uri"], /*null_is_empty=*/false)) {
      scheme_known = ParseBrokerUri(section["uri"], *uri, broker);
    }
    if (std::optional<std::string> id = NonEmptyString(section["client_id"])) {
      broker.client_id = std::move(*id);
    }
    const std::optional<std::string> user = String(section["username"], true);
    if (user.has_value()) broker.username = *user;
    if (std::optional<std::string> password = String(section["password"], true)) {
      broker.password = std::move(*password);
      const bool user_bad = section["username"].present && !user.has_value();
      if (!broker.password.empty() && broker.username.empty() && !user_bad) {
        ValueError(section["password"],
                   "'broker.password' needs 'broker.username' (MQTT sends a password only with "
                   "a user name)");
      }
    }
    ParseTls(section["tls"], scheme_known, broker);
    ParseTopics(section["topics"], broker.topics);
    Int(section["qos"], 0, 1, " (QoS 2 is not supported)", broker.qos);
  }

  // True when the scheme could be read (so TLS settings can be checked).
  bool ParseBrokerUri(const KeyValue& kv, const std::string& uri, BrokerConfig& broker) {
    const std::string prefix = Concat("invalid broker URI ", Quoted(uri), ": ");
    const std::size_t separator = uri.find("://");
    if (separator == std::string::npos) {
      ValueError(kv, Concat(prefix, "expected scheme://host:port, e.g. tcp://127.0.0.1:1883"));
      return false;
    }
    const std::string_view scheme = std::string_view(uri).substr(0, separator);
    if (scheme == "tcp" || scheme == "mqtt") {
      broker.scheme = BrokerScheme::kTcp;
    } else if (scheme == "ssl" || scheme == "mqtts") {
      broker.scheme = BrokerScheme::kSsl;
    } else {
      ValueError(kv, Concat(prefix, "unsupported scheme ", Quoted(scheme),
                            " (expected tcp, ssl, mqtt or mqtts)"));
      return false;
    }
    const std::string_view authority = std::string_view(uri).substr(separator + 3);
    if (authority.find_first_of("/?#@") != std::string_view::npos) {
      ValueError(kv, Concat(prefix,
                            "expected only scheme://host:port (no path, query or user; the user "
                            "goes in broker.username)"));
      return true;
    }
    HostPort split = SplitHostPort(authority, /*min_port=*/1);
    if (!split.problem.empty()) {
      ValueError(kv, Concat(prefix, split.problem));
      return true;
    }
    broker.host = std::move(split.host);
    broker.port = split.port;
    broker.uri = Concat(broker.scheme == BrokerScheme::kSsl ? "ssl://" : "tcp://",
                        split.ipv6 ? "[" : "", broker.host, split.ipv6 ? "]" : "", ":",
                        broker.port);
    return true;
  }

  void ParseTls(const KeyValue& kv, bool scheme_known, BrokerConfig& broker) {
    if (!kv.present || kv.value.IsNull()) return;
    if (!kv.value.IsMap()) {
      ValueError(kv, "'broker.tls' must be a mapping with ca, cert and key");
      return;
    }
    Section section("broker.tls.", {"ca", "cert", "key"});
    ReadKeys(kv.value, "broker.tls", section);
    TlsFiles tls;
    if (std::optional<std::string> ca = String(section["ca"], true)) tls.ca = std::move(*ca);
    std::optional<std::string> cert = String(section["cert"], true);
    std::optional<std::string> key = String(section["key"], true);
    if (cert.has_value()) tls.cert = std::move(*cert);
    if (key.has_value()) tls.key = std::move(*key);
    // A value that is already reported wrong is not cross-checked.
    const bool cert_bad = section["cert"].present && !cert.has_value();
    const bool key_bad = section["key"].present && !key.has_value();
    if (!tls.cert.empty() && tls.key.empty() && !key_bad) {
      ValueError(section["cert"], "'broker.tls.cert' needs 'broker.tls.key'");
    }
    if (!tls.key.empty() && tls.cert.empty() && !cert_bad) {
      ValueError(section["key"], "'broker.tls.key' needs 'broker.tls.cert'");
    }
    const bool any = !tls.ca.empty() || !tls.cert.empty() || !tls.key.empty();
    if (any && scheme_known && broker.scheme != BrokerScheme::kSsl) {
      errors_.Error(kv.key.Mark(), "'broker.tls' needs an ssl:// or mqtts:// broker URI");
    }
    broker.tls = std::move(tls);
  }

  void ParseTopics(const KeyValue& kv, std::vector<std::string>& topics) {
    if (!kv.present) return;
    if (!kv.value.IsSequence() || kv.value.size() == 0) {
      ValueError(kv, "'broker.topics' must be a non-empty list of topic filters");
      return;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const YAML::Node& item : kv.value) {
      if (!item.IsScalar()) {
        errors_.ItemError(item, "each item of 'broker.topics' must be a topic filter (a string)");
        ok = false;
        continue;
      }
      const std::string& filter = item.Scalar();
      const std::string problem = TopicFilterProblem(filter);
      if (!problem.empty()) {
        errors_.Error(item.Mark(), Concat("invalid topic filter ", Quoted(filter), ": ", problem));
        ok = false;
      } else if (std::find(out.begin(), out.end(), filter) != out.end()) {
        errors_.Error(item.Mark(), Concat("duplicate topic filter ", Quoted(filter)));
        ok = false;
      } else {
        out.push_back(filter);
      }
    }
    if (ok) topics = std::move(out);
  }

  void ParseStorage(const KeyValue& kv, StorageConfig& storage) {
    Section section("storage.", {"path", "journal_retention", "journal_sync",
                                 "group_commit_interval", "group_commit_size",
                                 "checkpoint_interval"});
    ReadSection(kv, section);
    if (std::optional<std::string> path = NonEmptyString(section["path"])) {
      storage.path = std::move(*path);
    }
    Duration(section["journal_retention"], "1s", "36500d", storage.journal_retention_ms);
    if (std::optional<std::string> sync = String(section["journal_sync"], false)) {
      if (*sync == "group") {
        storage.journal_sync = JournalSync::kGroup;
      } else if (*sync == "strict") {
        storage.journal_sync = JournalSync::kStrict;
      } else if (*sync == "fsync") {
        storage.journal_sync = JournalSync::kFsync;
      } else {
        ValueError(section["journal_sync"], Concat("unknown 'storage.journal_sync' mode ",
                                                   Quoted(*sync),
                                                   " (expected group, strict or fsync)"));
      }
    }
    Duration(section["group_commit_interval"], "1ms", "10s", storage.group_commit_interval_ms);
    Int(section["group_commit_size"], 1, kMaxGroupCommitSize, "", storage.group_commit_size);
    Duration(section["checkpoint_interval"], "1s", "1h", storage.checkpoint_interval_ms);
  }

  void ParseHttp(const KeyValue& kv, HttpConfig& http) {
    Section section("http.", {"listen", "tokens", "max_wait"});
    ReadSection(kv, section);
    if (std::optional<std::string> listen = String(section["listen"], false)) {
      HostPort split = SplitHostPort(*listen, /*min_port=*/0);
      if (!split.problem.empty()) {
        ValueError(section["listen"], Concat("invalid 'http.listen' address ", Quoted(*listen),
                                             ": ", split.problem));
      } else {
        http.listen = std::move(*listen);
        http.host = std::move(split.host);
        http.port = split.port;
      }
    }
    ParseTokens(section["tokens"], http.tokens);
    Duration(section["max_wait"], "0s", "1h", http.max_wait_ms);
  }

  void ParseTokens(const KeyValue& kv, std::vector<ApiToken>& tokens) {
    if (!kv.present || kv.value.IsNull()) return;
    if (!kv.value.IsSequence()) {
      ValueError(kv, "'http.tokens' must be a list of {token: ..., tenant: ...}");
      return;
    }
    std::vector<std::pair<std::string, int>> seen;  // token -> its line
    for (const YAML::Node& item : kv.value) {
      if (!item.IsMap()) {
        errors_.ItemError(item,
                          "each item of 'http.tokens' must be a mapping {token: ..., tenant: ...}");
        continue;
      }
      Section section("", {"token", "tenant"});
      ReadKeys(item, "an item of http.tokens", section);
      ApiToken token;
      bool ok = true;
      const KeyValue& token_kv = section["token"];
      if (!token_kv.present) {
        errors_.Error(item.Mark(), "missing required key 'token' in an item of http.tokens");
        ok = false;
      } else if (!token_kv.value.IsScalar() || !IsValidToken(token_kv.value.Scalar())) {
        ValueError(token_kv,
                   "a token must be a non-empty string of printable ASCII without spaces");
        ok = false;
      } else {
        token.token = token_kv.value.Scalar();
        const int line = token_kv.value.Mark().line + 1;
        const auto first = std::find_if(seen.begin(), seen.end(),
                                        [&](const auto& s) { return s.first == token.token; });
        if (first != seen.end()) {
          ValueError(token_kv, Concat("duplicate token (same as line ", first->second, ")"));
          ok = false;
        } else {
          seen.emplace_back(token.token, line);
        }
      }
      const KeyValue& tenant_kv = section["tenant"];
      if (!tenant_kv.present) {
        errors_.Error(item.Mark(), "missing required key 'tenant' in an item of http.tokens");
        ok = false;
      } else if (!tenant_kv.value.IsScalar() || (tenant_kv.value.Scalar() != kAllTenants &&
                                                 !devices::IsValidId(tenant_kv.value.Scalar()))) {
        ValueError(tenant_kv,
                   Concat("invalid tenant ",
                          tenant_kv.value.IsScalar() ? Quoted(tenant_kv.value.Scalar()) + " "
                                                     : std::string(),
                          "(expected '*' or a tenant id: 1 to 64 of A-Z a-z 0-9 _ . -)"));
        ok = false;
      } else {
        token.tenant = tenant_kv.value.Scalar();
      }
      if (ok) tokens.push_back(std::move(token));
    }
  }

  static bool IsValidToken(std::string_view token) {
    return !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7F;
    });
  }

  void ParseRules(const KeyValue& kv, std::vector<std::string>& rules) {
    constexpr std::string_view kShape = "'rules' must be a file path or a non-empty list of them";
    if (kv.value.IsScalar()) {
      if (kv.value.Scalar().empty()) {
        ValueError(kv, std::string(kShape));
        return;
      }
      rules.push_back(kv.value.Scalar());
      return;
    }
    if (!kv.value.IsSequence() || kv.value.size() == 0) {
      ValueError(kv, std::string(kShape));
      return;
    }
    std::vector<std::string> normal;  // lexically normal forms, to catch ./r.yaml vs r.yaml
    for (const YAML::Node& item : kv.value) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        errors_.ItemError(item, "each item of 'rules' must be a file path (a non-empty string)");
        continue;
      }
      std::string key = std::filesystem::path(item.Scalar()).lexically_normal().string();
      if (std::find(normal.begin(), normal.end(), key) != normal.end()) {
        errors_.Error(item.Mark(), Concat("duplicate rules file ", Quoted(item.Scalar())));
        continue;
      }
      normal.push_back(std::move(key));
      rules.push_back(item.Scalar());
    }
  }

  std::string_view text_;
  devices::YamlDiagnostics errors_;
};

// `path` against `base` when relative; "" stays "".
std::string Resolve(const std::filesystem::path& base, const std::string& path) {
  if (path.empty()) return path;
  const std::filesystem::path p(path);
  if (p.is_absolute()) return p.lexically_normal().string();
  return (base / p).lexically_normal().string();
}

}  // namespace

bool TopicFiltersOverlap(std::string_view a, std::string_view b) {
  a = WithoutShare(a);
  b = WithoutShare(b);
  // Level by level; `npos` ends a filter.
  std::size_t ia = 0, ib = 0;
  bool first = true;
  while (true) {
    const bool a_done = ia == std::string_view::npos, b_done = ib == std::string_view::npos;
    if (a_done && b_done) return true;
    const std::size_t ea = a_done ? ia : a.find('/', ia);
    const std::size_t eb = b_done ? ib : b.find('/', ib);
    const std::string_view la = a_done ? "" : a.substr(ia, ea - ia);
    const std::string_view lb = b_done ? "" : b.substr(ib, eb - ib);
    if (a_done || b_done) return (a_done ? lb : la) == "#";  // "x/#" also matches "x"
    const bool a_wild = la == "+" || la == "#", b_wild = lb == "+" || lb == "#";
    if (first && ((a_wild && lb.starts_with('$')) || (b_wild && la.starts_with('$')))) {
      return false;  // wildcards never match $-topics at the first level
    }
    if (la == "#" || lb == "#") return true;
    if (!a_wild && !b_wild && la != lb) return false;
    ia = ea == std::string_view::npos ? ea : ea + 1;
    ib = eb == std::string_view::npos ? eb : eb + 1;
    first = false;
  }
}

ConfigFile ParseConfig(std::string_view yaml_text, std::string_view file_name) {
  // yaml-cpp drops a UTF-8 byte order mark from its positions: so do we.
  return ConfigParser(devices::StripUtf8Bom(yaml_text), file_name).Run();
}

ConfigFile LoadConfig(const std::string& path) {
  std::string text;
  std::string read_error;
  if (!ReadTextFile(path, text, read_error)) {
    ConfigFile out;
    out.errors.push_back(Diagnostic{path, 1, 1, std::move(read_error)});
    return out;
  }
  ConfigFile file = ParseConfig(text, path);
  if (!file.errors.empty()) return file;
  std::error_code error;
  std::filesystem::path absolute = std::filesystem::absolute(path, error);
  if (error) absolute = std::filesystem::path(path);
  const std::filesystem::path base = absolute.parent_path();
  Config& config = file.config;
  config.storage.path = Resolve(base, config.storage.path);
  config.broker.tls.ca = Resolve(base, config.broker.tls.ca);
  config.broker.tls.cert = Resolve(base, config.broker.tls.cert);
  config.broker.tls.key = Resolve(base, config.broker.tls.key);
  for (std::string& rules_path : config.rules) rules_path = Resolve(base, rules_path);
  config.devices = Resolve(base, config.devices);
  return file;
}

}  // namespace precall::config
