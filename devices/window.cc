#include "devices/window.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace precall::devices {
namespace {

// Whether taking points out of running sums has cancelled them: what is left
// (`sum_sq`, of the squares of the points still in the window) is so small
// against a square that left that the rounding of that subtraction could be
// a visible part of it (a constant window after a different one, a spike
// that left). The sums are then recomputed from the window's points. Rounding
// of the left-over is then at most ~2^-32 of it; a point has to outweigh the
// whole rest of its window 2^20 times to cost a recomputation.
bool Cancelled(double sum_sq, double evicted_sq) { return sum_sq < evicted_sq * 0x1p-20; }

uint32_t DequeCount(MetricWindows::Specs specs) {
  uint32_t n = 0;
  for (const WindowSpec& spec : specs) n += (spec.want_min ? 1 : 0) + (spec.want_max ? 1 : 0);
  return n;
}

}  // namespace

MetricWindows::View MetricWindows::Map(std::size_t window_count) const {
  View v;
  v.points = reinterpret_cast<Point*>(block_.get());
  v.windows = reinterpret_cast<Window*>(block_.get() + sizeof(Point) * capacity_);
  v.deques = reinterpret_cast<uint32_t*>(v.windows + window_count);
  v.mask = capacity_ - 1;
  v.deque_words = static_cast<uint32_t>(DequeWords(capacity_));
  return v;
}

void MetricWindows::Allocate(Specs specs, uint32_t capacity) {
  const uint32_t deques = DequeCount(specs);
  const std::size_t bytes = sizeof(Point) * capacity + sizeof(Window) * specs.size() +
                            sizeof(uint32_t) * DequeWords(capacity) * deques;
  block_.reset(new std::byte[bytes]);
  capacity_ = capacity;
  const View v = Map(specs.size());
  uint32_t deque = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    v.windows[i] = Window{0, 0, 0, end_, deque, end_};
    deque += (specs[i].want_min ? 1 : 0) + (specs[i].want_max ? 1 : 0);
  }
  for (uint32_t d = 0; d < deques; ++d) {
    uint32_t* words = v.deques + v.deque_words * d;
    words[0] = words[1] = 0;
  }
}

void MetricWindows::Grow(Specs specs) {
  const View old = Map(specs.size());
  const std::unique_ptr<std::byte[]> old_block = std::move(block_);
  Allocate(specs, capacity_ * 2);
  const View v = Map(specs.size());
  for (uint32_t pos = begin_; pos != end_; ++pos) v.points[pos & v.mask] = old.At(pos);
  std::memcpy(v.windows, old.windows, sizeof(Window) * specs.size());
  const uint32_t deques = DequeCount(specs);
  for (uint32_t d = 0; d < deques; ++d) {
    const uint32_t* from = old.deques + old.deque_words * d;
    uint32_t* to = v.deques + v.deque_words * d;
    to[0] = from[0];
    to[1] = from[1];
    for (uint32_t i = from[0]; i != from[1]; ++i) to[2 + (i & v.mask)] = from[2 + (i & old.mask)];
  }
}

void MetricWindows::Reshape(Specs specs) {
  if (!block_) return;  // no point ever pushed: Push lays out the windows
  const Point* old_points = reinterpret_cast<const Point*>(block_.get());
  const std::unique_ptr<std::byte[]> old_block = std::move(block_);
  Allocate(specs, capacity_);
  const View v = Map(specs.size());
  for (uint32_t pos = begin_; pos != end_; ++pos) v.points[pos & v.mask] = old_points[pos & v.mask];
  for (std::size_t i = 0; i < specs.size(); ++i) {
    v.windows[i].first = begin_;
    for (uint32_t pos = begin_; pos != end_; ++pos) AddToWindow(v, specs[i], v.windows[i], pos);
  }
  if (end_ != begin_) {
    const int64_t newest = v.At(end_ - 1).ts;
    for (std::size_t i = 0; i < specs.size(); ++i) Evict(v, specs[i], v.windows[i], newest);
  }
  ReleaseUnused(v, specs.size());
}

