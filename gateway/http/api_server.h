// ApiServer: the service-center HTTP API and /metrics (CONTRACT §4), on
// cpp-httplib.
//
// Routes: GET /v1/cases, GET /v1/cases/{id}, POST /v1/cases/{id}/ack and
// /resolve, GET /v1/changes (long-poll), GET /v1/devices/{tenant}/{device},
// GET /healthz, /readyz, /metrics. Every failure answers {"error": "..."}:
// 400 bad parameter or body, 401 missing or unknown token (/v1/ only), 404
// unknown route, case or device (also another tenant's), 405 known route with
// another method, 409 acknowledging a resolved case, 503 too many long-polls
// waiting or not ready, 500 store failure.
//
// Concurrency: cpp-httplib serves each connection on a thread of a fixed
// pool (Options::threads). A long-poll holds its thread while it waits, so at
// most Options::max_waiting_polls wait at once (more answer 503 with
// Retry-After), which keeps threads free for everything else. Stop() ends the
// pending long-polls at once (they answer what they have), then the server.
//
// Thread: Start/Stop from the owner; handlers run on the pool's threads and
// only touch thread-safe sources (CaseBook, CaseStore, the device lookup).
#ifndef PRECALL_GATEWAY_HTTP_API_SERVER_H_
#define PRECALL_GATEWAY_HTTP_API_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/device_view.h"
#include "gateway/core/ports.h"
#include "gateway/http/auth.h"
#include "gateway/http/change_feed.h"
#include "gateway/http/metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace precall::http {

struct ApiOptions {
  std::string host = "127.0.0.1";  // loopback unless configured otherwise
  int port = 8080;                 // 0: any free port (see ApiServer::port())
  std::vector<ApiToken> tokens;    // none: open API
  int64_t max_wait_ms = 60000;     // cap on /v1/changes?wait=
  int threads = 32;                // connections served at once
  int max_waiting_polls = 24;      // long-polls waiting at once (< threads)
};

// Limits of the list parameters (values above are capped, not refused).
inline constexpr std::size_t kDefaultCasesLimit = 100;
inline constexpr std::size_t kMaxCasesLimit = 1000;
inline constexpr std::size_t kDefaultChangesLimit = 500;
inline constexpr std::size_t kMaxChangesLimit = 1000;
// GET /v1/cases/{id} lists at most the case's latest this-many events.
inline constexpr std::size_t kMaxCaseEvents = 1000;

struct ApiSources {
  core::CaseBook& cases;
  core::CaseStore& store;
  core::Clock& clock;       // acknowledged_at / resolved_at of manual actions
  ChangeNotifier& changes;  // woken by every commit; Stop() shuts it down
  // What the gateway knows of a device (Pipeline::QueryDevice); nullopt when
  // it has never seen it.
  std::function<std::optional<core::DeviceView>(std::string_view tenant, std::string_view device)>
      devices;
  // /readyz: the broker is connected (the store is open while serving).
  std::function<bool()> ready;
  const MetricsCollector* metrics = nullptr;  // null: /metrics answers 404
};

class ApiServer {
 public:
  ApiServer(ApiOptions options, ApiSources sources);
  ~ApiServer();  // Stop()s
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds host:port and starts serving on a thread of its own. Fails when the
  // address cannot be bound.
  absl::Status Start();
  // Ends pending long-polls, stops accepting, joins. Idempotent.
  void Stop();
  // The bound port (useful with port 0); 0 before Start().
  int port() const { return port_; }
  // Long-polls holding a thread now.
  int waiting_polls() const { return waiting_polls_.load(std::memory_order_relaxed); }

 private:
  void Routes();
  // Runs `handler` for an authorized /v1/ request, else answers 401.
  using V1Handler = std::function<void(const httplib::Request&, httplib::Response&, const Scope&)>;
  std::function<void(const httplib::Request&, httplib::Response&)> V1(V1Handler handler) const;
  // The request's scope; nullopt after answering 401.
  std::optional<Scope> Authorize(const httplib::Request& req, httplib::Response& res) const;

  void ListCases(const httplib::Request& req, httplib::Response& res, const Scope& scope) const;
  void GetCase(const httplib::Request& req, httplib::Response& res, const Scope& scope) const;
  void ActOnCase(const httplib::Request& req, httplib::Response& res, const Scope& scope,
                 bool resolve) const;
  void Changes(const httplib::Request& req, httplib::Response& res, const Scope& scope);
  void GetDevice(const httplib::Request& req, httplib::Response& res, const Scope& scope) const;
  void Fallback(const httplib::Request& req, httplib::Response& res) const;

  const ApiOptions options_;
  ApiSources sources_;
  TokenAuth auth_;
  ChangeFeed feed_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<int> waiting_polls_{0};
  std::atomic<bool> listen_returned_{false};
  int port_ = 0;
  bool started_ = false;
};

}  // namespace precall::http

#endif  // PRECALL_GATEWAY_HTTP_API_SERVER_H_
