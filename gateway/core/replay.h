// The replay driver: feeds recorded telemetry (JSON lines of
// {"topic": ..., "payload": <object|array|string>}) through a Worker on a
// data clock, exactly as serve would process the same messages. A string
// payload is taken as the raw published bytes (so recordings can hold
// payloads that are not JSON). Malformed lines are skipped with a message.
//
// Thread: single-threaded; owns nothing but its read buffer and line parser.
#ifndef PRECALL_GATEWAY_CORE_REPLAY_H_
#define PRECALL_GATEWAY_CORE_REPLAY_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "gateway/core/case_book.h"
#include "gateway/core/clock.h"
#include "gateway/core/worker.h"

namespace precall::core {

// Writes each case event as one JSON line to a FILE*, buffered.
class JsonLinesSink final : public CaseSink {
 public:
  explicit JsonLinesSink(std::FILE* out) : out_(out) {}
  ~JsonLinesSink() override { Flush(); }
  void OnCaseEvent(const CaseEvent& event) override;
  void Flush();

 private:
  std::FILE* out_;
  std::string buffer_;
};

struct ReplayStats {
  uint64_t lines = 0;       // non-empty input lines
  uint64_t malformed = 0;   // lines skipped as not {"topic", "payload"}
  uint64_t messages = 0;    // messages handed to the worker
  uint64_t rejected = 0;    // messages or samples the worker dropped
};

// Replays `input` through `worker` (which must run on `clock`, a DataClock).
// Messages about skipped lines and rejected samples go to `diagnostics`,
// prefixed with `input_name:line:`.
ReplayStats Replay(std::FILE* input, std::string_view input_name, Worker& worker, Clock& clock,
                   std::FILE* diagnostics);

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_REPLAY_H_
