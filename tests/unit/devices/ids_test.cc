// Ids, topic parsing and device keys: the id alphabet and its length limits, every
// way a topic can be malformed, and the injectivity of the key encodings.
#include "devices/ids.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace precall::devices {
namespace {

TEST(IdsTest, ValidIds) {
  EXPECT_TRUE(IsValidId("a"));
  EXPECT_TRUE(IsValidId("Z"));
  EXPECT_TRUE(IsValidId("0"));
  EXPECT_TRUE(IsValidId("_"));
  EXPECT_TRUE(IsValidId("."));
  EXPECT_TRUE(IsValidId("-"));
  EXPECT_TRUE(IsValidId("ex200-0042"));
  EXPECT_TRUE(IsValidId("acme.North_2"));
  EXPECT_TRUE(IsValidId(std::string(64, 'x')));
}

TEST(IdsTest, InvalidIds) {
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(std::string(65, 'x')));
  for (char c : std::string("/+#$ :\t\n\"'*?\\,;=@")) {
    EXPECT_FALSE(IsValidId(std::string("a") + c + "b")) << "char " << int{c};
  }
  EXPECT_FALSE(IsValidId(std::string("a\0b", 3)));
  EXPECT_FALSE(IsValidId("caf\xc3\xa9"));  // non-ASCII letters are not id characters
}

TEST(IdsTest, IdAlphabetIsExactlyTheContracts) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    const bool expected = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    EXPECT_EQ(IsValidId(std::string(1, c)), expected) << "byte " << b;
  }
}

TEST(ParseTopicTest, Telemetry) {
  const std::string topic = "fleet/acme/ex200-0042/telemetry";
  std::optional<ParsedTopic> parsed = ParseTopic(topic);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->tenant, "acme");
  EXPECT_EQ(parsed->device, "ex200-0042");
  EXPECT_EQ(parsed->kind, TopicKind::kTelemetry);
  // Views into the caller's topic.
  EXPECT_EQ(parsed->tenant.data(), topic.data() + 6);
  EXPECT_EQ(parsed->device.data(), topic.data() + 11);
}

TEST(ParseTopicTest, Status) {
  std::optional<ParsedTopic> parsed = ParseTopic("fleet/t/d/status");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->tenant, "t");
  EXPECT_EQ(parsed->device, "d");
  EXPECT_EQ(parsed->kind, TopicKind::kStatus);
}

TEST(ParseTopicTest, LongestIds) {
  const std::string id64(64, 'i');
  const std::string topic = "fleet/" + id64 + "/" + id64 + "/telemetry";
  std::optional<ParsedTopic> parsed = ParseTopic(topic);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->tenant, id64);
  EXPECT_EQ(parsed->device, id64);
}

TEST(ParseTopicTest, RejectsEverythingElse) {
  const std::string id65(65, 'i');
  const std::vector<std::string> bad = {
      "",
      "fleet",
      "fleet/",
      "fleet/a",
      "fleet/a/b",
      "fleet/a/b/",
      "fleet/a/b/telemetry/",
      "fleet/a/b/telemetry/x",
      "fleet/a/b/c/telemetry",
      "/fleet/a/b/telemetry",
      "fleet//b/telemetry",
      "fleet/a//telemetry",
      "fleet///telemetry",
      "fleet/a/b//telemetry",
      "Fleet/a/b/telemetry",
      "fleets/a/b/telemetry",
      "flee/a/b/telemetry",
      "fleet/a/b/Telemetry",
      "fleet/a/b/telemetr",
      "fleet/a/b/telemetryx",
      "fleet/a/b/statusx",
      "fleet/a/b/cases",
      "fleet/+/b/telemetry",
      "fleet/a/+/telemetry",
      "fleet/a/b/+",
      "fleet/a/#",
      "fleet/a/b/#",
      "fleet/#",
      "#",
      "+/+/+/+",
      "$share/g/fleet/a/b/telemetry",
      "fleet/a b/c/telemetry",
      "fleet/a/b c/telemetry",
      "fleet/a/b/ telemetry",
      "fleet/a/b/telemetry ",
      " fleet/a/b/telemetry",
      "fleet/" + id65 + "/b/telemetry",
      "fleet/a/" + id65 + "/telemetry",
      std::string("fleet/a/b/telemetry\0", 20),
      std::string("fleet/a\0/b/telemetry", 20),
      "fleet/caf\xc3\xa9/b/telemetry",
      "fleet\\a\\b\\telemetry",
  };
  for (const std::string& topic : bad) {
    EXPECT_FALSE(ParseTopic(topic).has_value()) << "topic: " << topic;
  }
}

