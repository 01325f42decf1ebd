// core/tenant: names, the `tenant add` words (round trip), glob patterns and the runtime
// bind rules the helper enforces.
#include <random>
#include <string>
#include <vector>

#include "core/strutil.h"
#include "core/tenant.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

std::vector<std::string> words(const char* s) { return split_words(s); }

}  // namespace

static void test_names(void**) {
  assert_true(valid_tenant_name("acme"));
  assert_true(valid_tenant_name("a.b-c_D9"));
  assert_true(valid_tenant_name(std::string(64, 'x')));
  assert_false(valid_tenant_name(std::string(65, 'x')));
  for (const char* bad : {"", ".", "..", "a/b", "a b", "a\n", "ü"}) {
    assert_false(valid_tenant_name(bad));
  }
}

static void test_parse_words(void**) {
  auto s = parse_tenant_words("acme", words("netns ns1 listen 10.0.0.1:123,[fd00::1]:123 allow 10.0.0.0/8 "
                                            "deny 10.9.0.0/16,10.8.0.1 max_clients 100 ratelimit interval 2 burst 4 "
                                            "kod yes deny_kod yes"));
  if (!s) {
    fail_msg("%s", s.error().c_str());
  }
  assert_string_equal(s->netns.c_str(), "ns1");
  assert_int_equal(s->listen.size(), 2);
  assert_int_equal(s->access.size(), 3);
  assert_int_equal(s->max_clients, 100);
  assert_true(s->ratelimit.enabled && s->ratelimit.kod && s->ratelimit.burst == 4);
  assert_true(s->deny_kod);
  // Round trip.
  auto w = tenant_words(*s);
  auto back = parse_tenant_words("acme", w);
  assert_true(back.has_value());
  assert_true(tenant_words(*back) == w);
  assert_true(back->listen == s->listen);

  struct Bad {
    const char* name;
    const char* w;
    const char* what;
  } bad[] = {
      {"default", "netns a listen 10.0.0.1:123", "'default'"},
      {"a/b", "netns a listen 10.0.0.1:123", "invalid tenant name"},
      {"a", "listen 10.0.0.1:123", "missing 'netns"},
      {"a", "netns a", "missing 'listen"},
      {"a", "netns a listen", "needs a value"},
      {"a", "netns .. listen 10.0.0.1:123", "invalid namespace"},
      {"a", "netns a netns b listen 10.0.0.1:123", "twice"},
      {"a", "netns a listen 10.0.0.1", "listen"},
      {"a", "netns a listen 10.0.0.1:123,10.0.0.1:123", "duplicate"},
      {"a", "netns a listen 10.0.0.1:123 allow 10.0.0.0/8 deny 10.0.0.0/8", "already has a rule"},
      {"a", "netns a listen 10.0.0.1:123 allow 10.0.0.1/8", "allow"},
      {"a", "netns a listen 10.0.0.1:123 max_clients 1", "max_clients"},
      {"a", "netns a listen 10.0.0.1:123 ratelimit interval 2", "needs both"},
      {"a", "netns a listen 10.0.0.1:123 ratelimit", "needs both"},
      {"a", "netns a listen 10.0.0.1:123 bogus 1", "unknown setting"},
      {"a",
       "netns a listen 10.0.0.1:1,10.0.0.2:1,10.0.0.3:1,10.0.0.4:1,10.0.0.5:1,10.0.0.6:1,10.0.0.7:1,10.0.0.8:1,"
       "10.0.0.9:1",
       "at most"},
  };
  for (const auto& b : bad) {
    auto r = parse_tenant_words(b.name, words(b.w));
    if (r.has_value()) {
      fail_msg("accepted: %s %s", b.name, b.w);
    }
    if (r.error().find(b.what) == std::string::npos) {
      fail_msg("%s %s: '%s' does not say '%s'", b.name, b.w, r.error().c_str(), b.what);
    }
  }
}

static void test_glob(void**) {
  assert_true(glob_match("*", ""));
  assert_true(glob_match("*", "abc"));
  assert_true(glob_match("t-*", "t-1"));
  assert_true(glob_match("t-*", "t-"));
  assert_false(glob_match("t-*", "t"));
  assert_true(glob_match("a?c", "abc"));
  assert_false(glob_match("a?c", "ac"));
  assert_true(glob_match("*b*d", "abcbd"));
  assert_false(glob_match("*b*d", "abcbe"));
  assert_true(glob_match("exact", "exact"));
  assert_false(glob_match("exact", "exacT"));
  // Randomized: a pattern made of the text with random runs replaced by '*' or chars by
  // '?' always matches it.
  std::mt19937_64 rng(test_seed());
  for (int i = 0; i < 2000; ++i) {
    std::string t;
    size_t n = rng() % 12;
    for (size_t k = 0; k < n; ++k) {
      t += static_cast<char>('a' + rng() % 3);
    }
    std::string p;
    for (size_t k = 0; k < t.size();) {
      switch (rng() % 4) {
        case 0: {
          size_t run = rng() % 3;
          p += '*';
          k += std::min(run, t.size() - k);
          break;
        }
        case 1:
          p += '?';
          ++k;
          break;
        default:
          p += t[k++];
      }
    }
    if (!glob_match(p, t)) {
      fail_msg("'%s' does not match '%s'", p.c_str(), t.c_str());
    }
  }
}

static void test_runtime_rules(void**) {
  auto r = parse_runtime_bind_rule("t-* 10.99.0.0/16 port 123");
  assert_true(r.has_value());
  assert_string_equal(to_string(*r).c_str(), "t-* 10.99.0.0/16 port 123");
  auto any_port = parse_runtime_bind_rule("lab 192.0.2.0/24");
  assert_true(any_port.has_value());
  std::vector<RuntimeBindRule> rules{*r, *any_port};
  auto sa = [](const char* s) { return *parse_sockaddr(s); };
  assert_true(runtime_bind_allowed(rules, "t-c", sa("10.99.3.1:123")));
  assert_false(runtime_bind_allowed(rules, "t-c", sa("10.99.3.1:124")));  // port
  assert_false(runtime_bind_allowed(rules, "u-c", sa("10.99.3.1:123")));  // namespace
  assert_false(runtime_bind_allowed(rules, "t-c", sa("10.98.3.1:123")));  // prefix
  assert_true(runtime_bind_allowed(rules, "lab", sa("192.0.2.9:4000")));
  SockAddr eph = sa("192.0.2.9:1");
  eph.port = 0;
  assert_false(runtime_bind_allowed(rules, "lab", eph));                   // never an ephemeral port
  assert_false(runtime_bind_allowed(rules, "../x", sa("10.99.3.1:123")));  // never a bad name
  assert_false(runtime_bind_allowed({}, "t-c", sa("10.99.3.1:123")));
  for (const char* bad : {"", "t*", "t/x 10.0.0.0/8", "t* 10.0.0.1/8", "t* 10.0.0.0/8 port", "t* 10.0.0.0/8 prt 1",
                          "t* 10.0.0.0/8 port 70000", "t* 10.0.0.0/8 port 1 x"}) {
    if (parse_runtime_bind_rule(bad)) {
      fail_msg("accepted '%s'", bad);
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_parse_words),
      cmocka_unit_test(test_glob),
      cmocka_unit_test(test_runtime_rules),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
