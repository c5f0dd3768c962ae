#include "gateway/core/pipeline.h"

#include "absl/hash/hash.h"

namespace precall::core {

Pipeline::Pipeline(Options options, std::shared_ptr<const rules::RuleSet> rules,
                   std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock,
                   CaseBook& cases)
    : options_(options), clock_(clock) {
  const int n = options.workers < 1 ? 1 : options.workers;
  for (int i = 0; i < n; ++i) {
    lanes_.push_back(
        std::make_unique<Lane>(options.ring_capacity, rules, catalog, clock, cases));
  }
}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Start() {
  if (started_) return;
  started_ = true;
  for (auto& lane : lanes_) {
    Lane* l = lane.get();
    {
      absl::MutexLock lock(&l->requests_mu);
      l->running = true;
    }
    l->thread = std::thread([this, l] { Run(*l); });
  }
}

int Pipeline::LaneFor(std::string_view topic) const {
  // fleet/{tenant}/{device}/...: hash "{tenant}/{device}" so that both of a
  // device's topics (telemetry, status) reach the same worker. Anything else
  // (a bad topic, counted and dropped by the worker) hashes whole.
  std::string_view key = topic;
  if (key.substr(0, 6) == "fleet/") {
    std::size_t device_end = key.find('/', key.find('/', 6) + 1);
    key = key.substr(6, device_end == std::string_view::npos ? std::string_view::npos
                                                              : device_end - 6);
  }
  const std::size_t h = absl::Hash<absl::string_view>{}(absl::string_view(key.data(), key.size()));
  return static_cast<int>(h % lanes_.size());
}

bool Pipeline::Submit(std::string_view topic, std::string_view payload, int64_t receive_ms,
                      uint64_t journal_seq) {
  return lanes_[LaneFor(topic)]->ring.Push(topic, payload, receive_ms, journal_seq);
}

std::optional<DeviceView> Pipeline::QueryDevice(std::string_view tenant,
                                                std::string_view device) {
  std::string topic = "fleet/";
  topic.append(tenant).append("/").append(device).append("/");
  Lane& lane = *lanes_[LaneFor(topic)];
  DeviceQuery query{.tenant = tenant, .device = device};
  absl::MutexLock lock(&lane.requests_mu);
  if (!lane.running) return lane.worker.ViewDevice(tenant, device);  // no thread owns it now
  lane.requests.push_back(&query);
  lane.has_requests.store(true, std::memory_order_release);
  lane.ring.Nudge();
  lane.requests_mu.Await(absl::Condition(&query.answered));
  return std::move(query.answer);
}

void Pipeline::AnswerRequests(Lane& lane, bool last_time) {
  absl::MutexLock lock(&lane.requests_mu);
  if (last_time) lane.running = false;  // later queries read the idle worker directly
  for (DeviceQuery* q : lane.requests) {
    q->answer = lane.worker.ViewDevice(q->tenant, q->device);
    q->answered = true;
  }
  lane.requests.clear();
  lane.has_requests.store(false, std::memory_order_relaxed);
}

void Pipeline::Run(Lane& lane) {
  auto next_tick = std::chrono::steady_clock::now() + options_.tick;
  while (true) {
    while (const RingMessage* m = lane.ring.Front()) {
      lane.worker.HandleMessage(m->topic, m->payload, m->receive_ms);
      lane.processed_seq.store(m->journal_seq, std::memory_order_release);
      lane.ring.Pop();
      if (lane.has_requests.load(std::memory_order_acquire)) AnswerRequests(lane, false);
    }
    if (lane.has_requests.load(std::memory_order_acquire)) AnswerRequests(lane, false);
    auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      lane.worker.AdvanceClock(clock_.NowMs());
      next_tick = now + options_.tick;
    }
    if (lane.ring.closed() && lane.ring.Front() == nullptr) {
      AnswerRequests(lane, true);
      return;
    }
    lane.ring.WaitForWork(std::chrono::duration_cast<std::chrono::milliseconds>(
        next_tick - std::chrono::steady_clock::now()));
  }
}

void Pipeline::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& lane : lanes_) lane->ring.Close();
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

}  // namespace precall::core
