#include "gateway/mqtt/connection.h"

#include <MQTTAsync.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "gateway/core/thread_name.h"

namespace precall::mqtt {
namespace {

// MQTT 5 Session Expiry Interval of a persistent session: 2^31 - 1 s (68
// years), in effect never, as a 3.1.1 session without clean session. Not
// 0xFFFFFFFF ("never"): Paho C 1.3.12 writes four-byte properties through a
// signed int and sends that as 0x000000FF, a session of 255 s.
constexpr int32_t kSessionExpirySeconds = 0x7FFFFFFF;

// How often the connector, waiting for its connect, checks whether the
// connection came up otherwise or is being stopped.
constexpr auto kConnectCheckEvery = std::chrono::milliseconds(200);

// CONNACK codes of a broker that refuses the protocol version: 3.1.1 return
// code 1, MQTT 5 reason code 0x84. Paho reports either as the connect
// token's return code.
bool RefusesProtocolVersion(const ::mqtt::exception& e) {
  return e.get_return_code() == 1 || e.get_return_code() == 0x84;
}

// A failed connect, for the log: Paho's text names only the number of a
// refusal ("MQTT error [135]: CONNACK return code"); say what it means, so an
// operator sees at once that the broker refused the credentials.
std::string DescribeConnectFailure(const ::mqtt::exception& e, int version) {
  std::string text = e.what();
  const int code = e.get_return_code();
  const char* meaning = nullptr;
  if (version == MQTTVERSION_5 && code >= 0x80 && code <= 0xFF) {
    meaning = MQTTReasonCode_toString(static_cast<MQTTReasonCodes>(code));
  } else if (version != MQTTVERSION_5 && code >= 1 && code <= 5) {
    static constexpr const char* kConnack311[] = {
        "unacceptable protocol version", "client identifier rejected", "server unavailable",
        "bad user name or password", "not authorized"};
    meaning = kConnack311[code - 1];
  }
  if (meaning != nullptr) text.append(" (").append(meaning).append(")");
  return text;
}

// Paho C keeps an in-memory trace whether or not anyone reads it: at its
// default level every traced function entry and exit takes a global mutex
// and a gettimeofday, and every packet is formatted with vsnprintf, on the
// receive thread, per message. Errors only, unless the operator asked for a
// trace (MQTT_C_CLIENT_TRACE, Paho's own switch).
void QuietPahoTrace() {
  static const bool once = [] {
    if (std::getenv("MQTT_C_CLIENT_TRACE") == nullptr)
      MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
    return true;
  }();
  (void)once;
}

}  // namespace

std::string_view MqttVersionName(int version) {
  switch (version) {
    case MQTTVERSION_5:
      return "5";
    case MQTTVERSION_3_1_1:
      return "3.1.1";
    default:
      return "none";
  }
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Create(const MqttOptions& options,
                                                               const std::string& client_id,
                                                               bool persistent_session) {
  QuietPahoTrace();
  std::unique_ptr<Connection> c(new Connection());
  c->options_ = options;
  c->client_id_ = client_id;
  c->persistent_session_ = persistent_session;
  try {
    c->NewClient(MQTTVERSION_5);
  } catch (const ::mqtt::exception& e) {
    return absl::InvalidArgumentError(std::string("MQTT: ") + e.what());
  }
  return c;
}

void Connection::NewClient(int version) {
  // No client-side persistence: ingest never publishes, and egress keeps
  // its own durable outbox in the store.
  auto client = std::make_unique<::mqtt::async_client>(
      options_.uri, client_id_, ::mqtt::create_options(version), nullptr);
  client->set_connected_handler([this, version](const std::string&) {
    version_.store(version, std::memory_order_release);
    connected_.store(true, std::memory_order_release);
    if (on_connected_) on_connected_();
  });
  client->set_connection_lost_handler([this](const std::string&) {
    connected_.store(false, std::memory_order_release);
    reconnects_.fetch_add(1, std::memory_order_relaxed);
  });
  // The handlers are read only once connected, after Start(): they may be
  // set after this client was created.
  client->set_message_callback([this](::mqtt::const_message_ptr msg) {
    if (on_message_) on_message_(msg);
  });
  client_ = std::move(client);  // the previous client (if any) goes: it never connected
}

void Connection::FillConnectOptions(int version, ::mqtt::connect_options& out) const {
  ::mqtt::connect_options_builder builder;
  // The version first: it resets the session flags to what it allows.
  builder.mqtt_version(version);
  if (version == MQTTVERSION_5) {
    builder.clean_start(!persistent_session_);
  } else {
    builder.clean_session(!persistent_session_);
  }
  builder.keep_alive_interval(options_.keep_alive)
      .automatic_reconnect(options_.min_reconnect, options_.max_reconnect)
      .max_inflight(kMaxInflight);
  if (!options_.username.empty()) builder.user_name(options_.username);
  if (!options_.password.empty()) builder.password(options_.password);
  if (options_.uri.rfind("ssl://", 0) == 0) {
    ::mqtt::ssl_options ssl;
    if (!options_.tls_ca.empty()) ssl.set_trust_store(options_.tls_ca);
    if (!options_.tls_cert.empty()) ssl.set_key_store(options_.tls_cert);
    if (!options_.tls_key.empty()) ssl.set_private_key(options_.tls_key);
    builder.ssl(std::move(ssl));
  }
  out = builder.finalize();
  if (version == MQTTVERSION_5 && persistent_session_) {
    // Without it the broker ends the session at disconnection, and what was
    // queued while the gateway was away is lost. Set on `out` itself: Paho
    // C++ 1.2.0 copies connect options without re-pointing their properties
    // (the copy would point into the original).
    out.set_properties(
        {::mqtt::property(::mqtt::property::SESSION_EXPIRY_INTERVAL, kSessionExpirySeconds)});
  }
}

Connection::~Connection() { Stop(); }

void Connection::Start() {
  if (connector_.joinable() || stopping()) return;
  connector_ = std::thread([this] {
    core::NameThisThread("mqtt-connect");
    ConnectUntilUp();
  });
}

void Connection::ConnectUntilUp() {
  int version = MQTTVERSION_5;
  int client_version = MQTTVERSION_5;  // Create() made an MQTT 5 client
  auto backoff = options_.min_reconnect;
  while (!stopping()) {
    try {
      if (client_version != version) {
        NewClient(version);
        client_version = version;
      }
      // Lives across connect(), whose copy points into it; Paho C copies
      // what it needs (also for its automatic reconnects).
      ::mqtt::connect_options options;
      FillConnectOptions(version, options);
      ::mqtt::token_ptr token = client_->connect(options, nullptr, *this);
      // Paho's automatic reconnect retries a failed first connect too, and
      // may get there first: then this token may never complete.
      while (!token->wait_for(kConnectCheckEvery)) {
        if (stopping() || connected()) return;
      }
      return;
    } catch (const ::mqtt::exception& e) {
      if (version == MQTTVERSION_5 && RefusesProtocolVersion(e)) {
        // A 3.1.1 broker: from now on this connection speaks 3.1.1, starting at once.
        version = MQTTVERSION_3_1_1;
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(failure_mu_);
        last_connect_failure_ = DescribeConnectFailure(e, version);
      }
      connect_failures_.fetch_add(1, std::memory_order_release);
    }
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, backoff, [this] { return stopping(); });
    backoff = std::min(backoff * 2, options_.max_reconnect);
  }
}

std::string Connection::last_connect_failure() const {
  std::lock_guard<std::mutex> lock(failure_mu_);
  return last_connect_failure_;
}

void Connection::on_success(const ::mqtt::token& tok) {
  try {
    const ::mqtt::connect_response response = tok.get_connect_response();
    const ::mqtt::properties& props = response.get_properties();
    if (props.contains(::mqtt::property::RECEIVE_MAXIMUM)) {
      const int broker_max = ::mqtt::get<uint16_t>(props, ::mqtt::property::RECEIVE_MAXIMUM);
      send_window_.store(std::min(kMaxInflight, broker_max), std::memory_order_release);
    }
  } catch (const ::mqtt::exception&) {
    // No CONNACK properties: the window stays.
  }
}

absl::StatusOr<::mqtt::token_ptr> Connection::Subscribe(const std::vector<std::string>& filters,
                                                        int qos) {
  if (mqtt_version() == 0) return absl::UnavailableError("MQTT: not connected yet");
  try {
    std::vector<int> qos_each(filters.size(), qos);
    // MQTT 5 subscribe options: the defaults, sent as such when none are
    // given: no-local off (a protocol error on $share/... filters),
    // retain-as-published off, retained messages sent on subscribing. (Paho
    // C++ 1.2.0 loses a list of options for several filters on the way to
    // Paho C and crashes: eclipse-paho/paho.mqtt.cpp#524.)
    return client_->subscribe(::mqtt::string_collection::create(filters), qos_each);
  } catch (const ::mqtt::exception& e) {
    return absl::UnavailableError(std::string("MQTT subscribe: ") + e.what());
  }
}

absl::StatusOr<::mqtt::token_ptr> Connection::Unsubscribe(const std::vector<std::string>& filters) {
  if (mqtt_version() == 0) return absl::UnavailableError("MQTT: not connected yet");
  try {
    return client_->unsubscribe(::mqtt::string_collection::create(filters));
  } catch (const ::mqtt::exception& e) {
    return absl::UnavailableError(std::string("MQTT unsubscribe: ") + e.what());
  }
}

absl::StatusOr<::mqtt::delivery_token_ptr> Connection::Publish(const std::string& topic,
                                                               std::string_view payload, int qos) {
  if (mqtt_version() == 0) return absl::UnavailableError("MQTT: not connected yet");
  try {
    return client_->publish(topic, payload.data(), payload.size(), qos, false);
  } catch (const ::mqtt::exception& e) {
    return absl::UnavailableError(std::string("MQTT publish: ") + e.what());
  }
}

void Connection::Stop() {
  if (stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_cv_.notify_all();
  }
  if (connector_.joinable()) connector_.join();  // from here on, nobody replaces client_
  try {
    // No client: Create() failed making it.
    if (client_ && client_->is_connected()) {
      client_->disconnect()->wait_for(std::chrono::seconds(5));
    }
  } catch (const ::mqtt::exception&) {
  }
  connected_.store(false, std::memory_order_release);
}

}  // namespace precall::mqtt
