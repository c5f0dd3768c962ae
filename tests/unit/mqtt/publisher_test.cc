// CasePublisher against a real mosquitto: every outbox entry is published to
// its case topic at QoS 1, in seq order, and leaves the outbox only once
// acknowledged; entries written while the broker is down go out when it is
// back. Waits poll with deadlines.
#include "gateway/mqtt/publisher.h"

#include <mqtt/async_client.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fakes/in_memory_store.h"
#include "gtest/gtest.h"
#include "support/poll.h"
#include "support/test_broker.h"
#include "unit/mqtt/fake_mqtt_server.h"

namespace precall::mqtt {
namespace {

using precall::testing::FakeMqttServer;
using precall::testing::TestBroker;

using precall::testing::PollUntil;

// A service center subscribed to service/#.
class Subscriber {
 public:
  explicit Subscriber(const std::string& uri)
      : client_(uri, "service-center", ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr) {
    client_.set_message_callback([this](::mqtt::const_message_ptr m) {
      std::lock_guard<std::mutex> lock(mu_);
      got_.emplace_back(m->get_topic(), m->to_string());
    });
    client_.connect()->wait();
    client_.subscribe("service/#", 1)->wait();
  }
  ~Subscriber() { client_.disconnect()->wait(); }
  std::vector<std::pair<std::string, std::string>> got() {
    std::lock_guard<std::mutex> lock(mu_);
    return got_;
  }

 private:
  ::mqtt::async_client client_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> got_;
};

core::CaseCommit Event(uint64_t seq) {
  core::CaseCommit c;
  c.event_seq = seq;
  c.case_id = "c-" + std::to_string(seq % 3);
  c.event_json = "{\"seq\":" + std::to_string(seq) + "}";
  c.case_json = "{}";
  c.topic = "service/acme/cases/" + c.case_id;
  c.next_case_number = 4;
  return c;
}

MqttOptions Options(const TestBroker& broker) {
  MqttOptions o;
  o.uri = broker.uri();
  o.client_id = "precall-pub-test";
  o.min_reconnect = std::chrono::seconds(1);
  o.max_reconnect = std::chrono::seconds(2);
  return o;
}

// Events 1..count into the outbox; every `refused_every`-th is for tenant
// globex, whose topics the fake server below refuses.
void CommitEvents(fakes::InMemoryCaseStore& store, uint64_t count, uint64_t refused_every) {
  for (uint64_t seq = 1; seq <= count; ++seq) {
    core::CaseCommit c = Event(seq);
    if (seq % refused_every == 0) c.topic = "service/globex/cases/" + c.case_id;
    ASSERT_TRUE(store.Commit(c).ok());
  }
}

FakeMqttServer::Script RefusingGlobex() {
  return {.puback_reason = 0x87, .puback_reason_for = "/globex/"};
}

MqttOptions Options(const FakeMqttServer& server) {
  MqttOptions o;
  o.uri = server.uri();
  o.client_id = "precall-pub-test";
  return o;
}

TEST(CasePublisherTest, PublishesTheOutboxInOrderAndEmptiesIt) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  Subscriber center(broker.uri());
  fakes::InMemoryCaseStore store;
  for (uint64_t seq = 1; seq <= 250; ++seq) ASSERT_TRUE(store.Commit(Event(seq)).ok());
  CasePublisher publisher(Options(broker), store);
  ASSERT_TRUE(publisher.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return center.got().size() >= 250; }));
  // An entry leaves the outbox just before published() counts it.
  ASSERT_TRUE(PollUntil([&] { return store.outbox_size() == 0 && publisher.published() == 250; }));
  auto got = center.got();
  ASSERT_EQ(got.size(), 250u);
  for (uint64_t seq = 1; seq <= 250; ++seq) {
    EXPECT_EQ(got[seq - 1].first, "service/acme/cases/c-" + std::to_string(seq % 3));
    EXPECT_EQ(got[seq - 1].second, "{\"seq\":" + std::to_string(seq) + "}");
  }
  EXPECT_EQ(publisher.mqtt_version(), MQTTVERSION_5);
}

TEST(CasePublisherTest, KeepsEntriesWhileTheBrokerIsDownAndSendsThemLater) {
  TestBroker broker;
  ASSERT_TRUE(broker.Start().ok());
  broker.Stop();
  fakes::InMemoryCaseStore store;
  CasePublisher publisher(Options(broker), store);
  ASSERT_TRUE(publisher.Start().ok());
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_TRUE(store.Commit(Event(seq)).ok());
  publisher.Notify();
  EXPECT_EQ(store.outbox_size(), 5u);  // nowhere to send them: they stay
  ASSERT_TRUE(broker.Start().ok());
  Subscriber center(broker.uri());
  // The subscriber may have connected after some were published; the outbox
  // is empty only because every entry was acknowledged by the broker (an
  // entry leaves the outbox just before published() counts it).
  ASSERT_TRUE(
      PollUntil([&] { return store.outbox_size() == 0 && publisher.published() == 5; }, 30000));
  for (uint64_t seq = 6; seq <= 8; ++seq) ASSERT_TRUE(store.Commit(Event(seq)).ok());
  publisher.Notify();
  ASSERT_TRUE(PollUntil([&] {
    auto got = center.got();
    return !got.empty() && got.back().second == "{\"seq\":8}";
  }));
  ASSERT_TRUE(PollUntil([&] { return store.outbox_size() == 0 && publisher.published() == 8; }));
}

