#include "gateway/mqtt/publisher.h"

#include <algorithm>
#include <span>
#include <vector>

#include "gateway/core/thread_name.h"

namespace precall::mqtt {
namespace {

constexpr std::size_t kBatch = 100;  // at most; no more than the connection's send window
constexpr std::size_t kBulk = 8;     // a batch this long goes out at once
constexpr auto kAckTimeout = std::chrono::seconds(10);
constexpr auto kRetryEvery = std::chrono::milliseconds(500);

}  // namespace

CasePublisher::CasePublisher(MqttOptions options, core::CaseStore& store,
                             std::chrono::milliseconds refused_retry)
    : options_(std::move(options)), store_(store), refused_retry_(refused_retry) {}

CasePublisher::~CasePublisher() {
  Stop();
  connection_.reset();  // the Paho client goes while everything it may call is alive
}

absl::Status CasePublisher::Start() {
  auto connection =
      Connection::Create(options_, options_.client_id + "-egress", /*persistent_session=*/false);
  if (!connection.ok()) return connection.status();
  connection_ = std::move(*connection);
  connection_->set_on_connected([this] { Notify(); });
  connection_->Start();
  thread_ = std::thread([this] {
    core::NameThisThread("egress");
    Run();
  });
  return absl::OkStatus();
}

void CasePublisher::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  notified_ = true;
  cv_.notify_one();
}

std::vector<core::OutboxEntry> CasePublisher::NextBatch(std::size_t window) {
  const auto now = std::chrono::steady_clock::now();
  if (!set_aside_.empty() && now >= next_retry_pass_) {
    // A retry pass: from the oldest entry, the set-aside ones go again.
    cursor_ = 0;
    retry_through_ = *set_aside_.rbegin();
    next_retry_pass_ = now + refused_retry_;
  }
  std::vector<core::OutboxEntry> batch;
  while (batch.size() < window) {
    auto page = store_.Outbox(cursor_, window);
    if (!page.ok()) break;  // the store's trouble is logged where it commits; try later
    for (core::OutboxEntry& e : *page) {
      if (batch.size() == window) break;
      cursor_ = e.event_seq;
      if (e.event_seq > retry_through_ && set_aside_.contains(e.event_seq)) continue;
      batch.push_back(std::move(e));
    }
    if (page->size() < window) break;  // the newest entry was read
  }
  if (cursor_ >= retry_through_) retry_through_ = 0;  // the pass is over
  return batch;
}

bool CasePublisher::PublishGroup(std::span<const core::OutboxEntry> group, bool& progressed) {
  std::vector<::mqtt::delivery_token_ptr> tokens;
  tokens.reserve(group.size());
  for (const core::OutboxEntry& e : group) {
    auto token = connection_->Publish(e.topic, e.payload, 1);
    // Not connected (any more): what was handed to Paho before is checked below.
    if (!token.ok()) break;
    tokens.push_back(std::move(*token));
  }
  bool healthy = tokens.size() == group.size();
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const uint64_t seq = group[i].event_seq;
    try {
      if (!tokens[i]->wait_for(kAckTimeout)) return false;
    } catch (const ::mqtt::exception& e) {
      // An MQTT 5 PUBACK with a reason code >= 0x80 is a refusal: the entry
      // stays, set aside (see the header). Anything else is a lost
      // connection: the entry stays, and the drain starts again from the
      // oldest once connected.
      if (e.get_reason_code() < 0x80) return false;
      refused_.fetch_add(1, std::memory_order_relaxed);
      set_aside_.insert(seq);
      // No pass due: the next one comes a full refused_retry_ from now (a
      // pass already due stays due, so steady refusals cannot postpone it).
      if (const auto now = std::chrono::steady_clock::now(); next_retry_pass_ < now) {
        next_retry_pass_ = now + refused_retry_;
      }
      progressed = true;  // the entries behind it go next
      continue;
    }
    // Acknowledged by the broker: only now does the entry leave the outbox.
    if (!store_.RemoveFromOutbox(seq).ok()) return false;  // still there: read it again
    set_aside_.erase(seq);
    published_.fetch_add(1, std::memory_order_relaxed);
    progressed = true;
  }
  return healthy;
}

bool CasePublisher::DrainOnce(bool& progressed) {
  progressed = false;
  const std::size_t window = std::min(kBatch, static_cast<std::size_t>(connection_->send_window()));
  const std::vector<core::OutboxEntry> batch = NextBatch(window);
  // A short batch goes out one event at a time, a backlog all at once (see
  // the header).
  const std::size_t group = batch.size() >= kBulk ? batch.size() : 1;
  bool healthy = true;
  for (std::size_t first = 0; healthy && first < batch.size(); first += group) {
    healthy = PublishGroup(std::span(batch).subspan(first, std::min(group, batch.size() - first)),
                           progressed);
  }
  if (!healthy) Rewind();
  return healthy;
}

void CasePublisher::Run() {
  while (!stopping_.load(std::memory_order_acquire)) {
    bool progressed = false;
    bool healthy = connection_->connected() && DrainOnce(progressed);
    if (healthy && progressed) continue;  // more may be waiting
    std::unique_lock<std::mutex> lock(mu_);
    // Wait for new entries; retry on a timer while disconnected or failing.
    cv_.wait_for(lock, kRetryEvery, [this] { return notified_ || stopping_.load(); });
    notified_ = false;
  }
}

void CasePublisher::Stop() {
  if (stopping_.exchange(true)) return;
  Notify();
  if (thread_.joinable()) thread_.join();
  if (connection_) connection_->Stop();
}

}  // namespace precall::mqtt
