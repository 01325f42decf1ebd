// Allow list: longest prefix wins, default deny once an allow rule exists.
#include "core/allowlist.h"

#include <vector>

#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {
AccessRule rule(const char* p, AccessAction a) { return AccessRule{*parse_prefix(p), a}; }
bool ok(const AllowList& l, const char* ip) { return l.allowed(*parse_ip(ip)); }
}  // namespace

static void test_empty_allows_all(void**) {
  AllowList l;
  assert_true(l.default_action() == AccessAction::Allow);
  assert_true(ok(l, "192.0.2.1"));
  assert_true(ok(l, "2001:db8::1"));
  assert_false(l.check(*parse_ip("192.0.2.1")).rule.has_value());
}

static void test_deny_only(void**) {
  AllowList l;
  assert_true(l.add(rule("10.9.0.0/16", AccessAction::Deny)));
  assert_true(l.default_action() == AccessAction::Allow);
  assert_false(ok(l, "10.9.1.1"));
  assert_true(ok(l, "10.8.1.1"));
}

// Issue 19 item 12: a server beyond loopback with no allow rule answers loopback only.
static void test_loopback_only(void**) {
  AllowList l;
  l.set_loopback_only(true);
  assert_true(l.loopback_only());
  assert_true(l.default_action() == AccessAction::Deny);
  assert_true(ok(l, "127.0.0.1"));
  assert_true(ok(l, "127.9.9.9"));
  assert_true(ok(l, "::1"));
  assert_false(ok(l, "192.0.2.1"));
  assert_false(ok(l, "2001:db8::1"));
  assert_true(l.add(rule("127.0.0.2", AccessAction::Deny)));  // deny rules still apply
  assert_false(ok(l, "127.0.0.2"));
  AllowList copy = l;  // the effective list is a copy with runtime rules added
  assert_true(copy.add(rule("192.0.2.0/24", AccessAction::Allow)));
  assert_false(copy.loopback_only());  // an allow rule: the usual allow list
  assert_true(ok(copy, "192.0.2.1"));
  assert_false(ok(copy, "127.0.0.1"));
  assert_true(copy.remove(*parse_prefix("192.0.2.0/24")));
  assert_true(copy.loopback_only());  // the flag came with the copy
  assert_false(ok(copy, "198.51.100.1"));
}

static void test_longest_prefix_wins(void**) {
  AllowList l;
  assert_true(l.add(rule("10.0.0.0/8", AccessAction::Allow)));
  assert_true(l.add(rule("10.9.0.0/16", AccessAction::Deny)));
  assert_true(l.add(rule("10.9.8.7", AccessAction::Allow)));
  assert_true(l.add(rule("2001:db8::/32", AccessAction::Allow)));
  assert_true(l.add(rule("2001:db8:bad::/48", AccessAction::Deny)));
  assert_true(l.default_action() == AccessAction::Deny);
  assert_true(ok(l, "10.1.2.3"));
  assert_false(ok(l, "10.9.1.1"));
  assert_true(ok(l, "10.9.8.7"));
  assert_false(ok(l, "11.0.0.1"));  // default deny
  assert_true(ok(l, "2001:db8::5"));
  assert_false(ok(l, "2001:db8:bad::5"));
  assert_false(ok(l, "2001:db9::1"));
  assert_true(ok(l, "::ffff:10.1.2.3"));  // mapped clients match IPv4 rules
  auto v = l.check(*parse_ip("10.9.1.1"));
  assert_true(v.rule && v.rule->prefix.len == 16 && v.rule->action == AccessAction::Deny);
  // The same prefix twice is refused, whatever the action.
  assert_false(l.add(rule("10.9.0.0/16", AccessAction::Allow)));
  assert_true(l.remove(*parse_prefix("10.9.0.0/16")));
  assert_true(ok(l, "10.9.1.1"));
  assert_false(l.remove(*parse_prefix("10.9.0.0/16")));
}

static void test_zero_prefix(void**) {
  AllowList l;
  assert_true(l.add(rule("0.0.0.0/0", AccessAction::Allow)));
  assert_true(ok(l, "203.0.113.9"));
  assert_false(ok(l, "2001:db8::1"));  // an IPv4 /0 says nothing about IPv6: default deny
}

// Against a brute-force model with random rules of random lengths.
static void test_random_against_model(void**) {
  Rng rng(test_seed());
  for (int round = 0; round < 50; ++round) {
    AllowList l;
    std::vector<AccessRule> rules;
    for (int i = 0; i < 40; ++i) {
      IpAddr a = IpAddr::v4(rng.next_u32() & 0xFFFF0000u);  // cluster in a few /16s
      a.bytes[0] = static_cast<uint8_t>(10 + (rng.next_u32() & 3));
      int len = static_cast<int>(rng.next_u32() % 33);
      AccessRule r{Prefix{mask_addr(a, len), static_cast<uint8_t>(len)},
                   (rng.next_u32() & 1) ? AccessAction::Allow : AccessAction::Deny};
      if (l.add(r)) {
        rules.push_back(r);
      }
    }
    for (int q = 0; q < 2000; ++q) {
      IpAddr a = IpAddr::v4(rng.next_u32());
      a.bytes[0] = static_cast<uint8_t>(10 + (rng.next_u32() & 3));
      int best = -1;
      AccessAction want = l.default_action();
      for (const auto& r : rules) {
        if (r.prefix.contains(a) && r.prefix.len > best) {
          best = r.prefix.len;
          want = r.action;
        }
      }
      if (l.check(a).action != want) {
        fail_msg("round %d: %s decided wrongly", round, a.to_string().c_str());
      }
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_allows_all), cmocka_unit_test(test_deny_only),
      cmocka_unit_test(test_loopback_only),    cmocka_unit_test(test_longest_prefix_wins),
      cmocka_unit_test(test_zero_prefix),      cmocka_unit_test(test_random_against_model),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
