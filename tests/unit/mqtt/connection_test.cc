// Connection against a real mosquitto: what it learns from the broker's
// CONNACK. (Version fall back: ingest_test; acknowledgements: publisher_test.)
#include "gateway/mqtt/connection.h"

#include <MQTTAsync.h>

#include <atomic>

#include "gtest/gtest.h"
#include "support/poll.h"
#include "support/test_broker.h"

namespace precall::mqtt {
namespace {

using precall::testing::PollUntil;
using precall::testing::TestBroker;

// mosquitto announces a Receive Maximum of 20 (its max_inflight_messages).
// Beyond it Paho holds publications back for about a second each round, so
// the egress must not hand over more; known before the connected handler.
TEST(ConnectionTest, SendWindowIsTheBrokersReceiveMaximum) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  MqttOptions options;
  options.uri = broker.uri();
  auto connection = Connection::Create(options, "precall-conn-test", /*persistent_session=*/false);
  ASSERT_TRUE(connection.ok()) << connection.status();
  std::atomic<int> window_when_connected{0};
  (*connection)->set_on_connected([&] { window_when_connected = (*connection)->send_window(); });
  EXPECT_EQ((*connection)->send_window(), 128);
  (*connection)->Start();
  ASSERT_TRUE(PollUntil([&] { return window_when_connected != 0; }));
  EXPECT_EQ((*connection)->mqtt_version(), MQTTVERSION_5);
  EXPECT_EQ((*connection)->send_window(), 20);
  EXPECT_EQ(window_when_connected, 20);
}

// Paho's trace below error level costs the receive thread a mutex, a clock
// read and a vsnprintf per traced call and packet; a connection turns it off
// (MQTT_C_CLIENT_TRACE is not set in tests). The trace callback sees what
// Paho traces.
std::atomic<int> traced_below_error{0};
void CountTrace(enum MQTTASYNC_TRACE_LEVELS level, char*) {
  if (level < MQTTASYNC_TRACE_ERROR) traced_below_error.fetch_add(1);
}

TEST(ConnectionTest, PahoTracesNothingBelowErrors) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  MqttOptions options;
  options.uri = broker.uri();
  auto connection = Connection::Create(options, "precall-trace-test", /*persistent_session=*/false);
  ASSERT_TRUE(connection.ok()) << connection.status();
  MQTTAsync_setTraceCallback(CountTrace);
  std::atomic<int> received{0};
  (*connection)->set_on_connected([&] { (void)(*connection)->Subscribe({"t/#"}, 1); });
  (*connection)->set_on_message([&](const ::mqtt::const_message_ptr&) { received.fetch_add(1); });
  (*connection)->Start();
  ASSERT_TRUE(PollUntil([&] {
    if (!(*connection)->connected()) return false;
    (void)(*connection)->Publish("t/x", "{}", 1);
    return received.load() > 0;
  }));
  (*connection)->Stop();
  MQTTAsync_setTraceCallback(nullptr);
  EXPECT_EQ(traced_below_error.load(), 0);
}

TEST(ConnectionTest, RefusesAMalformedUri) {
  MqttOptions options;
  options.uri = "nonsense://";
  EXPECT_FALSE(Connection::Create(options, "precall-conn-test", false).ok());
}

}  // namespace
}  // namespace precall::mqtt
