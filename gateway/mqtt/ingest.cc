#include "gateway/mqtt/ingest.h"

#include <string>
#include <vector>

namespace precall::mqtt {

MqttIngest::MqttIngest(MqttOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

MqttIngest::~MqttIngest() {
  Stop();
  connection_.reset();  // the Paho client goes while everything it may call is alive
}

bool MqttIngest::subscribed() const {
  if (!connected()) return false;
  std::lock_guard<std::mutex> lock(subscribe_mu_);
  return subscribe_token_ && subscribe_token_->is_complete() &&
         subscribe_token_->get_return_code() == 0;
}

absl::Status MqttIngest::Start() {
  auto connection = Connection::Create(options_, options_.client_id, /*clean_session=*/false);
  if (!connection.ok()) return connection.status();
  connection_ = std::move(*connection);
  Connection* c = connection_.get();
  c->client().set_message_callback([this, c](::mqtt::const_message_ptr msg) {
    if (c->stopping()) return;
    const ::mqtt::binary_ref& payload = msg->get_payload_ref();
    handler_(msg->get_topic(), std::string_view(payload.data(), payload.size()));
  });
  c->set_on_connected([this] { Subscribe(); });
  c->Start();
  return absl::OkStatus();
}

void MqttIngest::Subscribe() {
  try {
    std::vector<int> qos(options_.topics.size(), options_.qos);
    ::mqtt::token_ptr token =
        connection_->client().subscribe(::mqtt::string_collection::create(options_.topics), qos);
    std::lock_guard<std::mutex> lock(subscribe_mu_);
    subscribe_token_ = std::move(token);
  } catch (const ::mqtt::exception&) {
    // The connection dropped between connect and subscribe: the next
    // connected callback subscribes again.
  }
}

void MqttIngest::Stop() {
  if (connection_) connection_->Stop();
}

}  // namespace precall::mqtt
