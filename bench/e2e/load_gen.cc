// precall_e2e_load: the open-loop load generator of the end-to-end benchmark
// (bench/README.md, "End to end"). Built on libmosquitto, not on the gateway's
// Paho, so a client bug cannot hide in both ends.
//
// Open loop: message i of the run has an intended send time fixed before the
// run starts (start + i / rate; a ladder chains several rates), and each
// message carries it (`sent_us`), so whoever measures latency counts from when
// the message should have left, not from when a backed-up client managed to
// send it (no coordinated omission). A thread sleeps until its next message is
// due, then sends everything due; it never sends early. When the broker pushes
// back (socket buffer full, or QoS 1 acknowledgements lagging by
// --max-inflight), the thread waits for it and the wait shows as lateness:
// the summary's `lateness_us` and `final_lateness_us` say whether the
// publisher itself kept the schedule.
//
// Messages go to device n % devices over connection n % connections, so a
// device's samples stay in order on one connection; thread t drives the
// connections c with c % threads == t. Each thread owns its connections
// (libmosquitto in non-threaded mode: publish writes to the socket at once).
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/e2e/fleet.h"
#include "bench/e2e/histogram.h"
#include "bench/e2e/tool.h"

namespace precall::bench {
namespace {

constexpr char kUsage[] = R"(usage: precall_e2e_load [--flag value]...
  --host 127.0.0.1 --port 1883  the broker
  --qos 1                       0 or 1
  --devices 100000              fleet/bench/dev-NNNNNN/telemetry topics (<= 1000000)
  --connections 4               MQTT connections; must divide --devices
  --threads 1                   sending threads; must divide --connections
  --rate 10000                  fixed rate, messages/s ...
  --ladder 5000,10000,20000     ... or a ladder of rates, each for --duration seconds
  --duration 10                 seconds per rate
  --count 0                     fixed rate: send exactly this many messages instead
  --first 0                     index of the first message (a fleet sent in chunks)
  --break-every 100             one sample in N breaks a rule (not a multiple of 19)
  --start-at-us 0               wall-clock µs of the first intended send (0: 0.2 s after connecting)
  --min-sleep-us 200            a thread sleeps at least this long (then sends what is due)
  --max-inflight 1000           QoS 1: unacknowledged messages per connection before waiting
  --out -                       JSON summary file (- = stdout)
)";

struct MosquittoLib {
  MosquittoLib() { mosquitto_lib_init(); }
  ~MosquittoLib() { mosquitto_lib_cleanup(); }
};

struct Segment {
  uint64_t first;  // offset in the run of its first message
  uint64_t count;
  double rate;
  int64_t start_us;
};

// Intended send time of each message of the run. Offsets only grow per
// thread, so each thread keeps its own cursor into the segments.
class Schedule {
 public:
  explicit Schedule(std::vector<Segment> segments) : segments_(std::move(segments)) {}
  uint64_t total() const { return segments_.back().first + segments_.back().count; }
  const std::vector<Segment>& segments() const { return segments_; }
  int64_t IntendedUs(uint64_t offset, std::size_t& cursor) const {
    while (offset >= segments_[cursor].first + segments_[cursor].count) ++cursor;
    const Segment& s = segments_[cursor];
    return s.start_us + static_cast<int64_t>(static_cast<double>(offset - s.first) * 1e6 / s.rate);
  }

 private:
  std::vector<Segment> segments_;
};

struct Connection {
  mosquitto* mosq = nullptr;
  bool connected = false;
  bool corked = false;
  int connack = -1;
  uint64_t sent = 0;
  uint64_t acked = 0;  // on_publish: QoS 1 the PUBACK came, QoS 0 the socket took it
  uint64_t errors = 0;
};

struct ThreadResult {
  Histogram lateness;
  int64_t final_lateness = 0;
  int64_t first_send_us = 0;
  int64_t last_send_us = 0;
  uint64_t payload_bytes = 0;
};

struct Config {
  std::string host;
  int port;
  int qos;
  uint64_t devices;
  int connections;
  int threads;
  uint64_t first;
  uint64_t break_every;
  int64_t min_sleep_us;
  uint64_t max_inflight;
};

// Reads acknowledgements and keeps the connection alive; waits up to
// `timeout_ms` for the socket. mosquitto_loop reads one packet per call when
// nothing is queued, so keep reading while acknowledgements keep coming.
void Service(Connection& c, int timeout_ms) {
  uint64_t before = c.acked;
  int rc = mosquitto_loop(c.mosq, timeout_ms, 1);
  while (rc == MOSQ_ERR_SUCCESS && c.acked != before && c.acked < c.sent) {
    before = c.acked;
    rc = mosquitto_loop_read(c.mosq, 1);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "precall_e2e_load: connection lost (%s)\n", mosquitto_strerror(rc));
    std::exit(1);
  }
}

