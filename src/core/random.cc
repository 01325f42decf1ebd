// xoshiro256** seeded through splitmix64 (Blackman & Vigna).
#include "core/random.h"

#include <cmath>

namespace tr7::core {

namespace {

constexpr uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

void Rng::reseed(uint64_t seed) {
  for (auto& s : m_s) {
    s = splitmix64(seed);
  }
}

uint64_t Rng::next_u64() {
  uint64_t result = rotl(m_s[1] * 5, 7) * 9;
  uint64_t t = m_s[1] << 17;
  m_s[2] ^= m_s[0];
  m_s[3] ^= m_s[1];
  m_s[1] ^= m_s[2];
  m_s[0] ^= m_s[3];
  m_s[2] ^= t;
  m_s[3] = rotl(m_s[3], 45);
  return result;
}

double Rng::next_gaussian() {
  // Box-Muller; u1 in (0,1] so the log is finite.
  double u1 = 1.0 - next_double();
  double u2 = next_double();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace tr7::core
