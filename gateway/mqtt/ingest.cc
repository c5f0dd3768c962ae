#include "gateway/mqtt/ingest.h"

#include <string>

#include "devices/ids.h"

namespace precall::mqtt {
namespace {

bool IsTelemetry(std::string_view topic) {
  const auto parsed = devices::ParseTopic(topic);
  return parsed && parsed->kind == devices::TopicKind::kTelemetry;
}

}  // namespace

MqttIngest::MqttIngest(MqttOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

MqttIngest::~MqttIngest() {
  Stop();
  connection_.reset();  // the Paho client goes while everything it may call is alive
}

bool MqttIngest::subscribed() const {
  if (!connected()) return false;
  std::lock_guard<std::mutex> lock(subscribe_mu_);
  // MQTT 5 refuses a single filter with a reason code >= 0x80 and a
  // success return code.
  return subscribe_token_ && subscribe_token_->is_complete() &&
         subscribe_token_->get_return_code() == 0 &&
         subscribe_token_->get_reason_code() <= ::mqtt::ReasonCode::GRANTED_QOS_2;
}

absl::Status MqttIngest::Start() {
  auto connection = Connection::Create(options_, options_.client_id, /*persistent_session=*/true);
  if (!connection.ok()) return connection.status();
  connection_ = std::move(*connection);
  Connection* c = connection_.get();
  c->set_on_message([this, c](const ::mqtt::const_message_ptr& msg) {
    if (c->stopping()) return;
    if (msg->is_retained() && IsTelemetry(msg->get_topic_ref().str())) {
      retained_telemetry_dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const ::mqtt::binary_ref& payload = msg->get_payload_ref();
    handler_(msg->get_topic(), std::string_view(payload.data(), payload.size()));
  });
  c->set_on_connected([this] { Subscribe(); });
  c->Start();
  return absl::OkStatus();
}

void MqttIngest::Subscribe() {
  auto token = connection_->Subscribe(options_.topics, options_.qos);
  // Failing, the connection dropped between connect and subscribe: the next
  // connected callback subscribes again.
  if (!token.ok()) return;
  std::lock_guard<std::mutex> lock(subscribe_mu_);
  subscribe_token_ = std::move(*token);
  // After the subscribe, in the same session: nothing published meanwhile is
  // missed. Once acknowledged, later connections have nothing stale left.
  if (!options_.stale_topics.empty() && !StaleAcknowledgedLocked()) {
    auto unsubscribe = connection_->Unsubscribe(options_.stale_topics);
    if (unsubscribe.ok()) unsubscribe_token_ = std::move(*unsubscribe);
  }
}

bool MqttIngest::StaleAcknowledgedLocked() const {
  return unsubscribe_token_ && unsubscribe_token_->is_complete() &&
         unsubscribe_token_->get_return_code() == 0;
}

bool MqttIngest::unsubscribed_stale() const {
  if (options_.stale_topics.empty()) return true;
  std::lock_guard<std::mutex> lock(subscribe_mu_);
  return StaleAcknowledgedLocked();
}

void MqttIngest::Stop() {
  if (connection_) connection_->Stop();
}

}  // namespace precall::mqtt