void SetCork(Connection& c, bool on) {
  int v = on ? 1 : 0;
  setsockopt(mosquitto_socket(c.mosq), IPPROTO_TCP, TCP_CORK, &v, sizeof v);
  c.corked = on;
}

void SendLoop(const Config& cfg, const Schedule& schedule, std::vector<Connection>& conns, int t,
              ThreadResult& out) {
  prctl(PR_SET_TIMERSLACK, 1UL);  // wake on time, not up to 50 µs late
  const auto k = static_cast<uint64_t>(cfg.connections);
  const auto step = static_cast<uint64_t>(cfg.threads);
  const uint64_t total = schedule.total();
  // The first message index >= first with n % threads == t.
  uint64_t n = cfg.first + (static_cast<uint64_t>(t) + step - cfg.first % step) % step;
  std::size_t cursor = 0;
  char topic[48];
  char payload[384];
  int64_t last_service = 0;
  while (n - cfg.first < total) {
    int64_t now = NowUs();
    const int64_t due = schedule.IntendedUs(n - cfg.first, cursor);
    if (due > now) {
      for (uint64_t i = static_cast<uint64_t>(t); i < k; i += step) {
        if (conns[i].corked) SetCork(conns[i], false);  // the batch goes out now
      }
      const int64_t wake = std::max(due, now + cfg.min_sleep_us);
      timespec ts{static_cast<time_t>(wake / 1000000), static_cast<long>(wake % 1000000) * 1000};
      clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr);
      continue;
    }
    Connection& c = conns[n % k];
    // More than one message due: let the kernel put the batch into as few
    // segments as it can (TCP_CORK until the batch is written), instead of
    // one segment per message pushed through loopback TCP on this thread.
    if (!c.corked && n + step - cfg.first < total &&
        schedule.IntendedUs(n + step - cfg.first, cursor) <= now) {
      SetCork(c, true);
    }
    // Back-pressure: never queue inside libmosquitto; wait for the socket
    // (and, at QoS 1, for acknowledgements) so lateness shows it.
    while (mosquitto_want_write(c.mosq) || c.sent - c.acked >= cfg.max_inflight) Service(c, 10);
    const Sample s = SampleOf(n, cfg.devices);
    FormatTopic(topic, s.device);
    now = NowUs();
    const int len = FormatPayload(payload, s, static_cast<uint64_t>(due), cfg.break_every);
    const int rc = mosquitto_publish(c.mosq, nullptr, topic, len, payload, cfg.qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
      ++c.errors;
    } else {
      ++c.sent;
    }
    out.lateness.Add(now - due);
    out.final_lateness = now - due;
    if (out.first_send_us == 0) out.first_send_us = now;
    out.last_send_us = now;
    out.payload_bytes += static_cast<uint64_t>(len);
    n += step;
    if (now - last_service >= 1000) {
      for (uint64_t i = static_cast<uint64_t>(t); i < k; i += step) Service(conns[i], 0);
      last_service = now;
    }
  }
  // Drain: every message written, and at QoS 1 acknowledged (30 s at most).
  const int64_t deadline = NowUs() + 30000000;
  for (uint64_t i = static_cast<uint64_t>(t); i < k; i += step) {
    Connection& c = conns[i];
    if (c.corked) SetCork(c, false);
    while ((mosquitto_want_write(c.mosq) || c.acked < c.sent) && NowUs() < deadline) {
      Service(c, 10);
    }
  }
}

std::vector<double> ParseRates(const std::string& list) {
  std::vector<double> rates;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) rates.push_back(std::atof(item.c_str()));
  return rates;
}

