// Reading case events over the API: paging through /v1/changes from a cursor,
// the bearer token, and errors — against a stand-in server that answers as
// CONTRACT §4 says.
#include "devices/simulator/change_feed.h"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/poll.h"

namespace precall::sim {
namespace {

using ::testing::HasSubstr;

std::string Event(int64_t seq) {
  return absl::StrCat(R"({"seq":)", seq, R"(,"type":"opened","at":1,"case":{"id":"c-)", seq,
                      R"(","tenant":"acme","device":"d)", seq,
                      R"(","rule":"r","fault_started_at":1,"opened_at":)", seq, "}}");
}

// Serves `total` events, at most min(limit, cap) per page, to token "t0k".
class FakeApi {
 public:
  explicit FakeApi(int total, int64_t cap = 1000) : total_(total), cap_(cap) {
    server_.Get("/v1/changes", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      if (req.get_header_value("Authorization") != "Bearer t0k") {
        res.status = 401;
        res.set_content(R"({"error":"unauthorized"})", "application/json");
        return;
      }
      const int64_t after = std::stoll(req.get_param_value("after"));
      const int64_t limit = std::min<int64_t>(cap_, std::stoll(req.get_param_value("limit")));
      last_wait = std::stoi(req.get_param_value("wait"));
      std::string body = R"({"events":[)";
      int64_t next = after;
      for (int64_t seq = after + 1; seq <= total_ && seq <= after + limit; ++seq) {
        if (seq > after + 1) body += ",";
        body += Event(seq);
        next = seq;
      }
      absl::StrAppend(&body, R"(],"next":)", next, "}");
      res.set_content(body, "application/json");
    });
    // Bound and listening from here on: connections wait in the backlog.
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() only stops a server that is running.
    EXPECT_TRUE(precall::testing::PollUntil([this] { return server_.is_running(); }));
  }
  ~FakeApi() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  void set_total(int total) { total_ = total; }

  std::atomic<int> requests{0};
  std::atomic<int> last_wait{-1};

 private:
  std::atomic<int> total_;
  const int64_t cap_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

TEST(ChangeFeedTest, PagesThroughEveryEventAndResumesFromTheCursor) {
  FakeApi api(1234);
  ChangeFeed feed(api.url(), "t0k");
  CaseCollector cases;
  ASSERT_TRUE(feed.Poll(7, cases).ok());
  EXPECT_EQ(feed.cursor(), 1234);
  EXPECT_EQ(cases.events(), 1234u);
  EXPECT_EQ(cases.cases().size(), 1234u);
  EXPECT_EQ(api.requests.load(), 4) << "pages of 500, 500, 234, then an empty one";
  EXPECT_EQ(api.last_wait.load(), 0) << "only the first request of a poll waits";

  api.set_total(1240);
  ASSERT_TRUE(feed.Poll(0, cases).ok());
  EXPECT_EQ(feed.cursor(), 1240);
  EXPECT_EQ(cases.events(), 1240u) << "from the cursor: nothing missed, nothing twice";
}

TEST(ChangeFeedTest, AServerCappingPagesLowerIsReadToTheEnd) {
  FakeApi api(450, /*cap=*/100);
  ChangeFeed feed(api.url(), "t0k");
  CaseCollector cases;
  ASSERT_TRUE(feed.Poll(0, cases).ok());
  EXPECT_EQ(feed.cursor(), 450);
  EXPECT_EQ(cases.events(), 450u);
}

TEST(ChangeFeedTest, AWrongTokenIsAnError) {
  FakeApi api(3);
  ChangeFeed feed(api.url(), "nope");
  CaseCollector cases;
  absl::Status s = feed.Poll(0, cases);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("HTTP 401"));
  EXPECT_EQ(cases.events(), 0u);
}

TEST(ChangeFeedTest, NoServerIsAnError) {
  std::string url;
  {
    FakeApi api(0);
    url = api.url();
  }
  ChangeFeed feed(url, "t0k");
  CaseCollector cases;
  EXPECT_FALSE(feed.Poll(0, cases).ok());
}

}  // namespace
}  // namespace precall::sim
