// precall_e2e_sink: the receiving end of the end-to-end benchmark, in one of
// two modes, plus the broker's own counters.
//
//   --mode telemetry   the null subscriber of B0 (broker -> subscriber, the
//                      physical limit): subscribes to the fleet's telemetry,
//                      checks every device's seq (gaps, duplicates) and
//                      measures publish -> delivery latency from `sent_us`;
//   --mode cases       the case probe of G and N: subscribes to
//                      service/bench/cases/#, counts case events by type
//                      (deduplicated by event seq: delivery is at least once),
//                      checks that no (device, rule) opens twice, and measures
//                      publish -> case latency from the `sent_us` the breaking
//                      rules put in the case's evidence.
//
// In both modes it also follows the broker's $SYS counters (dropped messages,
// stored messages). It speaks MQTT itself (MqttReader below) rather than
// through libmosquitto. It prints `subscribed` once the broker acknowledged the
// subscriptions, then a `progress` line every 200 ms (received, distinct
// case events, the broker's counters), and on SIGTERM/SIGINT writes a JSON summary to
// --out and exits. Single-threaded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "bench/e2e/fleet.h"
#include "bench/e2e/histogram.h"
#include "bench/e2e/tool.h"

namespace precall::bench {
namespace {

constexpr char kUsage[] = R"(usage: precall_e2e_sink [--flag value]...
  --host 127.0.0.1 --port 1883  the broker
  --mode telemetry              telemetry (null subscriber) or cases (case probe)
  --qos 1                       subscription QoS
  --devices 1000000             telemetry: device numbers below this are tracked
  --break-every 100             telemetry: the fleet's breaking share (breaking samples' latency apart)
  --out -                       JSON summary file (- = stdout)
)";

std::atomic<bool> g_stop{false};