// AddToWindow and EvictUpTo run for every window at every push: inlined, as
// before the block layout (out of line, the steady state took ~7 % more
// instructions per sample).
[[gnu::always_inline]] inline void MetricWindows::AddToWindow(const View& v, const WindowSpec& spec,
                                                              Window& w, uint32_t pos) {
  const double value = v.At(pos).value;
  if (w.first == pos) {  // the window was empty: its sums are 0
    w.shift = value;
    w.shift_pos = pos;
  }
  const double shifted = value - w.shift;
  w.sum += shifted;
  w.sum_sq += shifted * shifted;
  uint32_t deque = w.deque;
  if (spec.want_min) {
    Deque min = v.DequeAt(deque++);
    while (!min.empty() && v.At(min.back()).value >= value) min.pop_back();
    min.push_back(pos);
  }
  if (spec.want_max) {
    Deque max = v.DequeAt(deque);
    while (!max.empty() && v.At(max.back()).value <= value) max.pop_back();
    max.push_back(pos);
  }
}

[[gnu::always_inline]] inline void MetricWindows::EvictUpTo(const View& v, const WindowSpec& spec,
                                                            Window& w, int64_t horizon) {
  const uint32_t end = end_;
  uint32_t deque = w.deque;
  Deque min = v.DequeAt(spec.want_min ? deque++ : deque);
  Deque max = v.DequeAt(deque);
  uint32_t first = w.first;
  double evicted_sq = 0;  // the largest square that left
  do {
    const double shifted = v.At(first).value - w.shift;
    w.sum -= shifted;
    w.sum_sq -= shifted * shifted;
    evicted_sq = std::max(evicted_sq, shifted * shifted);
    if (spec.want_min && min.front() == first) min.pop_front();
    if (spec.want_max && max.front() == first) max.pop_front();
    ++first;
  } while (first != end && v.At(first).ts <= horizon);
  w.first = first;
  if (first == end) {
    // Restart the running sums exactly: no drift survives an empty window.
    w.sum = 0;
    w.sum_sq = 0;
  } else if (static_cast<int32_t>(w.shift_pos - first) < 0 || Cancelled(w.sum_sq, evicted_sq)) {
    Rebase(v, w);
  }
}

void MetricWindows::Rebase(const View& v, Window& w) {
  w.shift_pos = end_ - 1;
  w.shift = v.At(w.shift_pos).value;
  SumsFrom(v, w.shift, w.first, w.sum, w.sum_sq);
}

void MetricWindows::SumsFrom(const View& v, double shift, uint32_t first, double& sum,
                             double& sum_sq) const {
  sum = 0;
  sum_sq = 0;
  for (uint32_t pos = first; pos != end_; ++pos) {
    const double shifted = v.At(pos).value - shift;
    sum += shifted;
    sum_sq += shifted * shifted;
  }
}

void MetricWindows::ReleaseUnused(const View& v, std::size_t window_count) {
  const uint32_t end = end_;
  uint32_t longest = 0;  // the most points any window holds
  for (std::size_t i = 0; i < window_count; ++i)
    longest = std::max(longest, end - v.windows[i].first);
  begin_ = end - longest;
}

void MetricWindows::DropOldest(Specs specs, const View& v) {
  const uint32_t begin = begin_;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Window& w = v.windows[i];
    if (w.first != begin) continue;  // the ring is full, so a window at begin is not empty
    const double shifted = v.At(begin).value - w.shift;
    w.sum -= shifted;
    w.sum_sq -= shifted * shifted;
    uint32_t deque = w.deque;
    if (specs[i].want_min) {
      Deque min = v.DequeAt(deque++);
      if (min.front() == begin) min.pop_front();
    }
    if (specs[i].want_max) {
      Deque max = v.DequeAt(deque);
      if (max.front() == begin) max.pop_front();
    }
    ++w.first;
    if (w.shift_pos == begin || Cancelled(w.sum_sq, shifted * shifted)) Rebase(v, w);
  }
  begin_ = begin + 1;
}

