#include "devices/simulator/mqtt_sink.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "devices/simulator/sv.h"

namespace precall::sim {
namespace {

constexpr int kKeepAliveS = 30;
constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kFlushTimeout = std::chrono::seconds(30);
constexpr auto kWaitSlice = std::chrono::milliseconds(100);

}  // namespace

struct MqttSink::Connection {
  mosquitto* mosq = nullptr;
  std::string client_id;
  bool dedicated = false;
  bool silenced = false;
  bool loop_started = false;
  std::atomic<int64_t> outstanding{0};
  std::mutex mu;
  std::condition_variable cv;
  int connack = -1;  // guarded by mu: the CONNACK reason code once it came
};

namespace {

void OnConnect(mosquitto*, void* obj, int rc, int, const mosquitto_property*) {
  auto* c = static_cast<MqttSink::Connection*>(obj);
  {
    std::lock_guard<std::mutex> lock(c->mu);
    c->connack = rc;
  }
  c->cv.notify_all();
}

void OnPublish(mosquitto*, void* obj, int, int, const mosquitto_property*) {
  auto* c = static_cast<MqttSink::Connection*>(obj);
  if (c->outstanding.fetch_sub(1, std::memory_order_acq_rel) <= MqttSink::kMaxOutstanding / 2) {
    // Only the publisher waits on cv; taking the lock orders the wake-up
    // after its check.
    std::lock_guard<std::mutex> lock(c->mu);
    c->cv.notify_all();
  }
}

}  // namespace

absl::Status ParseBrokerUri(std::string_view uri, MqttOptions& options) {
  std::string_view rest = uri;
  if (rest.starts_with("tcp://")) {
    rest.remove_prefix(6);
  } else if (rest.starts_with("mqtt://")) {
    rest.remove_prefix(7);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("broker '", Sv(uri), "': expected tcp://host:port (TLS is not supported)"));
  }
  const std::size_t colon = rest.rfind(':');
  int port = 0;
  if (colon == std::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(Sv(rest.substr(colon + 1)), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("broker '", Sv(uri), "': expected host:port"));
  }
  std::string_view host = rest.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  options.host = std::string(host);
  options.port = port;
  return absl::OkStatus();
}

MqttSink::MqttSink(const MqttOptions& options, const std::atomic<bool>& stop)
    : options_(options), stop_(stop) {}

