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
  // Tells a data clock that a sample with `ts` was accepted; returns true when
  // that advanced the clock. Wall clocks advance by themselves and ignore it.
  virtual bool Observe(int64_t ts) = 0;
};

// Wall time (CLOCK_REALTIME), for `precall serve`.
class WallClock final : public Clock {
 public:
  int64_t NowMs() const override;
  bool IsDataClock() const override { return false; }
  bool Observe(int64_t) override { return false; }
};

// The largest accepted ts so far, for `precall replay`. Starts at 0.
class DataClock final : public Clock {
 public:
  int64_t NowMs() const override { return now_ms_; }
  bool IsDataClock() const override { return true; }
  bool Observe(int64_t ts) override {
    if (ts <= now_ms_) return false;
    now_ms_ = ts;
    return true;
  }

 private:
  int64_t now_ms_ = 0;
};

}  // namespace precall::core

#endif  // PRECALL_GATEWAY_CORE_CLOCK_H_
