// MqttIngest against a real mosquitto: delivery, a broker that is down at
// start-up, MQTT 5 with a persistent session queueing QoS 1 messages while
// the gateway is away, and reconnecting after a broker restart; against a
// fake server that refuses MQTT 5: the fall back to 3.1.1, kept across
// reconnections. Waits poll with deadlines.
#include "gateway/mqtt/ingest.h"

#include <mqtt/async_client.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/poll.h"
#include "support/test_broker.h"
#include "unit/mqtt/fake_mqtt_server.h"

namespace precall::mqtt {
namespace {

using precall::testing::FakeMqttServer;
using precall::testing::TestBroker;

using precall::testing::PollUntil;

// mosquitto's log: it notes each client's protocol version and clean flag,
// "New client connected from ... as <id> (p5, c0, k30)".
std::string BrokerLog(const TestBroker& broker) {
  std::ifstream in(broker.dir() + "/mosquitto.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Received {
  void Add(std::string_view topic, std::string_view payload) {
    std::lock_guard<std::mutex> lock(mu);
    messages.emplace_back(std::string(topic), std::string(payload));
  }
  std::size_t size() {
    std::lock_guard<std::mutex> lock(mu);
    return messages.size();
  }
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> messages;
};

// Publishes `count` QoS 1 messages and waits for the broker's acknowledgements.
void Publish(const std::string& uri, int first, int count) {
  ::mqtt::async_client publisher(uri, "test-publisher", ::mqtt::create_options(MQTTVERSION_3_1_1),
                                 nullptr);
  publisher.connect()->wait();
  for (int i = first; i < first + count; ++i) {
    publisher.publish("fleet/acme/d1/telemetry", "{\"seq\":" + std::to_string(i) + "}", 1, false)
        ->wait();
  }
  publisher.disconnect()->wait();
}

MqttOptions Options(const TestBroker& broker, const std::string& client_id) {
  MqttOptions o;
  o.uri = broker.uri();
  o.client_id = client_id;
  o.min_reconnect = std::chrono::seconds(1);
  o.max_reconnect = std::chrono::seconds(2);
  return o;
}

TEST(MqttIngestTest, DeliversSubscribedMessagesToTheHandler) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  Received received;
  MqttIngest ingest(Options(broker, "precall-test-1"),
                    [&](std::string_view t, std::string_view p) { received.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  // Once the broker acknowledged the subscriptions, nothing published is lost.
  ASSERT_TRUE(PollUntil([&] { return ingest.subscribed(); }));
  Publish(broker.uri(), 1, 20);
  ASSERT_TRUE(PollUntil([&] { return received.size() >= 20; }));
  EXPECT_EQ(received.size(), 20u);
  std::lock_guard<std::mutex> lock(received.mu);
  EXPECT_EQ(received.messages.back().first, "fleet/acme/d1/telemetry");
  EXPECT_EQ(received.messages.back().second, "{\"seq\":20}");
}

// A retained message reaches a subscriber because it subscribed: telemetry
// so is an old sample sent again at every subscription (restart, reconnect)
// and is dropped, counted; a retained status (a last will) is current and
// passes. Telemetry published while subscribed arrives as ever.
TEST(MqttIngestTest, RetainedTelemetryIsDroppedRetainedStatusIsNot) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  {
    ::mqtt::async_client device(broker.uri(), "test-device",
                                ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
    device.connect()->wait();
    device.publish("fleet/acme/d1/telemetry", "{\"seq\":1}", 1, true)->wait();
    device.publish("fleet/acme/d1/status", "offline", 1, true)->wait();
    device.disconnect()->wait();
  }
  Received received;
  MqttIngest ingest(Options(broker, "precall-test-retained"),
                    [&](std::string_view t, std::string_view p) { received.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.subscribed(); }));
  Publish(broker.uri(), 2, 1);
  ASSERT_TRUE(PollUntil([&] { return received.size() >= 2; }));
  EXPECT_EQ(ingest.retained_telemetry_dropped(), 1u);
  std::lock_guard<std::mutex> lock(received.mu);
  ASSERT_EQ(received.messages.size(), 2u);
  EXPECT_EQ(received.messages[0],
            std::make_pair(std::string("fleet/acme/d1/status"), std::string("offline")));
  EXPECT_EQ(received.messages[1],
            std::make_pair(std::string("fleet/acme/d1/telemetry"), std::string("{\"seq\":2}")));
}

// The session is persistent: a filter an earlier configuration subscribed
// stays with the broker until someone unsubscribes it, and where it overlaps
// a new one every message would arrive twice.
TEST(MqttIngestTest, StaleFiltersOfAnEarlierConfigurationAreRemoved) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  {
    MqttOptions before = Options(broker, "precall-test-stale");
    before.topics = {"fleet/#", "other/#"};
    MqttIngest ingest(before, [](std::string_view, std::string_view) {});
    ASSERT_TRUE(ingest.Start().ok());
    ASSERT_TRUE(PollUntil([&] { return ingest.subscribed(); }));
    EXPECT_TRUE(ingest.unsubscribed_stale()) << "nothing stale to remove";
  }
  Received received;
  MqttOptions after = Options(broker, "precall-test-stale");
  after.topics = {"fleet/+/+/telemetry"};
  after.stale_topics = {"fleet/#", "other/#"};
  MqttIngest ingest(after, [&](std::string_view t, std::string_view p) { received.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.subscribed() && ingest.unsubscribed_stale(); }));