absl::Status MqttSink::Open(Connection& c, const std::string& will_topic) {
  c.mosq = mosquitto_new(c.client_id.c_str(), true, &c);
  if (c.mosq == nullptr) return absl::ResourceExhaustedError("mosquitto_new failed");
  mosquitto_int_option(c.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_connect_v5_callback_set(c.mosq, OnConnect);
  mosquitto_publish_v5_callback_set(c.mosq, OnPublish);
  if (!options_.username.empty()) {
    mosquitto_username_pw_set(c.mosq, options_.username.c_str(),
                              options_.password.empty() ? nullptr : options_.password.c_str());
  }
  if (!will_topic.empty()) {
    mosquitto_will_set_v5(c.mosq, will_topic.c_str(), 7, "offline", 1, false, nullptr);
  }
  int rc = mosquitto_connect_bind_v5(c.mosq, options_.host.c_str(), options_.port, kKeepAliveS,
                                     nullptr, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", options_.host, ":",
                                               options_.port, ": ", mosquitto_strerror(rc)));
  }
  rc = mosquitto_loop_start(c.mosq);
  if (rc != MOSQ_ERR_SUCCESS) {
    return absl::InternalError(absl::StrCat("mosquitto_loop_start: ", mosquitto_strerror(rc)));
  }
  c.loop_started = true;
  std::unique_lock<std::mutex> lock(c.mu);
  if (!c.cv.wait_for(lock, kConnectTimeout, [&] { return c.connack >= 0; })) {
    return absl::DeadlineExceededError(
        absl::StrCat("no CONNACK from ", options_.host, ":", options_.port));
  }
  if (c.connack != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("broker refused ", c.client_id, ": ", mosquitto_reason_string(c.connack)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MqttSink>> MqttSink::Connect(const MqttOptions& options,
                                                            const Fleet& fleet,
                                                            const std::atomic<bool>& stop) {
  if (options.qos < 0 || options.qos > 1) return absl::InvalidArgumentError("qos must be 0 or 1");
  if (options.connections < 1) return absl::InvalidArgumentError("connections must be >= 1");
  std::unique_ptr<MqttSink> sink(new MqttSink(options, stop));
  const int pool = std::min(options.connections, fleet.size());
  for (int k = 0; k < pool; ++k) {
    auto c = std::make_unique<Connection>();
    c->client_id = absl::StrCat(options.client_id, "-", k);
    sink->connections_.push_back(std::move(c));
    if (absl::Status s = sink->Open(*sink->connections_.back(), ""); !s.ok()) return s;
  }
  sink->connection_of_.resize(fleet.size());
  for (int i = 0; i < fleet.size(); ++i) {
    const auto& fault = fleet.fault(i);
    if (!fault || fault->kind != FaultKind::kSilent) {
      sink->connection_of_[i] = i % pool;
      continue;
    }
    auto c = std::make_unique<Connection>();
    c->client_id = absl::StrCat(options.client_id, "-", fleet.machine(i).device);
    c->dedicated = true;
    sink->connection_of_[i] = static_cast<int>(sink->connections_.size());
    sink->connections_.push_back(std::move(c));
    const std::string will = StatusTopic(fleet.options().tenant, fleet.machine(i).device);
    if (absl::Status s = sink->Open(*sink->connections_.back(), will); !s.ok()) return s;
  }
  return sink;
}

MqttSink::~MqttSink() {
  for (auto& c : connections_) {
    if (c->mosq == nullptr) continue;
    if (c->loop_started) {
      const int rc = c->silenced ? MOSQ_ERR_SUCCESS : mosquitto_disconnect_v5(c->mosq, 0, nullptr);
      mosquitto_loop_stop(c->mosq, rc != MOSQ_ERR_SUCCESS);
    }
    mosquitto_destroy(c->mosq);
  }
}

void MqttSink::Publish(int machine, std::string_view topic, std::string_view payload) {
  Connection& c = *connections_[connection_of_[machine]];
  if (c.silenced) return;
  if (c.outstanding.load(std::memory_order_acquire) >= kMaxOutstanding) {
    std::unique_lock<std::mutex> lock(c.mu);
    while (c.outstanding.load(std::memory_order_acquire) >= kMaxOutstanding &&
           !stop_.load(std::memory_order_relaxed)) {
      c.cv.wait_for(lock, kWaitSlice);
    }
  }
  const std::string t(topic);
  c.outstanding.fetch_add(1, std::memory_order_acq_rel);
  const int rc = mosquitto_publish_v5(c.mosq, nullptr, t.c_str(), static_cast<int>(payload.size()),
                                      payload.data(), options_.qos, false, nullptr);
  if (rc != MOSQ_ERR_SUCCESS) {
    c.outstanding.fetch_sub(1, std::memory_order_acq_rel);
    ++failed_;
  }
}

void MqttSink::GoSilent(int machine) {
  Connection& c = *connections_[connection_of_[machine]];
  if (!c.dedicated || c.silenced) return;
  // Reason 0x04: the broker publishes the will, as if the link had dropped.
  mosquitto_disconnect_v5(c.mosq, MQTT_RC_DISCONNECT_WITH_WILL_MSG, nullptr);
  c.silenced = true;
}

absl::Status MqttSink::Flush() {
  const auto deadline = std::chrono::steady_clock::now() + kFlushTimeout;
  for (auto& c : connections_) {
    if (c->silenced) continue;  // the broker had its messages before the DISCONNECT
    std::unique_lock<std::mutex> lock(c->mu);
    while (c->outstanding.load(std::memory_order_acquire) > 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return absl::DeadlineExceededError(
            absl::StrCat(c->outstanding.load(), " messages not acknowledged by the broker"));
      }
      c->cv.wait_for(lock, kWaitSlice);
    }
  }
  return absl::OkStatus();
}

}  // namespace precall::sim
