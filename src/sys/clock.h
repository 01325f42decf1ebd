// Reading the system clocks (read-only: nothing here can change any clock).
#pragma once

#include <cstdint>

#include "core/time.h"

namespace tr7::sys {

core::Timestamp realtime_now() noexcept;  // CLOCK_REALTIME
int64_t monotonic_ns() noexcept;          // CLOCK_MONOTONIC

// The clock's precision as log2 seconds (RFC 5905 "precision"): the smallest positive
// step between consecutive CLOCK_REALTIME readings, measured over a short burst, rounded
// up to a power of two. Typically -23..-20 on current hardware.
int8_t measure_precision() noexcept;

// 64 random bits from getrandom(2) (blocking only before the pool is initialised).
uint64_t random_u64();

}  // namespace tr7::sys
