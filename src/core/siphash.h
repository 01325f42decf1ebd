// SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed hash, so an attacker who picks client
// addresses cannot aim them at one hash bucket. Pure function, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tr7::core {

struct SipKey {
  uint64_t k0 = 0;
  uint64_t k1 = 0;
};

uint64_t siphash24(const SipKey& key, const uint8_t* data, size_t len);

}  // namespace tr7::core