int Main(int argc, char** argv) {
  Flags flags(argc, argv, kUsage);
  Config cfg;
  cfg.host = flags.Str("host", "127.0.0.1");
  cfg.port = static_cast<int>(flags.Int("port", 1883));
  cfg.qos = static_cast<int>(flags.Int("qos", 1));
  cfg.devices = static_cast<uint64_t>(flags.Int("devices", 100000));
  cfg.connections = static_cast<int>(flags.Int("connections", 4));
  cfg.threads = static_cast<int>(flags.Int("threads", 1));
  cfg.first = static_cast<uint64_t>(flags.Int("first", 0));
  cfg.break_every = static_cast<uint64_t>(flags.Int("break-every", 100));
  cfg.min_sleep_us = flags.Int("min-sleep-us", 200);
  cfg.max_inflight = static_cast<uint64_t>(flags.Int("max-inflight", 1000));
  const std::string ladder = flags.Str("ladder", "");
  const double fixed_rate = static_cast<double>(flags.Int("rate", 10000));
  const double duration = static_cast<double>(flags.Int("duration", 10));
  const auto count = static_cast<uint64_t>(flags.Int("count", 0));
  int64_t start_us = flags.Int("start-at-us", 0);
  const std::string out_path = flags.Str("out", "-");
  flags.CheckAllUsed();
  std::vector<double> rates = ladder.empty() ? std::vector<double>{fixed_rate} : ParseRates(ladder);
  if ((cfg.qos != 0 && cfg.qos != 1) || cfg.devices < 1 || cfg.devices > kMaxDevices ||
      cfg.connections < 1 || cfg.devices % static_cast<uint64_t>(cfg.connections) != 0 ||
      cfg.threads < 1 || cfg.connections % cfg.threads != 0 || !ValidBreakEvery(cfg.break_every) ||
      std::any_of(rates.begin(), rates.end(), [](double r) { return !(r > 0); })) {
    std::fprintf(stderr, "precall_e2e_load: inconsistent flags\n%s", kUsage);
    return 2;
  }

  MosquittoLib lib;
  std::vector<Connection> conns(static_cast<std::size_t>(cfg.connections));
  for (int i = 0; i < cfg.connections; ++i) {
    Connection& c = conns[static_cast<std::size_t>(i)];
    const std::string id = "precall-e2e-load-" + std::to_string(getpid()) + "-" + std::to_string(i);
    c.mosq = mosquitto_new(id.c_str(), true, &c);
    mosquitto_int_option(c.mosq, MOSQ_OPT_TCP_NODELAY, 1);  // each device is its own sender
    mosquitto_int_option(c.mosq, MOSQ_OPT_SEND_MAXIMUM, 65535);
    mosquitto_connect_callback_set(c.mosq, [](mosquitto*, void* self, int rc) {
      auto* conn = static_cast<Connection*>(self);
      conn->connack = rc;
      conn->connected = rc == 0;
    });
    mosquitto_publish_callback_set(
        c.mosq, [](mosquitto*, void* self, int) { ++static_cast<Connection*>(self)->acked; });
    if (mosquitto_connect(c.mosq, cfg.host.c_str(), cfg.port, 60) != MOSQ_ERR_SUCCESS) {
      std::fprintf(stderr, "precall_e2e_load: cannot connect to %s:%d\n", cfg.host.c_str(),
                   cfg.port);
      return 1;
    }
    const int64_t deadline = NowUs() + 10000000;
    while (c.connack < 0 && NowUs() < deadline) Service(c, 100);
    if (!c.connected) {
      std::fprintf(stderr, "precall_e2e_load: broker refused the connection (%d)\n", c.connack);
      return 1;
    }
  }

  if (start_us == 0) start_us = NowUs() + 200000;
  std::vector<Segment> segments;
  uint64_t offset = 0;
  int64_t at = start_us;
  for (double r : rates) {
    const uint64_t n =
        count > 0 && ladder.empty() ? count : static_cast<uint64_t>(std::llround(r * duration));
    segments.push_back({offset, n, r, at});
    offset += n;
    at += static_cast<int64_t>(static_cast<double>(n) * 1e6 / r);
  }
  Schedule schedule(segments);

  std::vector<ThreadResult> results(static_cast<std::size_t>(cfg.threads));
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back(
        [&, t] { SendLoop(cfg, schedule, conns, t, results[static_cast<std::size_t>(t)]); });
  }
  for (auto& th : threads) th.join();

  ThreadResult all;
  for (const ThreadResult& r : results) {
    all.lateness.Merge(r.lateness);
    all.final_lateness = std::max(all.final_lateness, r.final_lateness);
    if (all.first_send_us == 0 || (r.first_send_us && r.first_send_us < all.first_send_us)) {
      all.first_send_us = r.first_send_us;
    }
    all.last_send_us = std::max(all.last_send_us, r.last_send_us);
    all.payload_bytes += r.payload_bytes;
  }
  uint64_t sent = 0, acked = 0, errors = 0;
  for (Connection& c : conns) {
    sent += c.sent;
    acked += c.acked;
    errors += c.errors;
    mosquitto_disconnect(c.mosq);
    mosquitto_loop(c.mosq, 100, 1);
    mosquitto_destroy(c.mosq);
  }

  // What the fleet should make a gateway do: exact, from the fleet's rule.
  std::string segs;
  uint64_t breaking = 0, opens = 0;
  for (const Segment& s : segments) {
    uint64_t seg_breaking = 0;
    for (uint64_t n = cfg.first + s.first; n < cfg.first + s.first + s.count; ++n) {
      const Sample smp = SampleOf(n, cfg.devices);
      if (!IsBreaking(smp, cfg.break_every)) continue;
      ++seg_breaking;
      if (BreakOpensCase(smp, cfg.break_every)) ++opens;
    }
    breaking += seg_breaking;
    char buf[160];
    std::snprintf(
        buf, sizeof buf, "%s{\"rate\":%.0f,\"count\":%llu,\"start_us\":%lld,\"breaking\":%llu}",
        segs.empty() ? "" : ",", s.rate, static_cast<unsigned long long>(s.count),
        static_cast<long long>(s.start_us), static_cast<unsigned long long>(seg_breaking));
    segs += buf;
  }
  const uint64_t total = schedule.total();
  const Segment& last = segments.back();
  const int64_t end_intended =
      last.start_us + static_cast<int64_t>(static_cast<double>(last.count) * 1e6 / last.rate);
  FILE* f = out_path == "-" ? stdout : std::fopen(out_path.c_str(), "w");
  if (f == nullptr) {
    std::fprintf(stderr, "precall_e2e_load: cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::fprintf(
      f,
      "{\"first\":%llu,\"count\":%llu,\"sent\":%llu,\"acked\":%llu,\"publish_errors\":%llu,"
      "\"qos\":%d,\"devices\":%llu,\"break_every\":%llu,\"breaking\":%llu,"
      "\"expect_opened\":%llu,\"expect_updated\":%llu,\"start_us\":%lld,\"end_intended_us\":%lld,"
      "\"first_send_us\":%lld,\"last_send_us\":%lld,\"payload_bytes_mean\":%.1f,"
      "\"final_lateness_us\":%lld,\"lateness_us\":%s,\"segments\":[%s]}\n",
      static_cast<unsigned long long>(cfg.first), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(acked),
      static_cast<unsigned long long>(errors), cfg.qos,
      static_cast<unsigned long long>(cfg.devices),
      static_cast<unsigned long long>(cfg.break_every), static_cast<unsigned long long>(breaking),
      static_cast<unsigned long long>(opens), static_cast<unsigned long long>(breaking - opens),
      static_cast<long long>(start_us), static_cast<long long>(end_intended),
      static_cast<long long>(all.first_send_us), static_cast<long long>(all.last_send_us),
      sent ? static_cast<double>(all.payload_bytes) / static_cast<double>(sent) : 0.0,
      static_cast<long long>(all.final_lateness), all.lateness.Json().c_str(), segs.c_str());
  if (f != stdout) std::fclose(f);
  return errors == 0 && acked == sent && sent == total ? 0 : 1;
}

}  // namespace
}  // namespace precall::bench

int main(int argc, char** argv) { return precall::bench::Main(argc, argv); }
