// PayloadDecoder: every reject reason, every field rule of CONTRACT §1, batches,
// the lifetime of views, reuse across calls and the no-allocation steady state.
#include "devices/decoder.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/allocation_counter.h"


namespace precall::devices {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

std::string Repeat(char c, std::size_t n) { return std::string(n, c); }

// {"metrics": {"m0": 0, "m1": 1, ...}} with `n` metrics.
std::string MetricsPayload(std::size_t n) {
  std::string out = R"({"metrics":{)";
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0) out += ",";
    out += "\"m" + std::to_string(i) + "\":" + std::to_string(i);
  }
  return out + "}}";
}

class DecoderTest : public ::testing::Test {
 protected:
  // Decodes a single-sample payload and returns that sample's reject reason.
  RejectReason SampleReject(std::string_view payload) {
    RejectReason message = decoder_.Decode(payload);
    EXPECT_EQ(message, RejectReason::kNone) << payload;
    if (message != RejectReason::kNone || decoder_.samples().size() != 1) {
      ADD_FAILURE() << "expected exactly one sample for " << payload;
      return RejectReason::kBadTopic;  // a value no sample ever has
    }
    return decoder_.samples()[0].reject;
  }

  const Sample& Only() {
    EXPECT_EQ(decoder_.samples().size(), 1u);
    return decoder_.samples().at(0);
  }

  PayloadDecoder decoder_;
};

TEST_F(DecoderTest, DecodesTheContractExample) {
  ASSERT_EQ(decoder_.Decode(R"({"ts": 1732260000123, "seq": 42, "model": "EX200",
      "labels": {"site": "north"},
      "metrics": {"coolant_temp_c": 98.5, "engine_rpm": 1500, "door_open": true,
                  "door_locked": false},
      "dtc": ["SPN110.FMI0", "P0217"]})"),
            RejectReason::kNone);
  const Sample& s = Only();
  EXPECT_EQ(s.reject, RejectReason::kNone);
  EXPECT_TRUE(s.has_ts);
  EXPECT_EQ(s.ts, 1732260000123);
  EXPECT_TRUE(s.has_seq);
  EXPECT_EQ(s.seq, 42u);
  EXPECT_TRUE(s.has_model);
  EXPECT_EQ(s.model, "EX200");
  EXPECT_TRUE(s.has_labels);
  EXPECT_THAT(s.labels, ElementsAre(Pair("site", "north")));
  ASSERT_EQ(s.metrics.size(), 4u);
  EXPECT_EQ(s.metrics[0].name, "coolant_temp_c");
  EXPECT_EQ(s.metrics[0].value, 98.5);
  EXPECT_EQ(s.metrics[1].name, "engine_rpm");
  EXPECT_EQ(s.metrics[1].value, 1500.0);
  EXPECT_EQ(s.metrics[2].name, "door_open");
  EXPECT_EQ(s.metrics[2].value, 1.0);
  EXPECT_EQ(s.metrics[3].name, "door_locked");
  EXPECT_EQ(s.metrics[3].value, 0.0);
  EXPECT_TRUE(s.has_dtc);
  EXPECT_THAT(s.dtc, ElementsAre("SPN110.FMI0", "P0217"));
}

TEST_F(DecoderTest, EmptyObjectIsOneEmptySample) {
  ASSERT_EQ(decoder_.Decode("{}"), RejectReason::kNone);
  const Sample& s = Only();
  EXPECT_EQ(s.reject, RejectReason::kNone);
  EXPECT_FALSE(s.has_ts);
  EXPECT_FALSE(s.has_seq);
  EXPECT_FALSE(s.has_model);
  EXPECT_FALSE(s.has_labels);
  EXPECT_FALSE(s.has_dtc);
  EXPECT_THAT(s.metrics, IsEmpty());
}

TEST_F(DecoderTest, EmptyArrayIsNoSamples) {
  EXPECT_EQ(decoder_.Decode("[]"), RejectReason::kNone);
  EXPECT_THAT(decoder_.samples(), IsEmpty());
  EXPECT_EQ(decoder_.Decode(" [ ] \n"), RejectReason::kNone);
  EXPECT_THAT(decoder_.samples(), IsEmpty());
}

TEST_F(DecoderTest, WhitespaceAroundTheRootIsFine) {
  EXPECT_EQ(decoder_.Decode(" \t\r\n{\"ts\": 5}\n\n "), RejectReason::kNone);
  EXPECT_EQ(Only().ts, 5);
}

// --- too_large ---------------------------------------------------------------------

TEST_F(DecoderTest, PayloadOfExactlyTheLimitIsDecoded) {
  const std::string head = R"({"model":"M","pad":")";
  const std::string tail = "\"}";
  std::string payload = head + Repeat('x', kMaxPayloadBytes - head.size() - tail.size()) + tail;
  ASSERT_EQ(payload.size(), kMaxPayloadBytes);
  EXPECT_EQ(decoder_.Decode(payload), RejectReason::kNone);
  EXPECT_EQ(Only().model, "M");
}

TEST_F(DecoderTest, PayloadOverTheLimitIsTooLargeBeforeParsing) {
  std::string payload(kMaxPayloadBytes + 1, ' ');
  payload[0] = '{';
  payload[kMaxPayloadBytes] = '}';
  EXPECT_EQ(decoder_.Decode(payload), RejectReason::kTooLarge);
  EXPECT_THAT(decoder_.samples(), IsEmpty());
  // Even garbage is too_large, not bad_json: the size check comes first.
  EXPECT_EQ(decoder_.Decode(std::string(kMaxPayloadBytes + 1, '\xff')), RejectReason::kTooLarge);
}

// --- bad_json ----------------------------------------------------------------------

class BadJsonTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadJsonTest, WholeMessageIsBadJson) {
  PayloadDecoder decoder;
  EXPECT_EQ(decoder.Decode(GetParam()), RejectReason::kBadJson) << GetParam();
  EXPECT_THAT(decoder.samples(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    Syntax, BadJsonTest,
    ::testing::Values(
        // Empty and truncated documents.
        "", "   ", "\n", "{", "[", "{\"ts\":1", "[{}", "[{},", "{\"ts\":}", "{\"ts\"}", "\"abc",
        "[\"abc]",
        // Structure: commas, colons, keys, brackets.
        "{ts:1}", "{'ts':1}", "{1:2}", "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{,\"a\":1}",
        "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{\"a\"::1}", "[}", "{]", "[[1]", "{\"a\":{\"b\":1}",
        "[1]]", "{}}", "[{]}",
        // Trailing content after the root value.
        "{} {}", "[] []", "{}x", "[] 1", "{\"ts\":1} \"x\"", "[1] 2", "{}]", "[]}",
        // Root scalars that are not valid JSON, or followed by more.
        "nul", "tru", "falsey", "1 2", "\"a\" \"b\"", "01", "-", "1.", "abc", "1,2",
        // Bad atoms and numbers inside, also in unknown fields (which are never read,
        // but must still be valid JSON).
        "{\"x\":tru}", "{\"x\":nul}", "{\"x\":nulll}", "{\"x\":True}", "{\"x\":01}", "{\"x\":-01}",
        "{\"x\":1.}", "{\"x\":.5}", "{\"x\":-}", "{\"x\":+1}", "{\"x\":1e}", "{\"x\":1e+}",
        "{\"x\":1ee2}", "{\"x\":0x10}", "{\"x\":NaN}", "{\"x\":Infinity}", "{\"x\":-Infinity}",
        "{\"x\":1.5.2}", "{\"x\":[1 2]}", "{\"x\":{\"a\" 1}}", "{\"x\":[1,]}",
        "{\"x\":{\"a\":[{\"b\":tru}]}}", "{\"x\":undefined}",
        // Bad numbers and atoms in known fields.
        "{\"ts\":01}", "{\"ts\":1.}", "{\"ts\":-}", "{\"seq\":01}", "{\"seq\":1e}",
        "{\"metrics\":{\"a\":01}}", "{\"metrics\":{\"a\":1.e5}}", "{\"metrics\":{\"a\":tru}}",
        "{\"metrics\":{\"a\":truex}}", "{\"metrics\":{\"a\":nul}}", "{\"metrics\":{\"a\":--1}}",
        "{\"labels\":{\"a\":tru}}", "{\"dtc\":[tru]}", "{\"dtc\":[\"P1\" \"P2\"]}",
        // Strings: bad escapes, lone surrogates, raw control characters, bad UTF-8.
        "{\"x\":\"\\q\"}", "{\"x\":\"\\u12\"}", "{\"x\":\"\\ud800\"}", "{\"\\q\":1}",
        "{\"model\":\"\\x41\"}", "{\"x\":\"a\tb\"}", "{\"x\":\"a\nb\"}",
        std::string("{\"x\":\"a\0b\"}", 10), "{\"x\":\"\xff\"}", "{\"x\":\"\xc3\"}",
        "{\"x\":\"\xed\xa0\x80\"}", "{\"\xff\":1}", "{\"model\":\"\xc0\xaf\"}",
        "\xef\xbb\xbf{}",  // a byte-order mark is not JSON whitespace
        "{\"metrics\":{\"\xff\":1}}", "{} \xff"));

TEST_F(DecoderTest, SyntaxErrorAfterGoodBatchElementsRejectsTheWholeBatch) {
  EXPECT_EQ(decoder_.Decode(R"([{"ts":1},{"ts":2},{"ts":3,"x":tru}])"), RejectReason::kBadJson);
  EXPECT_THAT(decoder_.samples(), IsEmpty());
  EXPECT_EQ(decoder_.Decode(R"([{"ts":1},{"ts":2},)"), RejectReason::kBadJson);
  EXPECT_THAT(decoder_.samples(), IsEmpty());
  EXPECT_EQ(decoder_.Decode(R"([{"ts":1},{"ts":2}] [])"), RejectReason::kBadJson);
  EXPECT_THAT(decoder_.samples(), IsEmpty());
}

TEST_F(DecoderTest, SyntaxErrorWinsOverAnEarlierSampleProblem) {
  // The sample is already bad_field at "ts", but the later syntax error decides.
  EXPECT_EQ(decoder_.Decode(R"({"ts":-1,"model":"M","x":[1 2]})"), RejectReason::kBadJson);
  EXPECT_EQ(decoder_.Decode(R"({"metrics":{"a":"s","b":01}})"), RejectReason::kBadJson);
  EXPECT_EQ(decoder_.Decode(R"({"metrics":{"a":1e999},"dtc":[tru]})"), RejectReason::kBadJson);
  EXPECT_EQ(decoder_.Decode(R"({"ts":"s","ts":"\q"})"), RejectReason::kBadJson);
  std::string too_many = MetricsPayload(300);  // too_many_metrics, then a syntax error
  too_many.insert(too_many.size() - 1, R"(,"x":tru)");
  EXPECT_EQ(decoder_.Decode(too_many), RejectReason::kBadJson);
}

TEST_F(DecoderTest, NestingDeeperThanTheLimitIsBadJsonNotACrash) {
  const std::string ok = "{\"x\":" + Repeat('[', 1000) + Repeat(']', 1000) + "}";
  EXPECT_EQ(decoder_.Decode(ok), RejectReason::kNone);
  const std::string deep = "{\"x\":" + Repeat('[', 30000) + Repeat(']', 30000) + "}";
  EXPECT_EQ(decoder_.Decode(deep), RejectReason::kBadJson);
  const std::string deep_objects = [] {
    std::string s;
    for (int i = 0; i < 6000; ++i) s += "{\"a\":";
    s += "1";
    s += Repeat('}', 6000);
    return s;
  }();
  EXPECT_EQ(decoder_.Decode(deep_objects), RejectReason::kBadJson);
}

TEST_F(DecoderTest, OnlyThePayloadBytesAreRead) {
  // The view ends before the text does: the decoder must not see the rest.
  const std::string text = R"({"ts":7}}}}})";
  EXPECT_EQ(decoder_.Decode(std::string_view(text).substr(0, 8)), RejectReason::kNone);
  EXPECT_EQ(Only().ts, 7);
  const std::string unbalanced = "[[1]]";
  EXPECT_EQ(decoder_.Decode(std::string_view(unbalanced).substr(0, 4)), RejectReason::kBadJson);
  const std::string brace = "{\"a\":{}}";
  EXPECT_EQ(decoder_.Decode(std::string_view(brace).substr(0, 7)), RejectReason::kBadJson);
}

// --- root that is neither an object nor an array: message-level bad_field ----------

TEST_F(DecoderTest, ScalarRootIsBadField) {
  for (std::string_view payload : {"42", "-1.5", " 42 ", "\"x\"", "\"\"", "null", "true", "false",
                                   "1e999", "\"\\u0041\"", "\n0\n"}) {
    EXPECT_EQ(decoder_.Decode(payload), RejectReason::kBadField) << payload;
    EXPECT_THAT(decoder_.samples(), IsEmpty()) << payload;
  }
}

// --- per-sample rules --------------------------------------------------------------

// Milliseconds from 0 to the last of year 9999 (kMaxTimestampMs), through the
// one-pass path (a plain sample) and the full one (a batch, here).
TEST_F(DecoderTest, TsAcceptsMillisecondsUpToYear9999) {
  EXPECT_EQ(SampleReject(R"({"ts":0})"), RejectReason::kNone);
  EXPECT_EQ(Only().ts, 0);
  EXPECT_TRUE(Only().has_ts);
  EXPECT_EQ(SampleReject(R"({"ts":-0})"), RejectReason::kNone);
  EXPECT_EQ(Only().ts, 0);
  for (std::string_view payload : {R"({"ts":253402300799999})", R"([{"ts":253402300799999}])"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kNone) << payload;
    EXPECT_EQ(Only().ts, kMaxTimestampMs) << payload;
  }
}

TEST_F(DecoderTest, TsRejectsEverythingElse) {
  for (std::string_view payload :
       {R"({"ts":-1})", R"({"ts":1.5})", R"({"ts":1.0})", R"({"ts":1e3})", R"({"ts":1E3})",
        R"({"ts":"123"})", R"({"ts":null})", R"({"ts":true})", R"({"ts":[1]})", R"({"ts":{"v":1}})",
        R"({"ts":253402300800000})", R"([{"ts":253402300800000}])", R"({"ts":9223372036854775807})",
        R"([{"ts":9223372036854775807}])", R"({"ts":9223372036854775808})",
        R"({"ts":99999999999999999999999})", R"({"ts":-9223372036854775808})", R"({"ts":1e999})"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
    EXPECT_FALSE(Only().has_ts) << payload;
  }
}

TEST_F(DecoderTest, SeqAcceptsUint64) {
  EXPECT_EQ(SampleReject(R"({"seq":0})"), RejectReason::kNone);
  EXPECT_TRUE(Only().has_seq);
  EXPECT_EQ(SampleReject(R"({"seq":18446744073709551615})"), RejectReason::kNone);
  EXPECT_EQ(Only().seq, std::numeric_limits<uint64_t>::max());
}

TEST_F(DecoderTest, SeqRejectsEverythingElse) {
  for (std::string_view payload :
       {R"({"seq":-1})", R"({"seq":1.0})", R"({"seq":2e1})", R"({"seq":"1"})", R"({"seq":null})",
        R"({"seq":false})", R"({"seq":18446744073709551616})", R"({"seq":[]})"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
  }
}

TEST_F(DecoderTest, ModelIsAStringOf1To64Bytes) {
  EXPECT_EQ(SampleReject(R"({"model":"A"})"), RejectReason::kNone);
  EXPECT_EQ(Only().model, "A");
  const std::string max = Repeat('m', kMaxModelBytes);
  EXPECT_EQ(SampleReject("{\"model\":\"" + max + "\"}"), RejectReason::kNone);
  EXPECT_EQ(Only().model, max);
  // Escapes are decoded, and the limit applies to the decoded bytes.
  EXPECT_EQ(SampleReject(R"({"model":"EX\u0032\"0\\0"})"), RejectReason::kNone);
  EXPECT_EQ(Only().model, "EX2\"0\\0");
  EXPECT_EQ(SampleReject("{\"model\":\"\\u00e9" + Repeat('m', 62) + "\"}"),
            RejectReason::kNone);  // 2 + 62 bytes
  EXPECT_EQ(SampleReject("{\"model\":\"\\u00e9" + Repeat('m', 63) + "\"}"),
            RejectReason::kBadField);  // 2 + 63 bytes

  for (const std::string& payload :
       {std::string(R"({"model":""})"), "{\"model\":\"" + Repeat('m', kMaxModelBytes + 1) + "\"}",
        std::string(R"({"model":200})"), std::string(R"({"model":null})"),
        std::string(R"({"model":["EX200"]})"), std::string(R"({"model":{"n":"EX200"}})"),
        std::string(R"({"model":true})")}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
    EXPECT_FALSE(Only().has_model) << payload;
  }
}

TEST_F(DecoderTest, LabelsAreAnObjectOfStrings) {
  EXPECT_EQ(SampleReject(R"({"labels":{}})"), RejectReason::kNone);
  EXPECT_TRUE(Only().has_labels);
  EXPECT_THAT(Only().labels, IsEmpty());
  EXPECT_EQ(SampleReject(R"({"labels":{"site":"north","empty":"","esc\u0061pe":"\ttab"}})"),
            RejectReason::kNone);
  EXPECT_THAT(Only().labels,
              ElementsAre(Pair("site", "north"), Pair("empty", ""), Pair("escape", "\ttab")));
  EXPECT_EQ(SampleReject(R"({"model":"M"})"), RejectReason::kNone);
  EXPECT_FALSE(Only().has_labels);

  for (std::string_view payload :
       {R"({"labels":[]})", R"({"labels":"site=north"})", R"({"labels":null})",
        R"({"labels":{"site":1}})", R"({"labels":{"site":null}})", R"({"labels":{"site":true}})",
        R"({"labels":{"site":["n"]}})", R"({"labels":{"site":{"a":"b"}}})",
        R"({"labels":{"":"x"}})", R"({"labels":{"a":"1","a":"2"}})"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
  }
}

TEST_F(DecoderTest, LabelLimits) {
  auto labels = [](std::size_t count, std::size_t key_bytes, std::size_t value_bytes) {
    std::string out = R"({"labels":{)";
    for (std::size_t i = 0; i < count; ++i) {
      if (i > 0) out += ",";
      std::string key = std::to_string(i);
      key += Repeat('k', key_bytes > key.size() ? key_bytes - key.size() : 0);
      out += "\"" + key + "\":\"" + Repeat('v', value_bytes) + "\"";
    }
    return out + "}}";
  };
  EXPECT_EQ(SampleReject(labels(kMaxLabels, 2, 1)), RejectReason::kNone);
  EXPECT_EQ(Only().labels.size(), kMaxLabels);
  EXPECT_EQ(SampleReject(labels(kMaxLabels + 1, 2, 1)), RejectReason::kBadField);
  EXPECT_EQ(SampleReject(labels(1, kMaxLabelKeyBytes, 1)), RejectReason::kNone);
  EXPECT_EQ(Only().labels[0].first.size(), kMaxLabelKeyBytes);
  EXPECT_EQ(SampleReject(labels(1, kMaxLabelKeyBytes + 1, 1)), RejectReason::kBadField);
  EXPECT_EQ(SampleReject(labels(1, 1, kMaxLabelValueBytes)), RejectReason::kNone);
  EXPECT_EQ(Only().labels[0].second.size(), kMaxLabelValueBytes);
  EXPECT_EQ(SampleReject(labels(1, 1, kMaxLabelValueBytes + 1)), RejectReason::kBadField);
}

TEST_F(DecoderTest, MetricValuesAreNumbersOrBooleans) {
  EXPECT_EQ(SampleReject(R"({"metrics":{"a":1,"b":-2.5,"c":1E+2,"d":-0,"e":0.0e-0,"f":true,
      "g":false,"h":123456789012345678901234567890,"i":1.7976931348623157e308,"j":1e-400,
      "k":-1.5e-3}})"),
            RejectReason::kNone);
  const Sample& s = Only();
  ASSERT_EQ(s.metrics.size(), 11u);
  const double expected[] = {
      1, -2.5, 100, 0, 0, 1, 0, 1.2345678901234568e29, 1.7976931348623157e308, 0, -0.0015};
  const char* names[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"};
  for (std::size_t i = 0; i < 11; ++i) {
    EXPECT_EQ(s.metrics[i].name, names[i]);
    EXPECT_DOUBLE_EQ(s.metrics[i].value, expected[i]) << names[i];
  }
  EXPECT_TRUE(std::signbit(s.metrics[3].value));  // -0 stays -0

  EXPECT_EQ(SampleReject(R"({"metrics":{}})"), RejectReason::kNone);
  EXPECT_THAT(Only().metrics, IsEmpty());
}

TEST_F(DecoderTest, MetricValueOfAnotherTypeIsBadField) {
  for (std::string_view payload :
       {R"({"metrics":{"a":"1"}})", R"({"metrics":{"a":null}})", R"({"metrics":{"a":[1]}})",
        R"({"metrics":{"a":{"v":1}}})", R"({"metrics":[1]})", R"({"metrics":"a=1"})",
        R"({"metrics":null})", R"({"metrics":1})"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
  }
}

TEST_F(DecoderTest, MetricNamesFollowTheContract) {
  const std::string max = "_" + Repeat('a', 63);
  EXPECT_EQ(SampleReject(R"({"metrics":{"_":1,"a.b_c9":2,"Z":3}})"), RejectReason::kNone);
  EXPECT_EQ(SampleReject("{\"metrics\":{\"" + max + "\":1}}"), RejectReason::kNone);
  EXPECT_EQ(Only().metrics[0].name, max);
  for (const std::string& name : {std::string(""), std::string("1abc"), std::string(".a"),
                                  std::string("a-b"), std::string("a b"), std::string("a/b"),
                                  std::string("\\u00e9"), std::string("a\\u0000"), max + "a"}) {
    EXPECT_EQ(SampleReject("{\"metrics\":{\"" + name + "\":1}}"), RejectReason::kBadField) << name;
  }
}

TEST_F(DecoderTest, RepeatedMetricNameIsBadField) {
  EXPECT_EQ(SampleReject(R"({"metrics":{"a":1,"b":2,"a":3}})"), RejectReason::kBadField);
  // An escaped spelling of the same name is the same name.
  EXPECT_EQ(SampleReject(R"({"metrics":{"a":1,"\u0061":3}})"), RejectReason::kBadField);
}

TEST_F(DecoderTest, RepeatedNameAmongManySimilarOnesIsFound) {
  // 256 long names, alike but for two middle bytes, fill the duplicate check's 64-bit
  // filter: every lookup compares digests, and names on a match. Then the same with
  // the last name replaced by a repeat of an earlier one.
  auto metrics = [](int repeat) {
    std::string out = R"({"metrics":{)";
    for (int i = 0; i < 256; ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "engine_temperature_sensor_%02x_reading_celsius", i);
      out += (i > 0 ? ",\"" : "\"") + std::string(name) + "\":1";
    }
    if (repeat >= 0) {
      char name[64];
      std::snprintf(name, sizeof name, "engine_temperature_sensor_%02x_reading_celsius", repeat);
      out.replace(out.rfind('"', out.rfind(':') - 2) + 1, std::strlen(name), name);
    }
    return out + "}}";
  };
  EXPECT_EQ(SampleReject(metrics(-1)), RejectReason::kNone);
  EXPECT_EQ(Only().metrics.size(), 256u);
  for (int repeat : {0, 137, 254}) {
    EXPECT_EQ(SampleReject(metrics(repeat)), RejectReason::kBadField) << repeat;
  }
  EXPECT_EQ(SampleReject(R"({"labels":{"ab":"1","ba":"2","a":"3","b":"4","ab ":"5","ab":"6"}})"),
            RejectReason::kBadField);
}

TEST_F(DecoderTest, MetricsBeyondTheDoubleRangeAreNonFinite) {
  // simdjson 3.0.1 reports NUMBER_ERROR for these, exactly as for a malformed number;
  // they are well-formed JSON, so the sample is non_finite, not the message bad_json.
  for (std::string_view payload :
       {R"({"metrics":{"a":1e999}})", R"({"metrics":{"a":-1e400}})",
        R"({"metrics":{"a":1.7976931348623159e308}})", R"({"metrics":{"a":1E309}})",
        R"({"metrics":{"a":-123456789e400}})"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kNonFinite) << payload;
    EXPECT_THAT(Only().metrics, IsEmpty());
  }
}

// Not JSON, but what Python's json.dumps(float("nan")) and printf write: the
// sender meant a non-finite number, so the sample is non_finite, not bad_json.
TEST_F(DecoderTest, NonFiniteLiteralsAreNonFinite) {
  for (std::string_view literal :
       {"NaN", "Infinity", "-Infinity", "+Infinity", "nan", "inf", "-inf", "INF"}) {
    const std::string payload =
        R"({"ts":5,"metrics":{"a":1,"b":)" + std::string(literal) + R"(,"c":2},"dtc":[]})";
    EXPECT_EQ(SampleReject(payload), RejectReason::kNonFinite) << payload;
  }
  // Other bare words stay malformed JSON.
  for (std::string_view word : {"NaNa", "infinit", "nul", "-", "Inf1"}) {
    EXPECT_EQ(decoder_.Decode(R"({"metrics":{"a":)" + std::string(word) + "}}"),
              RejectReason::kBadJson)
        << word;
  }
  // A batch drops only the sample with the non-finite value.
  ASSERT_EQ(decoder_.Decode(R"([{"metrics":{"a":NaN}},{"metrics":{"a":3}}])"), RejectReason::kNone);
  ASSERT_EQ(decoder_.samples().size(), 2u);
  EXPECT_EQ(decoder_.samples()[0].reject, RejectReason::kNonFinite);
  EXPECT_EQ(decoder_.samples()[1].reject, RejectReason::kNone);
}

TEST_F(DecoderTest, TooManyMetrics) {
  EXPECT_EQ(SampleReject(MetricsPayload(kMaxMetricsPerSample)), RejectReason::kNone);
  EXPECT_EQ(Only().metrics.size(), kMaxMetricsPerSample);
  EXPECT_EQ(Only().metrics.back().name, "m255");
  EXPECT_EQ(Only().metrics.back().value, 255.0);
  EXPECT_EQ(SampleReject(MetricsPayload(kMaxMetricsPerSample + 1)), RejectReason::kTooManyMetrics);
  EXPECT_EQ(SampleReject(MetricsPayload(1000)), RejectReason::kTooManyMetrics);
}

TEST_F(DecoderTest, DtcIsAnArrayOfValidCodes) {
  EXPECT_EQ(SampleReject(R"({"dtc":[]})"), RejectReason::kNone);
  EXPECT_TRUE(Only().has_dtc);
  EXPECT_THAT(Only().dtc, IsEmpty());
  EXPECT_EQ(SampleReject(R"({"ts":1})"), RejectReason::kNone);
  EXPECT_FALSE(Only().has_dtc);
  EXPECT_EQ(SampleReject(R"({"dtc":["SPN110.FMI0","P0217","a:b/c+d-e_f","P0217"]})"),
            RejectReason::kNone);
  EXPECT_THAT(Only().dtc, ElementsAre("SPN110.FMI0", "P0217", "a:b/c+d-e_f"));  // a set

  auto codes = [](std::size_t n) {
    std::string out = R"({"dtc":[)";
    for (std::size_t i = 0; i < n; ++i) out += (i ? ",\"C" : "\"C") + std::to_string(i) + "\"";
    return out + "]}";
  };
  EXPECT_EQ(SampleReject(codes(kMaxDtcCodes)), RejectReason::kNone);
  EXPECT_EQ(Only().dtc.size(), kMaxDtcCodes);
  EXPECT_EQ(SampleReject(codes(kMaxDtcCodes + 1)), RejectReason::kBadField);
  EXPECT_EQ(SampleReject("{\"dtc\":[\"" + Repeat('P', kMaxDtcCodeBytes) + "\"]}"),
            RejectReason::kNone);

  for (const std::string& payload :
       {std::string(R"({"dtc":[""]})"), std::string(R"({"dtc":["P 0217"]})"),
        std::string(R"({"dtc":["P0217*"]})"), std::string(R"({"dtc":[217]})"),
        std::string(R"({"dtc":[null]})"), std::string(R"({"dtc":[["P1"]]})"),
        std::string(R"({"dtc":"P0217"})"), std::string(R"({"dtc":{}})"),
        std::string(R"({"dtc":null})"),
        "{\"dtc\":[\"" + Repeat('P', kMaxDtcCodeBytes + 1) + "\"]}"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
    EXPECT_FALSE(Only().has_dtc) << payload;
  }
}

TEST_F(DecoderTest, RepeatedTopLevelFieldIsBadField) {
  for (std::string_view payload :
       {R"({"ts":1,"ts":2})", R"({"seq":1,"model":"M","seq":1})", R"({"model":"a","model":"a"})",
        R"({"labels":{},"labels":{}})", R"({"metrics":{"a":1},"metrics":{"b":1}})",
        R"({"dtc":[],"dtc":[]})", R"({"t\u0073":1,"ts":2})"}) {
    EXPECT_EQ(SampleReject(payload), RejectReason::kBadField) << payload;
  }
}

TEST_F(DecoderTest, UnknownFieldsAreIgnored) {
  EXPECT_EQ(SampleReject(R"({"fw":"1.2","x":{"a":[1,{"b":null}],"c":1e999},"ts":5,
      "TS":"x","Metrics":7,"":0})"),
            RejectReason::kNone);
  EXPECT_EQ(Only().ts, 5);
  EXPECT_THAT(Only().metrics, IsEmpty());
}

TEST_F(DecoderTest, FirstProblemInDocumentOrderDecides) {
  EXPECT_EQ(SampleReject(R"({"metrics":{"a":1e999},"ts":-1})"), RejectReason::kNonFinite);
  EXPECT_EQ(SampleReject(R"({"ts":-1,"metrics":{"a":1e999}})"), RejectReason::kBadField);
  EXPECT_EQ(SampleReject(R"({"metrics":{"a":1e999,"b":"x"}})"), RejectReason::kNonFinite);
  EXPECT_EQ(SampleReject(R"({"metrics":{"b":"x","a":1e999}})"), RejectReason::kBadField);
  // A bad name among the first 256 comes before the 257th metric.
  std::string many = MetricsPayload(300);
  many.replace(many.find("\"m3\""), 4, "\"3m\"");
  EXPECT_EQ(SampleReject(many), RejectReason::kBadField);
  // A non-finite value after the 256th is still too_many_metrics: that came first.
  std::string overflow = MetricsPayload(300);
  overflow.replace(overflow.find("\"m280\":280"), 10, "\"m280\":1e999");
  EXPECT_EQ(SampleReject(overflow), RejectReason::kTooManyMetrics);
  EXPECT_EQ(SampleReject(R"({"dtc":["bad code"],"metrics":{"a":1e999}})"), RejectReason::kBadField);
  EXPECT_EQ(SampleReject(R"({"model":"","metrics":{"a":1e999}})"), RejectReason::kBadField);
}

TEST_F(DecoderTest, RejectedSampleCarriesNoData) {
  EXPECT_EQ(SampleReject(R"({"ts":1,"seq":2,"model":"M","labels":{"a":"b"},
      "metrics":{"x":1},"dtc":["P1"],"ts":3})"),
            RejectReason::kBadField);
  const Sample& s = Only();
  EXPECT_FALSE(s.has_ts || s.has_seq || s.has_model || s.has_labels || s.has_dtc);
  EXPECT_THAT(s.labels, IsEmpty());
  EXPECT_THAT(s.metrics, IsEmpty());
  EXPECT_THAT(s.dtc, IsEmpty());
}

// --- batches -----------------------------------------------------------------------

TEST_F(DecoderTest, BatchKeepsOrderAndRejectsOnlyTheBadElements) {
  ASSERT_EQ(decoder_.Decode(R"([
      {"ts":1,"metrics":{"a":1}},
      {"ts":-2},
      5, "s", null, true, [], [{"ts":3}],
      {"metrics":{"a":1e999}},
      {"ts":4,"dtc":["P1"]},
      {}
    ])"),
            RejectReason::kNone);
  const auto& s = decoder_.samples();
  ASSERT_EQ(s.size(), 11u);
  EXPECT_EQ(s[0].reject, RejectReason::kNone);
  EXPECT_EQ(s[0].ts, 1);
  EXPECT_EQ(s[1].reject, RejectReason::kBadField);
  for (int i = 2; i <= 7; ++i) EXPECT_EQ(s[i].reject, RejectReason::kBadField) << i;
  EXPECT_EQ(s[8].reject, RejectReason::kNonFinite);
  EXPECT_EQ(s[9].reject, RejectReason::kNone);
  EXPECT_EQ(s[9].ts, 4);
  EXPECT_THAT(s[9].dtc, ElementsAre("P1"));
  EXPECT_EQ(s[10].reject, RejectReason::kNone);
  EXPECT_FALSE(s[10].has_ts);
}

TEST_F(DecoderTest, ViewsStayValidAfterTheWholeDecode) {
  // Every string is escaped, so each view points at unescaped text written during the
  // parse; the later samples must not overwrite the earlier ones' text.
  std::string payload = "[";
  constexpr int kSamples = 200;
  for (int i = 0; i < kSamples; ++i) {
    const std::string n = std::to_string(i);
    if (i > 0) payload += ",";
    payload += R"({"model":"M\u002d)" + n + R"(","labels":{"k\u0031)" + n + R"(":"v\")" + n +
               R"("},"metrics":{"m\u005f)" + n + R"(":)" + n + R"(},"dtc":["P\u0030)" + n +
               R"("],"pad":"\u0041\u0042\u0043"})";
  }
  payload += "]";
  ASSERT_LE(payload.size(), kMaxPayloadBytes);
  ASSERT_EQ(decoder_.Decode(payload), RejectReason::kNone);
  const auto& s = decoder_.samples();
  ASSERT_EQ(s.size(), static_cast<std::size_t>(kSamples));
  for (int i = 0; i < kSamples; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_EQ(s[i].reject, RejectReason::kNone) << i;
    EXPECT_EQ(s[i].model, "M-" + n);
    EXPECT_THAT(s[i].labels, ElementsAre(Pair("k1" + n, "v\"" + n)));
    ASSERT_EQ(s[i].metrics.size(), 1u);
    EXPECT_EQ(s[i].metrics[0].name, "m_" + n);
    EXPECT_EQ(s[i].metrics[0].value, i);
    EXPECT_THAT(s[i].dtc, ElementsAre("P0" + n));
  }
}

