// Sliding windows over one metric of one device (CONTRACT §2 window functions).
//
// A window of length w at time `now` holds the samples with ts in
// (now - w, now]. Several windows of different lengths share one ring of
// points; each window keeps running sums (sum and sum of squares, shifted
// for numerical stability) and, when asked for, monotonic deques for min and
// max.
//
// Each window's shift is the value of one of its points: the first one
// pushed into it while empty, and, once that point has left the window, its
// newest, with the sums recomputed from its points (O(points) once per
// turnover of the window: O(1) per push amortized). The sums are recomputed
// too when points that left outweighed what is left by far (window.cc,
// Cancelled): then their subtraction's rounding would show, e.g. as a
// non-zero stddev of a window of equal values. So a far-off value (a
// sensor's 65535 "not available", a spike) costs a window's sums neither
// their precision nor leaves its rounding behind once it has left that
// window, whatever the metric's other windows still hold. Samples arrive in
// non-decreasing ts order (the device state rejects older ones), so a window
// is always the newest points from some position on, and only ever drops
// points from its old end.
//
// MetricWindows is the per-device state; the window specs are not in it but
// passed to every call (the MetricPlan's, shared by every device of a rule
// set). Memory: 24 bytes, plus, from the first push, one heap block
//   [C points][one Window per spec][per min/max deque: head, tail, C positions]
// whose capacity C (a power of two) starts at kInitialPoints and doubles when
// the ring is full. A deque never holds more positions than the ring holds
// points, so it shares the ring's capacity. Points older than every window
// are released on push; beyond kMaxPoints the oldest point is dropped from
// every window (a window then covers fewer samples). Positions are wrapping
// 32-bit counters: only their differences and equality are used.
//
// MetricSeries is the same with its own copy of the specs, for callers
// without a plan (the unit tests exercise the windows through it).
//
// Thread: owned by one worker (through its DeviceState). Steady state
// allocates nothing: the block grows by doubling up to its peak, never shrinks.
#ifndef PRECALL_DEVICES_WINDOW_H_
#define PRECALL_DEVICES_WINDOW_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace precall::devices {

enum class WindowFunc : unsigned char { kAvg, kMin, kMax, kSum, kCount, kStddev, kDelta, kRate };

// What one window of a metric must support.
struct WindowSpec {
  int64_t length_ms = 0;
  bool want_min = false;
  bool want_max = false;
};

// The "unknown" of three-valued rule logic (CONTRACT §2).
inline constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

class MetricWindows {
 public:
  using Specs = std::span<const WindowSpec>;
  static constexpr uint32_t kMaxPoints = 1 << 16;
  static constexpr uint32_t kInitialPoints = 1;

  // Every call but Reshape must pass the same `specs` (distinct lengths; a
  // query names a window by its index).

  // Appends a point. `ts` must be >= the last pushed ts.
  void Push(Specs specs, int64_t ts, double value);

  // The aggregate over window `index` at time `now` (>= the last pushed ts for
  // exact results); kUnknown (NaN) for an empty window, except kCount (0).
  // Not const: it drops points that left the window, but only up to
  // `settled`, the time no later push or query can be older than (the
  // device's last sample). A clock evaluation at a `now` past it looks past
  // the points that left without dropping them: a later sample of the device
  // may be older than that `now` and still see them (CONTRACT §2: windows
  // end at the sample's own time).
  double Query(Specs specs, int index, WindowFunc func, int64_t now,
               int64_t settled = std::numeric_limits<int64_t>::max());

  // The earliest time after `now` at which window `index`'s contents change
  // by expiry (oldest point's ts + length), or INT64_MAX if it is empty.
  // Drops points as Query does.
  int64_t NextExpiry(Specs specs, int index, int64_t now,
                     int64_t settled = std::numeric_limits<int64_t>::max());

  // Rebuilds the aggregates for another set of windows from the retained
  // points (rule reload); later calls pass `specs`. Points older than the new
  // longest window are dropped.
  void Reshape(Specs specs);

  // Ask the CPU to start loading what a Push, or a Query of window `index`,
  // will touch (the window, the oldest and newest points), so that the
  // cache misses of a sample's metrics and rules overlap rather than come
  // one after another. No effect on the state.
  void PrefetchForPush(std::size_t window_count) const {
    if (!block_) return;
    const View v = Map(window_count);
    __builtin_prefetch(v.windows, 1);
    __builtin_prefetch(&v.At(begin_), 0);
    __builtin_prefetch(&v.At(end_), 1);
  }
  void PrefetchForQuery(std::size_t window_count, int index) const {
    if (!block_) return;
    const View v = Map(window_count);
    __builtin_prefetch(&v.windows[index], 1);
    __builtin_prefetch(&v.At(begin_), 0);
    __builtin_prefetch(&v.At(end_ - 1), 0);
  }

  std::size_t retained_points() const { return end_ - begin_; }

  // Checkpoints: the retained points, oldest first. Restoring = Push them
  // in order (the sums then agree with the original's up to rounding).
  template <typename Fn>
  void ForEachPoint(Fn&& fn) const {
    for (uint32_t pos = begin_; pos != end_; ++pos) fn(At(pos).ts, At(pos).value);
  }

