// The start-up clock decision (RTC at 1970 and 2099, read failure, saved clock newer
// than the system clock, corrupt saved file), the saved-clock format and the RTC's
// broken-down time.
#include <random>
#include <string>

#include "core/startup_clock.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::core;

namespace {

constexpr int64_t k_day_ns = 86400LL * k_ns_per_s;
// A build on 2026-06-01T00:00:00Z.
const Timestamp k_build = *from_civil(CivilTime{2026, 6, 1, 0, 0, 0});

Timestamp at(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  auto t = from_civil(CivilTime{y, mo, d, h, mi, s});
  if (!t) {
    fail_msg("bad date in test");
  }
  return *t;
}

StartupClockInput input(Timestamp system) {
  StartupClockInput in;
  in.system = system;
  in.build = k_build;
  return in;
}

}  // namespace

static void test_civil_known_values(void**) {
  assert_int_equal(at(1970, 1, 1).ns, 0);
  assert_int_equal(at(2000, 3, 1).ns / k_ns_per_s, 951868800);
  assert_int_equal(at(2099, 12, 31, 23, 59, 59).ns / k_ns_per_s, 4102444799LL);
  assert_int_equal(at(2038, 1, 19, 3, 14, 8).ns / k_ns_per_s, 2147483648LL);
  assert_int_equal(at(1900, 1, 1).ns / k_ns_per_s, -2208988800LL);
  assert_true(from_civil(CivilTime{2000, 2, 29, 0, 0, 0}).has_value());
  assert_true(from_civil(CivilTime{2024, 2, 29, 0, 0, 0}).has_value());
  for (const CivilTime& bad :
       {CivilTime{2100, 2, 29, 0, 0, 0}, CivilTime{2023, 2, 29, 0, 0, 0}, CivilTime{2023, 4, 31, 0, 0, 0},
        CivilTime{2023, 13, 1, 0, 0, 0}, CivilTime{2023, 0, 1, 0, 0, 0}, CivilTime{2023, 1, 0, 0, 0, 0},
        CivilTime{2023, 1, 1, 24, 0, 0}, CivilTime{2023, 1, 1, 0, 60, 0}, CivilTime{2023, 1, 1, 0, 0, 60},
        CivilTime{2023, 1, 1, -1, 0, 0}, CivilTime{1899, 12, 31, 0, 0, 0}, CivilTime{2201, 1, 1, 0, 0, 0}}) {
    assert_false(from_civil(bad).has_value());
  }
  CivilTime c = to_civil(Timestamp{at(2099, 12, 31, 23, 59, 59).ns + 999'999'999});
  assert_int_equal(c.year, 2099);
  assert_int_equal(c.second, 59);
  c = to_civil(Timestamp{-1});  // 1969-12-31T23:59:59.999999999
  assert_int_equal(c.year, 1969);
  assert_int_equal(c.month, 12);
  assert_int_equal(c.day, 31);
  assert_int_equal(c.second, 59);
}

static void test_civil_round_trip(void**) {
  std::mt19937_64 rng(test_seed());
  int64_t lo = at(1900, 1, 1).ns / k_ns_per_s;
  int64_t hi = at(2200, 12, 31, 23, 59, 59).ns / k_ns_per_s;
  std::uniform_int_distribution<int64_t> dist(lo, hi);
  for (int i = 0; i < 200000; ++i) {
    int64_t s = dist(rng);
    CivilTime c = to_civil(Timestamp{s * k_ns_per_s});
    auto back = from_civil(c);
    if (!back || back->ns != s * k_ns_per_s) {
      fail_msg("round trip of %lld failed (%04d-%02d-%02d)", static_cast<long long>(s), c.year, c.month, c.day);
    }
  }
}

static void test_plausible_clock_kept(void**) {
  StartupClockInput in = input(Timestamp{k_build.ns + 30 * k_day_ns});
  in.saved = Timestamp{k_build.ns + 29 * k_day_ns};
  in.rtc = Timestamp{k_build.ns + 30 * k_day_ns + 5 * k_ns_per_s};
  StartupClockPlan p = plan_startup_clock(in);
  assert_true(p.action == StartupAction::Keep);
  assert_true(p.floor == *in.saved);
  assert_false(p.rtc_ignored);
  // Even a system clock slightly behind a plausible RTC is left to the NTP discipline.
  in.rtc = Timestamp{in.system.ns + 1000 * k_ns_per_s};
  assert_true(plan_startup_clock(in).action == StartupAction::Keep);
}

