#include "gateway/http/api_server.h"

#include <sys/socket.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <exception>
#include <utility>

#include "absl/status/statusor.h"
#include "devices/ids.h"
#include "devices/severity.h"
#include "gateway/core/case.h"
#include "gateway/core/json_writer.h"
#include "gateway/core/thread_name.h"
#include "httplib.h"
#include "simdjson.h"

namespace precall::http {
namespace {

using httplib::Request;
using httplib::Response;

constexpr char kJson[] = "application/json";
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxByBytes = 256;
constexpr std::size_t kMaxNoteBytes = 4096;

void SendJson(Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kJson);
}

void SendError(Response& res, int status, std::string_view message) {
  std::string body = "{\"error\":";
  core::json::AppendString(body, message);
  body.push_back('}');
  SendJson(res, status, body);
}

void SendError(Response& res, int status, const absl::Status& error) {
  SendError(res, status, std::string_view(error.message().data(), error.message().size()));
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 409: return "conflict";
    case 413: return "request body too large";
    case 414: return "request URI too long";
    case 416: return "range not satisfiable";
    case 503: return "unavailable";
    default: return status < 500 ? "bad request" : "internal error";
  }
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// A query parameter's value; nullopt when absent or empty, so that
// `?status=&device=&limit=100` (the contract's own request line) filters
// on nothing but the limit.
std::optional<std::string> Param(const Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  std::string value = req.get_param_value(name);
  if (value.empty()) return std::nullopt;
  return value;
}

// A parameter that must be an unsigned integer; `fallback` when absent.
absl::StatusOr<uint64_t> UintParam(const Request& req, const char* name, uint64_t fallback) {
  const std::optional<std::string> param = Param(req, name);
  if (!param) return fallback;
  std::optional<uint64_t> v = ParseUint(*param);
  if (!v) {
    return absl::InvalidArgumentError(std::string(name) + " must be a non-negative integer");
  }
  return *v;
}

// `limit`: a positive integer, capped at `cap`.
absl::StatusOr<std::size_t> LimitParam(const Request& req, std::size_t fallback, std::size_t cap) {
  absl::StatusOr<uint64_t> v = UintParam(req, "limit", fallback);
  if (!v.ok()) return absl::InvalidArgumentError("limit must be a positive integer");
  if (*v == 0) return absl::InvalidArgumentError("limit must be a positive integer");
  return static_cast<std::size_t>(std::min<uint64_t>(*v, cap));
}

// `wait`: seconds (decimals allowed), capped at `cap_ms`.
absl::StatusOr<int64_t> WaitParamMs(const Request& req, int64_t cap_ms) {
  const std::optional<std::string> param = Param(req, "wait");
  if (!param) return 0;
  const std::string& s = *param;
  double seconds = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), seconds);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(seconds) || seconds < 0) {
    return absl::InvalidArgumentError("wait must be a non-negative number of seconds");
  }
  return std::min<int64_t>(cap_ms, static_cast<int64_t>(std::min(seconds * 1000.0, 1e15)));
}

// The body of ack and resolve: {"by": "...", "note": "..."}; `by` required,
// `note` optional (null counts as absent).
absl::StatusOr<std::string> ParseActor(const std::string& body) {
  const absl::Status bad = absl::InvalidArgumentError(
      "body must be a JSON object with \"by\": a non-empty string (and an optional string "
      "\"note\")");
  // The DOM parser validates the whole body (the On-Demand one stops early).
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(body).get_object().get(object) != simdjson::SUCCESS) return bad;
  std::optional<std::string> by;
  for (auto [key, field] : object) {
    if (key != "by" && key != "note") continue;  // other fields are ignored
    if (key == "note" && field.is_null()) continue;  // a client's way to send no note
    std::string_view value;
    if (field.get_string().get(value) != simdjson::SUCCESS) return bad;
    if (key == "by") {
      if (value.empty() || value.size() > kMaxByBytes) {
        return absl::InvalidArgumentError("\"by\" must be 1 to 256 bytes");
      }
      if (value == "auto") {
        return absl::InvalidArgumentError("\"by\": \"auto\" is reserved for automatic resolution");
      }
      by = std::string(value);
    } else if (value.size() > kMaxNoteBytes) {
      return absl::InvalidArgumentError("\"note\" must be at most 4096 bytes");
    }
  }
  if (!by) return bad;
  return *std::move(by);
}

