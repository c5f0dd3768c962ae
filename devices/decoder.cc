// PayloadDecoder (see decoder.h): CONTRACT §1 on top of simdjson 3.0.1 On-Demand, behind a
// one-pass fast path for plain samples (FastReader, below).
//
// Why the code walks every value, even unknown fields: On-Demand checks only what it
// is asked to read. Skipping a value just counts brackets, and a scalar is looked at
// only when a getter reads it, so `{"x": [1 2], "y": tru}` would pass unnoticed if the
// decoder skipped "x" and "y". Validate() walks a value in full so that any syntax
// error anywhere rejects the whole message as bad_json (the contract's precedence:
// bad JSON always wins; otherwise the first problem in document order decides).
//
// Numbers: simdjson answers NUMBER_ERROR both for malformed numbers ("01", "1.",
// "1e") and for well-formed ones beyond the double range ("1e999", "-1e400",
// "1.7976931348623159e308"); underflow ("1e-400") quietly becomes 0. When a parse
// fails, a check of the raw token against the JSON number grammar tells the two
// apart: malformed is bad_json; well-formed but not a finite double is non_finite (a
// metric) or bad_field (ts, seq). A metric spelled NaN, Infinity, -Infinity, nan or
// inf (not JSON, but what Python's json module and printf write) is non_finite too. A successful
// parse needs no check (the hot path).
//
// Root scalars ("42", "\"x\"", "null") are bad_field, but only if the whole payload is
// one valid JSON value; On-Demand cannot tell "42" from "42 43" without consuming the
// root, so the payload is re-parsed wrapped in brackets and must be an array of
// exactly one valid element.
//
// Where CONTRACT §1 is silent: a metric name or label key repeated within one sample is
// bad_field (which value would be current?), like a repeated top-level field; a fault
// code listed twice in "dtc" is kept once (the field is a set).
//
// Memory: the parser is allocated once for the largest payload (plus the two
// brackets), so iterate() never reallocates; strings returned by get_string() and
// unescaped_key() live in its string buffer, which only the next iterate() rewrites,
// so Sample views stay valid until the next Decode(). Samples are reused in place,
// keeping their vectors' capacity.
#include "devices/decoder.h"

#include <simdjson.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

namespace precall::devices {
namespace {

namespace od = simdjson::ondemand;
using od::json_type;

// The payload plus '[' and ']' for the root-scalar check.
constexpr std::size_t kBufferBytes = kMaxPayloadBytes + 2;
// On-Demand has no depth limit and Validate() recurses: deeper nesting is bad_json,
// the same limit simdjson's DOM parser applies by default.
constexpr int kMaxDepth = static_cast<int>(simdjson::DEFAULT_MAX_DEPTH);

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A raw token runs up to the next structural character, whitespace included.
std::string_view TrimToken(std::string_view token) {
  while (!token.empty() && IsJsonSpace(token.back())) token.remove_suffix(1);
  return token;
}

// RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    const std::size_t start = ++i;
    while (i < n && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t start = i;
    while (i < n && IsDigit(s[i])) ++i;
    if (i == start) return false;
  }
  return i == n;
}

// The literals non-standard JSON writers use for non-finite numbers: NaN,
// Infinity, -Infinity (Python's json, Jackson), nan, inf, -inf (printf).
bool IsNonFiniteLiteral(od::value& value) {
  std::string_view token = TrimToken(value.raw_json_token());
  if (!token.empty() && (token.front() == '-' || token.front() == '+')) token.remove_prefix(1);
  auto equals_ignoring_case = [token](std::string_view word) {
    return token.size() == word.size() &&
           std::equal(token.begin(), token.end(), word.begin(),
                      [](char a, char b) { return (a | 0x20) == b; });
  };
  return equals_ignoring_case("nan") || equals_ignoring_case("inf") ||
         equals_ignoring_case("infinity");
}

bool IsWellFormedNumber(od::value& value) {
  return IsJsonNumber(TrimToken(value.raw_json_token()));
}

uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint32_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// A digest of a name for NameSet: equal names have equal digests.
uint64_t Digest(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15;
  const char* p = s.data();
  const std::size_t n = s.size();
  uint64_t h = n;
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 < n; i += 8) h = (h ^ Load64(p + i)) * kMul;
    h = (h ^ Load64(p + n - 8)) * kMul;  // the last 8 bytes, overlapping
  } else if (n >= 4) {
    h = (h ^ (uint64_t{Load32(p)} << 32 | Load32(p + n - 4))) * kMul;
  } else if (n > 0) {
    const auto* b = reinterpret_cast<const unsigned char*>(p);
    h = (h ^ (uint64_t{b[0]} << 16 | uint64_t{b[n / 2]} << 8 | b[n - 1])) * kMul;
  }
  return h ^ (h >> 29);
}

