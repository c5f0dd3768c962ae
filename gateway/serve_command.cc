#include "gateway/serve_command.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "gateway/config/config.h"
#include "gateway/config/rules_loader.h"
#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/pipeline.h"
#include "gateway/core/store_sink.h"
#include "gateway/http/api_server.h"
#include "gateway/http/metrics.h"
#include "gateway/mqtt/ingest.h"
#include "gateway/mqtt/publisher.h"
#include "gateway/store/rocksdb_store.h"

namespace precall {
namespace {

void Log(const char* fmt, const std::string& a = "", const std::string& b = "") {
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  std::fprintf(stderr, "%s precall: ", when);
  std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  std::fprintf(stderr, "\n");
}

// "1 error", "2 errors".
std::string Plural(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

// The topic filters the last run subscribed in the broker's persistent
// session (our client id): storage.path/mqtt_subscriptions, one per line.
std::string SubscriptionsPath(const config::Config& config) {
  return config.storage.path + "/mqtt_subscriptions";
}

std::vector<std::string> ReadSubscriptions(const std::string& path) {
  std::vector<std::string> filters;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) filters.push_back(line);
  }
  return filters;
}

// Replaces the file whole (write, then rename), so a crash leaves the old list or the new.
bool WriteSubscriptions(const std::string& path, const std::vector<std::string>& filters) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const std::string& f : filters) out << f << '\n';
    if (!out.flush()) return false;
  }
  return std::rename(temporary.c_str(), path.c_str()) == 0;
}

mqtt::MqttOptions BrokerOptions(const config::BrokerConfig& broker) {
  mqtt::MqttOptions o;
  o.uri = broker.uri;
  o.client_id = broker.client_id;
  o.username = broker.username;
  o.password = broker.password;
  o.tls_ca = broker.tls.ca;
  o.tls_cert = broker.tls.cert;
  o.tls_key = broker.tls.key;
  o.topics = broker.topics;
  o.qos = broker.qos;
  return o;
}

store::StoreOptions StorageOptions(const config::StorageConfig& storage) {
  store::StoreOptions o;
  switch (storage.journal_sync) {
    case config::JournalSync::kGroup: o.journal.mode = store::JournalMode::kGroup; break;
    case config::JournalSync::kStrict: o.journal.mode = store::JournalMode::kStrict; break;
    case config::JournalSync::kFsync:
      o.journal.mode = store::JournalMode::kFsync;
      o.sync_commits = true;
      break;
  }
  o.journal.group_commit_size = static_cast<std::size_t>(storage.group_commit_size);
  return o;
}