// The number after `"key":` in a JSON text, without parsing the rest.
std::optional<double> NumberAfter(std::string_view text, std::string_view quoted_key) {
  std::size_t at = text.find(quoted_key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* p = text.data() + at + quoted_key.size();
  const char* end = text.data() + text.size();
  double v = 0;
  auto [next, ec] = std::from_chars(p, end, v);
  if (ec != std::errc()) return std::nullopt;
  return v;
}

std::string_view StringAfter(std::string_view text, std::string_view quoted_key) {
  std::size_t at = text.find(quoted_key);
  if (at == std::string_view::npos) return {};
  std::size_t from = at + quoted_key.size();
  std::size_t to = text.find('"', from);
  return to == std::string_view::npos ? std::string_view{} : text.substr(from, to - from);
}

// A minimal MQTT 3.1.1 subscriber on a plain socket. libmosquitto reads a
// packet a few bytes per system call and polls once per packet, which would
// make the null subscriber, not the broker, B0's limit; this one reads 256 KB
// at a time and acknowledges a whole read's QoS 1 messages in one write.
class MqttReader {
 public:
  ~MqttReader() {
    if (fd_ >= 0) close(fd_);
  }

  // Connects with a clean session and waits for CONNACK. "" or the error.
  std::string Connect(const std::string& host, int port, const std::string& client_id) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return "not an IPv4 address";
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "cannot connect";
    std::string body("\0\4MQTT\4\2", 8);  // protocol name and level 4, clean session
    body += static_cast<char>(kKeepAliveS >> 8);
    body += static_cast<char>(kKeepAliveS & 0xff);
    AppendString(body, client_id);
    AppendPacket(0x10, body);
    if (!Flush()) return "cannot send CONNECT";
    unsigned char connack[4];
    if (recv(fd_, connack, sizeof connack, MSG_WAITALL) != 4 || connack[0] != 0x20 ||
        connack[3] != 0) {
      return "broker refused the connection";
    }
    last_send_us_ = NowUs();
    return "";
  }

  void Subscribe(const std::vector<std::string>& topics, int qos) {
    std::string body("\0\1", 2);  // packet id 1
    for (const std::string& t : topics) {
      AppendString(body, t);
      body += static_cast<char>(qos);
    }
    AppendPacket(0x82, body);
    Flush();
  }

  bool subscribed() const { return subscribed_; }

  // Waits up to `timeout_ms` for data, hands every complete PUBLISH to
  // `on_message`, acknowledges QoS 1, pings when due. "" or the error.
  template <typename OnMessage>
  std::string Poll(int timeout_ms, OnMessage&& on_message) {
    if (NowUs() - last_send_us_ > kKeepAliveS * 500000LL) AppendPacket(0xc0, "");
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) > 0) {
      if (in_.size() - in_len_ < 65536) in_.resize(in_.size() * 2);
      const ssize_t n = recv(fd_, in_.data() + in_len_, in_.size() - in_len_, 0);
      if (n <= 0) return "connection lost";
      in_len_ += static_cast<std::size_t>(n);
      std::size_t at = 0;
      while (true) {
        std::size_t header = 0, length = 0;
        if (!PacketAt(at, header, length)) break;
        const auto* pkt = reinterpret_cast<const unsigned char*>(in_.data() + at);
        const unsigned char type = pkt[0] >> 4;
        if (type == 3) {
          if (std::string error = OnPublish(pkt, header, length, on_message); !error.empty()) {
            return error;
          }
        } else if (type == 9) {
          subscribed_ = true;  // SUBACK
        }
        at += header + length;
      }
      std::memmove(in_.data(), in_.data() + at, in_len_ - at);
      in_len_ -= at;
    }
    return Flush() ? "" : "cannot send";
  }

 private:
  static constexpr int kKeepAliveS = 60;

  static void AppendString(std::string& out, std::string_view s) {
    out += static_cast<char>(s.size() >> 8);
    out += static_cast<char>(s.size() & 0xff);
    out += s;
  }
  void AppendPacket(unsigned char type, std::string_view body) {
    out_ += static_cast<char>(type);
    std::size_t n = body.size();
    do {
      unsigned char b = n % 128;
      n /= 128;
      out_ += static_cast<char>(n > 0 ? b | 128 : b);
    } while (n > 0);
    out_ += body;
  }
  bool Flush() {
    if (out_.empty()) return true;
    last_send_us_ = NowUs();
    const bool ok =
        send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out_.size());
    out_.clear();
    return ok;
  }
  // A complete packet at `at`: its header size and remaining length.
  bool PacketAt(std::size_t at, std::size_t& header, std::size_t& length) const {
    length = 0;
    for (std::size_t i = 1, shift = 0; i <= 4; ++i, shift += 7) {
      if (at + i >= in_len_) return false;
      const auto b = static_cast<unsigned char>(in_[at + i]);
      length |= static_cast<std::size_t>(b & 127) << shift;
      if ((b & 128) == 0) {
        header = i + 1;
        return at + header + length <= in_len_;
      }
    }
    return false;
  }
  template <typename OnMessage>
  std::string OnPublish(const unsigned char* pkt, std::size_t header, std::size_t length,
                        OnMessage& on_message) {
    const int qos = (pkt[0] >> 1) & 3;
    const unsigned char* p = pkt + header;
    const unsigned char* end = p + length;
    if (end - p < 2) return "malformed PUBLISH";
    const std::size_t topic_len = static_cast<std::size_t>(p[0]) << 8 | p[1];
    p += 2;
    if (static_cast<std::size_t>(end - p) < topic_len + (qos ? 2 : 0)) return "malformed PUBLISH";
    std::string_view topic(reinterpret_cast<const char*>(p), topic_len);
    p += topic_len;
    if (qos > 0) {
      const char ack[4] = {0x40, 2, static_cast<char>(p[0]), static_cast<char>(p[1])};
      out_.append(ack, sizeof ack);
      p += 2;
    }
    on_message(topic, std::string_view(reinterpret_cast<const char*>(p),
                                       static_cast<std::size_t>(end - p)));
    return "";
  }

  int fd_ = -1;
  std::vector<char> in_ = std::vector<char>(256 * 1024);
  std::size_t in_len_ = 0;
  std::string out_;
  int64_t last_send_us_ = 0;
  bool subscribed_ = false;
};

class Sink {
 public:
  Sink(bool telemetry, uint64_t devices, uint64_t break_every)
      : telemetry_(telemetry), break_every_(break_every) {
    if (telemetry_) last_seq_.assign(devices, 0);
  }

  void OnMessage(std::string_view topic, std::string_view payload) {
    const int64_t now = NowUs();
    if (topic.substr(0, 5) == "$SYS/") {
      OnSys(topic, payload);
      return;
    }
    if (first_us_ == 0) first_us_ = now;
    last_us_ = now;
    ++received_;
    if (telemetry_) {
      OnTelemetry(topic, payload, now);
    } else {
      OnCase(payload, now);
    }
  }

