// Time types of the core: points in time, NTP wire timestamps and their exact conversions.
//
// No I/O: nothing here reads a clock. Time is always passed in by the caller.
//
//  * Timestamp: a point on the POSIX UTC time scale, as signed nanoseconds since
//    1970-01-01T00:00:00Z (covers 1678..2262).
//  * NtpTimestamp: the RFC 5905 64-bit wire format, 32.32 fixed point seconds since the
//    start of an NTP era (era 0 starts 1900-01-01, era 1 on 2036-02-07T06:28:16Z). The era
//    is not on the wire: from_ntp() picks the one closest to a pivot time.
//  * NtpShort: the RFC 5905 32-bit 16.16 format used for root delay and dispersion.
//
// Conversions round to nearest, so Timestamp -> NtpTimestamp -> Timestamp is exact
// (2^-32 s is finer than 1 ns).
#pragma once

#include <compare>
#include <cstdint>
#include <ctime>

namespace tr7::core {

inline constexpr int64_t k_ns_per_s = 1'000'000'000;
// Seconds from the NTP prime epoch (1900-01-01) to the Unix epoch (1970-01-01).
inline constexpr int64_t k_ntp_unix_offset_s = 2'208'988'800;

struct Timestamp {
  int64_t ns = 0;  // since 1970-01-01T00:00:00Z, leap seconds not counted (POSIX)

  static constexpr Timestamp from_ns(int64_t v) { return Timestamp{v}; }
  static constexpr Timestamp from_timespec(const timespec& ts) {
    return Timestamp{static_cast<int64_t>(ts.tv_sec) * k_ns_per_s + ts.tv_nsec};
  }
  static Timestamp from_seconds(double s);
  timespec to_timespec() const;
  double to_seconds() const { return static_cast<double>(ns) / 1e9; }
  bool is_zero() const { return ns == 0; }

  friend constexpr bool operator==(Timestamp a, Timestamp b) = default;
  friend constexpr auto operator<=>(Timestamp a, Timestamp b) = default;
};

// Difference a - b in seconds (positive when a is later).
inline double diff_s(Timestamp a, Timestamp b) { return static_cast<double>(a.ns - b.ns) / 1e9; }
// b + seconds, rounded to the nanosecond.
Timestamp add_s(Timestamp t, double seconds);

struct NtpTimestamp {
  uint64_t raw = 0;  // seconds in the high 32 bits, fraction in the low 32 bits

  constexpr uint32_t seconds() const { return static_cast<uint32_t>(raw >> 32); }
  constexpr uint32_t fraction() const { return static_cast<uint32_t>(raw); }
  constexpr bool is_zero() const { return raw == 0; }
  static constexpr NtpTimestamp from_parts(uint32_t sec, uint32_t frac) {
    return NtpTimestamp{(static_cast<uint64_t>(sec) << 32) | frac};
  }
  friend constexpr bool operator==(NtpTimestamp a, NtpTimestamp b) = default;
};

// Timestamp -> wire format, era folded away (exact to the rounding of 2^-32 s).
NtpTimestamp to_ntp(Timestamp t);
// Wire format -> Timestamp in the era that puts the result within +-2^31 s (68 years)
// of pivot. Use the local receive time (or now) as pivot; this is what makes 2036 work.
Timestamp from_ntp(NtpTimestamp n, Timestamp pivot);

// Seconds -> 16.16 fixed point, rounded up (a bound must not shrink), saturated to
// [0, 0xFFFFFFFF]; NaN gives the maximum.
uint32_t to_ntp_short(double seconds);
double from_ntp_short(uint32_t v);

// Signed 32.32 difference of two wire timestamps in seconds, (a - b) modulo 2^64 taken as
// signed. Exact for |a - b| < 68 years, independent of eras.
double ntp_diff_s(NtpTimestamp a, NtpTimestamp b);

// log2 of a period in seconds as used by the poll and precision fields.
inline double log2_to_s(int8_t v) {
  return v >= 0 ? static_cast<double>(1ULL << (v > 62 ? 62 : v))
                : 1.0 / static_cast<double>(1ULL << (-v > 62 ? 62 : -v));
}

}  // namespace tr7::core
