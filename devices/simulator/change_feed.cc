#include "devices/simulator/change_feed.h"

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "devices/simulator/json_read.h"

namespace precall::sim {

ChangeFeed::ChangeFeed(const std::string& api_url, const std::string& token)
    : client_(std::make_unique<httplib::Client>(api_url)), api_url_(api_url) {
  client_->set_connection_timeout(5);
  if (!token.empty()) client_->set_bearer_token_auth(token.c_str());
}

ChangeFeed::~ChangeFeed() = default;

absl::Status ChangeFeed::Poll(int wait_s, CaseCollector& cases) {
  JsonReader reader;
  for (bool first = true;; first = false) {
    const int wait = first ? wait_s : 0;
    client_->set_read_timeout(wait + 30, 0);
    const std::string path =
        absl::StrCat("/v1/changes?after=", cursor_, "&limit=", kPageSize, "&wait=", wait);
    httplib::Result res = client_->Get(path.c_str());
    if (!res) {
      return absl::UnavailableError(
          absl::StrCat(api_url_, path, ": ", httplib::to_string(res.error())));
    }
    if (res->status != 200) {
      return absl::UnavailableError(
          absl::StrCat(api_url_, path, ": HTTP ", res->status, " ", res->body));
    }
    absl::StatusOr<JsonObject> page = reader.Parse(res->body);
    if (!page.ok()) return absl::DataLossError(absl::StrCat(path, ": ", page.status().message()));
    int events = 0;
    absl::Status added = absl::OkStatus();
    page->Objects("events", [&](JsonObject& event) {
      ++events;
      if (absl::Status s = cases.Add(event); !s.ok() && added.ok()) added = s;
    });
    int64_t next = cursor_;
    page->Int("next", next);
    if (!page->status().ok())
      return absl::DataLossError(absl::StrCat(path, ": ", page->status().message()));
    if (!added.ok()) return absl::DataLossError(absl::StrCat(path, ": ", added.message()));
    cursor_ = next;
    // The server may cap a page below kPageSize: only an empty page is the end.
    if (events == 0) return absl::OkStatus();
  }
}

}  // namespace precall::sim