  // progress <received> <distinct case events> <$SYS updates> <last receive µs>
  //          <the broker's publish/messages/received>
  void PrintProgress() const {
    auto in = sys_.find("$SYS/broker/publish/messages/received");
    std::printf("progress %llu %llu %llu %llu %.0f\n", static_cast<unsigned long long>(received_),
                static_cast<unsigned long long>(event_seqs_.size()),
                static_cast<unsigned long long>(sys_updates_),
                static_cast<unsigned long long>(last_us_),
                in == sys_.end() ? 0.0 : in->second.last);
    std::fflush(stdout);
  }

  void WriteJson(FILE* f) const {
    std::fprintf(f, "{\"mode\":\"%s\",\"received\":%llu,\"bad\":%llu,",
                 telemetry_ ? "telemetry" : "cases", static_cast<unsigned long long>(received_),
                 static_cast<unsigned long long>(bad_));
    if (telemetry_) {
      std::fprintf(f, "\"in_order\":%llu,\"duplicates\":%llu,\"gaps\":%llu,",
                   static_cast<unsigned long long>(in_order_),
                   static_cast<unsigned long long>(duplicates_),
                   static_cast<unsigned long long>(gaps_));
    } else {
      std::fprintf(f,
                   "\"events\":%llu,\"repeated_events\":%llu,\"distinct_opened\":%llu,\"types\":{",
                   static_cast<unsigned long long>(event_seqs_.size()),
                   static_cast<unsigned long long>(repeated_events_),
                   static_cast<unsigned long long>(opened_subjects_.size()));
      const char* sep = "";
      for (const auto& [type, n] : types_) {
        std::fprintf(f, "%s\"%s\":%llu", sep, type.c_str(), static_cast<unsigned long long>(n));
        sep = ",";
      }
      std::fprintf(f, "},");
    }
    std::fprintf(f,
                 "\"first_us\":%lld,\"last_us\":%lld,\"latency_us\":%s,\"latency_breaking_us\":%s,",
                 static_cast<long long>(first_us_), static_cast<long long>(last_us_),
                 latency_.Json().c_str(), latency_breaking_.Json().c_str());
    // Worst latency per second of intended send time: a backlog that grows
    // during the run shows as a rising tail here.
    std::fprintf(f, "\"per_second\":[");
    const char* sep = "";
    for (const auto& [second, s] : per_second_) {
      std::fprintf(f, "%s[%lld,%llu,%lld]", sep, static_cast<long long>(second),
                   static_cast<unsigned long long>(s.count), static_cast<long long>(s.max_us));
      sep = ",";
    }
    std::fprintf(f, "],\"sys\":{");
    sep = "";
    for (const auto& [name, v] : sys_) {
      std::fprintf(f, "%s\"%s\":[%.0f,%.0f]", sep, name.c_str(), v.first, v.last);
      sep = ",";
    }
    std::fprintf(f, "}}\n");
  }

 private:
  struct Second {
    uint64_t count = 0;
    int64_t max_us = 0;
  };
  struct SysValue {
    double first;
    double last;
  };

  void Record(int64_t sent_us, int64_t latency, bool breaking) {
    latency_.Add(latency);
    if (!breaking) return;
    latency_breaking_.Add(latency);
    Second& s = per_second_[sent_us / 1000000];
    ++s.count;
    s.max_us = std::max(s.max_us, latency);
  }

  void OnTelemetry(std::string_view topic, std::string_view payload, int64_t now) {
    const int64_t d = DeviceOfTopic(topic);
    const auto seq = NumberAfter(payload, "\"seq\":");
    const auto sent = NumberAfter(payload, "\"sent_us\":");
    if (d < 0 || static_cast<uint64_t>(d) >= last_seq_.size() || !seq || !sent || *seq < 1) {
      ++bad_;
      return;
    }
    const auto s = static_cast<uint32_t>(*seq);
    uint32_t& last = last_seq_[static_cast<std::size_t>(d)];
    if (s <= last) {
      ++duplicates_;
      return;
    }
    if (s == last + 1) {
      ++in_order_;
    } else {
      gaps_ += s - last - 1;
      ++in_order_;
    }
    last = s;
    const Sample smp{static_cast<uint64_t>(d), s - 1u};
    Record(static_cast<int64_t>(*sent), now - static_cast<int64_t>(*sent),
           IsBreaking(smp, break_every_));
  }

