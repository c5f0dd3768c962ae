// The broker address the simulator accepts.
#include "devices/simulator/mqtt_sink.h"

#include "gtest/gtest.h"

namespace precall::sim {
namespace {

TEST(ParseBrokerUriTest, HostAndPort) {
  MqttOptions o;
  ASSERT_TRUE(ParseBrokerUri("tcp://broker.local:1884", o).ok());
  EXPECT_EQ(o.host, "broker.local");
  EXPECT_EQ(o.port, 1884);
  ASSERT_TRUE(ParseBrokerUri("mqtt://[::1]:1883", o).ok());
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 1883);
}

TEST(ParseBrokerUriTest, RefusesWhatItCannotConnectTo) {
  MqttOptions o;
  EXPECT_FALSE(ParseBrokerUri("ssl://broker:8883", o).ok());
  EXPECT_FALSE(ParseBrokerUri("tcp://broker", o).ok());
  EXPECT_FALSE(ParseBrokerUri("tcp://:1883", o).ok());
  EXPECT_FALSE(ParseBrokerUri("tcp://broker:70000", o).ok());
  EXPECT_FALSE(ParseBrokerUri("broker:1883", o).ok());
}

}  // namespace
}  // namespace precall::sim
