#include "sys/clock.h"

#include <sys/random.h>
#include <time.h>

#include <cmath>
#include <stdexcept>

namespace tr7::sys {

core::Timestamp realtime_now() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return core::Timestamp::from_timespec(ts);
}

int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * core::k_ns_per_s + ts.tv_nsec;
}

int8_t measure_precision() noexcept {
  int64_t best = INT64_MAX;
  for (int i = 0; i < 200; ++i) {
    core::Timestamp a = realtime_now();
    core::Timestamp b = realtime_now();
    for (int spin = 0; b == a && spin < 10000; ++spin) {
      b = realtime_now();
    }
    int64_t d = b.ns - a.ns;
    if (d > 0 && d < best) {
      best = d;
    }
  }
  if (best == INT64_MAX) {
    best = 1000;
  }
  // Round up to a power of two: ceil(log2(best * 1e-9)).
  int p = static_cast<int>(std::ceil(std::log2(static_cast<double>(best) * 1e-9)));
  if (p < -30) {
    p = -30;
  }
  if (p > 0) {
    p = 0;
  }
  return static_cast<int8_t>(p);
}

uint64_t random_u64() {
  uint64_t v = 0;
  size_t got = 0;
  auto* p = reinterpret_cast<unsigned char*>(&v);
  while (got < sizeof v) {
    ssize_t n = getrandom(p + got, sizeof v - got, 0);
    if (n < 0) {
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<size_t>(n);
  }
  return v;
}

}  // namespace tr7::sys