TEST_F(DecoderTest, ViewsDoNotPointIntoTheCallersPayload) {
  std::string payload = R"({"model":"EX200","labels":{"site":"north"},"dtc":["P1"]})";
  ASSERT_EQ(decoder_.Decode(payload), RejectReason::kNone);
  std::fill(payload.begin(), payload.end(), '#');  // the caller reuses its buffer
  EXPECT_EQ(Only().model, "EX200");
  EXPECT_THAT(Only().labels, ElementsAre(Pair("site", "north")));
  EXPECT_THAT(Only().dtc, ElementsAre("P1"));
}

TEST_F(DecoderTest, LargestBatchOfEmptySamples) {
  std::string payload = "[{}";
  while (payload.size() + 4 <= kMaxPayloadBytes) payload += ",{}";
  payload += "]";
  ASSERT_EQ(decoder_.Decode(payload), RejectReason::kNone);
  EXPECT_EQ(decoder_.samples().size(), (payload.size() - 1) / 3);
}

// --- the fast path and the On-Demand path agree ------------------------------------

// Decodes `payload` twice: as it is (plain samples take the fast path) and behind an
// unknown field, which the fast path never takes. Both must give the same result.
void ExpectBothPathsAgree(const std::string& payload) {
  ASSERT_EQ(payload.front(), '{');
  PayloadDecoder fast;
  PayloadDecoder slow;
  const RejectReason fast_reason = fast.Decode(payload);
  const std::size_t next = payload.find_first_not_of(" \t\r\n", 1);
  const char* separator = payload[next] == '}' ? "" : ",";
  const RejectReason slow_reason =
      slow.Decode("{\"unknown\":0" + std::string(separator) + payload.substr(1));
  ASSERT_EQ(fast_reason, slow_reason) << payload;
  ASSERT_EQ(fast.samples().size(), slow.samples().size()) << payload;
  if (fast.samples().empty()) return;
  const Sample& a = fast.samples()[0];
  const Sample& b = slow.samples()[0];
  EXPECT_EQ(a.reject, b.reject) << payload;
  EXPECT_EQ(a.has_ts, b.has_ts) << payload;
  EXPECT_EQ(a.ts, b.ts) << payload;
  EXPECT_EQ(a.has_seq, b.has_seq) << payload;
  EXPECT_EQ(a.seq, b.seq) << payload;
  EXPECT_EQ(a.has_model, b.has_model) << payload;
  EXPECT_EQ(a.model, b.model) << payload;
  EXPECT_EQ(a.has_labels, b.has_labels) << payload;
  EXPECT_EQ(a.labels, b.labels) << payload;
  EXPECT_EQ(a.has_dtc, b.has_dtc) << payload;
  EXPECT_EQ(a.dtc, b.dtc) << payload;
  ASSERT_EQ(a.metrics.size(), b.metrics.size()) << payload;
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    EXPECT_EQ(a.metrics[i].name, b.metrics[i].name) << payload;
    // Bit for bit: the same double, -0 included.
    EXPECT_EQ(std::bit_cast<uint64_t>(a.metrics[i].value),
              std::bit_cast<uint64_t>(b.metrics[i].value))
        << payload << " metric " << i;
  }
}