  ::mqtt::async_client publisher(broker.uri(), "test-publisher",
                                 ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
  publisher.connect()->wait();
  publisher.publish("other/x", "old filter", 1, false)->wait();
  for (int i = 1; i <= 5; ++i) {
    publisher.publish("fleet/acme/d1/telemetry", std::to_string(i), 1, false)->wait();
  }
  publisher.publish("fleet/acme/d1/telemetry", "last", 1, false)->wait();
  publisher.disconnect()->wait();
  // In order from one publisher: once "last" is in, everything before it is.
  ASSERT_TRUE(PollUntil([&] {
    std::lock_guard<std::mutex> lock(received.mu);
    return !received.messages.empty() && received.messages.back().second == "last";
  }));
  std::lock_guard<std::mutex> lock(received.mu);
  std::vector<std::string> payloads;
  for (const auto& m : received.messages) payloads.push_back(m.second);
  EXPECT_EQ(payloads, (std::vector<std::string>{"1", "2", "3", "4", "5", "last"}));
}

TEST(MqttIngestTest, WaitsForABrokerThatIsDownAtStartUp) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  broker.Stop();  // the port is known, nothing listens
  Received received;
  MqttIngest ingest(Options(broker, "precall-test-2"),
                    [&](std::string_view t, std::string_view p) { received.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.connect_failures() >= 1; }));
  EXPECT_FALSE(ingest.connected());
  ASSERT_TRUE(broker.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.connected(); }));
  ASSERT_TRUE(PollUntil([&] {
    Publish(broker.uri(), 0, 1);
    return received.size() > 0;
  }));
}

TEST(MqttIngestTest, NegotiatesMqtt5WithAPersistentSession) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  MqttIngest ingest(Options(broker, "precall-test-5"), [](std::string_view, std::string_view) {});
  EXPECT_EQ(ingest.mqtt_version(), 0);
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.subscribed(); }));
  EXPECT_EQ(ingest.mqtt_version(), MQTTVERSION_5);
  // As the broker saw it: protocol 5, clean start off.
  ASSERT_TRUE(PollUntil(
      [&] { return BrokerLog(broker).find("as precall-test-5 (p5, c0") != std::string::npos; }))
      << BrokerLog(broker);
}