void MetricWindows::Push(Specs specs, int64_t ts, double value) {
  if (specs.empty()) return;
  if (!block_) Allocate(specs, kInitialPoints);
  View v = Map(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) Evict(v, specs[i], v.windows[i], ts);
  ReleaseUnused(v, specs.size());
  if (end_ - begin_ == kMaxPoints) DropOldest(specs, v);
  if (end_ - begin_ == capacity_) {
    Grow(specs);
    v = Map(specs.size());
  }
  const uint32_t pos = end_++;
  v.points[pos & v.mask] = Point{ts, value};
  for (std::size_t i = 0; i < specs.size(); ++i) AddToWindow(v, specs[i], v.windows[i], pos);
}

double MetricWindows::Query(Specs specs, int index, WindowFunc func, int64_t now, int64_t settled) {
  if (!block_) return func == WindowFunc::kCount ? 0.0 : kUnknown;
  const auto i = static_cast<std::size_t>(index);
  const View v = Map(specs.size());
  Window& w = v.windows[i];
  Evict(v, specs[i], w, std::min(now, settled));
  // Past `settled`, the points that left stay; their share comes off copies.
  uint32_t first = w.first;
  double sum = w.sum;
  double sum_sq = w.sum_sq;
  if (now > settled) {
    first = FirstAt(v, specs[i], w, now);
    double evicted_sq = 0;
    for (uint32_t pos = w.first; pos != first; ++pos) {
      const double shifted = v.At(pos).value - w.shift;
      sum -= shifted;
      sum_sq -= shifted * shifted;
      evicted_sq = std::max(evicted_sq, shifted * shifted);
    }
    if (Cancelled(sum_sq, evicted_sq)) SumsFrom(v, w.shift, first, sum, sum_sq);
  }
  if (first == end_) return func == WindowFunc::kCount ? 0.0 : kUnknown;
  const double n = static_cast<double>(end_ - first);
  const Point& newest = v.At(end_ - 1);
  const Point& oldest = v.At(first);
  switch (func) {
    case WindowFunc::kCount: return n;
    case WindowFunc::kSum: return sum + w.shift * n;
    case WindowFunc::kAvg: return w.shift + sum / n;
    case WindowFunc::kStddev: {
      if (n == 1) return 0;  // exactly, whatever the rounding of the sums
      const double mean = sum / n;
      double variance = sum_sq / n - mean * mean;
      return std::sqrt(std::max(0.0, variance));
    }
    case WindowFunc::kMin: return v.At(FrontFrom(v.DequeAt(w.deque), first)).value;
    case WindowFunc::kMax:
      return v.At(FrontFrom(v.DequeAt(w.deque + (specs[i].want_min ? 1 : 0)), first)).value;
    case WindowFunc::kDelta: return newest.value - oldest.value;
    case WindowFunc::kRate: {
      int64_t span_ms = newest.ts - oldest.ts;
      if (span_ms <= 0) return kUnknown;  // one point, or all at one instant: x/0
      return (newest.value - oldest.value) / (static_cast<double>(span_ms) / 1000.0);
    }
  }
  return kUnknown;
}

int64_t MetricWindows::NextExpiry(Specs specs, int index, int64_t now, int64_t settled) {
  if (!block_) return std::numeric_limits<int64_t>::max();
  const auto i = static_cast<std::size_t>(index);
  const View v = Map(specs.size());
  Window& w = v.windows[i];
  Evict(v, specs[i], w, std::min(now, settled));
  const uint32_t first = now > settled ? FirstAt(v, specs[i], w, now) : w.first;
  if (first == end_) return std::numeric_limits<int64_t>::max();
  return v.At(first).ts + specs[i].length_ms;
}

}  // namespace precall::devices
