#include "gateway/mqtt/ingest.h"

#include <mqtt/async_client.h>

#include <algorithm>
#include <string>
#include <vector>

namespace precall::mqtt {

MqttIngest::MqttIngest(MqttOptions options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

MqttIngest::~MqttIngest() { Stop(); }

absl::Status MqttIngest::Start() {
  try {
    // No client-side persistence: the ingest client never publishes.
    client_ = std::make_unique<::mqtt::async_client>(options_.uri, options_.client_id,
                                                     ::mqtt::create_options(MQTTVERSION_3_1_1),
                                                     nullptr);
    client_->set_message_callback([this](::mqtt::const_message_ptr msg) {
      if (stopping_.load(std::memory_order_acquire)) return;
      const ::mqtt::binary_ref& payload = msg->get_payload_ref();
      handler_(msg->get_topic(), std::string_view(payload.data(), payload.size()));
    });
    client_->set_connected_handler([this](const std::string&) {
      if (connected_.exchange(true)) return;
      Subscribe();
    });
    client_->set_connection_lost_handler([this](const std::string&) {
      connected_.store(false, std::memory_order_release);
      reconnects_.fetch_add(1, std::memory_order_relaxed);
    });

    ::mqtt::connect_options_builder builder;
    builder.clean_session(false)
        .keep_alive_interval(options_.keep_alive)
        .automatic_reconnect(options_.min_reconnect, options_.max_reconnect);
    if (!options_.username.empty()) builder.user_name(options_.username);
    if (!options_.password.empty()) builder.password(options_.password);
    if (options_.uri.rfind("ssl://", 0) == 0) {
      ::mqtt::ssl_options ssl;
      if (!options_.tls_ca.empty()) ssl.set_trust_store(options_.tls_ca);
      if (!options_.tls_cert.empty()) ssl.set_key_store(options_.tls_cert);
      if (!options_.tls_key.empty()) ssl.set_private_key(options_.tls_key);
      builder.ssl(std::move(ssl));
    }
    connect_options_ = builder.finalize();
  } catch (const ::mqtt::exception& e) {
    return absl::InvalidArgumentError(std::string("MQTT: ") + e.what());
  }
  // Paho's automatic reconnect covers connections lost after a first success;
  // until then (the broker may be down at start-up) retry here with backoff.
  connector_ = std::thread([this] { ConnectUntilUp(); });
  return absl::OkStatus();
}

void MqttIngest::ConnectUntilUp() {
  auto backoff = options_.min_reconnect;
  while (!stopping_.load(std::memory_order_acquire)) {
    try {
      client_->connect(connect_options_)->wait();
      return;
    } catch (const ::mqtt::exception&) {
      connect_failures_.fetch_add(1, std::memory_order_relaxed);
    }
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, backoff, [this] { return stopping_.load(); });
    backoff = std::min(backoff * 2, options_.max_reconnect);
  }
}

void MqttIngest::Subscribe() {
  try {
    std::vector<int> qos(options_.topics.size(), options_.qos);
    client_->subscribe(::mqtt::string_collection::create(options_.topics), qos);
  } catch (const ::mqtt::exception&) {
    // The connection dropped between connect and subscribe: the next
    // connected callback subscribes again.
  }
}

void MqttIngest::Stop() {
  if (!client_ || stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_cv_.notify_all();
  }
  if (connector_.joinable()) connector_.join();
  try {
    if (client_->is_connected()) client_->disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const ::mqtt::exception&) {
  }
  connected_.store(false, std::memory_order_release);
}

}  // namespace precall::mqtt
