// Time compression: how the simulator's event time (the `ts` it puts in
// samples) maps to wall time. Event time starts at the run's start and runs
// `speed` times faster than wall time, but never more than `max_ahead_ms`
// ahead of it: the gateway rejects samples more than 24 h ahead of its clock
// (CONTRACT §1, clock_skew), so the lead is capped (23 h by default) and from
// then on event time runs at wall speed.
//
// What runs faster: everything the rules measure on event time — windows,
// `for`, `clear_for`. What does not: silent(), `reopen_within` and case
// timestamps (`opened_at`, ...), which use the gateway clock, wall time when
// serving. Immutable; any thread.
#ifndef PRECALL_DEVICES_SIMULATOR_SIM_CLOCK_H_
#define PRECALL_DEVICES_SIMULATOR_SIM_CLOCK_H_

#include <cstdint>

namespace precall::sim {

inline constexpr int64_t kDefaultMaxAheadMs = 23LL * 3600 * 1000;

class SimClock {
 public:
  // At wall time `start_wall_ms` event time is `start_ts_ms`; speed > 0.
  SimClock(int64_t start_wall_ms, int64_t start_ts_ms, double speed,
           int64_t max_ahead_ms = kDefaultMaxAheadMs);

  // Event time at wall time `wall_ms` (>= start).
  int64_t EventAt(int64_t wall_ms) const;
  // The wall time at which event time reaches `ts` (>= start).
  int64_t WallAt(int64_t ts) const;

  int64_t start_wall_ms() const { return start_wall_ms_; }
  int64_t start_ts_ms() const { return start_ts_ms_; }
  double speed() const { return speed_; }
  int64_t max_ahead_ms() const { return max_ahead_ms_; }

 private:
  int64_t start_wall_ms_;
  int64_t start_ts_ms_;
  double speed_;
  int64_t max_ahead_ms_;
  int64_t
      cap_ms_;  // the largest lead over wall time (a start already further ahead keeps its lead)
};

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_SIM_CLOCK_H_