TEST(DecoderPathsTest, NumbersConvertTheSameOnBothPaths) {
  // Formats simdjson converts on its exact fast path, beyond it, and malformed ones.
  std::istringstream numbers(
      "0 -0 0.0 -0.0 1 -1 98.5 1500 310.2 27.6 0.1 0.3 123.456 1e0 1E+2 1e-2 2.5E-3 -1.5e-3 "
      "1e22 1e23 1e-22 1e-23 9007199254740991 9007199254740992 9007199254740993 "
      "-9007199254740993 1234567890123456789 12345678901234567890 0.1234567890123456789 "
      "0.12345678901234567890 1.7976931348623157e308 4.9e-324 1e-400 1e999 "
      "123456789012345678901234567890 0.000000000000000001 1e007 1e0000000001 true false "
      "01 1. .5 - 1e 1e+ +1 --1 tru truex 1.5.2 0x10 NaN \"1\" null [1]");
  for (std::string number; numbers >> number;) {
    ExpectBothPathsAgree(std::string(R"({"metrics":{"m":)") + number + "}}");
    ExpectBothPathsAgree(std::string(R"({"metrics":{"a":1, "m" : )") + number + " }}");
  }
}

TEST(DecoderPathsTest, RandomPlainSamplesDecodeTheSameOnBothPaths) {
  std::mt19937_64 random(20261122);
  auto pick = [&](std::initializer_list<const char*> options) {
    return std::string(options.begin()[random() % options.size()]);
  };
  auto number = [&] {
    char text[64];
    const double magnitude =
        std::ldexp(static_cast<double>(random() % 1000000), -static_cast<int>(random() % 40));
    switch (random() % 6) {
      case 0:
        std::snprintf(text, sizeof text, "%lld",
                      static_cast<long long>(random() % 100000000000) - 50000000000);
        break;
      case 1: std::snprintf(text, sizeof text, "%.1f", magnitude); break;
      case 2: std::snprintf(text, sizeof text, "%.17g", magnitude); break;
      case 3:
        std::snprintf(text, sizeof text, "%.*e", static_cast<int>(random() % 18), -magnitude);
        break;
      case 4:
        std::snprintf(text, sizeof text, "%.*f", static_cast<int>(random() % 20), magnitude * 1e-3);
        break;
      default: return pick({"true", "false", "-0", "0", "1e22", "5e-324"});
    }
    return std::string(text);
  };
  auto space = [&] { return pick({"", "", "", " ", "\n", " \t\r\n"}); };
  for (int round = 0; round < 5000; ++round) {
    std::string p = "{" + space();
    std::vector<std::string> fields;
    if (random() % 4 != 0) {
      fields.push_back("\"ts\":" + space() + std::to_string(random() % 2000000000000000000));
    }
    if (random() % 4 != 0) fields.push_back("\"seq\":" + std::to_string(random()));
    if (random() % 2 != 0) {
      fields.push_back("\"model\":\"" + pick({"EX200", "WL-300", "cp 45", "", "x\\u0041"}) + "\"");
    }
    if (random() % 2 != 0) {
      fields.push_back("\"labels\":{" + space() + "\"site\":\"" + pick({"north", "", "a\\\"b"}) +
                       "\"" + pick({"", ",\"zone\":\"2\"", ",\"site\":\"x\""}) + space() + "}");
    }
    if (random() % 8 != 0) {
      std::string metrics = "\"metrics\":{";
      const int count = static_cast<int>(random() % 8);
      for (int i = 0; i < count; ++i) {
        if (i > 0) metrics += "," + space();
        metrics +=
            "\"" +
            pick({"coolant_temp_c", "engine_rpm", "door_open", "m1", "m2", "a.b", "_x", "9bad",
                  "way_too_long_a_name_for_a_metric_so_that_it_breaks_the_64_limit"}) +
            "\"" + space() + ":" + space() + number();
      }
      fields.push_back(metrics + "}");
    }
    if (random() % 2 != 0) {
      fields.push_back(
          "\"dtc\":[" +
          pick({"", "\"P0217\"", "\"SPN110.FMI0\", \"P0217\"", "\"P1\",\"P1\"", "\"bad code\""}) +
          "]");
    }
    for (std::size_t i = 0; i < fields.size(); ++i) p += (i ? "," + space() : "") + fields[i];
    p += space() + "}" + space();
    ExpectBothPathsAgree(p);
  }
}

