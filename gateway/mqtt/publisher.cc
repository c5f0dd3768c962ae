#include "gateway/mqtt/publisher.h"

#include <algorithm>
#include <vector>

namespace precall::mqtt {
namespace {

constexpr std::size_t kBatch = 100;  // at most; no more than the connection's send window
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
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void CasePublisher::Notify() {
  std::lock_guard<std::mutex> lock(mu_);
  notified_ = true;
  cv_.notify_one();
}

bool CasePublisher::DrainOnce(bool& progressed) {
  progressed = false;
  const std::size_t window = std::min(kBatch, static_cast<std::size_t>(connection_->send_window()));
  // Set-aside entries are among the oldest: read past them.
  auto entries = store_.Outbox(window + set_aside_.size());
  if (!entries.ok() || entries->empty()) return true;
  const auto now = std::chrono::steady_clock::now();
  std::vector<const core::OutboxEntry*> batch;
  for (const core::OutboxEntry& e : *entries) {
    if (batch.size() == window) break;
    auto aside = set_aside_.find(e.event_seq);
    if (aside == set_aside_.end() || aside->second <= now) batch.push_back(&e);
  }
  std::vector<::mqtt::delivery_token_ptr> tokens;
  tokens.reserve(batch.size());
  for (const core::OutboxEntry* e : batch) {
    auto token = connection_->Publish(e->topic, e->payload, 1);
    // Not connected (any more): what was handed to Paho before is checked below.
    if (!token.ok()) break;
    tokens.push_back(std::move(*token));
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const uint64_t seq = batch[i]->event_seq;
    try {
      if (!tokens[i]->wait_for(kAckTimeout)) return false;
    } catch (const ::mqtt::exception&) {
      // Lost, or refused: an MQTT 5 PUBACK with a reason code >= 0x80 throws
      // here. The entry stays; a refused one is set aside (see the header).
      if (!connection_->connected()) return false;
      refused_.fetch_add(1, std::memory_order_relaxed);
      if (set_aside_.size() >= kMaxSetAside && !set_aside_.contains(seq)) return false;
      set_aside_[seq] = now + refused_retry_;
      progressed = true;  // the entries behind it go next
      continue;
    }
    // Acknowledged by the broker: only now does the entry leave the outbox.
    if (store_.RemoveFromOutbox(seq).ok()) {
      set_aside_.erase(seq);
      published_.fetch_add(1, std::memory_order_relaxed);
      progressed = true;
    }
  }
  return tokens.size() == batch.size();
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
