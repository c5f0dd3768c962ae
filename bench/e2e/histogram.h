// Histogram: a fixed-size log-linear latency histogram (values in µs), exact
// below 128 and within 1/64 (1.6 %) above, so percentiles of millions of
// samples cost 30 KB and no sorting. Not thread-safe: one per thread, then
// Merge.
#ifndef PRECALL_BENCH_E2E_HISTOGRAM_H_
#define PRECALL_BENCH_E2E_HISTOGRAM_H_

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>

namespace precall::bench {

class Histogram {
 public:
  void Add(int64_t v) {
    if (v < 0) v = 0;  // clocks of two processes: a sample "before" its send is 0 late
    ++counts_[Index(static_cast<uint64_t>(v))];
    ++count_;
    sum_ += static_cast<double>(v);
    max_ = std::max(max_, v);
  }
  void Merge(const Histogram& o) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    count_ += o.count_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }
  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }

  // The smallest bucket bound below which a fraction q of the values lie
  // (the exact value below 128 µs; the bucket's upper bound above).
  int64_t Percentile(double q) const {
    if (count_ == 0) return 0;
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_ - 1)) + 1;
    uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(UpperBound(i), max_);
    }
    return max_;
  }

  // {"count":..,"mean":..,"p50":..,"p90":..,"p99":..,"p999":..,"max":..}
  std::string Json() const {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "{\"count\":%llu,\"mean\":%.1f,\"p50\":%lld,\"p90\":%lld,\"p99\":%lld,"
                  "\"p999\":%lld,\"max\":%lld}",
                  static_cast<unsigned long long>(count_), mean(),
                  static_cast<long long>(Percentile(0.5)), static_cast<long long>(Percentile(0.9)),
                  static_cast<long long>(Percentile(0.99)),
                  static_cast<long long>(Percentile(0.999)), static_cast<long long>(max_));
    return buf;
  }

 private:
  static constexpr int kSubBits = 6;  // 64 buckets per power of two
  static constexpr uint64_t kExact = 2u << kSubBits;

  static std::size_t Index(uint64_t v) {
    if (v < kExact) return static_cast<std::size_t>(v);
    const int e = 63 - std::countl_zero(v);  // >= kSubBits + 1
    const int shift = e - kSubBits;
    const uint64_t mantissa = v >> shift;  // in [64, 128)
    return static_cast<std::size_t>(kExact + static_cast<uint64_t>(e - kSubBits - 1) * 64 +
                                    (mantissa - 64));
  }
  static int64_t UpperBound(std::size_t i) {
    if (i < kExact) return static_cast<int64_t>(i);
    const uint64_t k = i - kExact;
    const int shift = static_cast<int>(k / 64) + 1;
    const uint64_t mantissa = 64 + k % 64;
    return static_cast<int64_t>(((mantissa + 1) << shift) - 1);
  }

  std::array<uint64_t, kExact + 57 * 64> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
  int64_t max_ = 0;
};

}  // namespace precall::bench

#endif  // PRECALL_BENCH_E2E_HISTOGRAM_H_