// --- reuse ---------------------------------------------------------------------------

TEST_F(DecoderTest, NoStaleDataLeaksBetweenCalls) {
  const std::string rich = R"([{"ts":1,"seq":9,"model":"RICH","labels":{"a":"b","c":"d"},
      "metrics":{"x":1,"y":2,"z":3},"dtc":["P1","P2"]},
      {"ts":2,"model":"R2","metrics":{"w":4}}])";
  for (int round = 0; round < 50; ++round) {
    ASSERT_EQ(decoder_.Decode(rich), RejectReason::kNone);
    ASSERT_EQ(decoder_.samples().size(), 2u);
    EXPECT_EQ(decoder_.samples()[0].model, "RICH");
    EXPECT_EQ(decoder_.samples()[0].metrics.size(), 3u);
    EXPECT_EQ(decoder_.samples()[1].metrics.size(), 1u);

    ASSERT_EQ(decoder_.Decode(R"({"seq":3})"), RejectReason::kNone);
    const Sample& s = Only();
    EXPECT_EQ(s.reject, RejectReason::kNone);
    EXPECT_FALSE(s.has_ts);
    EXPECT_EQ(s.ts, 0);
    EXPECT_EQ(s.seq, 3u);
    EXPECT_FALSE(s.has_model);
    EXPECT_TRUE(s.model.empty());
    EXPECT_FALSE(s.has_labels);
    EXPECT_THAT(s.labels, IsEmpty());
    EXPECT_THAT(s.metrics, IsEmpty());
    EXPECT_FALSE(s.has_dtc);
    EXPECT_THAT(s.dtc, IsEmpty());

    ASSERT_EQ(decoder_.Decode(R"([{"ts":-1},{},{"metrics":{"q":5}}])"), RejectReason::kNone);
    ASSERT_EQ(decoder_.samples().size(), 3u);
    EXPECT_EQ(decoder_.samples()[0].reject, RejectReason::kBadField);
    EXPECT_EQ(decoder_.samples()[1].reject, RejectReason::kNone);  // not the old reject
    EXPECT_FALSE(decoder_.samples()[1].has_model);
    EXPECT_THAT(decoder_.samples()[2].metrics, ::testing::SizeIs(1));

    EXPECT_EQ(decoder_.Decode(R"([{"ts":1},)"), RejectReason::kBadJson);
    EXPECT_THAT(decoder_.samples(), IsEmpty());
    EXPECT_EQ(decoder_.Decode("7"), RejectReason::kBadField);
    EXPECT_THAT(decoder_.samples(), IsEmpty());
    EXPECT_EQ(decoder_.Decode("[]"), RejectReason::kNone);
    EXPECT_THAT(decoder_.samples(), IsEmpty());
  }
}

