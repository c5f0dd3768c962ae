// Clock port: the gateway clock of CONTRACT §2. Serving uses wall time;
// replay (and recovery) use a data clock, the largest accepted sample `ts`
// so far. Owned by the pipeline; each worker reads it on its own thread.
#ifndef PRECALL_GATEWAY_CORE_CLOCK_H_
#define PRECALL_GATEWAY_CORE_CLOCK_H_

#include <cstdint>

namespace precall::core {

class Clock {
 public:
  virtual ~Clock() = default;
  // The gateway clock in ms since the Unix epoch.
  virtual int64_t NowMs() const = 0;
  // True for the replay clock: "now" is the largest accepted ts, and a
  // device's last sample is its ts (not its receive time).
  virtual bool IsDataClock() const = 0;
  // False only for a data clock that has not seen a sample yet (it has no
  // time to measure clock skew against).
  virtual bool HasTime() const = 0;
  // Tells a data clock that a sample with `ts` was accepted; returns true when
  // that advanced the clock. Wall clocks advance by themselves and ignore it.
  virtual bool Observe(int64_t ts) = 0;
};

// Wall time (CLOCK_REALTIME), for `precall serve`.
class WallClock final : public Clock {
 public:
  int64_t NowMs() const override;
  bool IsDataClock() const override { return false; }
  bool HasTime() const override { return true; }
  bool Observe(int64_t) override { return false; }
};

// The largest accepted ts so far, for `precall replay`. Starts at 0.
class DataClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_ms_; }
  bool IsDataClock() const override { return true; }
  bool HasTime() const override { return has_time_; }
  bool Observe(int64_t ts) override {
    bool advanced = !has_time_ || ts > now_ms_;
    has_time_ = true;
    if (ts > now_ms_) now_ms_ = ts;
    return advanced;
  }

 private:
  int64_t now_ms_ = 0;
  bool has_time_ = false;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_CLOCK_H_
