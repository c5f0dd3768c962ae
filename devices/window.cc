#include "devices/window.h"

#include <algorithm>
#include <cmath>

namespace precall::devices {

void MetricSeries::PositionDeque::push_back(uint64_t pos) {
  if (tail_ - head_ == slots_.size()) {
    std::size_t capacity = slots_.empty() ? 8 : slots_.size() * 2;
    std::vector<uint64_t> grown(capacity);
    for (uint64_t i = head_; i != tail_; ++i) grown[i - head_] = slots_[i & mask_];
    tail_ -= head_;
    head_ = 0;
    slots_.swap(grown);
    mask_ = capacity - 1;
  }
  slots_[tail_++ & mask_] = pos;
}

MetricSeries::MetricSeries(const std::vector<WindowSpec>& windows) { Reshape(windows); }

void MetricSeries::Reshape(const std::vector<WindowSpec>& windows) {
  windows_.clear();
  windows_.reserve(windows.size());
  for (const WindowSpec& spec : windows) {
    Window w;
    w.spec = spec;
    w.first = begin_;
    for (uint64_t pos = begin_; pos != end_; ++pos) AddToWindow(w, pos);
    windows_.push_back(std::move(w));
  }
  if (end_ != begin_) {
    int64_t newest = At(end_ - 1).ts;
    for (Window& w : windows_) Evict(w, newest);
  }
  ReleaseUnused();
}

void MetricSeries::AddToWindow(Window& w, uint64_t pos) {
  double v = At(pos).value - shift_;
  ++w.count;
  w.sum += v;
  w.sum_sq += v * v;
  double value = At(pos).value;
  if (w.spec.want_min) {
    while (!w.min.empty() && At(w.min.back()).value >= value) w.min.pop_back();
    w.min.push_back(pos);
  }
  if (w.spec.want_max) {
    while (!w.max.empty() && At(w.max.back()).value <= value) w.max.pop_back();
    w.max.push_back(pos);
  }
}

void MetricSeries::Evict(Window& w, int64_t now) {
  // A point at ts leaves the window (now - length, now] once ts <= now - length.
  const int64_t horizon = now - w.spec.length_ms;
  while (w.count > 0 && At(w.first).ts <= horizon) {
    double v = At(w.first).value - shift_;
    w.sum -= v;
    w.sum_sq -= v * v;
    if (!w.min.empty() && w.min.front() == w.first) w.min.pop_front();
    if (!w.max.empty() && w.max.front() == w.first) w.max.pop_front();
    ++w.first;
    --w.count;
  }
  if (w.count == 0) {
    // Restart the running sums exactly: no drift survives an empty window.
    w.sum = 0;
    w.sum_sq = 0;
    w.first = end_;
  }
}

void MetricSeries::ReleaseUnused() {
  uint64_t keep = end_;
  for (const Window& w : windows_) keep = std::min(keep, w.first);
  begin_ = keep;
}

void MetricSeries::DropOldest() {
  for (Window& w : windows_) {
    if (w.count > 0 && w.first == begin_) {
      double v = At(begin_).value - shift_;
      w.sum -= v;
      w.sum_sq -= v * v;
      if (!w.min.empty() && w.min.front() == begin_) w.min.pop_front();
      if (!w.max.empty() && w.max.front() == begin_) w.max.pop_front();
      ++w.first;
      --w.count;
    }
  }
  ++begin_;
}

void MetricSeries::Push(int64_t ts, double value) {
  if (windows_.empty()) return;
  if (!has_shift_) {
    shift_ = value;
    has_shift_ = true;
  }
  for (Window& w : windows_) Evict(w, ts);
  ReleaseUnused();
  if (end_ - begin_ == kMaxPoints) DropOldest();
  if (end_ - begin_ == points_.size()) {
    std::size_t capacity = points_.empty() ? 8 : points_.size() * 2;
    std::vector<Point> grown(capacity);
    for (uint64_t pos = begin_; pos != end_; ++pos) grown[pos & (capacity - 1)] = At(pos);
    points_.swap(grown);
    mask_ = capacity - 1;
  }
  points_[end_ & mask_] = Point{ts, value};
  uint64_t pos = end_++;
  for (Window& w : windows_) {
    if (w.count == 0) w.first = pos;
    AddToWindow(w, pos);
  }
}

double MetricSeries::Query(int index, WindowFunc func, int64_t now) {
  Window& w = windows_[static_cast<std::size_t>(index)];
  Evict(w, now);
  if (w.count == 0) return func == WindowFunc::kCount ? 0.0 : kUnknown;
  const double n = static_cast<double>(w.count);
  switch (func) {
    case WindowFunc::kCount:
      return n;
    case WindowFunc::kSum:
      return w.sum + shift_ * n;
    case WindowFunc::kAvg:
      return shift_ + w.sum / n;
    case WindowFunc::kStddev: {
      double mean = w.sum / n;
      double variance = w.sum_sq / n - mean * mean;
      return std::sqrt(std::max(0.0, variance));
    }
    case WindowFunc::kMin:
      return At(w.min.front()).value;
    case WindowFunc::kMax:
      return At(w.max.front()).value;
    case WindowFunc::kDelta:
      return At(end_ - 1).value - At(w.first).value;
    case WindowFunc::kRate: {
      int64_t span_ms = At(end_ - 1).ts - At(w.first).ts;
      if (span_ms <= 0) return kUnknown;  // one point, or all at one instant: x/0
      return (At(end_ - 1).value - At(w.first).value) / (static_cast<double>(span_ms) / 1000.0);
    }
  }
  return kUnknown;
}

int64_t MetricSeries::NextExpiry(int index, int64_t now) {
  Window& w = windows_[static_cast<std::size_t>(index)];
  Evict(w, now);
  if (w.count == 0) return std::numeric_limits<int64_t>::max();
  return At(w.first).ts + w.spec.length_ms;
}

}  // namespace precall::devices
