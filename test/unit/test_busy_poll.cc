// The adaptive busy-poll window (core/busy_poll): grows for dense requests, never past
// the maximum, shrinks to nothing when requests are sparse or come in bursts far apart.
#include "core/busy_poll.h"
#include "core/random.h"
#include "testutil.h"

using tr7::core::BusyPollWindow;

namespace {
constexpr int64_t k_us = 1000;
}

static void test_off(void**) {
  BusyPollWindow w(0);
  int64_t t = 1'000'000'000;
  for (int i = 0; i < 100; ++i) {
    w.on_batch(true, t + 5 * k_us, t + 6 * k_us);
    t += 10 * k_us;
    assert_int_equal(w.window_ns(), 0);
  }
}

static void test_dense_requests_grow_the_window(void**) {
  BusyPollWindow w(50 * k_us);
  int64_t t = 1'000'000'000;
  w.on_batch(true, t, t);  // first batch: nothing to learn yet
  assert_int_equal(w.window_ns(), 0);
  // Requests 10 us after each batch: the window grows to cover 10 us, and stays.
  for (int i = 0; i < 20; ++i) {
    int64_t rx = t + 10 * k_us;
    t = rx + 3 * k_us;
    w.on_batch(true, rx, t);
    assert_true(w.window_ns() >= 10 * k_us && w.window_ns() <= 50 * k_us);
  }
  // Caught by polling (no sleep): the window is kept.
  int64_t before = w.window_ns();
  w.on_batch(false, t + 5 * k_us, t + 8 * k_us);
  assert_int_equal(w.window_ns(), before);
}

static void test_never_above_max(void**) {
  tr7::core::Rng r(test_seed());
  BusyPollWindow w(40 * k_us);
  int64_t t = 1'000'000'000;
  for (int i = 0; i < 10000; ++i) {
    int64_t gap = static_cast<int64_t>(r.next_u32() % 200) * k_us;
    int64_t rx = t + gap;
    t = rx + 2 * k_us;
    w.on_batch(r.next_u32() % 2 == 0, rx, t);
    assert_true(w.window_ns() >= 0 && w.window_ns() <= 40 * k_us);
  }
}

static void test_sparse_requests_end_polling(void**) {
  BusyPollWindow w(50 * k_us);
  int64_t t = 1'000'000'000;
  w.on_batch(true, t, t);
  for (int i = 0; i < 5; ++i) {  // dense first
    int64_t rx = t + 20 * k_us;
    t = rx + 1 * k_us;
    w.on_batch(true, rx, t);
  }
  assert_true(w.window_ns() > 0);
  // Then bursts 300 us apart (the poll runs out, the thread sleeps): within a few
  // gaps the window is gone.
  for (int i = 0; i < 6; ++i) {
    int64_t rx = t + 300 * k_us;
    t = rx + 1 * k_us;
    w.on_batch(true, rx, t);
  }
  assert_int_equal(w.window_ns(), 0);
  // A missing receive time teaches nothing.
  w.on_batch(true, 0, t + 5 * k_us);
  assert_int_equal(w.window_ns(), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_off),
      cmocka_unit_test(test_dense_requests_grow_the_window),
      cmocka_unit_test(test_never_above_max),
      cmocka_unit_test(test_sparse_requests_end_polling),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
