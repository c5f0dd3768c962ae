#include "gateway/mqtt/connection.h"

#include <algorithm>

namespace precall::mqtt {

absl::StatusOr<std::unique_ptr<Connection>> Connection::Create(const MqttOptions& options,
                                                               const std::string& client_id,
                                                               bool clean_session) {
  std::unique_ptr<Connection> c(new Connection());
  c->options_ = options;
  try {
    // No client-side persistence: ingest never publishes, and egress keeps
    // its own durable outbox in the store.
    c->client_ = std::make_unique<::mqtt::async_client>(
        options.uri, client_id, ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
    ::mqtt::connect_options_builder builder;
    builder.clean_session(clean_session)
        .keep_alive_interval(options.keep_alive)
        .automatic_reconnect(options.min_reconnect, options.max_reconnect)
        .max_inflight(128);
    if (!options.username.empty()) builder.user_name(options.username);
    if (!options.password.empty()) builder.password(options.password);
    if (options.uri.rfind("ssl://", 0) == 0) {
      ::mqtt::ssl_options ssl;
      if (!options.tls_ca.empty()) ssl.set_trust_store(options.tls_ca);
      if (!options.tls_cert.empty()) ssl.set_key_store(options.tls_cert);
      if (!options.tls_key.empty()) ssl.set_private_key(options.tls_key);
      builder.ssl(std::move(ssl));
    }
    c->connect_options_ = builder.finalize();
  } catch (const ::mqtt::exception& e) {
    return absl::InvalidArgumentError(std::string("MQTT: ") + e.what());
  }
  Connection* raw = c.get();
  c->client_->set_connected_handler([raw](const std::string&) {
    raw->connected_.store(true, std::memory_order_release);
    if (raw->on_connected_) raw->on_connected_();
  });
  c->client_->set_connection_lost_handler([raw](const std::string&) {
    raw->connected_.store(false, std::memory_order_release);
    raw->reconnects_.fetch_add(1, std::memory_order_relaxed);
  });
  return c;
}

Connection::~Connection() { Stop(); }

void Connection::Start() {
  if (connector_.joinable() || stopping()) return;
  connector_ = std::thread([this] { ConnectUntilUp(); });
}

void Connection::ConnectUntilUp() {
  auto backoff = options_.min_reconnect;
  while (!stopping()) {
    try {
      client_->connect(connect_options_)->wait();
      return;
    } catch (const ::mqtt::exception&) {
      connect_failures_.fetch_add(1, std::memory_order_relaxed);
    }
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, backoff, [this] { return stopping(); });
    backoff = std::min(backoff * 2, options_.max_reconnect);
  }
}

void Connection::Stop() {
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
