// Deterministic pseudo-random numbers for the fleet simulator: xoshiro256**
// seeded through splitmix64, with our own Gaussian (Box-Muller), because the
// standard library's distributions may differ between library versions and
// `--seed` promises the same fleet everywhere. Each machine owns its streams
// (seeded from the run seed and its index), so what a machine reports never
// depends on the order machines are stepped in. Not thread-safe; one owner.
#ifndef PRECALL_DEVICES_SIMULATOR_RNG_H_
#define PRECALL_DEVICES_SIMULATOR_RNG_H_

#include <cmath>
#include <cstdint>
#include <numbers>

namespace precall::sim {

// splitmix64: spreads related seeds (1, 2, 3...) over the whole state space.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A seed for stream `stream` of object `index` in a run seeded `seed`.
inline uint64_t StreamSeed(uint64_t seed, uint64_t index, uint64_t stream) {
  uint64_t s = seed;
  uint64_t a = SplitMix64(s) ^ (index * 0xd1342543de82ef95ULL);
  uint64_t b = SplitMix64(a) ^ (stream * 0x9e3779b97f4a7c15ULL);
  return SplitMix64(b);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64(seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // Uniform integer in [lo, hi].
  int64_t Int(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(double p) { return Uniform() < p; }
  double Gaussian(double mean, double sd) {
    // Box-Muller; 1 - Uniform() is in (0, 1], so the log is finite.
    const double r = std::sqrt(-2.0 * std::log(1.0 - Uniform()));
    return mean + sd * r * std::cos(2.0 * std::numbers::pi * Uniform());
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace precall::sim

#endif  // PRECALL_DEVICES_SIMULATOR_RNG_H_