// In MQTT 5 the session outlives the connection only with a Session Expiry
// Interval: without it this fails.
TEST(MqttIngestTest, PersistentSessionDeliversWhatWasQueuedWhileAway) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  Received first;
  {
    MqttIngest ingest(Options(broker, "precall-test-3"),
                      [&](std::string_view t, std::string_view p) { first.Add(t, p); });
    ASSERT_TRUE(ingest.Start().ok());
    ASSERT_TRUE(PollUntil([&] {
      Publish(broker.uri(), 0, 1);
      return first.size() > 0;
    }));
    EXPECT_EQ(ingest.mqtt_version(), MQTTVERSION_5);
  }  // the gateway goes away; its session and subscription stay on the broker
  Publish(broker.uri(), 100, 50);
  Received second;
  MqttIngest ingest(Options(broker, "precall-test-3"),
                    [&](std::string_view t, std::string_view p) { second.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return second.size() >= 50; }));
  EXPECT_EQ(ingest.mqtt_version(), MQTTVERSION_5);
  std::lock_guard<std::mutex> lock(second.mu);
  EXPECT_EQ(second.messages.front().second, "{\"seq\":100}");
  EXPECT_EQ(second.messages[49].second, "{\"seq\":149}");
}

TEST(MqttIngestTest, ReconnectsAfterABrokerRestart) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  Received received;
  MqttIngest ingest(Options(broker, "precall-test-4"),
                    [&](std::string_view t, std::string_view p) { received.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] {
    Publish(broker.uri(), 0, 1);
    return received.size() > 0;
  }));
  broker.Stop();
  ASSERT_TRUE(PollUntil([&] { return !ingest.connected(); }));
  ASSERT_TRUE(broker.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.connected(); }, 30000));
  std::size_t before = received.size();
  Publish(broker.uri(), 1000, 5);
  ASSERT_TRUE(PollUntil([&] { return received.size() >= before + 5; }));
  EXPECT_GE(ingest.reconnects(), 1u);
}

// A broker that refuses MQTT 5 (`refusal`) gets a 3.1.1 CONNECT next, with
// the persistent session; the handlers work on the re-created client; and a
// lost connection comes back with 3.1.1, never trying 5 again.
void FallsBackTo311(std::vector<uint8_t> refusal) {
  FakeMqttServer server({.refuse_mqtt5 = std::move(refusal),
                         .publish_after_subscribe = "fleet/acme/d1/telemetry"});
  MqttOptions options;
  options.uri = server.uri();
  options.client_id = "precall-test-6";
  Received received;
  MqttIngest ingest(options, [&](std::string_view t, std::string_view p) { received.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return ingest.subscribed(); }));
  EXPECT_EQ(ingest.mqtt_version(), MQTTVERSION_3_1_1);
  ASSERT_TRUE(PollUntil([&] { return received.size() >= 1; }));  // the message handler
  auto connects = server.connects();
  ASSERT_EQ(connects.size(), 2u);
  EXPECT_EQ(connects[0].protocol_level, 5);
  EXPECT_EQ(connects[1].protocol_level, 4);
  EXPECT_FALSE(connects[0].clean);
  EXPECT_EQ(connects[0].session_expiry, 0x7FFFFFFFu);  // 68 years: the session stays
  EXPECT_FALSE(connects[1].clean);

  server.DropClient();
  ASSERT_TRUE(PollUntil([&] { return ingest.reconnects() >= 1; }));  // the lost handler
  ASSERT_TRUE(PollUntil([&] { return server.connects().size() >= 3 && ingest.subscribed(); }));
  ASSERT_TRUE(PollUntil([&] { return received.size() >= 2; }));
  connects = server.connects();
  ASSERT_EQ(connects.size(), 3u);
  EXPECT_EQ(connects[2].protocol_level, 4);
  EXPECT_FALSE(connects[2].clean);
  EXPECT_EQ(ingest.mqtt_version(), MQTTVERSION_3_1_1);
}

TEST(MqttIngestTest, FallsBackTo311WhenA311BrokerRefusesMqtt5) {
  FallsBackTo311(FakeMqttServer::Refusal311());
}

TEST(MqttIngestTest, FallsBackTo311OnUnsupportedProtocolVersion0x84) {
  FallsBackTo311(FakeMqttServer::Refusal5());
}

}  // namespace
}  // namespace precall::mqtt