// The names of one object (labels, metrics) or array (dtc), for the duplicate check
// without comparing every pair of names: a 64-bit filter answers most inserts, and a
// hit compares digests before names. Holds up to kMaxMetricsPerSample names.
class NameSet {
 public:
  void Clear() {
    filter_ = 0;
    size_ = 0;
  }

  // Adds `name`; false if the set holds it already.
  bool Insert(std::string_view name) {
    const uint64_t digest = Digest(name);
    const uint64_t bit = uint64_t{1} << (digest >> 58);
    if ((filter_ & bit) != 0) {
      for (std::size_t i = 0; i < size_; ++i) {
        if (digests_[i] == digest && names_[i] == name) return false;
      }
    }
    filter_ |= bit;
    digests_[size_] = digest;
    names_[size_] = name;
    ++size_;
    return true;
  }

 private:
  uint64_t filter_ = 0;
  std::size_t size_ = 0;
  std::array<uint64_t, kMaxMetricsPerSample> digests_;
  std::array<std::string_view, kMaxMetricsPerSample> names_;
};

// Walks `value` in full, reading every scalar; false on any syntax error.
bool Validate(od::value& value, int depth) {
  if (depth > kMaxDepth) return false;
  json_type type;
  if (value.type().get(type) != simdjson::SUCCESS) return false;
  switch (type) {
    case json_type::object: {
      od::object object;
      if (value.get_object().get(object) != simdjson::SUCCESS) return false;
      for (auto field_result : object) {
        od::field field;
        if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
        std::string_view key;
        if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
        if (!Validate(field.value(), depth + 1)) return false;
      }
      return true;
    }
    case json_type::array: {
      od::array array;
      if (value.get_array().get(array) != simdjson::SUCCESS) return false;
      for (auto element_result : array) {
        od::value element;
        if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
        if (!Validate(element, depth + 1)) return false;
      }
      return true;
    }
    case json_type::string: {
      std::string_view text;
      return value.get_string().get(text) == simdjson::SUCCESS;
    }
    case json_type::number:
      return IsWellFormedNumber(value);
    case json_type::boolean: {
      const std::string_view token = TrimToken(value.raw_json_token());
      return token == "true" || token == "false";
    }
    case json_type::null:
      return TrimToken(value.raw_json_token()) == "null";
  }
  return false;
}

enum SampleField : unsigned { kTs, kSeq, kModel, kLabels, kMetrics, kDtc, kUnknownField };

// `key` (of size N - 1) equals `word`: a fixed-size compare, inlined.
template <std::size_t N>
bool Is(std::string_view key, const char (&word)[N]) {
  return std::memcmp(key.data(), word, N - 1) == 0;
}

SampleField LookupField(std::string_view key) {
  switch (key.size()) {  // one compare per key
    case 2: return Is(key, "ts") ? kTs : kUnknownField;
    case 3: return Is(key, "seq") ? kSeq : Is(key, "dtc") ? kDtc : kUnknownField;
    case 5: return Is(key, "model") ? kModel : kUnknownField;
    case 6: return Is(key, "labels") ? kLabels : kUnknownField;
    case 7: return Is(key, "metrics") ? kMetrics : kUnknownField;
    default: return kUnknownField;
  }
}

// Records the first problem of a sample; later ones do not override it.
void Reject(Sample& sample, RejectReason reason) {
  if (sample.reject == RejectReason::kNone) sample.reject = reason;
}

// Each Decode* below reads one known field into `sample`. They return false only on
// a syntax error (the whole message is bad_json); a wrong type or value records a
// sample reject and still walks the value, so that later syntax errors are found.

bool RejectAndValidate(od::value& value, Sample& sample, RejectReason reason, int depth) {
  Reject(sample, reason);
  return Validate(value, depth);
}