static void test_rtc_1970(void**) {
  // A dead RTC battery: the RTC and (set from it at boot) the system clock read 1970.
  StartupClockInput in = input(at(1970, 1, 1, 0, 0, 42));
  in.rtc = at(1970, 1, 1, 0, 0, 41);
  StartupClockPlan p = plan_startup_clock(in);
  assert_true(p.rtc_ignored);
  assert_true(p.action == StartupAction::Step);
  assert_true(p.target == k_build);
  assert_string_equal(p.source, "build time");
  assert_near(p.step_s, diff_s(k_build, in.system), 1e-9);
  // With a saved clock, the saved clock is the better guess.
  in.saved = Timestamp{k_build.ns + 100 * k_day_ns};
  p = plan_startup_clock(in);
  assert_true(p.action == StartupAction::Step);
  assert_true(p.target == *in.saved);
  assert_string_equal(p.source, "saved clock");
}

static void test_rtc_2099(void**) {
  // A garbage RTC far in the future is ignored: good system clock kept...
  StartupClockInput in = input(Timestamp{k_build.ns + 10 * k_day_ns});
  in.rtc = at(2099, 12, 31, 23, 59, 59);
  StartupClockPlan p = plan_startup_clock(in);
  assert_true(p.rtc_ignored);
  assert_true(p.action == StartupAction::Keep);
  // ... and a wrong one is set from the saved clock, never from the RTC.
  in.system = at(1970, 1, 2);
  in.saved = Timestamp{k_build.ns + 5 * k_day_ns};
  p = plan_startup_clock(in);
  assert_true(p.rtc_ignored);
  assert_true(p.action == StartupAction::Step && p.target == *in.saved);
  // A system clock already at 2099 (set from that RTC at boot) is flagged, never stepped back.
  in.system = at(2099, 12, 31);
  p = plan_startup_clock(in);
  assert_true(p.system_ahead);
  assert_true(p.action == StartupAction::Keep);
}

static void test_rtc_read_failure_saved_newer(void**) {
  // No RTC reading (read failed: nullopt) and a saved clock newer than the system clock.
  StartupClockInput in = input(Timestamp{k_build.ns + 10 * k_day_ns});
  in.saved = Timestamp{k_build.ns + 12 * k_day_ns + 123'456'789};
  StartupClockPlan p = plan_startup_clock(in);
  assert_true(p.action == StartupAction::Step);
  assert_true(p.target == *in.saved);
  assert_string_equal(p.source, "saved clock");
  assert_near(p.step_s, 2 * 86400.0 + 0.123456789, 1e-9);
  // A plausible RTC later than the saved clock wins: it kept ticking while we were down.
  in.rtc = Timestamp{in.saved->ns + 3600 * k_ns_per_s};
  p = plan_startup_clock(in);
  assert_true(p.action == StartupAction::Step && p.target == *in.rtc);
  assert_string_equal(p.source, "rtc");
  // An RTC behind the saved clock is implausible (the clock never goes back past it).
  in.rtc = Timestamp{in.saved->ns - 3600 * k_ns_per_s};
  p = plan_startup_clock(in);
  assert_true(p.rtc_ignored);
  assert_true(p.target == *in.saved);
}

static void test_saved_in_far_future_ignored(void**) {
  StartupClockInput in = input(Timestamp{k_build.ns + k_day_ns});
  in.saved = at(2099, 1, 1);
  StartupClockPlan p = plan_startup_clock(in);
  assert_true(p.saved_ignored);
  assert_true(p.floor == k_build);
  assert_true(p.action == StartupAction::Keep);
}

static void test_max_step(void**) {
  StartupClockInput in = input(at(1970, 1, 1));
  in.max_step_s = 86400.0;
  StartupClockPlan p = plan_startup_clock(in);
  assert_true(p.action == StartupAction::Refuse);
  assert_true(p.step_s > 86400.0);
  in.system = Timestamp{k_build.ns - 3600 * k_ns_per_s};
  p = plan_startup_clock(in);
  assert_true(p.action == StartupAction::Step);
  assert_near(p.step_s, 3600.0, 1e-9);
}

