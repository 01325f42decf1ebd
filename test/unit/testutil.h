// Helpers shared by the cmocka unit tests.
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

// assert_float_equal casts to float and loses nanoseconds: compare doubles ourselves.
#define assert_near(a, b, eps)                                                                         \
  do {                                                                                                 \
    double tr7_a_ = (a), tr7_b_ = (b), tr7_e_ = (eps);                                                 \
    if (!(std::fabs(tr7_a_ - tr7_b_) <= tr7_e_)) {                                                     \
      fail_msg("%s = %.12g, expected %s = %.12g within %.3g", #a, tr7_a_, #b, tr7_b_, tr7_e_);          \
    }                                                                                                  \
  } while (0)

// The seed of a randomized test: TR7_SEED from the environment, else a fixed default.
// Printed so a failure can be replayed.
inline uint64_t test_seed(uint64_t fallback = 20261126) {
  const char* s = std::getenv("TR7_SEED");
  uint64_t seed = s ? std::strtoull(s, nullptr, 10) : fallback;
  std::printf("# seed %llu (set TR7_SEED to replay)\n", static_cast<unsigned long long>(seed));
  return seed;
}
