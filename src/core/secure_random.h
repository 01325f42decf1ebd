// Where the core gets unpredictable bytes (NTS nonces, cookie nonces, unique identifiers,
// cookie keys). The core reads no device and makes no system call: the daemon passes a
// cryptographically secure source (GnuTLS's generator), the tests a seeded one.
#pragma once

#include <cstdint>
#include <span>

namespace tr7::core {

class SecureRandom {
 public:
  virtual ~SecureRandom() = default;
  // Fills `out` completely. Must be safe to call from several threads at once.
  virtual void fill(std::span<uint8_t> out) = 0;
};

}  // namespace tr7::core