struct ReloadStats {
  std::atomic<uint64_t> ok{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> rules_loaded{0};
};

// SIGHUP: re-reads the rules and devices files named in the config (not the
// config itself). Invalid files keep the running rules; the diagnostics go
// to the log. Valid ones reach every worker between two messages.
// CONTRACT §3: a changed severity is a change to a case, so the active cases
// whose rule (or catalog entry) now names another one take it, each with an
// `updated` event: at every reload, and at start-up (rules edited while the
// gateway was down).
void UpdateSeverities(const rules::RuleSet& rules,
                      std::shared_ptr<const devices::FaultCatalog> catalog, core::CaseBook& cases,
                      core::Clock& clock, const char* when) {
  const std::size_t n =
      cases.UpdateSeverities(core::SeverityUnder(rules, std::move(catalog)), clock.NowMs());
  if (n > 0) Log("%s: %s took a new severity", when, Plural(n, "active case"));
}

void ReloadRules(const config::Config& config, core::Pipeline& pipeline, ReloadStats& stats,
                 core::CaseBook& cases, core::Clock& clock) {
  config::LoadedRules loaded = config::LoadRules(config.rules, config.devices);
  if (!loaded.errors.empty()) {
    for (const auto& d : loaded.errors) Log("reload: %s", d.ToString());
    Log("SIGHUP: reload refused (%s); keeping the running rules",
        Plural(loaded.errors.size(), "error"));
    stats.failed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::size_t n = loaded.rules->size();
  pipeline.Reload(loaded.rules, loaded.catalog);  // every worker has switched on return
  stats.rules_loaded.store(n, std::memory_order_relaxed);
  stats.ok.fetch_add(1, std::memory_order_relaxed);
  Log("SIGHUP: reloaded %s rules", std::to_string(n));
  UpdateSeverities(*loaded.rules, loaded.catalog, cases, clock, "SIGHUP");
}

// Crash recovery (DESIGN.md "Durability"): the device checkpoints, then the
// journal after the recovery start through the same workers, with the clock
// stopped so that silent() does not see devices whose later samples are
// still in the journal. Starts the pipeline; its clock runs afterwards.
bool Recover(core::CaseStore& store, core::Journal& journal, core::Pipeline& pipeline) {
  const auto started = std::chrono::steady_clock::now();
  std::vector<core::CheckpointRecord> checkpoints;
  absl::Status s = store.ForEachCheckpoint(
      [&](std::string_view key, std::string_view checkpoint, uint64_t watermark) {
        checkpoints.push_back({std::string(key), std::string(checkpoint), watermark});
      });
  if (!s.ok()) {
    Log("cannot read device checkpoints: %s", std::string(s.message()));
    return false;
  }
  const std::size_t refused = pipeline.RestoreDevices(checkpoints);
  const std::size_t devices = checkpoints.size() - refused;
  checkpoints = {};
  if (refused > 0) {
    Log("ignored %s malformed device checkpoints (those devices start afresh)",
        std::to_string(refused));
  }
  pipeline.Start();
  const uint64_t start = store.recovery_start();
  std::size_t entries = 0;
  s = journal.ForEachAfter(start, [&](const core::JournalEntry& e) {
    pipeline.Submit(e.topic, e.payload, e.receive_ms, e.seq);
    ++entries;
    return true;
  });
  if (!s.ok()) {
    Log("cannot read the journal: %s", std::string(s.message()));
    return false;
  }
  pipeline.WaitUntilIdle();
  pipeline.StartClock();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  Log("recovered %s", std::to_string(devices) + " devices from checkpoints and re-applied " +
                          std::to_string(entries) + " journal entries after seq " +
                          std::to_string(start) + " in " + std::to_string(ms) + " ms");
  return true;
}

}  // namespace

int RunServe(const std::string& config_path) {
  // Signals are taken synchronously by this thread (sigtimedwait); block them
  // before any other thread (Paho, RocksDB, workers) starts and inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  config::ConfigFile cfg = config::LoadConfig(config_path);
  for (const auto& d : cfg.errors) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!cfg.errors.empty()) return 1;
  const config::Config& config = cfg.config;

  // Paho reports an unreadable TLS file only as "TCP/TLS connect failure", at
  // every retry: say which file, once, and stop.
  for (const auto& [key, path] :
       {std::pair{"ca", &config.broker.tls.ca}, std::pair{"cert", &config.broker.tls.cert},
        std::pair{"key", &config.broker.tls.key}}) {
    if (!path->empty() && !std::ifstream(*path)) {
      std::fprintf(stderr, "%s: 'broker.tls.%s': cannot read %s: %s\n", config_path.c_str(), key,
                   path->c_str(), std::strerror(errno));
      return 1;
    }
  }

  config::LoadedRules loaded = config::LoadRules(config.rules, config.devices);
  for (const auto& d : loaded.errors) std::fprintf(stderr, "%s\n", d.ToString().c_str());
  if (!loaded.errors.empty()) return 1;

  auto opened = store::RocksStore::Open(config.storage.path, StorageOptions(config.storage));
  if (!opened.ok()) {
    Log("cannot open the store at %s: %s", config.storage.path,
        std::string(opened.status().message()));
    return 1;
  }
  std::unique_ptr<store::RocksStore> store = std::move(*opened);
  core::Journal& journal = store->journal();
  core::CaseStore& case_store = store->cases();

  mqtt::CasePublisher publisher(BrokerOptions(config.broker), case_store);
  http::ChangeNotifier changes;  // wakes /v1/changes long-polls
  core::StoreSink sink(case_store, [&publisher, &changes] {
    publisher.Notify();
    changes.Notify();
  });
  core::CaseBook cases(sink, case_store.last_event_seq() + 1, case_store.next_case_number());
  std::size_t restored = 0;
  absl::Status loaded_cases = case_store.ForEachCase([&](std::string_view json) {
    auto c = core::ParseCaseJson(json);
    if (c.ok()) {
      cases.Restore(std::move(*c));
      ++restored;
    }
  });
  if (!loaded_cases.ok()) {
    Log("cannot read cases from the store: %s", std::string(loaded_cases.message()));
    return 1;
  }