std::optional<core::CaseStatus> ParseStatus(std::string_view s) {
  if (s == "open") return core::CaseStatus::kOpen;
  if (s == "acknowledged") return core::CaseStatus::kAcknowledged;
  if (s == "resolved") return core::CaseStatus::kResolved;
  return std::nullopt;
}

void AppendStrings(std::string& out, const std::vector<std::string>& items) {
  out.push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    core::json::AppendString(out, items[i]);
  }
  out.push_back(']');
}

// Raw JSON values (stored case events), as an array.
void AppendRaw(std::string& out, const std::vector<std::string>& items) {
  out.push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(items[i]);
  }
  out.push_back(']');
}

// {"name": value, ...} in the given order.
template <typename V, typename AppendValue>
void AppendObject(std::string& out, const std::vector<std::pair<std::string, V>>& fields,
                  AppendValue append_value) {
  out.push_back('{');
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    core::json::AppendString(out, fields[i].first);
    out.push_back(':');
    append_value(out, fields[i].second);
  }
  out.push_back('}');
}

// GET /v1/devices answer: `view` when the workers know the device, else what
// its cases tell (model only).
std::string DeviceJson(std::string_view tenant, std::string_view device,
                       const std::optional<core::DeviceView>& view,
                       const std::optional<std::string>& case_model,
                       const std::vector<std::string>& active_cases) {
  std::string out = "{\"tenant\":";
  core::json::AppendString(out, tenant);
  out.append(",\"device\":");
  core::json::AppendString(out, device);
  out.append(",\"model\":");
  const std::optional<std::string>& model = view ? view->model : case_model;
  if (model) {
    core::json::AppendString(out, *model);
  } else {
    out.append("null");
  }
  out.append(",\"labels\":");
  AppendObject(out, view ? view->labels : decltype(view->labels){}, core::json::AppendString);
  out.append(",\"last_seen\":");
  if (view && view->last_seen) {
    core::json::AppendInt(out, *view->last_seen);
  } else {
    out.append("null");
  }
  out.append(",\"metrics\":");
  AppendObject(out, view ? view->metrics : decltype(view->metrics){}, core::json::AppendDouble);
  out.append(",\"dtc\":");
  AppendStrings(out, view ? view->dtc : std::vector<std::string>{});
  out.append(",\"active_cases\":");
  AppendStrings(out, active_cases);
  out.push_back('}');
  return out;
}

// The methods of the route `path` belongs to (the Allow header), or null
// when it names no route: tells 405 from 404.
const char* AllowedMethods(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path.front() != '/') return nullptr;
  path.remove_prefix(1);
  while (true) {
    const std::size_t slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (parts.back().empty()) return nullptr;
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  const std::size_t n = parts.size();
  if (n == 1) {
    const bool known = parts[0] == "healthz" || parts[0] == "readyz" || parts[0] == "metrics";
    return known ? "GET" : nullptr;
  }
  if (parts[0] != "v1") return nullptr;
  if (parts[1] == "cases") {
    if (n <= 3) return "GET";
    return n == 4 && (parts[3] == "ack" || parts[3] == "resolve") ? "POST" : nullptr;
  }
  if (parts[1] == "changes") return n == 2 ? "GET" : nullptr;
  return parts[1] == "devices" && n == 4 ? "GET" : nullptr;
}

}  // namespace

ApiServer::ApiServer(ApiOptions options, ApiSources sources)
    : options_(std::move(options)),
      sources_(std::move(sources)),
      auth_(options_.tokens),
      feed_(sources_.store, sources_.changes),
      server_(std::make_unique<httplib::Server>()) {
  Routes();
}

