// Exact conversions between POSIX nanoseconds and the NTP wire formats (RFC 5905 §6).
#include "core/time.h"

#include <cmath>
#include <limits>

namespace tr7::core {

namespace {

// Floor division and modulo for a negative numerator (times before 1970).
constexpr int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

Timestamp Timestamp::from_seconds(double s) {
  return Timestamp{static_cast<int64_t>(std::llround(s * 1e9))};
}

timespec Timestamp::to_timespec() const {
  timespec ts{};
  int64_t sec = floor_div(ns, k_ns_per_s);
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(ns - sec * k_ns_per_s);
  return ts;
}

Timestamp add_s(Timestamp t, double seconds) {
  return Timestamp{t.ns + static_cast<int64_t>(std::llround(seconds * 1e9))};
}

NtpTimestamp to_ntp(Timestamp t) {
  int64_t sec = floor_div(t.ns, k_ns_per_s);
  auto sub_ns = static_cast<uint64_t>(t.ns - sec * k_ns_per_s);  // [0, 1e9)
  // RFC 5905 §6: fraction = ns * 2^32 / 1e9, rounded to nearest. Never reaches 2^32
  // because (1e9 - 1) * 2^32 / 1e9 + 0.5 < 2^32.
  uint64_t frac = ((sub_ns << 32) + k_ns_per_s / 2) / k_ns_per_s;
  auto ntp_sec = static_cast<uint64_t>(sec + k_ntp_unix_offset_s);  // modulo 2^32 below
  return NtpTimestamp{(ntp_sec << 32) | (frac & 0xFFFFFFFFu)};
}

Timestamp from_ntp(NtpTimestamp n, Timestamp pivot) {
  // The pivot's full (era-aware) value in 2^-32 s units since 1900.
  int64_t psec = floor_div(pivot.ns, k_ns_per_s);
  auto psub = static_cast<uint64_t>(pivot.ns - psec * k_ns_per_s);
  __int128 p_full = (static_cast<__int128>(psec + k_ntp_unix_offset_s) << 32) +
                    static_cast<__int128>(((psub << 32) + k_ns_per_s / 2) / k_ns_per_s);
  // The wire value differs from the pivot's by (n - p) modulo 2^64, read as signed: that
  // picks the era closest to the pivot.
  auto d = static_cast<int64_t>(n.raw - static_cast<uint64_t>(p_full));
  __int128 full = p_full + d;
  // Split into whole seconds and fraction; convert the fraction with rounding, which
  // makes Timestamp -> NtpTimestamp -> Timestamp exact.
  __int128 sec = full >> 32;  // arithmetic shift: floor
  auto frac = static_cast<uint64_t>(full - (sec << 32));
  uint64_t sub_ns = (frac * k_ns_per_s + (1ULL << 31)) >> 32;
  return Timestamp{static_cast<int64_t>((sec - k_ntp_unix_offset_s) * k_ns_per_s) +
                   static_cast<int64_t>(sub_ns)};
}

double ntp_diff_s(NtpTimestamp a, NtpTimestamp b) {
  auto d = static_cast<int64_t>(a.raw - b.raw);
  return std::ldexp(static_cast<double>(d), -32);
}

uint32_t to_ntp_short(double seconds) {
  if (std::isnan(seconds)) {
    return std::numeric_limits<uint32_t>::max();
  }
  if (seconds <= 0.0) {
    return 0;
  }
  double v = std::ceil(std::ldexp(seconds, 16));
  if (v >= 4294967295.0) {
    return std::numeric_limits<uint32_t>::max();
  }
  return static_cast<uint32_t>(v);
}

double from_ntp_short(uint32_t v) { return std::ldexp(static_cast<double>(v), -16); }

}  // namespace tr7::core
