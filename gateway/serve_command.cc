#include "gateway/serve_command.h"

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <thread>

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
  o.journal.group_commit_interval = absl::Milliseconds(storage.group_commit_interval_ms);
  o.journal.group_commit_size = static_cast<std::size_t>(storage.group_commit_size);
  return o;
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
  core::Pipeline pipeline(core::Pipeline::Options{.workers = workers}, loaded.rules,
                          loaded.catalog, clock, cases);
  pipeline.Start();
  if (absl::Status s = publisher.Start(); !s.ok()) {
    Log("%s", std::string(s.message()));
    return 1;
  }
  // Journal first, then the worker's ring; the broker's PUBACK follows.
  mqtt::MqttIngest ingest(BrokerOptions(config.broker),
                          [&](std::string_view topic, std::string_view payload) {
                            const int64_t now = clock.NowMs();
                            auto seq = journal.Append(now, topic, payload);
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
      .rules_loaded = [&loaded] { return static_cast<uint64_t>(loaded.rules->size()); },
      // .reloads_ok, .reloads_failed: read as 0 until SIGHUP reload counts them.
      .commit_failures = [&sink] { return sink.failures(); },
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

  // Main loop: signals, the journal's group-commit timer, retention, and a
  // line in the log whenever the broker connection is up and subscribed.
  bool subscribed = false;
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
    if (sig == SIGHUP) Log("SIGHUP: rule reload is not available yet; keeping the loaded rules");
    (void)journal.Flush();  // an idle group is written at least every interval
    if (ingest.subscribed() != subscribed) {
      subscribed = !subscribed;
      if (subscribed) {
        Log("connected to %s and subscribed to %s topic filters", config.broker.uri,
            std::to_string(config.broker.topics.size()));
      } else {
        Log("lost the connection to %s; reconnecting", config.broker.uri);
      }
    }
    if (std::chrono::steady_clock::now() >= next_trim) {
      (void)journal.TrimBefore(clock.NowMs() - config.storage.journal_retention_ms);
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