ApiServer::~ApiServer() { Stop(); }

std::function<void(const Request&, Response&)> ApiServer::V1(V1Handler handler) const {
  return [this, handler = std::move(handler)](const Request& req, Response& res) {
    if (std::optional<Scope> scope = Authorize(req, res)) handler(req, res, *scope);
  };
}

std::optional<Scope> ApiServer::Authorize(const Request& req, Response& res) const {
  std::optional<Scope> scope = auth_.Authorize(req.get_header_value("Authorization"));
  if (!scope) {
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(res, 401, "missing or unknown bearer token");
  }
  return scope;
}

void ApiServer::Routes() {
  httplib::Server& s = *server_;
  const int threads = options_.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_payload_max_length(kMaxBodyBytes);
  // No answer here is served in parts: cpp-httplib would cut the body to a
  // Range header's bytes yet keep the handler's 200 (a poller would get
  // '{"events":' as a whole answer), and cut error answers too. A server may
  // ignore Range (RFC 9110 §14.2); the request object is cpp-httplib's own,
  // non-const, local to the connection, so clearing its parsed ranges is safe.
  s.set_pre_routing_handler([](const Request& req, Response&) {
    const_cast<Request&>(req).ranges.clear();
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // A slow or idle client holds a pool thread: bound how long.
  s.set_read_timeout(5);
  s.set_write_timeout(5);
  s.set_keep_alive_timeout(2);
  s.Get(R"(/v1/cases)",
        V1([this](const Request& q, Response& r, const Scope& sc) { ListCases(q, r, sc); }));
  s.Get(R"(/v1/cases/([^/]+))",
        V1([this](const Request& q, Response& r, const Scope& sc) { GetCase(q, r, sc); }));
  s.Post(R"(/v1/cases/([^/]+)/ack)", V1([this](const Request& q, Response& r, const Scope& sc) {
           ActOnCase(q, r, sc, /*resolve=*/false);
         }));
  s.Post(R"(/v1/cases/([^/]+)/resolve)", V1([this](const Request& q, Response& r, const Scope& sc) {
           ActOnCase(q, r, sc, /*resolve=*/true);
         }));
  s.Get(R"(/v1/changes)",
        V1([this](const Request& q, Response& r, const Scope& sc) { Changes(q, r, sc); }));
  s.Get(R"(/v1/devices/([^/]+)/([^/]+))",
        V1([this](const Request& q, Response& r, const Scope& sc) { GetDevice(q, r, sc); }));
  s.Get("/healthz",
        [](const Request&, Response& res) { SendJson(res, 200, R"({"status":"ok"})"); });
  s.Get("/readyz", [this](const Request&, Response& res) {
    if (sources_.ready && sources_.ready()) {
      SendJson(res, 200, R"({"status":"ready"})");
    } else {
      SendError(res, 503, "not ready: the broker is not connected");
    }
  });
  s.Get("/metrics", [this](const Request&, Response& res) {
    if (sources_.metrics == nullptr) {
      SendError(res, 404, "not found");
      return;
    }
    std::vector<prometheus::MetricFamily> families = sources_.metrics->Collect();
    prometheus::MetricFamily& polls = families.emplace_back();
    polls.name = "precall_http_long_polls_waiting";
    polls.help = "GET /v1/changes requests holding a server thread now.";
    polls.type = prometheus::MetricType::Gauge;
    polls.metric.emplace_back().gauge.value = waiting_polls_.load(std::memory_order_relaxed);
    res.set_content(ExpositionText(families), "text/plain; version=0.0.4; charset=utf-8");
  });
  auto fallback = [this](const Request& req, Response& res) { Fallback(req, res); };
  s.Get(".*", fallback);
  s.Post(".*", fallback);
  s.Put(".*", fallback);
  s.Patch(".*", fallback);
  s.Delete(".*", fallback);
  s.Options(".*", fallback);
  // Errors cpp-httplib answers by itself (malformed request, body too large).
  // It refuses a POST or PUT without Content-Length (curl -X POST) with 400
  // before routing; where the route does not take that method at all, the
  // answer is the route's 401/404/405, as with a body.
  s.set_error_handler([this](const Request& req, Response& res) {
    if (res.status == 400 && !req.method.empty() && !req.has_header("Content-Length")) {
      const char* methods = AllowedMethods(req.path);
      if (methods == nullptr ||
          std::string_view(methods).find(req.method) == std::string_view::npos) {
        res.status = 200;
        res.headers.clear();
        res.body.clear();
        Fallback(req, res);
        return;
      }
    }
    if (res.body.empty()) SendError(res, res.status, ReasonPhrase(res.status));
  });
  // cpp-httplib sets SO_REUSEPORT by default, which lets a second gateway
  // listen on our port and take half our requests. SO_REUSEADDR only: a
  // restart still binds past the old connections' TIME_WAIT, a second
  // listener gets "address in use".
  s.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  s.set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
    SendError(res, 500, "internal error");
  });
}

