// MetricSeries: one device's recent samples of one metric, with incremental
// sliding-window aggregates (CONTRACT §2 window functions).
//
// A window of length w at time `now` holds the samples with ts in
// (now - w, now]. Several windows of different lengths share one ring of
// points; each window keeps running sums (count, sum, sum of squares, shifted
// for numerical stability) and, when asked for, monotonic deques for min and
// max. Samples arrive in non-decreasing ts order (the device state rejects
// older ones), so a window only ever drops points from its old end.
//
// Memory is bounded by the longest window: points older than every window are
// released on push; and by kMaxPoints per series (beyond it the oldest point
// is dropped from every window, so a window then covers fewer samples).
//
// Thread: owned by one worker (through its DeviceState). Steady state
// allocates nothing: the ring and deques grow by doubling up to their peak.
#ifndef PRECALL_DEVICES_WINDOW_H_
#define PRECALL_DEVICES_WINDOW_H_

#include <cstdint>
#include <limits>
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

class MetricSeries {
 public:
  static constexpr uint64_t kMaxPoints = 1 << 16;

  // `windows` lists distinct lengths; a query names a window by its index.
  explicit MetricSeries(const std::vector<WindowSpec>& windows);

  // Appends a point. `ts` must be >= the last pushed ts.
  void Push(int64_t ts, double value);

  // The aggregate over window `index` at time `now` (>= the last pushed ts for
  // exact results); kUnknown (NaN) for an empty window, except kCount (0).
  // Not const: it drops points that left the window.
  double Query(int index, WindowFunc func, int64_t now);

  // The earliest time after `now` at which window `index`'s contents change
  // by expiry (oldest point's ts + length), or INT64_MAX if it is empty.
  int64_t NextExpiry(int index, int64_t now);

  // Rebuilds the aggregates for a new set of windows from the retained points
  // (rule reload). Points older than the new longest window are dropped.
  void Reshape(const std::vector<WindowSpec>& windows);

  std::size_t retained_points() const { return static_cast<std::size_t>(end_ - begin_); }

  // Checkpoints: the retained points, oldest first, and the shift the sums
  // are taken against. Restoring = SetShift, then Push the points in order.
  template <typename Fn>
  void ForEachPoint(Fn&& fn) const {
    for (uint64_t pos = begin_; pos != end_; ++pos) fn(At(pos).ts, At(pos).value);
  }
  bool has_shift() const { return has_shift_; }
  double shift() const { return shift_; }
  void SetShift(double shift) {
    shift_ = shift;
    has_shift_ = true;
  }

 private:
  struct Point {
    int64_t ts;
    double value;
  };
  // A ring of absolute positions (indices into the ring's point sequence).
  class PositionDeque {
   public:
    bool empty() const { return head_ == tail_; }
    uint64_t front() const { return slots_[head_ & mask_]; }
    uint64_t back() const { return slots_[(tail_ - 1) & mask_]; }
    void pop_front() { ++head_; }
    void pop_back() { --tail_; }
    void push_back(uint64_t pos);
    void clear() { head_ = tail_ = 0; }

   private:
    std::vector<uint64_t> slots_;
    uint64_t mask_ = 0;
    uint64_t head_ = 0;
    uint64_t tail_ = 0;
  };
  struct Window {
    WindowSpec spec;
    uint64_t first = 0;  // absolute position of the oldest point in the window
    uint64_t count = 0;
    double sum = 0;      // of (value - shift_)
    double sum_sq = 0;   // of (value - shift_)^2
    PositionDeque min;   // positions with increasing values
    PositionDeque max;   // positions with decreasing values
  };

  const Point& At(uint64_t pos) const { return points_[pos & mask_]; }
  void AddToWindow(Window& w, uint64_t pos);
  void Evict(Window& w, int64_t now);
  void DropOldest();
  void ReleaseUnused();

  std::vector<Point> points_;  // ring, capacity a power of two
  uint64_t mask_ = 0;
  uint64_t begin_ = 0;  // absolute position of the oldest retained point
  uint64_t end_ = 0;    // one past the newest
  double shift_ = 0;    // first value ever pushed: keeps the sums small
  bool has_shift_ = false;
  std::vector<Window> windows_;
};

}  // namespace precall::devices

#endif  // PRECALL_DEVICES_WINDOW_H_
