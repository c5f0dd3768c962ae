// Publishes the simulated fleet to an MQTT broker with libmosquitto.
//
// Why libmosquitto and not Paho (which the gateway uses): the simulator is
// the gateway's test bench, so it should not share the gateway's client
// stack — a Paho misuse in the gateway is not mirrored here — and
// libmosquitto speaks MQTT 5 DISCONNECT "with will message" (reason 0x04),
// which lets a machine go dark exactly as a modem losing power would: the
// broker publishes its last will (`offline` on its status topic).
//
// Machines share a small pool of connections (like the edge gateways of a
// site); a machine planned to go silent gets its own connection, because a
// last will belongs to a connection. Each connection has its own libmosquitto
// network thread; Publish/GoSilent/Flush are called from the run thread. At
// most kMaxOutstanding messages per connection wait for the broker, beyond
// that Publish blocks (back-pressure) until the broker catches up or `stop`.
#ifndef PRECALL_DEVICES_SIMULATOR_MQTT_SINK_H_
#define PRECALL_DEVICES_SIMULATOR_MQTT_SINK_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "devices/simulator/fleet.h"
#include "devices/simulator/run.h"

struct mosquitto;

namespace precall::sim {

struct MqttOptions {
  std::string host = "127.0.0.1";
  int port = 1883;
  std::string client_id = "precall-sim";  // prefix of each connection's client id
  int qos = 1;
  int connections = 4;  // the shared pool
  std::string username;
  std::string password;
};

// tcp://host:port or mqtt://host:port (TLS is not supported by the simulator).
absl::Status ParseBrokerUri(std::string_view uri, MqttOptions& options);

class MqttSink final : public TelemetrySink {
 public:
  static constexpr int64_t kMaxOutstanding = 2000;

  // Connects every connection and waits for the broker's CONNACKs.
  static absl::StatusOr<std::unique_ptr<MqttSink>> Connect(const MqttOptions& options,
                                                           const Fleet& fleet,
                                                           const std::atomic<bool>& stop);
  ~MqttSink() override;

  void Publish(int machine, std::string_view topic, std::string_view payload) override;
  void GoSilent(int machine) override;
  absl::Status Flush() override;

  uint64_t failed() const { return failed_; }

  struct Connection;

 private:
  MqttSink(const MqttOptions& options, const std::atomic<bool>& stop);
  absl::Status Open(Connection& c, const std::string& will_topic);

  MqttOptions options_;
  const std::atomic<bool>& stop_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<int> connection_of_;  // machine -> connection
  uint64_t failed_ = 0;
};

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_MQTT_SINK_H_
