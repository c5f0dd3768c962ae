// InMemoryCaseStore: a CaseStore fake for tests of the core and the adapters
// that use the port (egress, API), with the same ordering and atomicity
// guarantees as the RocksDB store, and a switch to make commits fail.
#ifndef PRECALL_TESTS_FAKES_IN_MEMORY_STORE_H_
#define PRECALL_TESTS_FAKES_IN_MEMORY_STORE_H_

#include <algorithm>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "gateway/core/ports.h"

namespace precall::fakes {

class InMemoryCaseStore : public core::CaseStore {
 public:
  absl::Status CommitAll(std::span<const core::CaseCommit> commits) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_commits_) return absl::UnavailableError("injected failure");
    for (const core::CaseCommit& c : commits) {
      events_[c.event_seq] = c.event_json;
      case_events_[c.case_id].push_back(c.event_seq);
      cases_[c.case_id] = c.case_json;
      outbox_[c.event_seq] = core::OutboxEntry{c.event_seq, c.topic, c.event_json};
      if (!c.device_key.empty()) checkpoints_[c.device_key] = {c.checkpoint, c.journal_watermark};
      last_event_seq_ = c.event_seq;
      next_case_number_ = c.next_case_number;
    }
    ++commit_batches_;
    return absl::OkStatus();
  }
  // How many CommitAll calls succeeded (atomic units).
  int commit_batches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return commit_batches_;
  }
  absl::Status PutCheckpoint(std::string_view key, std::string_view checkpoint,
                             uint64_t watermark) override {
    std::lock_guard<std::mutex> lock(mu_);
    checkpoints_[std::string(key)] = {std::string(checkpoint), watermark};
    return absl::OkStatus();
  }
  absl::Status PutCheckpoints(std::span<const core::CheckpointRecord> records,
                              uint64_t recovery_start) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_commits_) return absl::UnavailableError("injected failure");
    for (const auto& r : records) checkpoints_[r.device_key] = {r.checkpoint, r.journal_watermark};
    recovery_start_ = std::max(recovery_start_, recovery_start);
    return absl::OkStatus();
  }
  uint64_t recovery_start() override {
    std::lock_guard<std::mutex> lock(mu_);
    return recovery_start_;
  }
  absl::Status ForEachCheckpoint(
      const std::function<void(std::string_view, std::string_view, uint64_t)>& visit) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [k, v] : checkpoints_) visit(k, v.first, v.second);
    return absl::OkStatus();
  }
  absl::Status ForEachCase(const std::function<void(std::string_view)>& visit) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, json] : cases_) visit(json);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<std::string>> EventsAfter(uint64_t after, std::size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (auto it = events_.upper_bound(after); it != events_.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::StatusOr<std::vector<std::string>> CaseEvents(std::string_view case_id,
                                                      std::size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    auto it = case_events_.find(std::string(case_id));
    if (it == case_events_.end()) return out;
    const std::vector<uint64_t>& seqs = it->second;
    for (std::size_t i = seqs.size() > limit ? seqs.size() - limit : 0; i < seqs.size(); ++i) {
      out.push_back(events_.at(seqs[i]));
    }
    return out;
  }
  absl::StatusOr<std::string> EventJson(uint64_t seq) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = events_.find(seq);
    if (it == events_.end()) return absl::NotFoundError("no such event");
    return it->second;
  }
  uint64_t last_event_seq() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return last_event_seq_;
  }
  uint64_t next_case_number() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return next_case_number_;
  }
  absl::StatusOr<std::vector<core::OutboxEntry>> Outbox(uint64_t after,
                                                        std::size_t limit) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<core::OutboxEntry> out;
    for (auto it = outbox_.upper_bound(after); it != outbox_.end() && out.size() < limit; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::Status RemoveFromOutbox(uint64_t seq) override {
    std::lock_guard<std::mutex> lock(mu_);
    outbox_.erase(seq);
    return absl::OkStatus();
  }
  uint64_t outbox_depth() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return outbox_.size();
  }

  void set_fail_commits(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_commits_ = fail;
  }
  std::size_t outbox_size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return outbox_.size();
  }

 private:
  mutable std::mutex mu_;
  std::map<uint64_t, std::string> events_;
  std::map<std::string, std::vector<uint64_t>> case_events_;  // seq order
  std::map<std::string, std::string> cases_;
  std::map<uint64_t, core::OutboxEntry> outbox_;
  std::map<std::string, std::pair<std::string, uint64_t>> checkpoints_;
  uint64_t last_event_seq_ = 0;
  uint64_t next_case_number_ = 1;
  int commit_batches_ = 0;
  uint64_t recovery_start_ = 0;
  bool fail_commits_ = false;
};

}  // namespace precall::fakes

#endif  // PRECALL_TESTS_FAKES_IN_MEMORY_STORE_H_
