// Time types: exact conversions, eras (2036), NtpShort.
#include "core/time.h"

#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

static void test_unix_epoch(void**) {
  NtpTimestamp n = to_ntp(Timestamp{0});
  assert_int_equal(n.seconds(), 2208988800u);
  assert_int_equal(n.fraction(), 0);
  assert_true(from_ntp(n, Timestamp{0}) == Timestamp{0});
}

static void test_fraction_rounding(void**) {
  // 0.5 s is exactly 2^31.
  NtpTimestamp n = to_ntp(Timestamp{500'000'000});
  assert_int_equal(n.fraction(), 0x80000000u);
  // 1 ns is 4.294967296 units: rounds to 4.
  assert_int_equal(to_ntp(Timestamp{1}).fraction(), 4);
  // The largest sub-second value does not carry into the seconds.
  NtpTimestamp m = to_ntp(Timestamp{999'999'999});
  assert_int_equal(m.seconds(), 2208988800u);
  assert_true(m.fraction() > 0xFFFFFFF0u);
}

static void test_round_trip_random(void**) {
  Rng rng(test_seed());
  for (int i = 0; i < 200000; ++i) {
    // Anywhere from 1900 to 2150.
    int64_t ns = static_cast<int64_t>(rng.next_u64() % (250ULL * 365 * 86400 * 1'000'000'000ULL)) -
                 70LL * 365 * 86400 * 1'000'000'000LL;
    Timestamp t{ns};
    // Any pivot within 60 years picks the right era.
    int64_t off = static_cast<int64_t>(rng.next_u64() % (120ULL * 365 * 86400)) - 60LL * 365 * 86400;
    Timestamp pivot{ns + off * 1'000'000'000LL};
    Timestamp back = from_ntp(to_ntp(t), pivot);
    if (back.ns != t.ns) {
      fail_msg("round trip of %lld ns with pivot %lld gave %lld", static_cast<long long>(t.ns),
               static_cast<long long>(pivot.ns), static_cast<long long>(back.ns));
    }
  }
}

static void test_era_2036(void**) {
  // 2036-02-07T06:28:16Z is the first second of NTP era 1 (wire seconds wrap to 0).
  Timestamp wrap{(4294967296LL - k_ntp_unix_offset_s) * k_ns_per_s};
  NtpTimestamp n = to_ntp(wrap);
  assert_int_equal(n.seconds(), 0);
  // Just before the wrap, pivot after it, and the reverse.
  Timestamp before{wrap.ns - 1'000'000'000};
  assert_true(from_ntp(to_ntp(before), wrap) == before);
  assert_true(from_ntp(n, before) == wrap);
  // A pivot in 2030 reads wire seconds 5 as 2036.
  Timestamp pivot2030{1893456000LL * k_ns_per_s};
  Timestamp t = from_ntp(NtpTimestamp::from_parts(5, 0), pivot2030);
  assert_true(t.ns == wrap.ns + 5 * k_ns_per_s);
  // A wire value of 1900 with a 1900 pivot stays in 1900.
  Timestamp t1900 = from_ntp(NtpTimestamp::from_parts(0, 0), Timestamp{-k_ntp_unix_offset_s * k_ns_per_s});
  assert_true(t1900.ns == -k_ntp_unix_offset_s * k_ns_per_s);
}

static void test_ntp_diff(void**) {
  NtpTimestamp a = NtpTimestamp::from_parts(10, 0x80000000u);
  NtpTimestamp b = NtpTimestamp::from_parts(9, 0);
  assert_near(ntp_diff_s(a, b), 1.5, 1e-12);
  assert_near(ntp_diff_s(b, a), -1.5, 1e-12);
  // Across the era wrap.
  NtpTimestamp c = NtpTimestamp::from_parts(0xFFFFFFFFu, 0);
  NtpTimestamp d = NtpTimestamp::from_parts(1, 0);
  assert_near(ntp_diff_s(d, c), 2.0, 1e-12);
}

static void test_ntp_short(void**) {
  assert_int_equal(to_ntp_short(1.0), 0x10000);
  assert_int_equal(to_ntp_short(0.0), 0);
  assert_int_equal(to_ntp_short(-1.0), 0);
  assert_int_equal(to_ntp_short(1e9), 0xFFFFFFFFu);
  assert_int_equal(to_ntp_short(NAN), 0xFFFFFFFFu);
  assert_int_equal(to_ntp_short(INFINITY), 0xFFFFFFFFu);
  // Rounded up: a bound never shrinks.
  assert_true(from_ntp_short(to_ntp_short(1e-6)) >= 1e-6);
  assert_near(from_ntp_short(0x00018000u), 1.5, 1e-12);
}

static void test_timespec(void**) {
  Timestamp t{-1};  // 1969-12-31T23:59:59.999999999
  timespec ts = t.to_timespec();
  assert_int_equal(ts.tv_sec, -1);
  assert_int_equal(ts.tv_nsec, 999999999);
  assert_true(Timestamp::from_timespec(ts) == t);
  assert_near(log2_to_s(-20), 1.0 / 1048576.0, 1e-18);
  assert_near(log2_to_s(4), 16.0, 0);
  assert_true(std::isfinite(log2_to_s(127)) && std::isfinite(log2_to_s(-128)));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unix_epoch),  cmocka_unit_test(test_fraction_rounding), cmocka_unit_test(test_round_trip_random),
      cmocka_unit_test(test_era_2036),    cmocka_unit_test(test_ntp_diff),          cmocka_unit_test(test_ntp_short),
      cmocka_unit_test(test_timespec),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