 private:
  struct Point {
    int64_t ts;
    double value;
  };
  struct Window {
    double sum;          // of (value - shift)
    double sum_sq;       // of (value - shift)^2
    double shift;        // the value of the point at shift_pos
    uint32_t first;      // position of the oldest point in the window; == end_ when empty
    uint32_t deque;      // index of its first deque (min if wanted, then max)
    uint32_t shift_pos;  // a point of the window (see the header comment)
  };
  // A ring of positions (increasing), inside the block: head, tail, slots.
  class Deque {
   public:
    Deque(uint32_t* d, uint32_t mask) : d_(d), mask_(mask) {}
    bool empty() const { return d_[0] == d_[1]; }
    uint32_t front() const { return d_[2 + (d_[0] & mask_)]; }
    uint32_t at(uint32_t k) const { return d_[2 + ((d_[0] + k) & mask_)]; }
    uint32_t back() const { return d_[2 + ((d_[1] - 1) & mask_)]; }
    void pop_front() { ++d_[0]; }
    void pop_back() { --d_[1]; }
    void push_back(uint32_t pos) { d_[2 + (d_[1]++ & mask_)] = pos; }

   private:
    uint32_t* d_;
    uint32_t mask_;
  };

  static std::size_t DequeWords(uint32_t capacity) { return 2 + capacity; }
  const Point& At(uint32_t pos) const {
    return reinterpret_cast<const Point*>(block_.get())[pos & (capacity_ - 1)];
  }
  // The block's parts, computed once per call: kept in members, they would
  // be reloaded after every store through a uint32_t*.
  struct View {
    Point* points;
    Window* windows;
    uint32_t* deques;
    uint32_t mask;
    uint32_t deque_words;
    const Point& At(uint32_t pos) const { return points[pos & mask]; }
    Deque DequeAt(uint32_t index) const { return Deque(deques + deque_words * index, mask); }
  };
  View Map(std::size_t window_count) const;
  // A block of `capacity` points for `specs`, its windows empty at end_.
  void Allocate(Specs specs, uint32_t capacity);
  void Grow(Specs specs);
  void AddToWindow(const View& v, const WindowSpec& spec, Window& w, uint32_t pos);
  // Drops the points of `w` with ts <= horizon (the window's oldest is one).
  void EvictUpTo(const View& v, const WindowSpec& spec, Window& w, int64_t horizon);
  void Evict(const View& v, const WindowSpec& spec, Window& w, int64_t now) {
    // A point at ts leaves the window (now - length, now] once ts <= now - length.
    const int64_t horizon = now - spec.length_ms;
    if (w.first != end_ && v.At(w.first).ts <= horizon) EvictUpTo(v, spec, w, horizon);
  }
  // The position of the oldest point of `w` with ts > now - length, without
  // dropping any (end_ if none).
  uint32_t FirstAt(const View& v, const WindowSpec& spec, const Window& w, int64_t now) const {
    const int64_t horizon = now - spec.length_ms;
    uint32_t first = w.first;
    while (first != end_ && v.At(first).ts <= horizon) ++first;
    return first;
  }
  // The first position of deque `d` at or after `first` (which is not end_:
  // the newest point is in every deque).
  uint32_t FrontFrom(Deque d, uint32_t first) const {
    uint32_t k = 0;
    while (d.at(k) - first >= end_ - first) ++k;  // positions wrap: compare distances
    return d.at(k);
  }
  void DropOldest(Specs specs, const View& v);
  void ReleaseUnused(const View& v, std::size_t window_count);
  // `w` (not empty) lost the point its shift came from: shift by its newest.
  void Rebase(const View& v, Window& w);
  // The sums of the points from `first` on, shifted by `shift`, from scratch.
  void SumsFrom(const View& v, double shift, uint32_t first, double& sum, double& sum_sq) const;

  std::unique_ptr<std::byte[]> block_;  // null until the first push
  uint32_t capacity_ = 0;               // points in the block: 0 or a power of two
  uint32_t begin_ = 0;                  // position of the oldest retained point
  uint32_t end_ = 0;                    // one past the newest
};

// MetricWindows with its own specs.
class MetricSeries {
 public:
  static constexpr uint64_t kMaxPoints = MetricWindows::kMaxPoints;

  explicit MetricSeries(const std::vector<WindowSpec>& windows) : specs_(windows) {}

  void Push(int64_t ts, double value) { windows_.Push(specs_, ts, value); }
  double Query(int index, WindowFunc func, int64_t now,
               int64_t settled = std::numeric_limits<int64_t>::max()) {
    return windows_.Query(specs_, index, func, now, settled);
  }
  int64_t NextExpiry(int index, int64_t now,
                     int64_t settled = std::numeric_limits<int64_t>::max()) {
    return windows_.NextExpiry(specs_, index, now, settled);
  }
  void Reshape(const std::vector<WindowSpec>& windows) {
    specs_ = windows;
    windows_.Reshape(specs_);
  }
  std::size_t retained_points() const { return windows_.retained_points(); }

 private:
  std::vector<WindowSpec> specs_;
  MetricWindows windows_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_WINDOW_H_