  core::WallClock clock;
  const int workers = config.workers > 0
                          ? config.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  core::Pipeline pipeline(
      core::Pipeline::Options{
          .workers = workers,
          .checkpoints = &case_store,
          .checkpoint_interval = std::chrono::milliseconds(config.storage.checkpoint_interval_ms),
          .clock_running = false},
      loaded.rules, loaded.catalog, clock, cases);
  if (!Recover(case_store, journal, pipeline)) return 1;
  UpdateSeverities(*loaded.rules, loaded.catalog, cases, clock, "start");
  ReloadStats reload;
  reload.rules_loaded = loaded.rules->size();
  if (absl::Status s = publisher.Start(); !s.ok()) {
    Log("%s", std::string(s.message()));
    return 1;
  }
  // Journal first, then the worker's ring; the broker's PUBACK follows. A
  // journal write that fails (disk full, I/O error) is counted and logged by
  // the main loop; the message is still evaluated, it only loses its crash
  // safety.
  std::atomic<uint64_t> journal_failures{0};
  const std::vector<std::string>& topics = config.broker.topics;
  for (std::size_t i = 0; i < topics.size(); ++i) {
    for (std::size_t j = i + 1; j < topics.size(); ++j) {
      if (config::TopicFiltersOverlap(topics[i], topics[j])) {
        Log("warning: broker.topics %s overlap: the broker delivers a message they both match "
            "twice, and a sample without seq counts twice",
            topics[i] + " and " + topics[j]);
      }
    }
  }
  // Filters the session kept from an earlier configuration go, else the broker
  // would go on delivering them (twice, where they overlap the new ones).
  std::vector<std::string> stale;
  for (std::string& filter : ReadSubscriptions(SubscriptionsPath(config))) {
    if (std::find(topics.begin(), topics.end(), filter) == topics.end()) {
      stale.push_back(std::move(filter));
    }
  }
  mqtt::MqttOptions ingest_options = BrokerOptions(config.broker);
  ingest_options.stale_topics = stale;
  mqtt::MqttIngest ingest(std::move(ingest_options),
                          [&](std::string_view topic, std::string_view payload) {
                            const int64_t now = clock.NowMs();
                            auto seq = journal.Append(now, topic, payload);
                            if (!seq.ok()) journal_failures.fetch_add(1, std::memory_order_relaxed);
                            pipeline.Submit(topic, payload, now, seq.ok() ? *seq : 0);
                          });
  if (absl::Status s = ingest.Start(); !s.ok()) {
    Log("%s", std::string(s.message()));
    return 1;
  }
  // --- HTTP API and /metrics (gateway/http) ---
  http::MetricsCollector metrics(http::MetricsSources{
      .workers = pipeline.workers(),
      .worker_counters = [&pipeline](int i) -> const core::WorkerCounters& {
        return pipeline.counters(i);
      },
      .ring_depth = [&pipeline](int i) { return pipeline.ring_depth(i); },
      .cases = &cases,
      .broker_connected = [&ingest] { return ingest.connected(); },
      .outbox_depth = [&case_store] { return case_store.outbox_depth(); },
      .publications_refused = [&publisher] { return publisher.refused(); },
      .retained_telemetry_dropped = [&ingest] { return ingest.retained_telemetry_dropped(); },
      .rules_loaded = [&reload] { return reload.rules_loaded.load(std::memory_order_relaxed); },
      .reloads_ok = [&reload] { return reload.ok.load(std::memory_order_relaxed); },
      .reloads_failed = [&reload] { return reload.failed.load(std::memory_order_relaxed); },
      .commit_failures = [&sink] { return sink.failures(); },
      .checkpointed_journal_seq = [&pipeline] { return pipeline.checkpointed_through(); },
      .journal_write_us = &store->journal_write_latency_us(),
      .store_write_us = &store->store_write_latency_us(),
  });
  http::ApiOptions api_options{.host = config.http.host,
                               .port = config.http.port,
                               .max_wait_ms = config.http.max_wait_ms};
  for (const auto& t : config.http.tokens) api_options.tokens.push_back({t.token, t.tenant});
  http::ApiServer api(std::move(api_options),
                      http::ApiSources{.cases = cases,
                                       .store = case_store,
                                       .clock = clock,
                                       .changes = changes,
                                       .devices =
                                           [&pipeline](std::string_view t, std::string_view d) {
                                             return pipeline.QueryDevice(t, d);
                                           },
                                       .ready = [&ingest] { return ingest.subscribed(); },
                                       .metrics = &metrics});
  if (absl::Status s = api.Start(); !s.ok()) {
    Log("%s", std::string(s.message()));
    return 1;
  }
  const bool v6 = config.http.host.find(':') != std::string::npos;
  Log("HTTP API listening on %s:%s", v6 ? "[" + config.http.host + "]" : config.http.host,
      std::to_string(api.port()));
  // --- end HTTP ---

