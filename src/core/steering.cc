// Steering hash (see steering.h).
#include "core/steering.h"

namespace tr7::core {

namespace {
uint32_t word(const IpAddr& a, int i) {
  const uint8_t* b = a.bytes.data() + 4 * i;
  return (static_cast<uint32_t>(b[0]) << 24) | (static_cast<uint32_t>(b[1]) << 16) |
         (static_cast<uint32_t>(b[2]) << 8) | b[3];
}
}  // namespace

SteerKey SteerKey::from_random(uint64_t r0, uint64_t r1) {
  SteerKey k;
  k.k0 = static_cast<uint32_t>(r0);
  k.k1 = static_cast<uint32_t>(r0 >> 32) | 1u;
  k.k2 = static_cast<uint32_t>(r1) | 1u;
  return k;
}

uint32_t steer_hash(const IpAddr& a, const SteerKey& k) {
  uint32_t w0 = word(a, 0);
  uint32_t w1 = a.is_v6() ? word(a, 1) : 0;
  uint32_t h = (w0 ^ k.k0) * k.k1;
  h ^= h >> 15;
  h ^= w1;
  h *= k.k2;
  h ^= h >> 13;
  return h;
}

unsigned shard_of(const IpAddr& a, const SteerKey& k, unsigned shards) {
  return shards <= 1 ? 0 : steer_hash(a, k) % shards;
}

}  // namespace tr7::core