void ApiServer::Fallback(const Request& req, Response& res) const {
  // Every /v1/ request needs a token, even one for no route (CONTRACT §4).
  if (req.path.rfind("/v1/", 0) == 0 && !Authorize(req, res)) return;
  const char* methods = AllowedMethods(req.path);
  if (methods == nullptr) return SendError(res, 404, "no such route");
  res.set_header("Allow", methods);
  SendError(res, 405, std::string("method not allowed; use ") + methods);
}

void ApiServer::ListCases(const Request& req, Response& res, const Scope& scope) const {
  core::CaseBook::Query query;
  absl::StatusOr<std::size_t> limit = LimitParam(req, kDefaultCasesLimit, kMaxCasesLimit);
  if (!limit.ok()) return SendError(res, 400, limit.status());
  query.limit = *limit;
  if (const std::optional<std::string> status = Param(req, "status")) {
    if (*status == "active") {
      query.active_only = true;
    } else if (auto s = ParseStatus(*status)) {
      query.status = s;
    } else {
      return SendError(res, 400, "status must be open, acknowledged, resolved or active");
    }
  }
  if (const std::optional<std::string> severity = Param(req, "severity")) {
    query.severity = devices::ParseSeverity(*severity);
    if (!query.severity) {
      return SendError(res, 400, "severity must be info, warning, major or critical");
    }
  }
  query.device = Param(req, "device");
  query.rule = Param(req, "rule");
  query.tenant = Param(req, "tenant");
  std::string body = "{\"cases\":[";
  if (!query.tenant || scope.Allows(*query.tenant)) {
    if (scope.tenant) query.tenant = scope.tenant;
    const std::vector<core::Case> cases = sources_.cases.List(query);
    for (std::size_t i = 0; i < cases.size(); ++i) {
      if (i > 0) body.push_back(',');
      core::AppendCaseJson(body, cases[i]);
    }
  }
  body.append("]}");
  SendJson(res, 200, body);
}

void ApiServer::GetCase(const Request& req, Response& res, const Scope& scope) const {
  const std::string id = req.matches[1];
  std::optional<core::Case> c = sources_.cases.Find(id);
  if (!c || !scope.Allows(c->tenant)) return SendError(res, 404, "no such case");
  absl::StatusOr<std::vector<std::string>> events = sources_.store.CaseEvents(id, kMaxCaseEvents);
  if (!events.ok()) return SendError(res, 500, events.status());
  std::string body;
  core::AppendCaseJson(body, *c);
  body.pop_back();  // the case object's '}'
  body.append(",\"events\":");
  AppendRaw(body, *events);
  body.push_back('}');
  SendJson(res, 200, body);
}

