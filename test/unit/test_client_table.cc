// Client table (bounded, LRU, keyed hash) and GCRA rate limiting with leak and KoD.
#include "core/client_table.h"

#include <algorithm>
#include <map>
#include <vector>

#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {
constexpr int64_t k_s = 1'000'000'000;
IpAddr ip(const char* s) { return *parse_ip(s); }
}  // namespace

static void test_ipv6_slash64_key(void**) {
  ClientTable t(16, SipKey{1, 2});
  t.touch(ip("2001:db8:1:2::1"), 0);
  ClientRecord& c = t.touch(ip("2001:db8:1:2:ffff::9"), 1);  // same /64
  assert_int_equal(c.requests, 2);
  assert_int_equal(t.size(), 1);
  t.touch(ip("2001:db8:1:3::1"), 2);  // another /64
  assert_int_equal(t.size(), 2);
  assert_string_equal(c.key.addr().to_string().c_str(), "2001:db8:1:2::");
}

static void test_lru_eviction_bounded(void**) {
  ClientTable t(100, SipKey{3, 4});
  size_t mem = t.memory_bytes();
  for (uint32_t i = 0; i < 1'000'000; ++i) {
    t.touch(IpAddr::v4(0x0A000000u + i), i);
    if (i % 97 == 0) {
      t.touch(IpAddr::v4(0xC0000201u), i);  // a regular client keeps coming back
    }
  }
  assert_int_equal(t.size(), 100);
  assert_int_equal(t.memory_bytes(), mem);  // flat: nothing grew
  assert_true(t.evictions() > 999'000);
  assert_non_null(t.find(IpAddr::v4(0xC0000201u)));  // recently seen: still there
  assert_null(t.find(IpAddr::v4(0x0A000000u)));      // the first one: evicted
  assert_non_null(t.find(IpAddr::v4(0x0A000000u + 999'999)));
  // The LRU walk sees exactly the table's clients, newest first.
  size_t n = 0;
  int64_t prev = INT64_MAX;
  t.for_each([&](const ClientRecord& c) {
    assert_true(c.last_seen_ns <= prev);
    prev = c.last_seen_ns;
    ++n;
  });
  assert_int_equal(n, 100);
}

// Random operations against a model: every key the model holds is found, and the
// table holds exactly the `capacity` most recently touched keys.
static void test_random_against_model(void**) {
  Rng rng(test_seed());
  ClientTable t(64, SipKey{rng.next_u64(), rng.next_u64()});
  std::map<uint32_t, int64_t> last;  // key -> last touch
  for (int64_t now = 1; now < 200000; ++now) {
    uint32_t k = rng.next_u32() % 200;
    t.touch(IpAddr::v4(k), now);
    last[k] = now;
  }
  std::vector<std::pair<int64_t, uint32_t>> order;
  for (auto& [k, ts] : last) {
    order.emplace_back(ts, k);
  }
  std::sort(order.rbegin(), order.rend());
  for (size_t i = 0; i < order.size(); ++i) {
    bool present = t.find(IpAddr::v4(order[i].second)) != nullptr;
    if (present != (i < 64)) {
      fail_msg("key %u (rank %zu) present=%d", order[i].second, i, present);
    }
  }
}

static void test_gcra_burst_and_rate(void**) {
  RateLimitParams p;
  p.enabled = true;
  p.interval_s = 1.0;
  p.burst = 4;
  p.leak = 0;  // no leak: exact counts
  ClientRecord c;
  c.tat_ns = 0;
  int pass = 0;
  for (int i = 0; i < 10; ++i) {
    pass += rate_decide(c, 0, p, 0) == RateDecision::Pass;
  }
  assert_int_equal(pass, 4);  // the burst
  // Then one per interval.
  pass = 0;
  for (int64_t t = 1; t <= 100; ++t) {
    for (int i = 0; i < 5; ++i) {
      pass += rate_decide(c, t * k_s, p, 0) == RateDecision::Pass;
    }
  }
  assert_int_equal(pass, 100);
  // After a long pause the full burst is back.
  pass = 0;
  for (int i = 0; i < 10; ++i) {
    pass += rate_decide(c, 1000 * k_s, p, 0) == RateDecision::Pass;
  }
  assert_int_equal(pass, 4);
}

static void test_sustained_rate_within_10_percent(void**) {
  // 100 requests/s from one client with interval 0.1 s: about 10/s answered (plus the
  // 1/4 leak of the rest).
  RateLimitParams p;
  p.enabled = true;
  p.interval_s = 0.1;
  p.burst = 8;
  p.leak = 0;
  ClientRecord c;
  int pass = 0;
  for (int i = 0; i < 10000; ++i) {  // 100 s at 100/s
    pass += rate_decide(c, i * (k_s / 100), p, 0) == RateDecision::Pass;
  }
  assert_true(pass >= 900 && pass <= 1100);
}

static void test_leak_and_kod(void**) {
  Rng rng(test_seed());
  RateLimitParams p;
  p.enabled = true;
  p.interval_s = 10.0;
  p.burst = 1;
  p.leak = 2;
  p.kod = true;
  ClientRecord c;
  int pass = 0, leak = 0, kod = 0, drop = 0;
  for (int i = 0; i < 40000; ++i) {
    switch (rate_decide(c, i * (k_s / 1000), p, rng.next_u32())) {  // 1000/s for 40 s
      case RateDecision::Pass:
        ++pass;
        break;
      case RateDecision::Leak:
        ++leak;
        break;
      case RateDecision::Kod:
        ++kod;
        break;
      case RateDecision::Drop:
        ++drop;
        break;
    }
  }
  assert_int_equal(pass, 4);  // 1 per 10 s over 40 s
  // About a quarter of the limited requests leak through (a spoofed flood cannot lock
  // the real client out).
  assert_true(leak > 40000 / 4 * 0.9 && leak < 40000 / 4 * 1.1);
  // At most one KoD per interval.
  assert_true(kod >= 3 && kod <= 5);
  assert_int_equal(pass + leak + kod + drop, 40000);
  // Disabled: always pass.
  RateLimitParams off;
  assert_true(rate_decide(c, 0, off, 0) == RateDecision::Pass);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ipv6_slash64_key),    cmocka_unit_test(test_lru_eviction_bounded),
      cmocka_unit_test(test_random_against_model), cmocka_unit_test(test_gcra_burst_and_rate),
      cmocka_unit_test(test_sustained_rate_within_10_percent), cmocka_unit_test(test_leak_and_kod),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