bool DecodeTs(od::value& value, json_type type, Sample& sample, int depth) {
  if (type != json_type::number) {
    return RejectAndValidate(value, sample, RejectReason::kBadField, depth);
  }
  int64_t ts;
  if (value.get_int64().get(ts) != simdjson::SUCCESS) {
    // Malformed is bad JSON; a fraction, exponent or overflow is a bad field.
    if (!IsWellFormedNumber(value)) return false;
    Reject(sample, RejectReason::kBadField);
    return true;
  }
  if (ts < 0 || ts > kMaxTimestampMs) {
    Reject(sample, RejectReason::kBadField);
    return true;
  }
  sample.has_ts = true;
  sample.ts = ts;
  return true;
}

bool DecodeSeq(od::value& value, json_type type, Sample& sample, int depth) {
  if (type != json_type::number) {
    return RejectAndValidate(value, sample, RejectReason::kBadField, depth);
  }
  uint64_t seq;
  if (value.get_uint64().get(seq) != simdjson::SUCCESS) {
    if (!IsWellFormedNumber(value)) return false;
    Reject(sample, RejectReason::kBadField);
    return true;
  }
  sample.has_seq = true;
  sample.seq = seq;
  return true;
}

bool DecodeModel(od::value& value, json_type type, Sample& sample, int depth) {
  if (type != json_type::string) {
    return RejectAndValidate(value, sample, RejectReason::kBadField, depth);
  }
  std::string_view model;
  if (value.get_string().get(model) != simdjson::SUCCESS) return false;
  if (model.empty() || model.size() > kMaxModelBytes) {
    Reject(sample, RejectReason::kBadField);
    return true;
  }
  sample.has_model = true;
  sample.model = model;
  return true;
}

bool DecodeLabels(od::value& value, json_type type, Sample& sample, NameSet& names, int depth) {
  if (type != json_type::object) {
    return RejectAndValidate(value, sample, RejectReason::kBadField, depth);
  }
  od::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return false;
  names.Clear();
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value& label = field.value();
    if (sample.reject != RejectReason::kNone) {
      if (!Validate(label, depth + 1)) return false;
      continue;
    }
    json_type label_type;
    if (label.type().get(label_type) != simdjson::SUCCESS) return false;
    if (sample.labels.size() >= kMaxLabels || key.empty() || key.size() > kMaxLabelKeyBytes ||
        !names.Insert(key) || label_type != json_type::string) {
      if (!RejectAndValidate(label, sample, RejectReason::kBadField, depth + 1)) return false;
      continue;
    }
    std::string_view text;
    if (label.get_string().get(text) != simdjson::SUCCESS) return false;
    if (text.size() > kMaxLabelValueBytes) {
      Reject(sample, RejectReason::kBadField);
      continue;
    }
    sample.labels.emplace_back(key, text);
  }
  sample.has_labels = true;
  return true;
}

bool DecodeMetrics(od::value& value, json_type type, Sample& sample, NameSet& names, int depth) {
  if (type != json_type::object) {
    return RejectAndValidate(value, sample, RejectReason::kBadField, depth);
  }
  od::object object;
  if (value.get_object().get(object) != simdjson::SUCCESS) return false;
  names.Clear();
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view name;
    if (field.unescaped_key().get(name) != simdjson::SUCCESS) return false;
    od::value& metric = field.value();
    if (sample.reject != RejectReason::kNone) {
      if (!Validate(metric, depth + 1)) return false;
      continue;
    }
    if (sample.metrics.size() >= kMaxMetricsPerSample) {
      if (!RejectAndValidate(metric, sample, RejectReason::kTooManyMetrics, depth + 1)) {
        return false;
      }
      continue;
    }
    // A repeated name is ambiguous (which value is current?): bad_field, like a repeated
    // top-level field. At most one insert per accepted metric: `names` cannot overflow.
    if (!names.Insert(name) || !IsValidMetricName(name)) {
      if (!RejectAndValidate(metric, sample, RejectReason::kBadField, depth + 1)) return false;
      continue;
    }
    // simdjson's number parser is strict JSON: success means a well-formed number. The
    // common case needs no type() first.
    double number;
    if (metric.get_double().get(number) != simdjson::SUCCESS || !std::isfinite(number)) {
      if (IsNonFiniteLiteral(metric)) {
        Reject(sample, RejectReason::kNonFinite);
        continue;
      }
      json_type metric_type;
      if (metric.type().get(metric_type) != simdjson::SUCCESS) return false;
      if (metric_type == json_type::number) {
        // A well-formed token the parser refused is beyond the double range.
        if (!IsWellFormedNumber(metric)) return false;
        Reject(sample, RejectReason::kNonFinite);
        continue;
      }
      if (metric_type != json_type::boolean) {
        if (!RejectAndValidate(metric, sample, RejectReason::kBadField, depth + 1)) return false;
        continue;
      }
      bool flag;
      if (metric.get_bool().get(flag) != simdjson::SUCCESS) return false;  // "tru", "truex"
      number = flag ? 1.0 : 0.0;
    }
    sample.metrics.push_back(MetricValue{name, number});
  }
  return true;
}