// A few waiting events go out one at a time, each after the broker
// acknowledged the one before: two PUBLISHes in flight let Nagle's algorithm
// and delayed ACKs stall the drain for 40 ms (see the header).
TEST(CasePublisherTest, AFewEventsGoOutOneAtATime) {
  FakeMqttServer server({.hold_pubacks = true});
  fakes::InMemoryCaseStore store;
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(store.Commit(Event(seq)).ok());
  CasePublisher publisher(Options(server), store);
  ASSERT_TRUE(publisher.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return server.publishes() >= 1; }));
  // Published together, the second would be there within microseconds; one
  // at a time, it never comes while the first PUBACK is held.
  EXPECT_FALSE(PollUntil([&] { return server.publishes() >= 2; }, 300));
  EXPECT_EQ(store.outbox_size(), 3u);
  server.ReleasePubacks();
  ASSERT_TRUE(PollUntil([&] { return store.outbox_size() == 0 && publisher.published() == 3; }));
  EXPECT_EQ(server.publishes(), 3);
}

// MQTT 5 acknowledges with a reason code: >= 0x80 (here 0x87, not
// authorized) is a refusal, and the entry stays in the outbox to be retried.
TEST(CasePublisherTest, KeepsEntriesTheBrokerRefusesWithAReasonCode) {
  FakeMqttServer server({.puback_reason = 0x87});
  fakes::InMemoryCaseStore store;
  for (uint64_t seq = 1; seq <= 3; ++seq) ASSERT_TRUE(store.Commit(Event(seq)).ok());
  CasePublisher publisher(Options(server), store, std::chrono::milliseconds(100));
  ASSERT_TRUE(publisher.Start().ok());
  // Published again once their retry time came: the first round ended in refusals.
  ASSERT_TRUE(PollUntil([&] { return server.publishes() > 3; }));
  EXPECT_EQ(store.outbox_size(), 3u);
  EXPECT_EQ(publisher.published(), 0u);
  EXPECT_EQ(publisher.mqtt_version(), MQTTVERSION_5);
  // Egress: a clean start, and the session ends with the connection.
  EXPECT_TRUE(server.connects().at(0).clean);
  EXPECT_EQ(server.connects().at(0).session_expiry, 0u);
}

// One tenant's topic refused (say, a broker ACL): its entries are set aside
// and retried later, and the other tenants' case events keep flowing.
TEST(CasePublisherTest, ARefusedTopicDoesNotHoldBackTheOthers) {
  FakeMqttServer server(RefusingGlobex());
  fakes::InMemoryCaseStore store;
  // More refused entries than one send window, each before an accepted one.
  constexpr uint64_t kEvents = 200;
  CommitEvents(store, kEvents, 2);
  CasePublisher publisher(Options(server), store);
  ASSERT_TRUE(publisher.Start().ok());
  ASSERT_TRUE(PollUntil(
      [&] { return publisher.published() == kEvents / 2 && publisher.refused() >= kEvents / 2; }));
  EXPECT_EQ(store.outbox_size(), kEvents / 2);  // the refused ones stay
  // A new event behind the set-aside ones goes out at once.
  ASSERT_TRUE(store.Commit(Event(kEvents + 1)).ok());
  publisher.Notify();
  ASSERT_TRUE(PollUntil([&] { return publisher.published() == kEvents / 2 + 1; }));
}

// However many of one tenant's events are refused, the others' keep flowing
// (there once was a cap of 1,000 set-aside entries, past which the drain
// stopped for everyone).
TEST(CasePublisherTest, ManyRefusedEventsNeverStopTheOthers) {
  FakeMqttServer server(RefusingGlobex());
  fakes::InMemoryCaseStore store;
  constexpr uint64_t kEvents = 3000;
  CommitEvents(store, kEvents, 2);
  CasePublisher publisher(Options(server), store);
  ASSERT_TRUE(publisher.Start().ok());
  ASSERT_TRUE(PollUntil(
      [&] { return publisher.published() == kEvents / 2 && publisher.refused() >= kEvents / 2; },
      60000));
  EXPECT_EQ(store.outbox_size(), kEvents / 2);
  EXPECT_EQ(publisher.refused(), kEvents / 2);  // each tried once: no retry pass yet
}

// Refused events are tried again, and leave the outbox once the broker
// accepts them; nothing is published twice on the way.
TEST(CasePublisherTest, RefusedEventsGoOutOnceTheBrokerAcceptsThem) {
  FakeMqttServer server(RefusingGlobex());
  fakes::InMemoryCaseStore store;
  constexpr uint64_t kEvents = 60;
  CommitEvents(store, kEvents, 3);
  CasePublisher publisher(Options(server), store, std::chrono::milliseconds(100));
  ASSERT_TRUE(publisher.Start().ok());
  ASSERT_TRUE(PollUntil([&] { return publisher.published() == kEvents * 2 / 3; }));
  // Retry passes come and are refused again...
  ASSERT_TRUE(PollUntil([&] { return publisher.refused() >= 3 * (kEvents / 3); }));
  EXPECT_EQ(store.outbox_size(), kEvents / 3);
  server.AcceptEverything();
  // ... until the broker takes them.
  ASSERT_TRUE(
      PollUntil([&] { return store.outbox_size() == 0 && publisher.published() == kEvents; }));
  EXPECT_EQ(static_cast<uint64_t>(server.publishes()), kEvents + publisher.refused());
}

}  // namespace
}  // namespace precall::mqtt
