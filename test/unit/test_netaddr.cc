// Strict address, socket address and prefix parsing (THREATS.md §2b addresses, CIDR).
#include "core/netaddr.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "testutil.h"

using namespace tr7::core;

static void test_ipv4_strict(void**) {
  assert_true(parse_ip("192.0.2.1").has_value());
  assert_true(parse_ip("0.0.0.0").has_value());
  assert_true(parse_ip("255.255.255.255").has_value());
  for (const char* bad : {"256.1.1.1", "1.2.3", "010.1.1.1", "0x7f.1", "1.2.3.4.5", "1..2.3", "", " 1.2.3.4",
                          "1.2.3.4 ", "-1.2.3.4", "1.2.3.04", "a.b.c.d", "1.2.3.4/"}) {
    if (parse_ip(bad).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
}

static void test_ipv6(void**) {
  auto a = parse_ip("2001:db8::1");
  assert_true(a && a->is_v6());
  assert_string_equal(a->to_string().c_str(), "2001:db8::1");
  assert_false(parse_ip("fe80::1%eth0").has_value());  // zone ids refused
  assert_false(parse_ip("2001:db8:::1").has_value());
  assert_false(parse_ip("[::1]").has_value());
  // Mapped addresses become IPv4.
  auto m = parse_ip("::ffff:1.2.3.4");
  assert_true(m && m->is_v4());
  assert_string_equal(m->to_string().c_str(), "1.2.3.4");
  assert_true(parse_ip("::1")->is_loopback());
  assert_true(parse_ip("127.127.1.1")->is_loopback());
}

static void test_bad_sources(void**) {
  for (const char* s : {"0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.255", "255.255.255.255", "::", "ff02::1"}) {
    if (!parse_ip(s)->is_bad_source()) {
      fail_msg("%s should be a bad source", s);
    }
  }
  for (const char* s : {"127.0.0.1", "10.1.2.3", "::1", "2001:db8::5", "192.0.2.255"}) {
    if (parse_ip(s)->is_bad_source()) {
      fail_msg("%s should be a good source", s);
    }
  }
}

static void test_sockaddr(void**) {
  auto a = parse_sockaddr("127.0.0.1:123");
  assert_true(a.has_value());
  assert_int_equal(a->port, 123);
  auto b = parse_sockaddr("[::1]:10123");
  assert_true(b.has_value() && b->ip.is_v6());
  assert_string_equal(b->to_string().c_str(), "[::1]:10123");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:0123",
                          "::1:123", "[::1]123", "[127.0.0.1]:123", "[::1]:", "host:123", "1.2.3.4:-1",
                          "1.2.3.4:12a"}) {
    if (parse_sockaddr(bad).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
  sockaddr_storage ss{};
  unsigned len = b->to_sockaddr(ss);
  auto back = SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  assert_true(back && *back == *b);
}

static void test_prefix_every_length(void**) {
  // Every IPv4 length 0..32 with a network address parses, 33 does not.
  for (int len = 0; len <= 32; ++len) {
    std::string s = "0.0.0.0/" + std::to_string(len);
    auto p = parse_prefix(s);
    if (!p) {
      fail_msg("%s refused: %s", s.c_str(), p.error().c_str());
    }
    assert_int_equal(p->len, len);
  }
  assert_false(parse_prefix("0.0.0.0/33").has_value());
  for (int len = 0; len <= 128; ++len) {
    std::string s = "::/" + std::to_string(len);
    auto p = parse_prefix(s);
    if (!p) {
      fail_msg("%s refused: %s", s.c_str(), p.error().c_str());
    }
  }
  assert_false(parse_prefix("::/129").has_value());
  for (const char* bad : {"10.0.0.0/-1", "10.0.0.0/08", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0.0/a", "10.0.0.1/8",
                          "2001:db8::1/32", "10.0.0.0/+8"}) {
    if (parse_prefix(bad).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
  // The host-bits error suggests the network.
  auto e = parse_prefix("10.1.2.3/8");
  assert_true(e.error().find("10.0.0.0/8") != std::string::npos);
  // Prefixes not on a nibble boundary (chrony CVE-2015-1821 was /N with N%4 != 0).
  auto p = parse_prefix("2001:db8::/33");
  assert_true(p.has_value());
  assert_true(p->contains(*parse_ip("2001:db8:7fff::1")));
  assert_false(p->contains(*parse_ip("2001:db8:8000::1")));
  auto q = parse_prefix("192.0.2.128/25");
  assert_true(q->contains(*parse_ip("192.0.2.200")));
  assert_false(q->contains(*parse_ip("192.0.2.100")));
  // Bare address = host prefix; mapped prefix counts v6 bits.
  assert_int_equal(parse_prefix("192.0.2.7")->len, 32);
  auto mp = parse_prefix("::ffff:10.0.0.0/104");
  assert_true(mp && mp->addr.is_v4() && mp->len == 8);
  assert_false(parse_prefix("::ffff:10.0.0.0/64").has_value());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ipv4_strict), cmocka_unit_test(test_ipv6),
      cmocka_unit_test(test_bad_sources), cmocka_unit_test(test_sockaddr),
      cmocka_unit_test(test_prefix_every_length),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