// Whatever the inputs: never a backward step, never a target outside the window, and
// "keep" only when the system clock is not before the floor.
static void test_random_plans(void**) {
  std::mt19937_64 rng(test_seed());
  int64_t lo = at(1970, 1, 1).ns;
  int64_t hi = at(2200, 1, 1).ns;
  std::uniform_int_distribution<int64_t> any(lo, hi);
  for (int i = 0; i < 100000; ++i) {
    StartupClockInput in = input(Timestamp{any(rng)});
    if (rng() % 2) {
      in.rtc = Timestamp{any(rng)};
    }
    if (rng() % 2) {
      in.saved = Timestamp{any(rng)};
    }
    if (rng() % 3 == 0) {
      in.max_step_s = static_cast<double>(rng() % 1000000000);
    }
    StartupClockPlan p = plan_startup_clock(in);
    assert_true(p.floor >= in.build && p.floor <= p.ceiling);
    if (p.action == StartupAction::Keep) {
      assert_true(in.system >= p.floor);
    } else {
      assert_true(in.system < p.floor);
      assert_true(p.step_s > 0.0);
      assert_true(p.target >= p.floor && p.target <= p.ceiling);
      if (p.action == StartupAction::Refuse) {
        assert_true(in.max_step_s > 0.0 && p.step_s > in.max_step_s);
      }
    }
  }
}

static void test_saved_clock_format(void**) {
  Timestamp t{1'795'674'423'618'054'483};
  std::string s = format_saved_clock(t);
  assert_string_equal(s.c_str(), "tr7ntp-clock 1 1795674423618054483\n");
  assert_true(parse_saved_clock(s) == t);
  assert_true(parse_saved_clock("tr7ntp-clock 1 0\n") == Timestamp{0});
  for (const std::string& bad :
       {std::string(""), std::string("\n"), std::string("garbage\n"), std::string("tr7ntp-clock 1 \n"),
        std::string("tr7ntp-clock 1 1795674423618054483"),  // no newline (truncated)
        std::string("tr7ntp-clock 1 179567442361805\0"
                    "4483\n",
                    36),  // NUL inside
        std::string("tr7ntp-clock 2 1795674423618054483\n"), std::string("tr7ntp-clock 1 -5\n"),
        std::string("tr7ntp-clock 1 +5\n"), std::string("tr7ntp-clock 1 0123\n"), std::string("tr7ntp-clock 1 1e18\n"),
        std::string("tr7ntp-clock 1 99999999999999999999\n"), std::string("tr7ntp-clock 1 12 34\n"),
        std::string("tr7ntp-clock 1 1234\n\n"), std::string("tr7ntp-clock 1 1234\r\n"),
        std::string(" tr7ntp-clock 1 1234\n"), std::string("tr7ntp-clock  1 1234\n")}) {
    if (parse_saved_clock(bad).has_value()) {
      fail_msg("accepted corrupt saved clock '%s'", bad.c_str());
    }
  }
  // Random bytes: only the canonical form is ever accepted.
  std::mt19937_64 rng(test_seed());
  for (int i = 0; i < 50000; ++i) {
    std::string x = format_saved_clock(Timestamp{static_cast<int64_t>(rng() >> 1)});
    x[rng() % x.size()] = static_cast<char>(rng());
    auto p = parse_saved_clock(x);
    if (p) {
      assert_string_equal(format_saved_clock(*p).c_str(), x.c_str());
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_civil_known_values),
      cmocka_unit_test(test_civil_round_trip),
      cmocka_unit_test(test_plausible_clock_kept),
      cmocka_unit_test(test_rtc_1970),
      cmocka_unit_test(test_rtc_2099),
      cmocka_unit_test(test_rtc_read_failure_saved_newer),
      cmocka_unit_test(test_saved_in_far_future_ignored),
      cmocka_unit_test(test_max_step),
      cmocka_unit_test(test_random_plans),
      cmocka_unit_test(test_saved_clock_format),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
