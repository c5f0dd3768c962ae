#include "gateway/core/store_sink.h"

namespace precall::core {

std::string StoreSink::TopicFor(const Case& c) {
  std::string topic = "service/";
  topic.append(c.tenant).append("/cases/").append(c.id);
  return topic;
}

void StoreSink::OnCaseEvent(const CaseEvent& event) {
  if (pending_ == commits_.size()) commits_.emplace_back();
  CaseCommit& commit = commits_[pending_++];
  commit.event_seq = event.seq;
  commit.case_id = event.snapshot.id;
  commit.event_json.clear();
  AppendEventJson(commit.event_json, event);
  commit.case_json.clear();
  AppendCaseJson(commit.case_json, event.snapshot);
  commit.topic = TopicFor(event.snapshot);
  commit.next_case_number = event.next_case_number;
  commit.device_key.clear();
  commit.checkpoint.clear();
  commit.journal_watermark = 0;
}

void StoreSink::EndOfChange(const DeviceCheckpoint* checkpoint) {
  if (pending_ == 0) return;
  if (checkpoint != nullptr) {
    CaseCommit& last = commits_[pending_ - 1];
    last.device_key = checkpoint->device_key;
    last.checkpoint = checkpoint->blob;
    last.journal_watermark = checkpoint->journal_watermark;
  }
  const std::size_t n = pending_;
  pending_ = 0;
  if (!store_.CommitAll(std::span<const CaseCommit>(commits_.data(), n)).ok()) {
    failures_.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  if (on_commit_) on_commit_();
}

}  // namespace precall::core
