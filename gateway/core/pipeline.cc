#include "gateway/core/pipeline.h"

#include <algorithm>
#include <span>

#include "absl/hash/hash.h"
#include "devices/ids.h"
#include "gateway/core/thread_name.h"

namespace precall::core {

Pipeline::Pipeline(Options options, std::shared_ptr<const rules::RuleSet> rules,
                   std::shared_ptr<const devices::FaultCatalog> catalog, Clock& clock,
                   CaseBook& cases)
    : options_(options), clock_(clock), clock_running_(options.clock_running) {
  const int n = options.workers < 1 ? 1 : options.workers;
  Worker::Options worker_options;
  worker_options.checkpoints = options.checkpoints != nullptr;
  for (int i = 0; i < n; ++i) {
    lanes_.push_back(std::make_unique<Lane>(options.ring_capacity, rules, catalog, clock, cases,
                                            worker_options));
  }
}

Pipeline::~Pipeline() { Stop(); }

void Pipeline::Start() {
  if (started_) return;
  started_ = true;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    Lane* l = lanes_[i].get();
    {
      absl::MutexLock lock(&l->requests_mu);
      l->running = true;
    }
    l->thread = std::thread([this, l, i] {
      NameThisThread("worker-" + std::to_string(i));
      Run(*l);
    });
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

int Pipeline::LaneForDevice(std::string_view tenant, std::string_view device) const {
  std::string topic = "fleet/";
  topic.append(tenant).append("/").append(device).append("/");
  return LaneFor(topic);
}

bool Pipeline::Submit(std::string_view topic, std::string_view payload, int64_t receive_ms,
                      uint64_t journal_seq) {
  if (!lanes_[LaneFor(topic)]->ring.Push(topic, payload, receive_ms, journal_seq)) return false;
  if (journal_seq != 0) last_submitted_.store(journal_seq, std::memory_order_release);
  return true;
}

std::size_t Pipeline::RestoreDevices(const std::vector<CheckpointRecord>& records) {
  std::vector<std::vector<const CheckpointRecord*>> by_lane(lanes_.size());
  std::size_t refused = 0;
  for (const CheckpointRecord& r : records) {
    auto ids = devices::DecodeDeviceKey(r.device_key);
    if (!ids) {
      ++refused;
      continue;
    }
    by_lane[LaneForDevice(ids->tenant, ids->device)].push_back(&r);
  }
  std::vector<std::size_t> lane_refused(lanes_.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    threads.emplace_back([&, i] {
      for (const CheckpointRecord* r : by_lane[i]) {
        if (!lanes_[i]->worker.RestoreDevice(r->device_key, r->checkpoint, r->journal_watermark)) {
          ++lane_refused[i];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t n : lane_refused) refused += n;
  return refused;
}

void Pipeline::WaitUntilIdle() {
  for (auto& lane : lanes_) {
    while (lane->ring.size() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void Pipeline::StartCheckpointRound(Lane& lane) {
  // Read the submitted mark before looking at the ring: a message pushed
  // after the look has a higher seq than the mark (see Submit).
  const uint64_t submitted = last_submitted_.load(std::memory_order_acquire);
  lane.round_through = lane.ring.size() == 0
                           ? submitted
                           : lane.processed_seq.load(std::memory_order_relaxed);
  lane.round_remaining = lane.worker.dirty_devices();
  lane.round_open = true;
}

void Pipeline::ContinueCheckpointRound(Lane& lane, std::size_t max_devices) {
  lane.checkpoint_slice.clear();
  lane.round_remaining -= lane.worker.TakeCheckpoints(
      lane.checkpoint_slice, std::min(max_devices, lane.round_remaining));
  const bool last = lane.round_remaining == 0;
  uint64_t recovery_start = 0;  // 0: not written with this slice
  if (last) {
    recovery_start = lane.round_through;
    for (const auto& l : lanes_) {
      if (l.get() == &lane) continue;
      recovery_start =
          std::min(recovery_start, l->checkpointed_through.load(std::memory_order_acquire));
    }
  }
  if (!options_.checkpoints->PutCheckpoints(lane.checkpoint_slice, recovery_start).ok()) {
    // Abandon the round; its devices stay due for the next one.
    lane.worker.ReturnCheckpoints();
    checkpoint_failures_.fetch_add(1, std::memory_order_relaxed);
    lane.round_open = false;
    return;
  }
  if (!last) return;
  lane.round_open = false;
  lane.checkpointed_through.store(lane.round_through, std::memory_order_release);
  uint64_t written = checkpointed_through_.load(std::memory_order_relaxed);
  while (recovery_start > written &&
         !checkpointed_through_.compare_exchange_weak(written, recovery_start,
                                                      std::memory_order_relaxed)) {
  }
}

void Pipeline::WriteAllCheckpoints(Lane& lane) {
  for (int round = 0; round < 2; ++round) {
    if (!lane.round_open) StartCheckpointRound(lane);
    while (lane.round_open) ContinueCheckpointRound(lane, kCheckpointSlice * 8);
  }
}

std::optional<DeviceView> Pipeline::QueryDevice(std::string_view tenant,
                                                std::string_view device) {
  Lane& lane = *lanes_[LaneForDevice(tenant, device)];
  DeviceQuery query{.tenant = tenant, .device = device};
  absl::MutexLock lock(&lane.requests_mu);
  if (!lane.running) return lane.worker.ViewDevice(tenant, device);  // no thread owns it now
  lane.requests.push_back(&query);
  lane.has_requests.store(true, std::memory_order_release);
  lane.ring.Nudge();
  lane.requests_mu.Await(absl::Condition(&query.answered));
  return std::move(query.answer);
}

void Pipeline::Reload(std::shared_ptr<const rules::RuleSet> rules,
                      std::shared_ptr<const devices::FaultCatalog> catalog) {
  for (auto& lane : lanes_) {
    absl::MutexLock lock(&lane->requests_mu);
    if (!lane->running) {  // no thread owns the worker now
      lane->worker.Reload(rules, catalog);
      continue;
    }
    lane->next_rules = rules;
    lane->next_catalog = catalog;
    lane->has_requests.store(true, std::memory_order_release);
    lane->ring.Nudge();
  }
  for (auto& lane : lanes_) {
    absl::MutexLock lock(&lane->requests_mu);
    lane->requests_mu.Await(absl::Condition(
        +[](Lane* l) ABSL_EXCLUSIVE_LOCKS_REQUIRED(l->requests_mu) { return l->next_rules == nullptr; },
        lane.get()));
  }
}

bool Pipeline::AnswerRequests(Lane& lane, bool last_time) {
  absl::MutexLock lock(&lane.requests_mu);
  const bool reloaded = lane.next_rules != nullptr;
  if (reloaded) {
    lane.worker.Reload(std::move(lane.next_rules), std::move(lane.next_catalog));
    lane.next_rules = nullptr;
    lane.next_catalog = nullptr;
  }
  if (last_time) lane.running = false;  // later queries read the idle worker directly
  for (DeviceQuery* q : lane.requests) {
    q->answer = lane.worker.ViewDevice(q->tenant, q->device);
    q->answered = true;
  }
  lane.requests.clear();
  lane.has_requests.store(false, std::memory_order_relaxed);
  return reloaded;
}

void Pipeline::TakeRequests(Lane& lane) {
  if (!lane.has_requests.load(std::memory_order_acquire)) return;
  // A switch marked every device changed: write them all now.
  if (AnswerRequests(lane, false) && options_.checkpoints != nullptr) WriteAllCheckpoints(lane);
}

void Pipeline::Run(Lane& lane) {
  auto next_tick = std::chrono::steady_clock::now() + options_.tick;
  auto next_checkpoint = std::chrono::steady_clock::now() + options_.checkpoint_interval;
  while (true) {
    int handled = 0;
    for (const RingMessage* m; handled < kMessagesPerTurn && (m = lane.ring.Front()); ++handled) {
      lane.worker.HandleMessage(m->topic, m->payload, m->receive_ms, m->journal_seq);
      if (m->journal_seq != 0) lane.processed_seq.store(m->journal_seq, std::memory_order_release);
      lane.ring.Pop();
      TakeRequests(lane);
    }
    TakeRequests(lane);
    auto now = std::chrono::steady_clock::now();
    const bool clock_running = clock_running_.load(std::memory_order_acquire);
    if (now >= next_tick) {
      if (clock_running) lane.worker.AdvanceClock(clock_.NowMs());
      next_tick = now + options_.tick;
    }
    if (options_.checkpoints != nullptr && clock_running) {
      if (!lane.round_open && now >= next_checkpoint) StartCheckpointRound(lane);
      if (lane.round_open) {
        ContinueCheckpointRound(lane, kCheckpointSlice);
        if (!lane.round_open) next_checkpoint = now + options_.checkpoint_interval;
      }
    }
    if (lane.ring.closed() && lane.ring.Front() == nullptr) {
      if (options_.checkpoints != nullptr) WriteAllCheckpoints(lane);
      AnswerRequests(lane, true);
      return;
    }
    if (handled == kMessagesPerTurn || lane.round_open) continue;  // more to do: no parking
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