  Log("serving %s with %s (rules loaded, cases restored from the store)", config.broker.uri,
      std::to_string(workers) + " workers, " + std::to_string(loaded.rules->size()) + " rules, " +
          std::to_string(restored) + " cases");

  // Main loop: signals, the journal's sync timer (group), retention, and a
  // line in the log whenever the broker connection is up and subscribed.
  bool subscribed = false;
  bool subscriptions_recorded = false;  // mqtt_subscriptions holds this config's topics
  // Failed connects are logged when the reason changes, else once a minute.
  uint64_t connect_failures_seen = 0;
  std::string connect_failure_logged;
  auto next_connect_failure_log = std::chrono::steady_clock::now();
  bool egress_version_logged = false;
  uint64_t journal_failures_logged = 0;
  uint64_t refusals_logged = 0;
  const auto flush_every = std::chrono::milliseconds(config.storage.group_commit_interval_ms);
  auto next_trim = std::chrono::steady_clock::now();
  while (true) {
    timespec timeout{};
    timeout.tv_nsec = static_cast<long>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(flush_every).count() % 1000000000);
    timeout.tv_sec = static_cast<time_t>(
        std::chrono::duration_cast<std::chrono::seconds>(flush_every).count());
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) ReloadRules(config, pipeline, reload, cases, clock);
    if (uint64_t failed = journal_failures.load(std::memory_order_relaxed);
        failed != journal_failures_logged) {
      Log("journal writes failing (%s so far): telemetry is evaluated but not crash-safe",
          std::to_string(failed));
      journal_failures_logged = failed;
    }
    (void)journal.Flush();  // group: synced at least every interval
    if (const uint64_t failures = ingest.connect_failures(); failures != connect_failures_seen) {
      connect_failures_seen = failures;
      const std::string why = ingest.last_connect_failure();
      const auto now = std::chrono::steady_clock::now();
      if (why != connect_failure_logged || now >= next_connect_failure_log) {
        Log("MQTT: cannot connect to %s: %s; retrying", config.broker.uri, why);
        connect_failure_logged = why;
        next_connect_failure_log = now + std::chrono::minutes(1);
      }
    }
    if (!subscriptions_recorded && ingest.subscribed() && ingest.unsubscribed_stale()) {
      if (!stale.empty()) {
        Log("MQTT: unsubscribed from %s, no longer configured", absl::StrJoin(stale, ", "));
      }
      if (!WriteSubscriptions(SubscriptionsPath(config), config.broker.topics)) {
        Log("cannot write %s", SubscriptionsPath(config));
      }
      subscriptions_recorded = true;
    }
    if (ingest.subscribed() != subscribed) {
      subscribed = !subscribed;
      if (subscribed) {
        Log("MQTT: connected to %s and subscribed to %s",
            config.broker.uri + " with MQTT " +
                std::string(mqtt::MqttVersionName(ingest.mqtt_version())),
            Plural(config.broker.topics.size(), "topic filter"));
      } else {
        Log("lost the connection to %s; reconnecting", config.broker.uri);
      }
    }
    if (uint64_t refused = publisher.refused(); refused != refusals_logged) {
      Log("MQTT: the broker refused %s case event publications so far (check its ACL for "
          "service/...); they stay in the outbox and are retried, the others go on",
          std::to_string(refused));
      refusals_logged = refused;
    }
    if (!egress_version_logged && publisher.mqtt_version() != 0) {
      Log("MQTT: case publisher connected to %s with MQTT %s", config.broker.uri,
          std::string(mqtt::MqttVersionName(publisher.mqtt_version())));
      egress_version_logged = true;
    }
    if (std::chrono::steady_clock::now() >= next_trim) {
      // Never past the recovery start: a restart re-applies what follows it.
      (void)journal.TrimBefore(clock.NowMs() - config.storage.journal_retention_ms,
                               case_store.recovery_start());
      next_trim = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    }
  }

  Log("shutting down: draining the workers, flushing the journal");
  api.Stop();  // answers pending long-polls at once
  ingest.Stop();
  pipeline.Stop();
  (void)journal.Flush();
  publisher.Stop();
  if (absl::Status s = store->Close(); !s.ok()) {
    Log("closing the store: %s", std::string(s.message()));
  }
  Log("stopped");
  return 0;
}

}  // namespace precall