// Byte strings an attacker or a bug could produce: empty, separators, NUL, 0xff,
// length bytes, and every length boundary of the encoding.
std::vector<std::string> OddStrings() {
  std::vector<std::string> out = {
      "",
      "a",
      "/",
      std::string(1, '\0'),
      std::string(1, '\x01'),
      std::string(1, '\xff'),
      "a/b",
      std::string("a\0b", 3),
      std::string(1, '\x01') + "a",
      std::string(1, '\x02') + "ab",
      "ab",
      "abc",
      std::string(63, 'x'),
      std::string(64, 'x'),
      std::string(65, 'x'),
      std::string(254, 'y'),
      std::string(255, 'y'),
      std::string(255, '\xff'),
      std::string(255, '\0'),
  };
  std::string all_bytes;
  for (int b = 0; b < 255; ++b) all_bytes.push_back(static_cast<char>(b));
  out.push_back(all_bytes);  // 255 bytes, every value but 0xff
  return out;
}

TEST(EncodeDeviceKeyTest, Layout) {
  EXPECT_EQ(EncodeDeviceKey("acme", "d1"),
            std::string(1, '\x04') + "acme" + std::string(1, '\x02') + "d1");
  EXPECT_EQ(EncodeDeviceKey("", ""), std::string("\0\0", 2));
  const std::string t255(255, 't');
  const std::string key = EncodeDeviceKey(t255, "d");
  ASSERT_EQ(key.size(), 1u + 255 + 1 + 1);
  EXPECT_EQ(static_cast<unsigned char>(key[0]), 255);
  EXPECT_EQ(static_cast<unsigned char>(key[256]), 1);
}

TEST(EncodeDeviceKeyTest, InjectiveAndRoundTripsForOddBytes) {
  const std::vector<std::string> strings = OddStrings();
  std::set<std::string> keys;
  for (const std::string& t : strings) {
    for (const std::string& d : strings) {
      const std::string key = EncodeDeviceKey(t, d);
      keys.insert(key);
      std::optional<DecodedDeviceKey> decoded = DecodeDeviceKey(key);
      ASSERT_TRUE(decoded.has_value());
      EXPECT_EQ(decoded->tenant, t);
      EXPECT_EQ(decoded->device, d);
      EXPECT_EQ(decoded->consumed, key.size());
    }
  }
  EXPECT_EQ(keys.size(), strings.size() * strings.size());
}

TEST(EncodeDeviceKeyTest, NoKeyIsAPrefixOfAnotherDevicesKey) {
  // Keys are used as prefixes of longer storage keys: one device's prefix must never be
  // the start of another device's, or a range scan would mix them.
  const std::vector<std::string> strings = OddStrings();
  std::vector<std::string> keys;
  for (const std::string& t : strings) {
    for (const std::string& d : strings) keys.push_back(EncodeDeviceKey(t, d));
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t j = 0; j < keys.size(); ++j) {
      if (i == j) continue;
      ASSERT_NE(keys[j].compare(0, keys[i].size(), keys[i]), 0) << i << " prefixes " << j;
    }
  }
}

TEST(EncodeDeviceKeyTest, OneTenantsDevicesShareATenantPrefix) {
  const std::vector<std::string> strings = OddStrings();
  for (const std::string& t : strings) {
    const std::string prefix = EncodeDeviceKey(t, "").substr(0, 1 + t.size());
    for (const std::string& d : strings) {
      EXPECT_EQ(EncodeDeviceKey(t, d).compare(0, prefix.size(), prefix), 0);
    }
    for (const std::string& other : strings) {
      if (other == t) continue;
      for (const std::string& d : {std::string(), std::string("d"), std::string(255, 'd')}) {
        EXPECT_NE(EncodeDeviceKey(other, d).compare(0, prefix.size(), prefix), 0);
      }
    }
  }
}

TEST(DecodeDeviceKeyTest, DecodesAPrefixOfALongerKey) {
  const std::string key = EncodeDeviceKey("acme", "d/1") + std::string("\0rest-of-key", 12);
  std::optional<DecodedDeviceKey> decoded = DecodeDeviceKey(key);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->tenant, "acme");
  EXPECT_EQ(decoded->device, "d/1");
  EXPECT_EQ(decoded->consumed, 1u + 4 + 1 + 3);
}

TEST(DecodeDeviceKeyTest, TruncatedKeysAreRejected) {
  for (const std::string& t : OddStrings()) {
    for (const std::string& d : {std::string(), std::string("x"), std::string(255, 'z')}) {
      const std::string key = EncodeDeviceKey(t, d);
      for (std::size_t n = 0; n < key.size(); ++n) {
        ASSERT_FALSE(DecodeDeviceKey(key.substr(0, n)).has_value()) << n;
      }
    }
  }
}

TEST(EncodeDeviceKeyTest, OverlongPartsAreCutTo255Bytes) {
  // Not reachable from valid ids (at most 64 bytes); the function stays total.
  const std::string key = EncodeDeviceKey(std::string(300, 't'), std::string(256, 'd'));
  std::optional<DecodedDeviceKey> decoded = DecodeDeviceKey(key);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->tenant, std::string(255, 't'));
  EXPECT_EQ(decoded->device, std::string(255, 'd'));
}

}  // namespace
}  // namespace precall::devices
