#include "gateway/core/store_sink.h"

namespace precall::core {

std::string StoreSink::TopicFor(const Case& c) {
  std::string topic = "service/";
  topic.append(c.tenant).append("/cases/").append(c.id);
  return topic;
}

void StoreSink::OnCaseEvent(const CaseEvent& event) {
  commit_.event_seq = event.seq;
  commit_.case_id = event.snapshot.id;
  commit_.event_json.clear();
  AppendEventJson(commit_.event_json, event);
  commit_.case_json.clear();
  AppendCaseJson(commit_.case_json, event.snapshot);
  commit_.topic = TopicFor(event.snapshot);
  commit_.next_case_number = event.next_case_number;
  if (!store_.Commit(commit_).ok()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (on_commit_) on_commit_();
}

}  // namespace precall::core
