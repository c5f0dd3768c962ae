#include "devices/simulator/sim_clock.h"

#include <algorithm>
#include <cmath>

namespace precall::sim {

SimClock::SimClock(int64_t start_wall_ms, int64_t start_ts_ms, double speed, int64_t max_ahead_ms)
    : start_wall_ms_(start_wall_ms),
      start_ts_ms_(start_ts_ms),
      speed_(speed),
      max_ahead_ms_(max_ahead_ms),
      cap_ms_(std::max(max_ahead_ms, start_ts_ms - start_wall_ms)) {}

// Event time is min(linear, wall + cap) when faster than wall time: both are
// increasing, so the wall time reaching `ts` is the later of the two inverses.
int64_t SimClock::EventAt(int64_t wall_ms) const {
  const double elapsed = static_cast<double>(wall_ms - start_wall_ms_);
  const int64_t linear = start_ts_ms_ + static_cast<int64_t>(std::floor(elapsed * speed_));
  return speed_ > 1.0 ? std::min(linear, wall_ms + cap_ms_) : linear;
}

int64_t SimClock::WallAt(int64_t ts) const {
  const double elapsed = static_cast<double>(ts - start_ts_ms_);
  const int64_t linear = start_wall_ms_ + static_cast<int64_t>(std::ceil(elapsed / speed_));
  return speed_ > 1.0 ? std::max(linear, ts - cap_ms_) : linear;
}

}  // namespace precall::sim