void ApiServer::ActOnCase(const Request& req, Response& res, const Scope& scope,
                          bool resolve) const {
  const std::string id = req.matches[1];
  std::optional<core::Case> c = sources_.cases.Find(id);
  if (!c || !scope.Allows(c->tenant)) return SendError(res, 404, "no such case");
  absl::StatusOr<std::string> by = ParseActor(req.body);
  if (!by.ok()) return SendError(res, 400, by.status());
  const int64_t now = sources_.clock.NowMs();
  absl::StatusOr<core::Case> done =
      resolve ? sources_.cases.Resolve(id, *by, now) : sources_.cases.Acknowledge(id, *by, now);
  if (!done.ok()) {
    const int status = absl::IsNotFound(done.status())             ? 404
                       : absl::IsFailedPrecondition(done.status()) ? 409
                                                                   : 500;
    return SendError(res, status, done.status());
  }
  std::string body;
  core::AppendCaseJson(body, *done);
  SendJson(res, 200, body);
}

void ApiServer::Changes(const Request& req, Response& res, const Scope& scope) {
  absl::StatusOr<uint64_t> after = UintParam(req, "after", 0);
  if (!after.ok()) return SendError(res, 400, after.status());
  absl::StatusOr<std::size_t> limit = LimitParam(req, kDefaultChangesLimit, kMaxChangesLimit);
  if (!limit.ok()) return SendError(res, 400, limit.status());
  absl::StatusOr<int64_t> wait_ms = WaitParamMs(req, options_.max_wait_ms);
  if (!wait_ms.ok()) return SendError(res, 400, wait_ms.status());

  // A waiting poll holds a server thread: past the cap, answer without waiting.
  const bool may_wait = *wait_ms > 0 && waiting_polls_.fetch_add(1) < options_.max_waiting_polls;
  absl::StatusOr<ChangesPage> page =
      feed_.Read(*after, *limit, scope.tenant, absl::Milliseconds(may_wait ? *wait_ms : 0));
  if (*wait_ms > 0) waiting_polls_.fetch_sub(1);
  if (!page.ok()) return SendError(res, 500, page.status());
  if (*wait_ms > 0 && !may_wait && page->events.empty()) {
    res.set_header("Retry-After", "1");
    return SendError(res, 503, "too many long-polls waiting; retry");
  }
  std::string body = "{\"events\":";
  AppendRaw(body, page->events);
  body.append(",\"next\":");
  core::json::AppendUint(body, page->next);
  body.push_back('}');
  SendJson(res, 200, body);
}

void ApiServer::GetDevice(const Request& req, Response& res, const Scope& scope) const {
  const std::string tenant = req.matches[1];
  const std::string device = req.matches[2];
  if (!devices::IsValidId(tenant) || !devices::IsValidId(device) || !scope.Allows(tenant)) {
    return SendError(res, 404, "no such device");
  }
  std::optional<core::DeviceView> view;
  if (sources_.devices) view = sources_.devices(tenant, device);
  std::optional<std::string> case_model;
  if (!view) {
    // Not in the workers' state (e.g. not reported since a restart), but the
    // gateway still knows it through its cases.
    core::CaseBook::Query query;
    query.tenant = tenant;
    query.device = device;
    query.limit = 1;
    std::vector<core::Case> latest = sources_.cases.List(query);
    if (latest.empty()) return SendError(res, 404, "no such device");
    case_model = latest.front().model;
  }
  SendJson(
      res, 200,
      DeviceJson(tenant, device, view, case_model, sources_.cases.ActiveCaseIds(tenant, device)));
}

absl::Status ApiServer::Start() {
  if (started_) return absl::FailedPreconditionError("the HTTP server is already started");
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
  } else if (server_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0) {
    port_ = 0;
    return absl::UnavailableError("HTTP: cannot listen on " + options_.host + ":" +
                                  std::to_string(options_.port));
  }
  started_ = true;
  thread_ = std::thread([this] {
    core::NameThisThread("http");
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // stop() is a no-op until the server runs: wait for it, so Stop() never misses.
  while (!server_->is_running() && !listen_returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return absl::OkStatus();
}

void ApiServer::Stop() {
  sources_.changes.Shutdown();
  if (!started_) return;
  started_ = false;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace precall::http
