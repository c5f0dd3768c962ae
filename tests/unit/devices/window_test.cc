// MetricSeries: window boundaries, each aggregate, expiry, the point cap, and
// a randomized comparison against a brute-force computation.
#include "devices/window.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace precall::devices {
namespace {

using F = WindowFunc;

TEST(MetricSeriesTest, WindowIsOpenAtItsOldEndAndClosedAtNow) {
  MetricSeries s({WindowSpec{2000}});
  s.Push(0, 10);
  s.Push(1000, 20);
  s.Push(2000, 30);
  // (0, 2000]: the point at 0 is exactly one window old, so it is out.
  EXPECT_EQ(s.Query(0, F::kCount, 2000), 2);
  EXPECT_EQ(s.Query(0, F::kAvg, 2000), 25);
  EXPECT_EQ(s.Query(0, F::kSum, 2000), 50);
  // One millisecond later the point at 1000 is still in, at 3000 it is out.
  EXPECT_EQ(s.Query(0, F::kCount, 2999), 2);
  EXPECT_EQ(s.Query(0, F::kCount, 3000), 1);
}

TEST(MetricSeriesTest, EmptyWindowIsUnknownButCountIsZero) {
  MetricSeries s({WindowSpec{1000, true, true}});
  s.Push(0, 5);
  for (F f : {F::kAvg, F::kMin, F::kMax, F::kSum, F::kStddev, F::kDelta, F::kRate}) {
    EXPECT_TRUE(std::isnan(s.Query(0, f, 5000))) << static_cast<int>(f);
  }
  EXPECT_EQ(s.Query(0, F::kCount, 5000), 0);
}

TEST(MetricSeriesTest, MinMaxFollowEviction) {
  MetricSeries s({WindowSpec{3000, true, true}});
  s.Push(0, 9);
  s.Push(1000, 1);
  s.Push(2000, 5);
  EXPECT_EQ(s.Query(0, F::kMax, 2000), 9);
  EXPECT_EQ(s.Query(0, F::kMin, 2000), 1);
  EXPECT_EQ(s.Query(0, F::kMax, 3000), 5);  // 9 left
  EXPECT_EQ(s.Query(0, F::kMin, 3000), 1);
  EXPECT_EQ(s.Query(0, F::kMin, 4000), 5);  // 1 left
}

TEST(MetricSeriesTest, PopulationStddev) {
  MetricSeries s({WindowSpec{100000}});
  int64_t t = 0;
  for (double v : {2, 4, 4, 4, 5, 5, 7, 9}) s.Push(t += 10, v);
  EXPECT_DOUBLE_EQ(s.Query(0, F::kStddev, t), 2.0);
  EXPECT_DOUBLE_EQ(s.Query(0, F::kAvg, t), 5.0);
}

// A far-off value costs a window no precision once it has left that window,
// even while a longer window of the same metric still holds it.
TEST(MetricSeriesTest, AFarOffValueThatLeftCostsNoPrecision) {
  MetricSeries s({WindowSpec{10000}, WindowSpec{3600000}});
  s.Push(0, 1e9);  // a sensor's "not available", say
  s.Push(20000, 20.1);
  EXPECT_EQ(s.Query(0, F::kStddev, 20000), 0);  // one sample
  EXPECT_DOUBLE_EQ(s.Query(0, F::kAvg, 20000), 20.1);
  s.Push(21000, 20.3);
  s.Push(22000, 20.2);
  EXPECT_NEAR(s.Query(0, F::kStddev, 22000), std::sqrt(2.0 / 300.0), 1e-12);
  EXPECT_NEAR(s.Query(0, F::kAvg, 22000), 20.2, 1e-12);
  EXPECT_NEAR(s.Query(0, F::kSum, 22000), 60.6, 1e-12);
  // The long window holds all four, the far-off one included.
  EXPECT_EQ(s.Query(1, F::kCount, 22000), 4);
  EXPECT_NEAR(s.Query(1, F::kAvg, 22000), (1e9 + 60.6) / 4, 1e-3);
}

// Sums carry no rounding of the points that left: 1 + 1e16 rounds away the
// 1, which must come back once the 1e16 is gone.
TEST(MetricSeriesTest, SumsKeepNoRoundingOfPointsThatLeft) {
  MetricSeries s({WindowSpec{10000}});
  s.Push(0, 0);
  s.Push(1000, 1e16);
  s.Push(5000, 1);
  s.Push(12000, 1);
  EXPECT_EQ(s.Query(0, F::kCount, 12000), 2);
  EXPECT_EQ(s.Query(0, F::kSum, 12000), 2);
  EXPECT_EQ(s.Query(0, F::kStddev, 12000), 0);
}

// A window of equal values after different ones: stddev exactly 0 and avg
// exactly the value (a stuck sensor's rule, `stddev(m, w) == 0`, must fire),
// though the points that left were subtracted from running sums.
TEST(MetricSeriesTest, EqualValuesAfterDifferentOnesAreExact) {
  MetricSeries s({WindowSpec{30000, true, true}});
  for (auto [ts, v] : {std::pair<int64_t, double>{1000, 127.8},
                       {13000, 127.1},
                       {17000, 126.9},
                       {27000, -40},
                       {37000, -40},
                       {47000, -40}}) {
    s.Push(ts, v);
  }
  ASSERT_EQ(s.Query(0, F::kCount, 47000), 3);
  EXPECT_EQ(s.Query(0, F::kStddev, 47000), 0);
  EXPECT_EQ(s.Query(0, F::kAvg, 47000), -40);
  EXPECT_EQ(s.Query(0, F::kSum, 47000), -120);
  EXPECT_EQ(s.Query(0, F::kMin, 47000), s.Query(0, F::kMax, 47000));
}

// Once a spike has left, what is left is summed as if it had never been
// there, also when the spike was not the window's shift.
TEST(MetricSeriesTest, ASpikeThatLeftLeavesNoResidue) {
  MetricSeries s({WindowSpec{5000}});
  for (auto [ts, v] : {std::pair<int64_t, double>{1000, 1e6},
                       {2000, 1e12},
                       {3000, 1e6},
                       {5750, 0.1},
                       {6750, 3},
                       {8000, 3}}) {
    s.Push(ts, v);
  }
  ASSERT_EQ(s.Query(0, F::kCount, 8000), 3);
  const double mean = (0.1 + 3 + 3) / 3;
  const double stddev = std::sqrt(((0.1 - mean) * (0.1 - mean) + 2 * (3 - mean) * (3 - mean)) / 3);
  EXPECT_NEAR(s.Query(0, F::kStddev, 8000), stddev, 1e-12);
  EXPECT_NEAR(s.Query(0, F::kAvg, 8000), mean, 1e-12);
  // The same through a query ahead of the last sample (a clock evaluation),
  // which takes points out of copies of the sums.
  s.Push(8500, 3);
  ASSERT_EQ(s.Query(0, F::kCount, 10800, 8500), 3);  // 0.1 at 5750 has left
  EXPECT_EQ(s.Query(0, F::kStddev, 10800, 8500), 0);
  EXPECT_EQ(s.Query(0, F::kAvg, 10800, 8500), 3);
}

// The shift moves with the window over a long stream: many turnovers, the
// aggregates stay exact for values that are exact in binary.
TEST(MetricSeriesTest, ALongStreamStaysExact) {
  MetricSeries s({WindowSpec{4000, true, true}});
  int64_t t = 0;
  for (int i = 0; i < 20000; ++i) s.Push(t += 1000, i % 2 == 0 ? 1e6 + i : 0.5);
  // The window (16000000, 20000000] holds the last four: 0.5, 1e6 + 19996, 0.5, 1e6 + 19998.
  EXPECT_EQ(s.Query(0, F::kCount, t), 4);
  EXPECT_EQ(s.Query(0, F::kSum, t), 2e6 + 39994 + 1);
  EXPECT_EQ(s.Query(0, F::kMin, t), 0.5);
  EXPECT_EQ(s.Query(0, F::kMax, t), 1e6 + 19998);
}

TEST(MetricSeriesTest, DeltaAndRate) {
  MetricSeries s({WindowSpec{10000}});
  s.Push(1000, 100);
  EXPECT_EQ(s.Query(0, F::kDelta, 1000), 0);           // one sample: last - first = 0
  EXPECT_TRUE(std::isnan(s.Query(0, F::kRate, 1000)));  // 0 / 0 s
  s.Push(3000, 90);
  s.Push(5000, 80);
  EXPECT_EQ(s.Query(0, F::kDelta, 5000), -20);
  EXPECT_DOUBLE_EQ(s.Query(0, F::kRate, 5000), -5.0);  // -20 over 4 s
}

TEST(MetricSeriesTest, SeveralWindowsShareOnePointRing) {
  MetricSeries s({WindowSpec{1000}, WindowSpec{5000, false, true}});
  for (int i = 0; i < 10; ++i) s.Push(i * 1000, i);
  EXPECT_EQ(s.Query(0, F::kCount, 9000), 1);
  EXPECT_EQ(s.Query(1, F::kCount, 9000), 5);
  EXPECT_EQ(s.Query(1, F::kMax, 9000), 9);
  // Only the longest window's points are retained.
  EXPECT_LE(s.retained_points(), 6u);
}

TEST(MetricSeriesTest, NextExpiryIsOldestPointPlusLength) {
  MetricSeries s({WindowSpec{2000}});
  s.Push(500, 1);
  s.Push(1500, 1);
  EXPECT_EQ(s.NextExpiry(0, 1500), 2500);
  EXPECT_EQ(s.NextExpiry(0, 2500), 3500);
  EXPECT_EQ(s.NextExpiry(0, 3500), INT64_MAX);
}

TEST(MetricSeriesTest, PointCapBoundsMemory) {
  MetricSeries s({WindowSpec{INT64_MAX / 4, true, true}});
  const uint64_t n = MetricSeries::kMaxPoints + 100;
  for (uint64_t i = 0; i < n; ++i) s.Push(static_cast<int64_t>(i), static_cast<double>(i));
  EXPECT_EQ(s.retained_points(), MetricSeries::kMaxPoints);
  EXPECT_EQ(s.Query(0, F::kCount, static_cast<int64_t>(n)), MetricSeries::kMaxPoints);
  EXPECT_EQ(s.Query(0, F::kMin, static_cast<int64_t>(n)), 100);  // oldest 100 dropped
}

TEST(MetricSeriesTest, ReshapeRebuildsFromRetainedPoints) {
  MetricSeries s({WindowSpec{10000}});
  for (int i = 1; i <= 5; ++i) s.Push(i * 1000, i);
  s.Reshape({WindowSpec{2500, true, false}});
  EXPECT_EQ(s.Query(0, F::kCount, 5000), 3);  // 3000, 4000, 5000
  EXPECT_EQ(s.Query(0, F::kMin, 5000), 3);
}

// Brute force over the same points: the reference the incremental form must match.
double Reference(const std::vector<std::pair<int64_t, double>>& pts, int64_t len, F f,
                 int64_t now) {
  std::vector<std::pair<int64_t, double>> in;
  for (const auto& p : pts) {
    if (p.first > now - len && p.first <= now) in.push_back(p);
  }
  if (in.empty()) return f == F::kCount ? 0 : NAN;
  double sum = 0, mn = in[0].second, mx = in[0].second;
  for (const auto& p : in) {
    sum += p.second;
    mn = std::min(mn, p.second);
    mx = std::max(mx, p.second);
  }
  double n = static_cast<double>(in.size());
  switch (f) {
    case F::kCount: return n;
    case F::kSum: return sum;
    case F::kAvg: return sum / n;
    case F::kMin: return mn;
    case F::kMax: return mx;
    case F::kStddev: {
      double mean = sum / n, acc = 0;
      for (const auto& p : in) acc += (p.second - mean) * (p.second - mean);
      return std::sqrt(acc / n);
    }
    case F::kDelta: return in.back().second - in.front().second;
    case F::kRate: {
      double span = static_cast<double>(in.back().first - in.front().first) / 1000.0;
      return span == 0 ? NAN : (in.back().second - in.front().second) / span;
    }
  }
  return NAN;
}

using Points = std::vector<std::pair<int64_t, double>>;

// The randomized tests' windows: each with min and max.
const std::vector<int64_t> kRandomLengths = {700, 3000, 20000};

MetricSeries RandomSeries() {
  std::vector<WindowSpec> specs;
  for (int64_t len : kRandomLengths) specs.push_back(WindowSpec{len, true, true});
  return MetricSeries(specs);
}

// A random point after `t` (repeats of the same ts included).
std::pair<int64_t, double> NextPoint(std::mt19937_64& rng, int64_t t) {
  return {t + static_cast<int64_t>(rng() % 900),
          static_cast<double>(static_cast<int64_t>(rng() % 2001) - 1000) / 8.0};
}

// Every aggregate and the expiry of every window of `s` at `now` (queried
// with `settled`, see MetricWindows::Query) against brute force over `pts`.
void ExpectMatchesReference(MetricSeries& s, const Points& pts, int64_t now, int64_t settled) {
  for (int w = 0; w < 3; ++w) {
    const int64_t length = kRandomLengths[static_cast<std::size_t>(w)];
    for (F f : {F::kAvg, F::kMin, F::kMax, F::kSum, F::kCount, F::kStddev, F::kDelta, F::kRate}) {
      const double want = Reference(pts, length, f, now);
      const double got = s.Query(w, f, now, settled);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << "w " << w << " f " << static_cast<int>(f);
      } else {
        ASSERT_NEAR(got, want, 1e-6 * std::max(1.0, std::fabs(want)))
            << "w " << w << " f " << static_cast<int>(f);
      }
    }
    int64_t want_expiry = INT64_MAX;
    for (const auto& p : pts) {
      if (p.first > now - length) {
        want_expiry = p.first + length;
        break;
      }
    }
    ASSERT_EQ(s.NextExpiry(w, now, settled), want_expiry) << "w " << w;
  }
}

