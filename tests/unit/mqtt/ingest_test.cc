// MqttIngest against a real mosquitto: delivery, a broker that is down at
// start-up, the persistent session queueing QoS 1 messages while the gateway
// is away, and reconnecting after a broker restart. Waits poll with deadlines.
#include "gateway/mqtt/ingest.h"

#include <mqtt/async_client.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "support/poll.h"
#include "support/test_broker.h"

namespace precall::mqtt {
namespace {

using precall::testing::TestBroker;

using precall::testing::PollUntil;

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
  }  // the gateway goes away; its session and subscription stay on the broker
  Publish(broker.uri(), 100, 50);
  Received second;
  MqttIngest ingest(Options(broker, "precall-test-3"),
                    [&](std::string_view t, std::string_view p) { second.Add(t, p); });
  ASSERT_TRUE(ingest.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return second.size() >= 50; }));
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

}  // namespace
}  // namespace precall::mqtt
