// Reads case events from the gateway's service-center API (CONTRACT §4,
// GET /v1/changes): page by page from a cursor, long-polling when there is
// nothing new. Resuming from the cursor never misses or repeats an event, so
// the scorer sees every case exactly as the service center would.
// One thread per ChangeFeed (it owns an HTTP client).
#ifndef PRECALL_DEVICES_SIMULATOR_CHANGE_FEED_H_
#define PRECALL_DEVICES_SIMULATOR_CHANGE_FEED_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "devices/simulator/score.h"

namespace httplib {
class Client;
}

namespace precall::sim {

class ChangeFeed {
 public:
  static constexpr int kPageSize = 500;

  // `api_url`: http://host:port; `token`: the bearer token ("" for an open API).
  ChangeFeed(const std::string& api_url, const std::string& token);
  ~ChangeFeed();

  // Adds every event after the cursor to `cases` and advances the cursor;
  // when there is none yet, the gateway holds the first request up to
  // `wait_s` seconds for one.
  absl::Status Poll(int wait_s, CaseCollector& cases);
  int64_t cursor() const { return cursor_; }

 private:
  std::unique_ptr<httplib::Client> client_;
  std::string api_url_;
  int64_t cursor_ = 0;
};

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_CHANGE_FEED_H_
