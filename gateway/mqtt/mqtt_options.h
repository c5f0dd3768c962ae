// How to reach the broker: the `broker:` section of the config, as the MQTT
// adapters need it. Pure value type.
#ifndef PRECALL_GATEWAY_MQTT_MQTT_OPTIONS_H_
#define PRECALL_GATEWAY_MQTT_MQTT_OPTIONS_H_

#include <chrono>
#include <string>
#include <vector>

namespace precall::mqtt {

struct MqttOptions {
  std::string uri = "tcp://127.0.0.1:1883";  // tcp:// or ssl://
  std::string client_id = "precall-1";
  std::string username;
  std::string password;
  std::string tls_ca;    // ssl://: trust store (PEM); empty = system default
  std::string tls_cert;  // client certificate (PEM), with tls_key
  std::string tls_key;
  std::vector<std::string> topics = {"fleet/+/+/telemetry", "fleet/+/+/status"};
  // Filters an earlier configuration subscribed in the persistent session and
  // this one no longer has: unsubscribed after subscribing (ingest only), else
  // the broker would go on delivering them, twice where they overlap `topics`.
  std::vector<std::string> stale_topics;
  int qos = 1;
  std::chrono::seconds keep_alive{30};
  // Reconnect attempts: after min_reconnect, doubling up to max_reconnect. A
  // short cap keeps the gateway within seconds of a broker that comes back
  // after a long outage; an attempt at a broker that is down costs nothing.
  std::chrono::seconds min_reconnect{1};
  std::chrono::seconds max_reconnect{5};
};

}  // namespace precall::mqtt

#endif  // PRECALL_GATEWAY_MQTT_MQTT_OPTIONS_H_
