#include "gateway/core/ring.h"

#include <algorithm>
#include <thread>

namespace precall::core {
namespace {

std::size_t RoundUpToPowerOfTwo(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// A producer facing a full ring spins this long before it parks: the
// consumer frees slots within microseconds when it is running.
constexpr int kPushSpins = 256;
// A consumer facing an empty ring spins only briefly: at a steady few
// thousand messages per second the next one is 100 µs or more away, and a
// long spin burned about 6 µs of CPU per message for nothing.
constexpr int kWaitSpins = 32;

}  // namespace

MessageRing::MessageRing(std::size_t capacity)
    : slots_(RoundUpToPowerOfTwo(capacity < 2 ? 2 : capacity)), mask_(slots_.size() - 1) {}

bool MessageRing::Push(std::string_view topic, std::string_view payload, int64_t receive_ms,
                       uint64_t journal_seq) {
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  int spins = 0;
  while (tail - head_.load(std::memory_order_acquire) == slots_.size()) {
    if (closed()) return false;
    if (++spins < kPushSpins) {
      CpuRelax();
      continue;
    }
    // Park until the consumer frees a slot.
    std::unique_lock<std::mutex> lock(mu_);
    producer_parked_.store(true, std::memory_order_seq_cst);
    if (tail - head_.load(std::memory_order_seq_cst) == slots_.size() && !closed()) {
      producer_parks_.fetch_add(1, std::memory_order_relaxed);
      producer_cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
    producer_parked_.store(false, std::memory_order_relaxed);
    spins = 0;
  }
  if (closed()) return false;
  RingMessage& slot = slots_[tail & mask_];
  slot.topic.assign(topic);
  slot.payload.assign(payload);
  slot.receive_ms = receive_ms;
  slot.journal_seq = journal_seq;
  tail_.store(tail + 1, std::memory_order_seq_cst);
  if (consumer_parked_.load(std::memory_order_seq_cst)) WakeConsumer();
  return true;
}

const RingMessage* MessageRing::Front() const {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  if (head == tail_.load(std::memory_order_acquire)) return nullptr;
  return &slots_[head & mask_];
}

void MessageRing::Pop() {
  const uint64_t head = head_.load(std::memory_order_relaxed) + 1;
  head_.store(head, std::memory_order_seq_cst);
  // A parked producer is woken once half the ring is free, not at every free
  // slot: otherwise a saturated ring hands over one message per futex wake.
  if (producer_parked_.load(std::memory_order_seq_cst) &&
      tail_.load(std::memory_order_acquire) - head <= slots_.size() / 2) {
    WakeProducer();
  }
}

void MessageRing::WaitForWork(std::chrono::milliseconds timeout) {
  for (int spins = 0; spins < kWaitSpins; ++spins) {
    if (Front() != nullptr || closed()) {
      empty_naps_ = 0;
      return;
    }
    CpuRelax();
  }
  if (empty_naps_ < kIdleNaps) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!nudged_) {
      lock.unlock();
      std::this_thread::sleep_for(std::min<std::chrono::microseconds>(kNap, timeout));
      lock.lock();
    }
    nudged_ = false;
    empty_naps_ = Front() != nullptr ? 0 : empty_naps_ + 1;
    return;
  }
  std::unique_lock<std::mutex> lock(mu_);
  consumer_parked_.store(true, std::memory_order_seq_cst);
  if (Front() == nullptr && !closed() && !nudged_) consumer_cv_.wait_for(lock, timeout);
  nudged_ = false;
  consumer_parked_.store(false, std::memory_order_relaxed);
  if (Front() != nullptr) empty_naps_ = 0;
}

void MessageRing::Nudge() {
  std::lock_guard<std::mutex> lock(mu_);
  nudged_ = true;
  consumer_cv_.notify_one();
}

void MessageRing::WakeConsumer() {
  consumer_wakes_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  consumer_cv_.notify_one();
}

void MessageRing::WakeProducer() {
  std::lock_guard<std::mutex> lock(mu_);
  producer_cv_.notify_one();
}

void MessageRing::Close() {
  closed_.store(true, std::memory_order_seq_cst);
  std::lock_guard<std::mutex> lock(mu_);
  consumer_cv_.notify_all();
  producer_cv_.notify_all();
}

}  // namespace precall::core
