// StoreSink: the serving CaseSink. The case events of one change (one
// message's decisions for one device, or one service-center action) become
// one atomic CaseStore::CommitAll — each event with its case and outbox
// entry, plus the device's checkpoint — in seq order (the case book calls it
// under its lock); then `on_commit` runs (it wakes the MQTT egress and HTTP
// long-polls). A failed commit is counted and reported through
// `failures()`; the events stay in memory.
//
// Thread: called by the case book, from any worker thread, serialized.
#ifndef PRECALL_GATEWAY_CORE_STORE_SINK_H_
#define PRECALL_GATEWAY_CORE_STORE_SINK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "gateway/core/case_book.h"
#include "gateway/core/ports.h"

namespace precall::core {

class StoreSink final : public CaseSink {
 public:
  StoreSink(CaseStore& store, std::function<void()> on_commit)
      : store_(store), on_commit_(std::move(on_commit)) {}

  void OnCaseEvent(const CaseEvent& event) override;
  void EndOfChange(const DeviceCheckpoint* checkpoint) override;
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

  // service/{tenant}/cases/{case_id}
  static std::string TopicFor(const Case& c);

 private:
  CaseStore& store_;
  std::function<void()> on_commit_;
  std::vector<CaseCommit> commits_;  // the change in progress; reused
  std::size_t pending_ = 0;          // how many of commits_ it holds
  std::atomic<uint64_t> failures_{0};
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_STORE_SINK_H_
