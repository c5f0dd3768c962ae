// ApiServer over real HTTP (cpp-httplib client, port 0) on an in-memory
// store: every route and status code, tenant scoping, parameter checks and
// caps, the long-poll (wakes on a commit, times out empty, capped, refused
// past the waiting cap, ended by Stop), and JSON errors for every failure.
#include "gateway/http/api_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fakes/in_memory_store.h"
#include "gateway/core/store_sink.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "simdjson.h"
#include "support/poll.h"

namespace precall::http {
namespace {

class FixedClock final : public core::Clock {
 public:
  int64_t NowMs() const override { return now_ms.load(); }
  bool IsDataClock() const override { return false; }
  bool HasTime() const override { return true; }
  bool Observe(int64_t) override { return false; }
  std::atomic<int64_t> now_ms{5000};
};

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
  httplib::Headers headers;
};

class ApiServerTest : public ::testing::Test {
 protected:
  void Start(ApiOptions options = {}) {
    options.port = 0;
    if (options.tokens.empty() && !open_) {
      options.tokens = {{"all-token", "*"}, {"acme-token", "acme"}};
    }
    server_ = std::make_unique<ApiServer>(std::move(options), Sources());
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_GT(server_->port(), 0);
  }
  ApiSources Sources() {
    return ApiSources{.cases = book_,
                      .store = store_,
                      .clock = clock_,
                      .changes = changes_,
                      .devices = [this](std::string_view t,
                                        std::string_view d) -> std::optional<core::DeviceView> {
                        auto it = devices_.find({std::string(t), std::string(d)});
                        if (it == devices_.end()) return std::nullopt;
                        return it->second;
                      },
                      .ready = [this] { return ready_.load(); },
                      .metrics = &metrics_};
  }