TEST_F(DecoderTest, SteadyStateDoesNotAllocate) {
  const std::vector<std::string> payloads = {
      R"({"ts":1732260000123,"seq":42,"model":"EX200","labels":{"site":"north"},
         "metrics":{"coolant_temp_c":98.5,"engine_rpm":1500,"door_open":true},
         "dtc":["SPN110.FMI0","P0217"]})",
      R"([{"ts":1,"metrics":{"a":1}},{"ts":2,"metrics":{"a":2,"b":3}},{"ts":-1},7])",
      MetricsPayload(kMaxMetricsPerSample),
      MetricsPayload(kMaxMetricsPerSample + 10),
      R"({"metrics":{"a":1e999}})",
      R"([{"ts":1},{"x":tru}])",
      "\"scalar\"",
      "[]",
      std::string(kMaxPayloadBytes + 1, ' '),
  };
  for (int warm_up = 0; warm_up < 2; ++warm_up) {
    for (const std::string& p : payloads) decoder_.Decode(p);
  }
  std::vector<RejectReason> results;
  results.reserve(payloads.size() * 10);
  precall::testing::AllocationCounter counter;
  for (int round = 0; round < 10; ++round) {
    for (const std::string& p : payloads) results.push_back(decoder_.Decode(p));
  }
  EXPECT_EQ(counter.Stop(), 0u);
  EXPECT_EQ(results[0], RejectReason::kNone);
  EXPECT_EQ(results[5], RejectReason::kBadJson);
  EXPECT_EQ(results[8], RejectReason::kTooLarge);
}

TEST_F(DecoderTest, CountingAllocatorSeesAllocations) {
  // Guards the test above against a counter that never counts.
  precall::testing::AllocationCounter counter;
  void* p = ::operator new(16);  // an explicit call cannot be elided
  const std::size_t seen = counter.Stop();
  ::operator delete(p);
  EXPECT_EQ(seen, 1u);
}

}  // namespace
}  // namespace precall::devices
