// The helper's clock budget (core/clock_budget.h): single bounds, step tokens, the 24 h
// budget of everything that moves the clock, the frequency beyond the base charged and
// enforced, and the state kept across restarts in one boot (issue 19 item 4).
#include <cmath>
#include <string>

#include "core/clock_budget.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

constexpr int64_t k_s = 1'000'000'000LL;
constexpr int64_t k_t0 = 1000 * k_s;

ClockBudgetLimits limits() {
  ClockBudgetLimits l;
  l.max_step_s = 86400.0;
  l.max_slew_s = 1.0;
  l.base_freq_ppm = 500.0;
  l.max_freq_ppm = 500.0 + 1e6 / 12;
  l.max_per_day_s = 100.0;
  l.step_burst = 4;
  l.step_refill_s = 300.0;
  return l;
}

}  // namespace

static void test_single_bounds(void**) {
  ClockBudget b(limits());
  assert_true(b.step(86400.5, k_t0) == BudgetVerdict::TooLarge);
  assert_true(b.step(NAN, k_t0) == BudgetVerdict::TooLarge);
  assert_true(b.slew(1.5, k_t0) == BudgetVerdict::TooLarge);
  assert_true(b.frequency(84000.0, k_t0) == BudgetVerdict::TooLarge);
  assert_true(b.frequency(-83833.0, k_t0) == BudgetVerdict::Ok);
  assert_true(b.frequency(INFINITY, k_t0) == BudgetVerdict::TooLarge);
}

static void test_first_step_then_daily_budget(void**) {
  ClockBudget b(limits());
  // The first step of a boot: bounded by max_step_s only.
  assert_true(b.step(-50000.0, k_t0) == BudgetVerdict::Ok);
  assert_true(b.first_step_done());
  assert_near(b.spent_s(k_t0), 0.0, 1e-12);
  // Then every step counts: 60 + 30 fit in 100 s, 20 more do not.
  assert_true(b.step(60.0, k_t0 + 1 * k_s) == BudgetVerdict::Ok);
  assert_true(b.step(-30.0, k_t0 + 2 * k_s) == BudgetVerdict::Ok);
  assert_true(b.step(20.0, k_t0 + 3 * k_s) == BudgetVerdict::Spent);
  assert_true(b.slew(0.5, k_t0 + 3 * k_s) == BudgetVerdict::Ok);
  assert_near(b.spent_s(k_t0 + 3 * k_s), 90.5, 1e-9);
  // 24 h later it is all back (and the tokens).
  assert_true(b.step(99.0, k_t0 + 86402 * k_s) == BudgetVerdict::Ok);
}

static void test_step_tokens(void**) {
  ClockBudget b(limits());
  for (int i = 0; i < 4; ++i) {
    assert_true(b.step(0.1, k_t0) == BudgetVerdict::Ok);
  }
  assert_true(b.step(0.1, k_t0) == BudgetVerdict::RateLimited);
  assert_true(b.step(0.1, k_t0 + 299 * k_s) == BudgetVerdict::RateLimited);
  assert_true(b.step(0.1, k_t0 + 301 * k_s) == BudgetVerdict::Ok);
}

static void test_frequency_charged_and_enforced(void**) {
  ClockBudget b(limits());
  // Within the base: free, however long.
  assert_true(b.frequency(400.0, k_t0) == BudgetVerdict::Ok);
  assert_false(b.enforce(k_t0 + 86000 * k_s).has_value());
  assert_near(b.spent_s(k_t0 + 86000 * k_s), 0.0, 1e-12);
  // 10500 ppm: 10000 ppm beyond the base moves 0.01 s per s: 100 s take 10000 s.
  int64_t t = k_t0 + 86000 * k_s;
  assert_true(b.frequency(10500.0, t) == BudgetVerdict::Ok);
  assert_false(b.enforce(t + 5000 * k_s).has_value());
  assert_near(b.spent_s(t + 5000 * k_s), 50.0, 1e-6);
  auto f = b.enforce(t + 10001 * k_s);
  assert_true(f.has_value());
  assert_near(*f, 500.0, 1e-12);  // back to the base, same sign
  // Spent: beyond the base refused, within it fine; steps refused.
  assert_true(b.frequency(-600.0, t + 10002 * k_s) == BudgetVerdict::Spent);
  assert_true(b.frequency(-300.0, t + 10002 * k_s) == BudgetVerdict::Ok);
  assert_true(b.step(1.0, t + 10003 * k_s) == BudgetVerdict::Ok);  // the first step of the boot
  assert_true(b.step(1.0, t + 10004 * k_s) == BudgetVerdict::Spent);
}

static void test_forget_last(void**) {
  ClockBudget b(limits());
  assert_true(b.step(5.0, k_t0) == BudgetVerdict::Ok);
  b.forget_last();  // the clock refused it
  assert_false(b.first_step_done());
  assert_near(b.tokens(), 4.0, 1e-12);
  assert_true(b.step(5.0, k_t0) == BudgetVerdict::Ok);
  assert_true(b.slew(0.25, k_t0) == BudgetVerdict::Ok);
  b.forget_last();
  assert_near(b.spent_s(k_t0), 0.0, 1e-12);
}

static void test_kept_across_restarts(void**) {
  ClockBudget b(limits());
  assert_true(b.step(1000.0, k_t0) == BudgetVerdict::Ok);  // first
  assert_true(b.step(70.0, k_t0 + k_s) == BudgetVerdict::Ok);
  assert_true(b.frequency(20500.0, k_t0 + 2 * k_s) == BudgetVerdict::Ok);
  std::string text = b.encode("boot-a");
  // A restart in the same boot: nothing renewed.
  auto again = ClockBudget::decode(text, "boot-a", limits());
  assert_true(again.has_value());
  assert_true(again->first_step_done());
  assert_near(again->tokens(), b.tokens(), 1e-9);
  assert_near(again->spent_s(k_t0 + 2 * k_s), 70.0, 1e-9);
  assert_true(again->step(40.0, k_t0 + 3 * k_s) == BudgetVerdict::Spent);
  // The frequency in force kept being charged while the helper was away.
  assert_true(again->enforce(k_t0 + 2 * k_s + 1600 * k_s).has_value());
  // A new boot: a fresh budget.
  auto fresh = ClockBudget::decode(text, "boot-b", limits());
  assert_true(fresh.has_value());
  assert_false(fresh->first_step_done());
  assert_near(fresh->spent_s(k_t0), 0.0, 1e-12);
  // Malformed: refused (the helper then starts cautious).
  for (std::string bad : {std::string(""), std::string("junk\n"), text.substr(0, text.size() - 4), text + "spent 1 1\n",
                          std::string("tr7ntp-clock-budget 1\nboot boot-a\ntokens -1 0 1\nend\n")}) {
    assert_false(ClockBudget::decode(bad, "boot-a", limits()).has_value());
  }
  ClockBudget c = ClockBudget::cautious(limits(), k_t0);
  assert_true(c.first_step_done());
  assert_true(c.step(0.001, k_t0) == BudgetVerdict::RateLimited);
  assert_true(c.slew(0.001, k_t0) == BudgetVerdict::Spent);
  assert_true(c.frequency(501.0, k_t0) == BudgetVerdict::Spent);
  assert_true(c.frequency(499.0, k_t0) == BudgetVerdict::Ok);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_single_bounds), cmocka_unit_test(test_first_step_then_daily_budget),
      cmocka_unit_test(test_step_tokens),   cmocka_unit_test(test_frequency_charged_and_enforced),
      cmocka_unit_test(test_forget_last),   cmocka_unit_test(test_kept_across_restarts),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