  Reply Call(const std::string& method, const std::string& path, const std::string& token,
             const std::string& body = "") {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_read_timeout(120, 0);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    httplib::Result r =
        method == "GET"      ? client.Get(path.c_str(), headers)
        : method == "POST"   ? client.Post(path.c_str(), headers, body, "application/json")
        : method == "DELETE" ? client.Delete(path.c_str(), headers)
                             : client.Put(path.c_str(), headers, body, "application/json");
    Reply reply;
    if (!r) return reply;
    reply.status = r->status;
    reply.body = r->body;
    reply.content_type = r->get_header_value("Content-Type");
    reply.headers = r->headers;
    return reply;
  }
  // The whole response to `request` sent as is (for what httplib::Client
  // would not send, e.g. a POST without Content-Length).
  std::string Raw(const std::string& request) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(server_->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string response;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      // Until the body is complete: after an error cpp-httplib keeps the
      // connection open for its read timeout.
      char buf[4096];
      for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
        response.append(buf, static_cast<std::size_t>(n));
        const std::size_t head = response.find("\r\n\r\n");
        const std::size_t length = response.find("Content-Length: ");
        if (head != std::string::npos && length != std::string::npos && length < head &&
            response.size() - head - 4 >=
                std::stoul(
                    response.substr(length + 16, response.find('\r', length) - length - 16))) {
          break;
        }
      }
    }
    ::close(fd);
    return response;
  }
  Reply Get(const std::string& path, const std::string& token = "all-token") {
    return Call("GET", path, token);
  }
  Reply Post(const std::string& path, const std::string& body,
             const std::string& token = "all-token") {
    return Call("POST", path, token, body);
  }

  // Opens a case; returns its id.
  std::string Open(std::string_view tenant, std::string_view device, std::string_view rule,
                   devices::Severity severity, int64_t at) {
    rules::CaseTemplate tmpl{severity, "diagnosis", "skill", {"part"}, 0};
    std::string model = "EX200";
    book_.Trigger(core::CaseSubject{tenant, device, rule, &model}, tmpl, at, at, {{"t", 1.5}});
    return book_
        .List({.tenant = std::string(tenant),
               .device = std::string(device),
               .rule = std::string(rule),
               .limit = 1})
        .front()
        .id;
  }

  static std::string Header(const Reply& r, const std::string& name) {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? "" : it->second;
  }
  static simdjson::dom::element Parse(simdjson::dom::parser& parser, const std::string& body) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(body).get(e), simdjson::SUCCESS) << body;
    return e;
  }
  // The "id" of every case of a {"cases": [...]} answer, in order.
  static std::vector<std::string> CaseIds(const std::string& body) {
    simdjson::dom::parser parser;
    std::vector<std::string> ids;
    for (simdjson::dom::element c : Parse(parser, body)["cases"].get_array()) {
      ids.emplace_back(std::string_view(c["id"].get_string()));
    }
    return ids;
  }
  // The seq of every event and "next" of a /v1/changes answer.
  static std::pair<std::vector<uint64_t>, uint64_t> Changes(const std::string& body) {
    simdjson::dom::parser parser;
    simdjson::dom::element page = Parse(parser, body);
    std::vector<uint64_t> seqs;
    for (simdjson::dom::element e : page["events"].get_array()) {
      seqs.push_back(uint64_t(e["seq"].get_uint64()));
    }
    return {seqs, uint64_t(page["next"].get_uint64())};
  }
  static void ExpectError(const Reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    simdjson::dom::parser parser;
    std::string_view message;
    EXPECT_EQ(Parse(parser, r.body)["error"].get_string().get(message), simdjson::SUCCESS)
        << r.body;
    EXPECT_FALSE(message.empty());
  }

  bool open_ = false;
  fakes::InMemoryCaseStore store_;
  ChangeNotifier changes_;
  core::StoreSink sink_{store_, [this] { changes_.Notify(); }};
  core::CaseBook book_{sink_};
  FixedClock clock_;
  std::map<std::pair<std::string, std::string>, core::DeviceView> devices_;
  std::atomic<bool> ready_{false};
  MetricsCollector metrics_{MetricsSources{}};
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerTest, V1NeedsAKnownBearerToken) {
  Start();
  Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  Reply none = Get("/v1/cases", "");
  ExpectError(none, 401);
  EXPECT_EQ(Header(none, "WWW-Authenticate"), "Bearer");
  ExpectError(Get("/v1/cases", "wrong"), 401);
  ExpectError(Get("/v1/changes", "all-token-but-longer"), 401);
  ExpectError(Post("/v1/cases/x/ack", R"({"by":"a"})", ""), 401);
  EXPECT_EQ(Get("/v1/cases").status, 200);
  // The scheme is case-insensitive.
  httplib::Client client("127.0.0.1", server_->port());
  auto r = client.Get("/v1/cases", {{"Authorization", "bearer acme-token"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // Outside /v1/ no token is needed.
  EXPECT_EQ(Get("/healthz", "").status, 200);
}

TEST_F(ApiServerTest, WithoutTokensTheApiIsOpen) {
  open_ = true;
  Start();
  Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  Reply r = Get("/v1/cases", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(CaseIds(r.body).size(), 1u);
}

TEST_F(ApiServerTest, ListsCasesNewestFirstWithFilters) {
  Start();
  const std::string a = Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  const std::string b = Open("acme", "d2", "hot", devices::Severity::kCritical, 300);
  const std::string c = Open("acme", "d1", "cold", devices::Severity::kInfo, 200);
  const std::string other = Open("globex", "d1", "hot", devices::Severity::kMajor, 400);
  ASSERT_TRUE(book_.Acknowledge(c, "amy", 500).ok());
  ASSERT_TRUE(book_.Resolve(a, "bob", 600).ok());

  EXPECT_EQ(CaseIds(Get("/v1/cases").body), (std::vector<std::string>{other, b, c, a}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?status=active").body), (std::vector<std::string>{other, b, c}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?status=open").body), (std::vector<std::string>{other, b}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?status=acknowledged").body), (std::vector<std::string>{c}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?status=resolved").body), (std::vector<std::string>{a}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?device=d1").body), (std::vector<std::string>{other, c, a}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?rule=cold").body), (std::vector<std::string>{c}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?severity=major").body), (std::vector<std::string>{other, a}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?limit=2").body), (std::vector<std::string>{other, b}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?device=d1&rule=hot&tenant=acme").body),
            (std::vector<std::string>{a}));
  // An empty parameter filters on nothing, as in the contract's request line.
  EXPECT_EQ(CaseIds(Get("/v1/cases?status=&device=&rule=&severity=&limit=100").body),
            (std::vector<std::string>{other, b, c, a}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?status=&tenant=&limit=").body),
            (std::vector<std::string>{other, b, c, a}));
  EXPECT_EQ(Changes(Get("/v1/changes?after=&limit=&wait=").body).first.size(), 6u);
  // A tenant's token sees its tenant only, whatever it asks for.
  EXPECT_EQ(CaseIds(Get("/v1/cases", "acme-token").body), (std::vector<std::string>{b, c, a}));
  EXPECT_EQ(CaseIds(Get("/v1/cases?tenant=globex", "acme-token").body), std::vector<std::string>{});
}

TEST_F(ApiServerTest, ListLimitIsCapped) {
  Start();
  for (std::size_t i = 0; i < kMaxCasesLimit + 5; ++i) {
    Open("acme", "d" + std::to_string(i), "hot", devices::Severity::kInfo, 100);
  }
  EXPECT_EQ(CaseIds(Get("/v1/cases").body).size(), kDefaultCasesLimit);
  EXPECT_EQ(CaseIds(Get("/v1/cases?limit=100000").body).size(), kMaxCasesLimit);
}

TEST_F(ApiServerTest, BadParametersAre400) {
  Start();
  for (const char* path :
       {"/v1/cases?status=closed", "/v1/cases?severity=urgent", "/v1/cases?limit=0",
        "/v1/cases?limit=ten", "/v1/cases?limit=-1", "/v1/changes?after=-1", "/v1/changes?after=x",
        "/v1/changes?limit=0", "/v1/changes?wait=soon", "/v1/changes?wait=-1",
        "/v1/changes?wait=nan"}) {
    SCOPED_TRACE(path);
    ExpectError(Get(path), 400);
  }
}

TEST_F(ApiServerTest, GetsACaseWithItsEventsInOrder) {
  Start();
  const std::string id = Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  Open("acme", "d2", "hot", devices::Severity::kMajor, 150);
  ASSERT_TRUE(book_.Acknowledge(id, "amy", 200).ok());
  Reply r = Get("/v1/cases/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  simdjson::dom::parser parser;
  simdjson::dom::element c = Parse(parser, r.body);
  EXPECT_EQ(std::string_view(c["id"].get_string()), id);
  EXPECT_EQ(std::string_view(c["status"].get_string()), "acknowledged");
  EXPECT_EQ(std::string_view(c["acknowledged_by"].get_string()), "amy");
  std::vector<std::pair<uint64_t, std::string>> events;
  for (simdjson::dom::element e : c["events"].get_array()) {
    events.emplace_back(uint64_t(e["seq"].get_uint64()), std::string_view(e["type"].get_string()));
  }
  EXPECT_EQ(events,
            (std::vector<std::pair<uint64_t, std::string>>{{1, "opened"}, {3, "acknowledged"}}));
  ExpectError(Get("/v1/cases/c-0000000000000000"), 404);
  EXPECT_EQ(Get("/v1/cases/" + id, "acme-token").status, 200);
}

TEST_F(ApiServerTest, AnotherTenantsCaseOrDeviceIs404) {
  Start();
  const std::string id = Open("globex", "d1", "hot", devices::Severity::kMajor, 100);
  devices_[{"globex", "d1"}] = core::DeviceView{.tenant = "globex", .device = "d1"};
  ExpectError(Get("/v1/cases/" + id, "acme-token"), 404);
  ExpectError(Post("/v1/cases/" + id + "/ack", R"({"by":"amy"})", "acme-token"), 404);
  ExpectError(Post("/v1/cases/" + id + "/resolve", R"({"by":"amy"})", "acme-token"), 404);
  ExpectError(Get("/v1/devices/globex/d1", "acme-token"), 404);
  EXPECT_EQ(book_.Find(id)->status, core::CaseStatus::kOpen);  // untouched
  EXPECT_EQ(Get("/v1/cases/" + id).status, 200);
  EXPECT_EQ(Get("/v1/devices/globex/d1").status, 200);
}

TEST_F(ApiServerTest, AckThenResolveThenAckIsAConflict) {
  Start();
  const std::string id = Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  clock_.now_ms = 7000;
  Reply ack = Post("/v1/cases/" + id + "/ack", R"({"by": "amy", "note": "on my way"})");
  ASSERT_EQ(ack.status, 200) << ack.body;
  simdjson::dom::parser parser;
  simdjson::dom::element c = Parse(parser, ack.body);
  EXPECT_EQ(std::string_view(c["status"].get_string()), "acknowledged");
  EXPECT_EQ(std::string_view(c["acknowledged_by"].get_string()), "amy");
  EXPECT_EQ(int64_t(c["acknowledged_at"].get_int64()), 7000);

  clock_.now_ms = 8000;
  Reply resolve = Post("/v1/cases/" + id + "/resolve", R"({"by": "bob"})", "acme-token");
  ASSERT_EQ(resolve.status, 200) << resolve.body;
  c = Parse(parser, resolve.body);
  EXPECT_EQ(std::string_view(c["status"].get_string()), "resolved");
  EXPECT_EQ(std::string_view(c["resolved_by"].get_string()), "bob");
  EXPECT_EQ(int64_t(c["resolved_at"].get_int64()), 8000);

  ExpectError(Post("/v1/cases/" + id + "/ack", R"({"by": "amy"})"), 409);
  // Resolving again by the same actor changes nothing and numbers no event;
  // by another, it answers the case with resolved_by = by (a new event).
  EXPECT_EQ(Post("/v1/cases/" + id + "/resolve", R"({"by": "bob"})").status, 200);
  EXPECT_EQ(store_.last_event_seq(), 3u);
  clock_.now_ms = 9000;
  Reply again = Post("/v1/cases/" + id + "/resolve", R"({"by": "carl"})");
  ASSERT_EQ(again.status, 200) << again.body;
  c = Parse(parser, again.body);
  EXPECT_EQ(std::string_view(c["resolved_by"].get_string()), "carl");
  EXPECT_EQ(int64_t(c["resolved_at"].get_int64()), 8000);
  EXPECT_EQ(store_.last_event_seq(), 4u);
  ExpectError(Post("/v1/cases/c-0000000000000000/ack", R"({"by": "amy"})"), 404);
}

TEST_F(ApiServerTest, AckAndResolveNeedAnActor) {
  Start();
  const std::string id = Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  for (const char* body :
       {"", "{}", "[]", "not json", R"({"by": ""})", R"({"by": 7})", R"({"note": "x"})",
        R"({"by": "amy", "note": 3})", R"({"by": "auto"})", R"({"by": "amy"} trailing)"}) {
    SCOPED_TRACE(body);
    ExpectError(Post("/v1/cases/" + id + "/ack", body), 400);
    ExpectError(Post("/v1/cases/" + id + "/resolve", body), 400);
  }
  EXPECT_EQ(book_.Find(id)->status, core::CaseStatus::kOpen);
  ExpectError(Post("/v1/cases/" + id + "/ack", std::string(100 * 1024, 'x')), 413);
  // A null note is no note (clients serialize an unset field so).
  Reply ack = Post("/v1/cases/" + id + "/ack", R"({"by": "amy", "note": null})");
  EXPECT_EQ(ack.status, 200) << ack.body;
  EXPECT_EQ(book_.Find(id)->status, core::CaseStatus::kAcknowledged);
}

TEST_F(ApiServerTest, ChangesPageThroughEveryEventOnce) {
  Start();
  for (int i = 0; i < 5; ++i)
    Open("acme", "d" + std::to_string(i), "hot", devices::Severity::kInfo, i);
  auto [first, next] = Changes(Get("/v1/changes?after=0&limit=2").body);
  EXPECT_EQ(first, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(next, 2u);
  auto [rest, end] = Changes(Get("/v1/changes?after=2").body);
  EXPECT_EQ(rest, (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(end, 5u);
  auto [none, same] = Changes(Get("/v1/changes?after=5").body);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(same, 5u);
  EXPECT_EQ(Changes(Get("/v1/changes?after=99").body).second, 99u);
}

// A Range header is ignored: every answer is whole, with its own status.
TEST_F(ApiServerTest, RangeHeadersAreIgnored) {
  Start();
  Open("acme", "d1", "hot", devices::Severity::kInfo, 1);
  httplib::Client client("127.0.0.1", server_->port());
  auto changes = client.Get("/v1/changes?after=0",
                            {{"Authorization", "Bearer all-token"}, {"Range", "bytes=0-9"}});
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->status, 200);
  EXPECT_EQ(Changes(changes->body).first, (std::vector<uint64_t>{1}));
  EXPECT_EQ(changes->body, Get("/v1/changes?after=0").body);
  auto denied = client.Get("/v1/cases", {{"Range", "bytes=0-3"}});
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401);
  EXPECT_EQ(denied->body, Get("/v1/cases", "").body);
}

// A tenant's `next` is its last seq returned, or `after` (CONTRACT §4).
TEST_F(ApiServerTest, ATenantsNextIsItsLastEventOrAfter) {
  Start();
  Open("acme", "d1", "hot", devices::Severity::kInfo, 1);    // 1
  Open("globex", "d1", "hot", devices::Severity::kInfo, 2);  // 2
  Open("acme", "d2", "hot", devices::Severity::kInfo, 3);    // 3
  Open("globex", "d2", "hot", devices::Severity::kInfo, 4);  // 4
  auto [events, next] = Changes(Get("/v1/changes?after=0", "acme-token").body);
  EXPECT_EQ(events, (std::vector<uint64_t>{1, 3}));
  EXPECT_EQ(next, 3u);
  auto [limited, at] = Changes(Get("/v1/changes?after=0&limit=1", "acme-token").body);
  EXPECT_EQ(limited, (std::vector<uint64_t>{1}));
  EXPECT_EQ(at, 1u);
  for (uint64_t after : {3, 4}) {
    auto [none, still] = Changes(
        Get("/v1/changes?after=" + std::to_string(after) + "&wait=0.05", "acme-token").body);
    EXPECT_TRUE(none.empty());
    EXPECT_EQ(still, after);
  }
  // A quiet tenant's long-poll waits through other tenants' events for its own.
  std::thread later([&] {
    Open("globex", "d3", "hot", devices::Severity::kInfo, 5);  // 5
    Open("acme", "d3", "hot", devices::Severity::kInfo, 6);    // 6
  });
  auto [woken, resume] = Changes(Get("/v1/changes?after=3&wait=30", "acme-token").body);
  later.join();
  EXPECT_EQ(woken, std::vector<uint64_t>{6});
  EXPECT_EQ(resume, 6u);
}

// A request examines at most ChangeFeed::kMaxScan events for a tenant: when
// they are all others', it answers empty with `next` past them, so that
// polling from `next` reaches the tenant's events behind them.
TEST_F(ApiServerTest, ATenantPollGetsPastManyOtherTenantsEvents) {
  Start();
  const uint64_t others = ChangeFeed::kMaxScan + 10;
  for (uint64_t i = 1; i <= others; ++i) {
    Open("globex", "d" + std::to_string(i), "hot", devices::Severity::kInfo, 1);
  }
  Open("acme", "d1", "hot", devices::Severity::kInfo, 2);
  auto [first, next] = Changes(Get("/v1/changes?after=0", "acme-token").body);
  EXPECT_TRUE(first.empty());
  EXPECT_EQ(next, ChangeFeed::kMaxScan);
  auto [second, last] =
      Changes(Get("/v1/changes?after=" + std::to_string(next), "acme-token").body);
  EXPECT_EQ(second, std::vector<uint64_t>{others + 1});
  EXPECT_EQ(last, others + 1);
}

TEST_F(ApiServerTest, LongPollWakesOnACommitAndTimesOutEmpty) {
  Start(ApiOptions{.max_wait_ms = 60000});
  Open("acme", "d1", "hot", devices::Severity::kInfo, 1);
  auto [none, next] = Changes(Get("/v1/changes?after=1&wait=0.1").body);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(next, 1u);

  // A poll for the acme tenant only; a globex event wakes it without
  // answering it, then an acme event answers it.
  Reply reply;
  std::thread poller([&] { reply = Get("/v1/changes?after=1&wait=60", "acme-token"); });
  const uint64_t before = changes_.version();
  Open("globex", "d1", "hot", devices::Severity::kInfo, 2);
  ASSERT_TRUE(testing::PollUntil([&] { return changes_.version() > before; }));
  Open("acme", "d2", "hot", devices::Severity::kInfo, 3);
  poller.join();
  ASSERT_EQ(reply.status, 200);
  auto [events, after] = Changes(reply.body);
  EXPECT_EQ(events, (std::vector<uint64_t>{3}));
  EXPECT_EQ(after, 3u);
}

TEST_F(ApiServerTest, WaitIsCappedByMaxWait) {
  Start(ApiOptions{.max_wait_ms = 50});
  auto [none, next] = Changes(Get("/v1/changes?after=0&wait=3600").body);  // would hang an hour
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(next, 0u);
}

TEST_F(ApiServerTest, PollsPastTheWaitingCapAre503UnlessThereIsSomethingToSay) {
  Start(ApiOptions{.max_wait_ms = 60000, .threads = 4, .max_waiting_polls = 1});
  Reply first;
  std::thread poller([&] { first = Get("/v1/changes?after=0&wait=60"); });
  ASSERT_TRUE(testing::PollUntil([&] { return server_->waiting_polls() == 1; }));
  Reply refused = Get("/v1/changes?after=0&wait=60");
  ExpectError(refused, 503);
  EXPECT_EQ(Header(refused, "Retry-After"), "1");
  EXPECT_EQ(Get("/v1/changes?after=0").status, 200);  // not waiting: served
  Open("acme", "d1", "hot", devices::Severity::kInfo, 1);
  poller.join();
  EXPECT_EQ(Changes(first.body).first, (std::vector<uint64_t>{1}));
}

TEST_F(ApiServerTest, StopEndsPendingLongPolls) {
  Start(ApiOptions{.max_wait_ms = 3600 * 1000});
  Reply reply;
  std::thread poller([&] { reply = Get("/v1/changes?after=0&wait=3600"); });
  ASSERT_TRUE(testing::PollUntil([&] { return server_->waiting_polls() == 1; }));
  server_->Stop();
  poller.join();
  EXPECT_EQ(reply.status, 200);
  EXPECT_TRUE(Changes(reply.body).first.empty());
}

TEST_F(ApiServerTest, DevicesShowStateAndActiveCases) {
  Start();
  core::DeviceView view;
  view.tenant = "acme";
  view.device = "d1";
  view.model = "EX200";
  view.labels = {{"site", "north"}};
  view.last_seen = 1234;
  view.metrics = {{"coolant_temp_c", 98.5}, {"engine_rpm", 1500}};
  view.dtc = {"SPN110.FMI0"};
  devices_[{"acme", "d1"}] = view;
  const std::string hot = Open("acme", "d1", "hot", devices::Severity::kMajor, 100);
  const std::string cold = Open("acme", "d1", "cold", devices::Severity::kMajor, 50);
  const std::string done = Open("acme", "d1", "old", devices::Severity::kMajor, 10);
  ASSERT_TRUE(book_.Resolve(done, "amy", 20).ok());
  Reply r = Get("/v1/devices/acme/d1", "acme-token");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"tenant\":\"acme\",\"device\":\"d1\",\"model\":\"EX200\","
            "\"labels\":{\"site\":\"north\"},\"last_seen\":1234,"
            "\"metrics\":{\"coolant_temp_c\":98.5,\"engine_rpm\":1500},"
            "\"dtc\":[\"SPN110.FMI0\"],\"active_cases\":[\"" +
                cold + "\",\"" + hot + "\"]}");
  ExpectError(Get("/v1/devices/acme/unknown"), 404);
  ExpectError(Get("/v1/devices/acme/bad%20id"), 404);
  // Known through its cases only (e.g. not reported since a restart).
  Open("acme", "d9", "hot", devices::Severity::kMajor, 100);
  Reply from_cases = Get("/v1/devices/acme/d9");
  ASSERT_EQ(from_cases.status, 200);
  EXPECT_NE(from_cases.body.find("\"model\":\"EX200\",\"labels\":{},\"last_seen\":null,"
                                 "\"metrics\":{},\"dtc\":[]"),
            std::string::npos)
      << from_cases.body;
}

TEST_F(ApiServerTest, UnknownRoutesAre404AndOtherMethods405) {
  Start();
  ExpectError(Get("/nope"), 404);
  ExpectError(Get("/v1/cases/a/b/c"), 404);
  ExpectError(Get("/v1/devices/acme"), 404);
  Reply wrong = Call("DELETE", "/v1/cases", "all-token");
  ExpectError(wrong, 405);
  EXPECT_EQ(Header(wrong, "Allow"), "GET");
  Reply get_ack = Get("/v1/cases/x/ack");
  ExpectError(get_ack, 405);
  EXPECT_EQ(Header(get_ack, "Allow"), "POST");
  ExpectError(Call("PUT", "/v1/cases/x/ack", "all-token"), 405);
  ExpectError(Post("/healthz", ""), 405);
  ExpectError(Call("DELETE", "/v1/cases", ""), 401);  // /v1/: the token comes first
  ExpectError(Get("/v1/nope", ""), 401);              // ... even for no route
  // As `curl -X POST` sends it, without Content-Length (cpp-httplib then
  // waits its 5-s read timeout for a body): the same answer as with one.
  const std::string no_length = " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  std::string post = Raw("POST /v1/cases" + no_length + "Authorization: Bearer all-token\r\n\r\n");
  EXPECT_EQ(post.substr(0, 12), "HTTP/1.1 405") << post;
  EXPECT_NE(post.find("Allow: GET\r\n"), std::string::npos) << post;
  // A route that takes POST still wants its body.
  post = Raw("POST /v1/cases/x/ack" + no_length + "Authorization: Bearer all-token\r\n\r\n");
  EXPECT_EQ(post.substr(0, 12), "HTTP/1.1 400") << post;
}

// A second gateway configured with our port fails to start instead of
// sharing it (cpp-httplib's default SO_REUSEPORT would split the requests).
TEST_F(ApiServerTest, ASecondServerCannotListenOnOurPort) {
  Start();
  ApiServer second(ApiOptions{.host = "127.0.0.1", .port = server_->port()}, Sources());
  EXPECT_FALSE(second.Start().ok());
  EXPECT_EQ(Get("/healthz", "").status, 200);
}

TEST_F(ApiServerTest, HealthReadinessAndMetrics) {
  Start();
  EXPECT_EQ(Get("/healthz", "").status, 200);
  ExpectError(Get("/readyz", ""), 503);
  ready_ = true;
  EXPECT_EQ(Get("/readyz", "").status, 200);
  Reply m = Get("/metrics", "");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m.body.find("# TYPE precall_messages_received_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("\nprecall_http_long_polls_waiting 0\n"), std::string::npos);
}

}  // namespace
}  // namespace precall::http
