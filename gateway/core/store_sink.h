// StoreSink: the serving CaseSink. Each case event becomes one atomic
// CaseCommit (event, case, outbox entry, counters) in the CaseStore, in seq
// order (the case book calls it under its lock); then `on_commit` runs (it
// wakes the MQTT egress and, later, HTTP long-polls). A failed commit is
// counted and reported through `failures()`; the event stays in memory.
//
// Thread: called by the case book, from any worker thread, serialized.
#ifndef PRECALL_GATEWAY_CORE_STORE_SINK_H_
#define PRECALL_GATEWAY_CORE_STORE_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "gateway/core/case_book.h"
#include "gateway/core/ports.h"

namespace precall::core {

class StoreSink final : public CaseSink {
 public:
  StoreSink(CaseStore& store, std::function<void()> on_commit)
      : store_(store), on_commit_(std::move(on_commit)) {}

  void OnCaseEvent(const CaseEvent& event) override;
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  // service/{tenant}/cases/{case_id}
  static std::string TopicFor(const Case& c);

 private:
  CaseStore& store_;
  std::function<void()> on_commit_;
  CaseCommit commit_;  // reused: the lock serializes calls
  std::atomic<uint64_t> failures_{0};
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_STORE_SINK_H_