bool DecodeDtc(od::value& value, json_type type, Sample& sample, NameSet& codes, int depth) {
  if (type != json_type::array) {
    return RejectAndValidate(value, sample, RejectReason::kBadField, depth);
  }
  od::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return false;
  codes.Clear();
  std::size_t count = 0;
  for (auto element_result : array) {
    od::value element;
    if (std::move(element_result).get(element) != simdjson::SUCCESS) return false;
    ++count;
    if (sample.reject != RejectReason::kNone) {
      if (!Validate(element, depth + 1)) return false;
      continue;
    }
    json_type element_type;
    if (element.type().get(element_type) != simdjson::SUCCESS) return false;
    if (count > kMaxDtcCodes || element_type != json_type::string) {
      if (!RejectAndValidate(element, sample, RejectReason::kBadField, depth + 1)) return false;
      continue;
    }
    std::string_view code;
    if (element.get_string().get(code) != simdjson::SUCCESS) return false;
    if (!IsValidDtcCode(code)) {
      Reject(sample, RejectReason::kBadField);
      continue;
    }
    // The field is a set: a code listed twice is kept once.
    if (codes.Insert(code)) sample.dtc.push_back(code);
  }
  sample.has_dtc = true;
  return true;
}

// Decodes one sample object (the root, or an element of a batch) at `depth`.
bool DecodeSample(od::object& object, Sample& sample, NameSet& names, int depth) {
  unsigned seen = 0;
  for (auto field_result : object) {
    od::field field;
    if (std::move(field_result).get(field) != simdjson::SUCCESS) return false;
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    od::value& value = field.value();
    const SampleField id = LookupField(key);
    if (id == kUnknownField || sample.reject != RejectReason::kNone) {
      if (!Validate(value, depth + 1)) return false;
      continue;
    }
    if ((seen & (1u << id)) != 0) {
      if (!RejectAndValidate(value, sample, RejectReason::kBadField, depth + 1)) return false;
      continue;
    }
    seen |= 1u << id;
    json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    bool ok = false;
    switch (id) {
      case kTs:
        ok = DecodeTs(value, type, sample, depth + 1);
        break;
      case kSeq:
        ok = DecodeSeq(value, type, sample, depth + 1);
        break;
      case kModel:
        ok = DecodeModel(value, type, sample, depth + 1);
        break;
      case kLabels:
        ok = DecodeLabels(value, type, sample, names, depth + 1);
        break;
      case kMetrics:
        ok = DecodeMetrics(value, type, sample, names, depth + 1);
        break;
      case kDtc:
        ok = DecodeDtc(value, type, sample, names, depth + 1);
        break;
      case kUnknownField:
        break;
    }
    if (!ok) return false;
  }
  if (sample.reject != RejectReason::kNone) {
    // A dropped sample carries nothing but its reason.
    const RejectReason reason = sample.reject;
    sample.Clear();
    sample.reject = reason;
  }
  return true;
}

static_assert(std::endian::native == std::endian::little, "PlainLength counts bytes from bit 0");

// The length of the run of bytes at `p` that stand for themselves in a JSON string:
// ASCII from 0x20 on but '"' and '\'. Eight bytes at a time; reads up to 7 bytes past
// the run, so `p` must lie in the padded copy.
std::size_t PlainLength(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101;
  constexpr uint64_t kHighs = 0x8080808080808080;
  // Sets the high bit of each zero byte of x; a borrow can set more, but only above one.
  auto zero_bytes = [](uint64_t x) { return (x - kOnes) & ~x; };
  for (std::size_t i = 0;; i += 8) {
    const uint64_t w = Load64(p + i);
    // The high bit of each byte below 0x20, '"', '\' or from 0x80 on, and perhaps of
    // bytes above one: the lowest is exact.
    const uint64_t stops = (((w - kOnes * 0x20) & ~w) | zero_bytes(w ^ (kOnes * '"')) |
                            zero_bytes(w ^ (kOnes * '\\')) | w) &
                           kHighs;
    if (stops != 0) return i + static_cast<std::size_t>(std::countr_zero(stops)) / 8;
  }
}