TEST(MetricSeriesTest, MatchesBruteForceOnRandomStreams) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20; ++round) {
    MetricSeries s = RandomSeries();
    Points pts;
    int64_t t = 1000000;
    for (int i = 0; i < 500; ++i) {
      const auto [ts, v] = NextPoint(rng, t);
      s.Push(ts, v);
      pts.emplace_back(ts, v);
      const int64_t now = ts + static_cast<int64_t>(rng() % 500);
      SCOPED_TRACE(::testing::Message() << "round " << round << " i " << i << " now " << now);
      ExpectMatchesReference(s, pts, now, INT64_MAX);
      if (::testing::Test::HasFatalFailure()) return;
      // Queries advanced `now`; pushes must stay >= it for the series' contract.
      t = std::max(ts, now);
    }
  }
}

// A clock evaluation (silent() rules) queries at the gateway clock, which can
// be ahead of the device's last sample (`settled`); the device's next sample
// may still be older than that clock and must see every point of its own
// window (CONTRACT §2). So queries ahead of `settled` drop nothing.
TEST(MetricSeriesTest, QueriesAheadOfTheLastSampleDropNothing) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    MetricSeries s = RandomSeries();
    Points pts;
    int64_t t = 1000000;
    for (int i = 0; i < 300; ++i) {
      const auto [ts, v] = NextPoint(rng, t);
      t = ts;
      s.Push(ts, v);
      pts.emplace_back(ts, v);
      // The clock runs ahead by up to 30 s (past every window), then the
      // device's own sample time.
      for (int64_t now : {ts + static_cast<int64_t>(rng() % 30000), ts}) {
        SCOPED_TRACE(::testing::Message() << "round " << round << " i " << i << " now " << now);
        ExpectMatchesReference(s, pts, now, ts);
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace precall::devices
