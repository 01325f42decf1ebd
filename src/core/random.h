// A small, fast pseudo-random generator (xoshiro256**) for decisions that must not be
// predictable from outside but are not secrets (rate-limit leak, jitter of timers).
// Seeded by the caller (the daemon from getrandom(2), tests from a printed seed). No I/O.
#pragma once

#include <cstdint>

namespace tr7::core {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0x9E3779B97F4A7C15ULL) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next_u64();
  uint32_t next_u32() { return static_cast<uint32_t>(next_u64() >> 32); }
  double next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }  // [0,1)
  double next_gaussian();  // mean 0, standard deviation 1

 private:
  uint64_t m_s[4] = {};
};

}  // namespace tr7::core