// Exact doubles.
constexpr double kPowersOfTen[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The fast path. Most payloads are one plain sample: the known fields, ASCII strings
// without escapes, integers and short decimals. FastReader reads exactly that subset of
// JSON in one pass and accepts only a sample that breaks no rule. On anything else (a
// batch, an unknown or repeated field, an escape, a non-ASCII byte, a number it cannot
// convert exactly, any reject) it gives up, and the On-Demand path decodes the payload
// from the start. Equivalence rests on that: what it accepts is valid JSON that the
// On-Demand path accepts too, with the same values. It reads the padded copy, whose
// zero padding stops every loop at the end.
class FastReader {
 public:
  FastReader(const char* json, std::size_t size) : p_(json), end_(json + size) {}

  bool Read(Sample& sample, NameSet& names) {
    if (!Consume('{')) return false;
    unsigned seen = 0;
    if (!Peek('}')) {
      do {
        std::string_view key;
        if (!String(key) || !Consume(':')) return false;
        const SampleField id = LookupField(key);
        if (id == kUnknownField || (seen & (1u << id)) != 0) return false;
        seen |= 1u << id;
        bool ok = false;
        switch (id) {
          case kTs: {
            uint64_t ts;  // else the full decode says why
            ok = Unsigned(ts, 15) && ts <= static_cast<uint64_t>(kMaxTimestampMs);
            sample.ts = static_cast<int64_t>(ts);
            sample.has_ts = true;
            break;
          }
          case kSeq:
            ok = Unsigned(sample.seq, 19);  // no uint64 overflow
            sample.has_seq = true;
            break;
          case kModel:
            ok = String(sample.model) && !sample.model.empty() &&
                 sample.model.size() <= kMaxModelBytes;
            sample.has_model = true;
            break;
          case kLabels:
            ok = Labels(sample, names);
            sample.has_labels = true;
            break;
          case kMetrics:
            ok = Metrics(sample, names);
            break;
          case kDtc:
            ok = Dtc(sample, names);
            sample.has_dtc = true;
            break;
          case kUnknownField:
            break;
        }
        if (!ok) return false;
      } while (Consume(','));
    }
    if (!Consume('}')) return false;
    SkipSpace();
    return p_ == end_;
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

  void SkipSpace() {
    while (static_cast<unsigned char>(*p_) <= ' ' && IsSpace(*p_)) ++p_;
  }

  bool Peek(char c) {
    SkipSpace();
    return *p_ == c;
  }

  bool Consume(char c) {
    if (!Peek(c)) return false;
    ++p_;
    return true;
  }

  // A string of ASCII without escapes or control characters: its own text.
  bool String(std::string_view& text) {
    if (!Consume('"')) return false;
    const char* begin = p_;
    p_ += PlainLength(p_);
    if (*p_ != '"') return false;
    text = std::string_view(begin, static_cast<std::size_t>(p_++ - begin));
    return true;
  }

  // An integer without sign, fraction or exponent (any of them leaves a byte that the
  // caller's next Consume() refuses), with no leading zero and at most `max_digits`.
  bool Unsigned(uint64_t& value, std::ptrdiff_t max_digits) {
    SkipSpace();
    const char* start = p_;
    uint64_t v = 0;
    while (IsDigit(*p_) && p_ - start <= max_digits) {
      v = v * 10 + static_cast<uint64_t>(*p_++ - '0');
    }
    const std::ptrdiff_t count = p_ - start;
    value = v;
    return count > 0 && count <= max_digits && (*start != '0' || count == 1);
  }

  // true, false, or a number that simdjson converts with its exact fast path (at most
  // 2^53 - 1 as digits, a power of ten within 10^±22): the same one IEEE operation, so
  // the same double as get_double().
  bool Value(double& value) {
    SkipSpace();
    if (std::memcmp(p_, "true", 4) == 0) {
      p_ += 4;
      value = 1.0;
      return true;
    }
    if (std::memcmp(p_, "false", 5) == 0) {
      p_ += 5;
      value = 0.0;
      return true;
    }
    const bool negative = *p_ == '-';
    p_ += negative;
    // At most 19 digits in all, so that `digits` cannot overflow.
    const char* start = p_;
    uint64_t digits = 0;
    while (IsDigit(*p_) && p_ - start < 19) {
      digits = digits * 10 + static_cast<uint64_t>(*p_++ - '0');
    }
    std::ptrdiff_t count = p_ - start;
    if (count == 0 || (*start == '0' && count > 1)) return false;
    int64_t exponent = 0;
    if (*p_ == '.') {
      const char* fraction = ++p_;
      for (; IsDigit(*p_) && count < 19; ++count) {
        digits = digits * 10 + static_cast<uint64_t>(*p_++ - '0');
      }
      exponent = fraction - p_;
      if (exponent == 0) return false;
    }
    if (IsDigit(*p_)) return false;  // more than 19 digits
    if (*p_ == 'e' || *p_ == 'E') {
      ++p_;
      const bool exponent_negative = *p_ == '-';
      p_ += *p_ == '-' || *p_ == '+';
      const char* exponent_start = p_;
      int64_t e = 0;
      while (IsDigit(*p_) && p_ - exponent_start < 3) e = e * 10 + (*p_++ - '0');
      if (p_ == exponent_start || IsDigit(*p_)) return false;  // none, or too many
      exponent += exponent_negative ? -e : e;
    }
    if (digits > 9007199254740991 || exponent < -22 || exponent > 22) return false;
    double d = static_cast<double>(digits);
    d = exponent < 0 ? d / kPowersOfTen[-exponent] : d * kPowersOfTen[exponent];
    value = negative ? -d : d;
    return true;
  }

  // `open`, items read by `item` and separated by commas, `close`; `names` starts empty.
  template <typename Item>
  bool List(char open, char close, NameSet& names, Item item) {
    if (!Consume(open)) return false;
    names.Clear();
    if (Consume(close)) return true;
    do {
      if (!item()) return false;
    } while (Consume(','));
    return Consume(close);
  }

  bool Labels(Sample& sample, NameSet& names) {
    return List('{', '}', names, [&] {
      std::string_view key;
      std::string_view text;
      if (!String(key) || !Consume(':') || !String(text) || sample.labels.size() >= kMaxLabels ||
          key.empty() || key.size() > kMaxLabelKeyBytes || text.size() > kMaxLabelValueBytes ||
          !names.Insert(key)) {
        return false;
      }
      sample.labels.emplace_back(key, text);
      return true;
    });
  }

  bool Metrics(Sample& sample, NameSet& names) {
    return List('{', '}', names, [&] {
      std::string_view name;
      double value;
      if (!String(name) || !Consume(':') || !Value(value) ||
          sample.metrics.size() >= kMaxMetricsPerSample || !IsValidMetricName(name) ||
          !names.Insert(name)) {
        return false;
      }
      sample.metrics.push_back(MetricValue{name, value});
      return true;
    });
  }

  bool Dtc(Sample& sample, NameSet& codes) {
    std::size_t count = 0;
    return List('[', ']', codes, [&] {
      std::string_view code;
      if (!String(code) || ++count > kMaxDtcCodes || !IsValidDtcCode(code)) return false;
      if (codes.Insert(code)) sample.dtc.push_back(code);  // a set: kept once
      return true;
    });
  }

  const char* p_;
  const char* end_;
};

// True when the document has been consumed to its last token: anything after the
// root value is trailing content.
bool AtEnd(od::document& doc) { return doc.current_location().error() == simdjson::OUT_OF_BOUNDS; }

}  // namespace

struct PayloadDecoder::Impl {
  Impl() : parser(kBufferBytes), buffer(new char[kBufferBytes + simdjson::SIMDJSON_PADDING]) {
    // Allocate once for the largest payload; iterate() then never reallocates. On
    // failure iterate() tries again and reports MEMALLOC (bad_json) if it fails too.
    [[maybe_unused]] simdjson::error_code error = parser.allocate(kBufferBytes);
  }

  // Decodes into `out`, whose first `used` samples are then the result.
  RejectReason Decode(std::string_view payload, std::vector<Sample>& out);
  RejectReason CheckRootScalar(std::size_t size);

  // The next sample: the one at `used` in `out`, reused in place when there is one.
  Sample& NewSample(std::vector<Sample>& out) {
    if (used < out.size()) {
      out[used].Clear();
    } else if (spare.empty()) {
      out.emplace_back();
    } else {
      out.push_back(std::move(spare.back()));
      spare.pop_back();
      out.back().Clear();
    }
    return out[used++];
  }

  // Returns the samples of `out` from `count` on to the spare pool.
  void Truncate(std::vector<Sample>& out, std::size_t count) {
    while (out.size() > count) {
      spare.push_back(std::move(out.back()));
      out.pop_back();
    }
  }

  od::parser parser;
  // buffer[0] is room for the '[' of the root-scalar check; the payload starts at 1.
  std::unique_ptr<char[]> buffer;
  std::vector<Sample> spare;
  std::size_t used = 0;
  NameSet names;
};

RejectReason PayloadDecoder::Impl::Decode(std::string_view payload, std::vector<Sample>& out) {
  used = 0;
  if (payload.size() > kMaxPayloadBytes) return RejectReason::kTooLarge;
  char* json = buffer.get() + 1;
  if (!payload.empty()) std::memcpy(json, payload.data(), payload.size());
  std::memset(json + payload.size(), 0, simdjson::SIMDJSON_PADDING);
  if (FastReader(json, payload.size()).Read(NewSample(out), names)) return RejectReason::kNone;
  used = 0;  // the On-Demand path starts over

  od::document doc;
  if (parser.iterate(json, payload.size(), payload.size() + simdjson::SIMDJSON_PADDING).get(doc) !=
      simdjson::SUCCESS) {
    return RejectReason::kBadJson;  // invalid UTF-8, unclosed string, empty, ...
  }
  json_type type;
  if (doc.type().get(type) != simdjson::SUCCESS) return RejectReason::kBadJson;

  bool ok = true;
  if (type == json_type::object) {
    od::object object;
    ok = doc.get_object().get(object) == simdjson::SUCCESS &&
         DecodeSample(object, NewSample(out), names, 1);
  } else if (type == json_type::array) {
    od::array array;
    ok = doc.get_array().get(array) == simdjson::SUCCESS;
    if (ok) {
      for (auto element_result : array) {
        od::value element;
        json_type element_type;
        if (std::move(element_result).get(element) != simdjson::SUCCESS ||
            element.type().get(element_type) != simdjson::SUCCESS) {
          ok = false;
          break;
        }
        Sample& sample = NewSample(out);
        if (element_type == json_type::object) {
          od::object object;
          ok = element.get_object().get(object) == simdjson::SUCCESS &&
               DecodeSample(object, sample, names, 2);
        } else {
          Reject(sample, RejectReason::kBadField);
          ok = Validate(element, 2);
        }
        if (!ok) break;
      }
    }
  } else {
    return CheckRootScalar(payload.size());
  }
  return ok && AtEnd(doc) ? RejectReason::kNone : RejectReason::kBadJson;
}

RejectReason PayloadDecoder::Impl::CheckRootScalar(std::size_t size) {
  char* json = buffer.get();
  json[0] = '[';
  json[size + 1] = ']';
  std::memset(json + size + 2, 0, simdjson::SIMDJSON_PADDING);
  od::document doc;
  od::array array;
  if (parser.iterate(json, size + 2, size + 2 + simdjson::SIMDJSON_PADDING).get(doc) !=
          simdjson::SUCCESS ||
      doc.get_array().get(array) != simdjson::SUCCESS) {
    return RejectReason::kBadJson;
  }
  std::size_t count = 0;
  for (auto element_result : array) {
    od::value element;
    if (std::move(element_result).get(element) != simdjson::SUCCESS || !Validate(element, 1)) {
      return RejectReason::kBadJson;
    }
    ++count;
  }
  if (count != 1 || !AtEnd(doc)) return RejectReason::kBadJson;
  return RejectReason::kBadField;  // valid JSON, but neither a sample nor a batch
}

PayloadDecoder::PayloadDecoder() : impl_(std::make_unique<Impl>()) {}
PayloadDecoder::~PayloadDecoder() = default;

RejectReason PayloadDecoder::Decode(std::string_view payload) {
  const RejectReason reason = impl_->Decode(payload, samples_view_);
  impl_->Truncate(samples_view_, reason == RejectReason::kNone ? impl_->used : 0);
  return reason;
}

}  // namespace precall::devices