  void OnCase(std::string_view payload, int64_t now) {
    const auto seq = NumberAfter(payload, "\"seq\":");
    const std::string_view type = StringAfter(payload, "\"type\":\"");
    if (!seq || type.empty()) {
      ++bad_;
      return;
    }
    if (!event_seqs_.insert(static_cast<uint64_t>(*seq)).second) {
      ++repeated_events_;  // at least once: the same event again
      return;
    }
    ++types_[std::string(type)];
    if (type == "opened") {
      std::string subject(StringAfter(payload, "\"device\":\""));
      subject += '|';
      subject += StringAfter(payload, "\"rule\":\"");
      opened_subjects_.insert(std::move(subject));
    }
    const auto sent = NumberAfter(payload, "\"sent_us\":");
    if (sent) Record(static_cast<int64_t>(*sent), now - static_cast<int64_t>(*sent), true);
  }

  void OnSys(std::string_view topic, std::string_view payload) {
    double v = 0;
    if (std::from_chars(payload.data(), payload.data() + payload.size(), v).ec != std::errc()) {
      return;
    }
    std::string name(topic);
    auto it = sys_.find(name);
    if (it == sys_.end()) {
      sys_.emplace(std::move(name), SysValue{v, v});
    } else {
      it->second.last = v;
    }
    ++sys_updates_;
  }

  const bool telemetry_;
  const uint64_t break_every_;
  uint64_t received_ = 0;
  uint64_t bad_ = 0;
  int64_t first_us_ = 0;
  int64_t last_us_ = 0;
  Histogram latency_;
  Histogram latency_breaking_;
  std::map<int64_t, Second> per_second_;
  // telemetry
  std::vector<uint32_t> last_seq_;
  uint64_t in_order_ = 0;
  uint64_t duplicates_ = 0;
  uint64_t gaps_ = 0;
  // cases
  std::unordered_set<uint64_t> event_seqs_;
  uint64_t repeated_events_ = 0;
  std::map<std::string, uint64_t> types_;
  std::unordered_set<std::string> opened_subjects_;
  // $SYS
  std::map<std::string, SysValue> sys_;
  uint64_t sys_updates_ = 0;
};

int Main(int argc, char** argv) {
  Flags flags(argc, argv, kUsage);
  const std::string host = flags.Str("host", "127.0.0.1");
  const int port = static_cast<int>(flags.Int("port", 1883));
  const std::string mode = flags.Str("mode", "telemetry");
  const int qos = static_cast<int>(flags.Int("qos", 1));
  const auto devices = static_cast<uint64_t>(flags.Int("devices", kMaxDevices));
  const auto break_every = static_cast<uint64_t>(flags.Int("break-every", 100));
  const std::string out_path = flags.Str("out", "-");
  flags.CheckAllUsed();
  if ((mode != "telemetry" && mode != "cases") || (qos != 0 && qos != 1) || devices > kMaxDevices ||
      !ValidBreakEvery(break_every)) {
    std::fprintf(stderr, "precall_e2e_sink: inconsistent flags\n%s", kUsage);
    return 2;
  }
  const bool telemetry = mode == "telemetry";
  const std::vector<std::string> topics = {
      telemetry ? "fleet/bench/+/telemetry" : "service/bench/cases/#",
      "$SYS/broker/publish/messages/dropped", "$SYS/broker/publish/messages/received",
      "$SYS/broker/store/messages/count"};

  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop.store(true); };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  Sink sink(telemetry, devices, break_every);
  MqttReader reader;
  const std::string id = "precall-e2e-sink-" + std::to_string(getpid());
  if (std::string error = reader.Connect(host, port, id); !error.empty()) {
    std::fprintf(stderr, "precall_e2e_sink: %s:%d: %s\n", host.c_str(), port, error.c_str());
    return 1;
  }
  reader.Subscribe(topics, qos);
  bool announced = false;
  int64_t next_progress = 0;
  while (!g_stop.load()) {
    if (std::string error =
            reader.Poll(50, [&](std::string_view topic,
                                std::string_view payload) { sink.OnMessage(topic, payload); });
        !error.empty()) {
      if (g_stop.load()) break;
      std::fprintf(stderr, "precall_e2e_sink: %s\n", error.c_str());
      return 1;
    }
    if (reader.subscribed() && !announced) {
      std::printf("subscribed\n");
      std::fflush(stdout);
      announced = true;
    }
    const int64_t now = NowUs();
    if (now >= next_progress) {
      sink.PrintProgress();
      next_progress = now + 200000;
    }
  }
  FILE* f = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "precall_e2e_sink: cannot write %s\n", out_path.c_str());
    return 1;
  }
  sink.WriteJson(f);
  if (f != stdout) std::fclose(f);
  return 0;
}

}  // namespace
}  // namespace precall::bench

int main(int argc, char** argv) { return precall::bench::Main(argc, argv); }
