// The helper's request validator: only exact, canonical, finite, bounded, configured
// requests pass; everything else is refused with the right reason.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/privsep.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::core;
using namespace tr7::core::privsep;

namespace {

const Timestamp k_now{1'800'000'000LL * k_ns_per_s};

Policy permissive() {
  Policy p;
  p.clock_control = true;
  p.rtc = true;
  p.max_step_s = 1000.0;
  p.floor = Timestamp{k_now.ns - 86400LL * k_ns_per_s};
  p.ceiling = Timestamp{k_now.ns + 86400LL * k_ns_per_s};
  p.bind_targets.push_back(BindTarget{"", SockAddr{*parse_ip("127.0.0.1"), 123}});
  p.bind_targets.push_back(BindTarget{"acme", SockAddr{*parse_ip("10.20.0.1"), 123}});
  p.bind_targets.push_back(BindTarget{"acme", SockAddr{*parse_ip("::"), 0}});
  return p;
}

std::vector<uint8_t> bytes(const Request& r) {
  auto b = as_bytes(r);
  return std::vector<uint8_t>(b.begin(), b.end());
}

Result<Valid, Refusal> check(const std::vector<uint8_t>& m, const Policy& p = permissive()) {
  return validate(std::span<const uint8_t>(m.data(), m.size()), p, k_now);
}
Result<Valid, Refusal> check(const Request& r, const Policy& p = permissive()) { return check(bytes(r), p); }

void refused(const Result<Valid, Refusal>& v, Refusal want) {
  if (v.has_value()) {
    fail_msg("accepted, expected refusal '%s'", to_string(want));
  }
  if (v.error() != want) {
    fail_msg("refused with '%s', expected '%s'", to_string(v.error()), to_string(want));
  }
}

Request open_udp(const char* ns, const char* ip, uint16_t port) {
  auto r = make_open_udp(7, ns, SockAddr{*parse_ip(ip), port});
  assert_true(r.has_value());
  return *r;
}

// The canonical encoding of what the validator accepted.
Request encode(const Valid& v) {
  switch (v.op) {
    case Op::SetLeap:
      return make_set_leap(v.seq, v.leap);
    case Op::OpenUdp:
      return *make_open_udp(v.seq, v.target.netns, v.target.addr);
    case Op::NetnsId:
      return *make_netns_id(v.seq, v.target.netns);
    case Op::SetSync:
      return make_set_sync(v.seq, v.synchronised, v.value2, v.value);
    default:
      return make_request(v.op, v.seq, v.value);
  }
}

}  // namespace

static void test_valid_requests(void**) {
  for (Op op : {Op::Query, Op::ReadRtc, Op::WriteRtc, Op::OpenConfig}) {
    auto v = check(make_request(op, 42));
    assert_true(v.has_value());
    assert_true(v->op == op);
    assert_int_equal(v->seq, 42);
  }
  auto s = check(make_request(Op::Slew, 1, -0.25));
  assert_true(s && s->op == Op::Slew && s->value == -0.25);
  auto f = check(make_request(Op::SetFreq, 2, 100000.0));
  assert_true(f && f->value == 100000.0);
  f = check(make_request(Op::SetFreq, 2, -100000.0));
  assert_true(f && f->value == -100000.0);
  auto st = check(make_request(Op::Step, 3, 999.5));
  assert_true(st && st->value == 999.5);
  for (Leap l : {Leap::None, Leap::Insert, Leap::Delete}) {
    auto lv = check(make_set_leap(4, l));
    assert_true(lv && lv->leap == l);
  }
  auto u = check(open_udp("", "127.0.0.1", 123));
  assert_true(u && u->target.netns.empty() && u->target.addr.port == 123);
  u = check(open_udp("acme", "10.20.0.1", 123));
  assert_true(u && u->target.netns == "acme");
  u = check(open_udp("acme", "::", 0));
  assert_true(u && u->target.addr.ip.is_v6() && u->target.addr.port == 0);
}

static void test_sizes(void**) {
  std::vector<uint8_t> good = bytes(make_request(Op::Query, 1));
  for (size_t n : {size_t{0}, size_t{1}, size_t{4}, size_t{12}, sizeof(Request) - 1}) {
    refused(check(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(n))), Refusal::BadSize);
  }
  for (size_t extra : {size_t{1}, size_t{8}, sizeof(Request)}) {
    std::vector<uint8_t> longer = good;
    longer.resize(good.size() + extra, 0);
    refused(check(longer), Refusal::BadSize);
  }
}

static void test_version_and_op(void**) {
  for (uint32_t ver : {0u, 2u, 0x01000000u, 0xffffffffu}) {
    Request r = make_request(Op::Query, 1);
    r.version = ver;
    refused(check(r), Refusal::BadVersion);
  }
  for (uint32_t op : {0u, k_op_max + 1, 100u, 0xffffffffu}) {
    Request r = make_request(Op::Query, 1);
    r.op = op;
    refused(check(r), Refusal::UnknownOp);
  }
}

static void test_not_finite(void**) {
  const double bad[] = {std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::signaling_NaN(), std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity()};
  for (Op op : {Op::Slew, Op::SetFreq, Op::Step}) {
    for (double v : bad) {
      refused(check(make_request(op, 1, v)), Refusal::NotFinite);
    }
    // A NaN with another payload too.
    Request r = make_request(op, 1, 0.0);
    uint64_t nan_bits = 0x7ff0000000000123ULL;
    std::memcpy(&r.value, &nan_bits, sizeof nan_bits);
    refused(check(r), Refusal::NotFinite);
  }
}

static void test_bounds(void**) {
  refused(check(make_request(Op::SetFreq, 1, 100000.00001)), Refusal::OutOfRange);
  refused(check(make_request(Op::SetFreq, 1, -1e9)), Refusal::OutOfRange);
  refused(check(make_request(Op::Slew, 1, k_max_slew_s + 0.001)), Refusal::OutOfRange);
  assert_true(check(make_request(Op::Slew, 1, -k_max_slew_s)).has_value());
  // Huge steps: beyond max_step, and far beyond anything.
  refused(check(make_request(Op::Step, 1, 1000.001)), Refusal::OutOfRange);
  refused(check(make_request(Op::Step, 1, -1e300)), Refusal::OutOfRange);
  refused(check(make_request(Op::Step, 1, std::numeric_limits<double>::max())), Refusal::OutOfRange);
  // Inside max_step, but the target leaves the plausible window.
  Policy p = permissive();
  p.max_step_s = 1e9;
  refused(check(make_request(Op::Step, 1, -86401.0), p), Refusal::OutOfRange);
  refused(check(make_request(Op::Step, 1, 86401.0), p), Refusal::OutOfRange);
  assert_true(check(make_request(Op::Step, 1, 86399.0), p).has_value());
  // Without a window (zero floor/ceiling) only max_step counts.
  p.floor = Timestamp{};
  p.ceiling = Timestamp{};
  assert_true(check(make_request(Op::Step, 1, -1e8), p).has_value());
  // Leap values past "delete" (3 is "unsynchronised", not a leap second).
  for (uint32_t l : {3u, 4u, 0xffffffffu}) {
    Request r = make_set_leap(1, Leap::None);
    r.leap = l;
    refused(check(r), Refusal::OutOfRange);
  }
}

static void test_disabled(void**) {
  Policy none = permissive();
  none.clock_control = false;  // clock = none
  refused(check(make_request(Op::Slew, 1, 0.1), none), Refusal::Disabled);
  refused(check(make_request(Op::SetFreq, 1, 1.0), none), Refusal::Disabled);
  refused(check(make_request(Op::Step, 1, 1.0), none), Refusal::Disabled);
  refused(check(make_set_leap(1, Leap::Insert), none), Refusal::Disabled);
  refused(check(make_request(Op::WriteRtc, 1), none), Refusal::Disabled);
  assert_true(check(make_request(Op::ReadRtc, 1), none).has_value());
  assert_true(check(make_request(Op::Query, 1), none).has_value());
  Policy no_rtc = permissive();
  no_rtc.rtc = false;
  refused(check(make_request(Op::ReadRtc, 1), no_rtc), Refusal::Disabled);
  refused(check(make_request(Op::WriteRtc, 1), no_rtc), Refusal::Disabled);
}

static void test_not_canonical(void**) {
  Request r = make_request(Op::Query, 1);
  r.reserved = 1;
  refused(check(r), Refusal::NotCanonical);
  r = make_request(Op::Query, 1);
  r.value = 1.0;  // Query carries no value
  refused(check(r), Refusal::NotCanonical);
  r = make_request(Op::Slew, 1, 0.5);
  r.leap = 1;
  refused(check(r), Refusal::NotCanonical);
  r = make_request(Op::Step, 1, 0.5);
  r.port = 123;
  refused(check(r), Refusal::NotCanonical);
  r = make_set_leap(1, Leap::Insert);
  r.value = 1.0;
  refused(check(r), Refusal::NotCanonical);
  r = make_request(Op::WriteRtc, 1);
  r.netns[0] = 'x';  // WriteRtc takes no time or name from the worker
  refused(check(r), Refusal::NotCanonical);
  r = open_udp("acme", "10.20.0.1", 123);
  r.netns[10] = 'x';  // junk after the terminating NUL
  refused(check(r), Refusal::NotCanonical);
  r = open_udp("", "127.0.0.1", 123);
  r.addr[5] = 1;  // IPv4 uses the first 4 bytes only
  refused(check(r), Refusal::NotCanonical);
  r = open_udp("", "127.0.0.1", 123);
  r.reserved2 = 1;
  refused(check(r), Refusal::NotCanonical);
  // IPv4-mapped IPv6 must be asked as IPv4.
  r = open_udp("", "127.0.0.1", 123);
  r.family = 6;
  std::memset(r.addr, 0, 16);
  r.addr[10] = 0xff;
  r.addr[11] = 0xff;
  r.addr[12] = 127;
  r.addr[15] = 1;
  refused(check(r), Refusal::NotCanonical);
}

static void test_open_udp(void**) {
  refused(check(open_udp("", "127.0.0.2", 123)), Refusal::NotConfigured);
  refused(check(open_udp("", "127.0.0.1", 124)), Refusal::NotConfigured);
  refused(check(open_udp("", "127.0.0.1", 0)), Refusal::NotConfigured);  // port 0 not configured here
  refused(check(open_udp("other", "10.20.0.1", 123)), Refusal::NotConfigured);
  refused(check(open_udp("acme", "127.0.0.1", 123)), Refusal::NotConfigured);
  refused(check(open_udp("acme", "::", 123)), Refusal::NotConfigured);
  Request r = open_udp("", "127.0.0.1", 123);
  r.family = 5;
  refused(check(r), Refusal::OutOfRange);
  r.family = 0;
  refused(check(r), Refusal::OutOfRange);
}

static void test_runtime_tenants(void**) {
  Policy p = permissive();
  // Without runtime rules only the configured targets.
  refused(check(open_udp("cust-1", "100.64.0.1", 123), p), Refusal::NotConfigured);
  refused(check(*make_netns_id(1, "cust-1"), p), Refusal::NotConfigured);
  auto v = check(*make_netns_id(3, "acme"), p);  // a configured tenant's namespace
  assert_true(v.has_value() && v->op == Op::NetnsId && v->target.netns == "acme" && v->seq == 3);
  p.runtime_rules.push_back(*parse_runtime_bind_rule("cust-* 100.64.0.0/10 port 123"));
  assert_true(check(open_udp("cust-1", "100.64.0.1", 123), p).has_value());
  assert_true(check(*make_netns_id(1, "cust-1"), p).has_value());
  refused(check(open_udp("cust-1", "100.64.0.1", 124), p), Refusal::NotConfigured);  // port
  refused(check(open_udp("cust-1", "100.64.0.1", 0), p), Refusal::NotConfigured);    // never ephemeral
  refused(check(open_udp("cust-1", "10.0.0.1", 123), p), Refusal::NotConfigured);    // prefix
  refused(check(open_udp("cus-1", "100.64.0.1", 123), p), Refusal::NotConfigured);   // namespace
  refused(check(open_udp("", "100.64.0.1", 123), p), Refusal::NotConfigured);        // own namespace
  refused(check(*make_netns_id(1, "other"), p), Refusal::NotConfigured);
  // NetnsId: a name is required, and nothing but the name may be set.
  assert_false(make_netns_id(1, "").has_value());
  assert_false(make_netns_id(1, "..").has_value());
  Request r = *make_netns_id(1, "cust-1");
  r.port = 123;
  refused(check(r, p), Refusal::NotCanonical);
  r = *make_netns_id(1, "cust-1");
  r.value = 1.0;
  refused(check(r, p), Refusal::NotCanonical);
  r = *make_netns_id(1, "cust-1");
  r.netns[10] = 'x';  // junk after the NUL
  refused(check(r, p), Refusal::NotCanonical);
  r = *make_netns_id(1, "cust-1");
  std::memset(r.netns, 0, sizeof r.netns);
  refused(check(r, p), Refusal::BadNetnsName);
  std::memset(r.netns, 'a', sizeof r.netns);
  refused(check(r, p), Refusal::BadNetnsName);
  r = *make_netns_id(1, "cust-1");
  r.netns[2] = '/';
  refused(check(r, p), Refusal::BadNetnsName);
}

static void test_netns_names(void**) {
  std::string max(k_netns_max, 'a');
  assert_true(valid_netns_name("acme"));
  assert_true(valid_netns_name("a"));
  assert_true(valid_netns_name("Tenant_1.prod-2"));
  assert_true(valid_netns_name(max));
  assert_true(valid_netns_name("..."));  // a plain (if odd) file name
  for (const std::string& bad :
       {std::string(""), std::string("."), std::string(".."), std::string("a/b"), std::string("../x"),
        std::string("/etc"), std::string("a b"), std::string("a\nb"), std::string("a\tb"), std::string("caf\xc3\xa9"),
        std::string("a\0b", 3), std::string("x*"), std::string("$(id)"), max + "a"}) {
    if (valid_netns_name(bad)) {
      fail_msg("accepted netns name '%s'", bad.c_str());
    }
  }
  // On the wire: bad names are refused, also those make_open_udp would not build.
  assert_false(make_open_udp(1, "a/b", SockAddr{*parse_ip("10.0.0.1"), 123}).has_value());
  assert_false(make_open_udp(1, "..", SockAddr{*parse_ip("10.0.0.1"), 123}).has_value());
  for (const char* name : {"a/b", "..", ".", "a b", "x\x01"}) {
    Request r = open_udp("acme", "10.20.0.1", 123);
    std::memset(r.netns, 0, sizeof r.netns);
    std::memcpy(r.netns, name, std::strlen(name));
    refused(check(r), Refusal::BadNetnsName);
  }
  Request r = open_udp("acme", "10.20.0.1", 123);
  std::memset(r.netns, 'a', sizeof r.netns);  // no terminating NUL
  refused(check(r), Refusal::BadNetnsName);
  std::memset(r.netns, 0, sizeof r.netns);
  std::memset(r.netns, 'a', k_netns_max + 1);  // 65 characters
  refused(check(r), Refusal::BadNetnsName);
}

// Random messages and random single-byte changes of valid ones: whatever is accepted is
// exactly the canonical encoding of what was accepted, finite and within the bounds.
static void test_random_messages(void**) {
  std::mt19937_64 rng(test_seed());
  Policy p = permissive();
  std::vector<Request> seeds = {make_request(Op::Query, 1),         make_request(Op::Slew, 2, 0.1),
                                make_request(Op::SetFreq, 3, 12.5), make_request(Op::Step, 4, -3.0),
                                make_set_leap(5, Leap::Insert),     open_udp("acme", "10.20.0.1", 123),
                                make_request(Op::WriteRtc, 6),      *make_netns_id(7, "acme"),
                                make_set_sync(8, true, 1e-4, 2e-3), make_set_sync(9, false, 0, 0)};
  int accepted = 0;
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> m;
    if (i % 4 == 0) {
      m.resize(rng() % 2 == 0 ? sizeof(Request) : rng() % 300);
      for (auto& b : m) {
        b = static_cast<uint8_t>(rng());
      }
      if (m.size() >= 8 && rng() % 2 == 0) {
        uint32_t ver = k_version;
        uint32_t op = static_cast<uint32_t>(rng() % (k_op_max + 2));
        std::memcpy(m.data(), &ver, 4);
        std::memcpy(m.data() + 4, &op, 4);
      }
    } else {
      m = bytes(seeds[rng() % seeds.size()]);
      int flips = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < flips; ++k) {
        m[rng() % m.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
    }
    auto v = check(m, p);
    if (!v) {
      continue;
    }
    ++accepted;
    assert_true(m.size() == sizeof(Request) || v->op == Op::AuditAppend);
    Request again = encode(*v);
    assert_memory_equal(&again, m.data(), sizeof again);
    assert_true(std::isfinite(v->value));
    if (v->op == Op::SetFreq) {
      assert_true(std::fabs(v->value) <= k_max_freq_ppm);
    }
    if (v->op == Op::Step) {
      assert_true(std::fabs(v->value) <= p.max_step_s);
    }
    if (v->op == Op::SetSync) {
      assert_true(v->value >= 0 && v->value <= k_max_sync_error_s && v->value2 >= 0 &&
                  v->value2 <= k_max_sync_error_s && std::isfinite(v->value2));
      assert_true(v->synchronised || (v->value == 0 && v->value2 == 0));
    }
  }
  std::printf("# %d of 200000 random messages accepted\n", accepted);
  assert_true(accepted > 0);
}

// SetSync (the kernel's STA_UNSYNC, esterror, maxerror): two bounded, finite error
// values and a flag; nothing else; only with clock control.
static void test_set_sync(void**) {
  auto s = check(make_set_sync(3, true, 1.5e-4, 2.5e-3));
  assert_true(s && s->op == Op::SetSync && s->synchronised && s->value == 2.5e-3 && s->value2 == 1.5e-4);
  auto u = check(make_set_sync(4, false, 0.1, 0.2));  // not synchronised: no bounds sent
  assert_true(u && !u->synchronised && u->value == 0 && u->value2 == 0);
  // The worker side clamps: 16 s at most, never negative, NaN as the limit.
  Request c = make_set_sync(5, true, -1.0, 1e9);
  assert_true(c.value == k_max_sync_error_s && c.value2 == 0.0);
  c = make_set_sync(5, true, std::nan(""), 0.5);
  assert_true(c.value2 == k_max_sync_error_s && check(c));
  // Hand-made bad ones.
  Request r = make_set_sync(6, true, 1e-4, 1e-3);
  r.value = std::numeric_limits<double>::infinity();
  refused(check(r), Refusal::NotFinite);
  r = make_set_sync(6, true, 1e-4, 1e-3);
  r.value2 = std::nan("");
  refused(check(r), Refusal::NotFinite);
  r = make_set_sync(6, true, 1e-4, 1e-3);
  r.value = 16.5;
  refused(check(r), Refusal::OutOfRange);
  r = make_set_sync(6, true, 1e-4, 1e-3);
  r.value2 = -1e-6;
  refused(check(r), Refusal::OutOfRange);
  r = make_set_sync(6, true, 1e-4, 1e-3);
  r.leap = 2;
  refused(check(r), Refusal::OutOfRange);
  r = make_set_sync(6, false, 0, 0);
  r.value = 1e-3;  // bounds with "not synchronised"
  refused(check(r), Refusal::NotCanonical);
  r = make_set_sync(6, true, 1e-4, 1e-3);
  r.port = 1;
  refused(check(r), Refusal::NotCanonical);
  r = make_set_sync(6, true, 1e-4, -0.0);
  r.value = -0.0;
  refused(check(r), Refusal::NotCanonical);
  Policy off = permissive();
  off.clock_control = false;
  refused(check(make_set_sync(7, true, 1e-4, 1e-3), off), Refusal::Disabled);
  // value2 is used by SetSync only: anywhere else it must be zero.
  Request q = make_request(Op::SetFreq, 8, 1.0);
  q.value2 = 1.0;
  refused(check(q), Refusal::NotCanonical);
}

static void test_step_budget(void**) {
  StepBudget b(k_step_burst, k_step_refill_s);
  int64_t t = 5'000'000'000;
  for (unsigned i = 0; i < k_step_burst; ++i) {
    assert_true(b.take(t));
  }
  assert_false(b.take(t));
  assert_false(b.take(t + static_cast<int64_t>((k_step_refill_s - 1) * 1e9)));
  assert_true(b.take(t + static_cast<int64_t>(k_step_refill_s * 1e9)));
  assert_false(b.take(t + static_cast<int64_t>(k_step_refill_s * 1e9)));
  // A long quiet time refills only up to the burst; time going backwards adds nothing.
  int64_t later = t + static_cast<int64_t>(100 * k_step_refill_s * 1e9);
  for (unsigned i = 0; i < k_step_burst; ++i) {
    assert_true(b.take(later));
  }
  assert_false(b.take(later));
  assert_false(b.take(t));
}

static void test_responses(void**) {
  Response r = make_response(static_cast<uint32_t>(Op::ReadRtc), 9, 0);
  r.time_ns = 123;
  auto ok = parse_response(as_bytes(r), Op::ReadRtc, 9);
  assert_true(ok && ok->time_ns == 123);
  assert_false(parse_response(as_bytes(r), Op::ReadRtc, 10).has_value());  // other seq
  assert_false(parse_response(as_bytes(r), Op::WriteRtc, 9).has_value());  // other op
  Response bad = r;
  bad.version = 2;
  assert_false(parse_response(as_bytes(bad), Op::ReadRtc, 9).has_value());
  bad = r;
  bad.has_fd = 2;
  assert_false(parse_response(as_bytes(bad), Op::ReadRtc, 9).has_value());
  auto b = as_bytes(r);
  assert_false(parse_response(b.subspan(0, b.size() - 1), Op::ReadRtc, 9).has_value());
  Response ref = make_refusal(3, 4, Refusal::RateLimited);
  assert_int_equal(ref.status, -static_cast<int32_t>(Refusal::RateLimited));
  uint32_t op = 0;
  uint32_t seq = 0;
  Request q = make_request(Op::Step, 77, 1.0);
  peek_ids(as_bytes(q), op, seq);
  assert_int_equal(op, static_cast<uint32_t>(Op::Step));
  assert_int_equal(seq, 77);
  peek_ids(as_bytes(q).subspan(0, 5), op, seq);
  assert_int_equal(op, 0);
  assert_int_equal(seq, 0);
  for (int i = 1; i <= k_refusals; ++i) {
    assert_true(std::strcmp(to_string(static_cast<Refusal>(i)), "unknown refusal") != 0);
  }
  for (uint32_t i = k_op_min; i <= k_op_max; ++i) {
    assert_true(std::strcmp(to_string(static_cast<Op>(i)), "unknown") != 0);
  }
}

// A header and whatever follows it, as one message.
static std::vector<uint8_t> with_record(const Request& h, std::string_view rec) {
  std::vector<uint8_t> m(sizeof h + rec.size());
  std::memcpy(m.data(), &h, sizeof h);
  if (!rec.empty()) {
    std::memcpy(m.data() + sizeof h, rec.data(), rec.size());
  }
  return m;
}

// Issue 19 item 7: AuditAppend is a header and one record; nothing else is longer.
static void test_audit_append(void**) {
  Policy p = permissive();
  p.audit = true;
  std::string rec = R"({"command":"allow add 10.0.0.0/8","result":"ok"})";
  auto m = make_audit_append(9, rec);
  assert_true(m.has_value());
  assert_int_equal(m->size(), sizeof(Request) + rec.size());
  auto v = check(*m, p);
  assert_true(v.has_value());
  assert_true(v->op == Op::AuditAppend && v->seq == 9 && v->record == rec);
  refused(check(*m, permissive()), Refusal::Disabled);  // no audit log in this helper
  // Not one record on one line: refused by the worker's encoder and by the validator.
  std::string nul = std::string("{\"a\":\"") + '\0' + "\"}";
  for (std::string bad : {std::string("{\n}"), std::string("{\"a\":1}\n"), std::string("not json"), std::string("{"),
                          std::string("{\"a\":\"\x7f\"}"), std::string("{\"a\r\":1}"), nul}) {
    assert_false(make_audit_append(1, bad).has_value());
    refused(check(with_record(make_request(Op::AuditAppend, 1), bad), p), Refusal::OutOfRange);
  }
  // The header alone: no record.
  refused(check(make_request(Op::AuditAppend, 1), p), Refusal::BadSize);
  // Too long.
  std::string big = "{\"a\":\"" + std::string(k_max_audit_record, 'x') + "\"}";
  assert_false(make_audit_append(1, big).has_value());
  refused(check(with_record(make_request(Op::AuditAppend, 1), big), p), Refusal::OutOfRange);
  // A header field the op does not use.
  Request h = make_request(Op::AuditAppend, 1);
  h.port = 1;
  refused(check(with_record(h, rec), p), Refusal::NotCanonical);
  // Any other op with bytes after its request: too long.
  refused(check(with_record(make_request(Op::Query, 1), rec), p), Refusal::BadSize);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_valid_requests),  cmocka_unit_test(test_sizes),     cmocka_unit_test(test_version_and_op),
      cmocka_unit_test(test_not_finite),      cmocka_unit_test(test_bounds),    cmocka_unit_test(test_disabled),
      cmocka_unit_test(test_not_canonical),   cmocka_unit_test(test_open_udp),  cmocka_unit_test(test_netns_names),
      cmocka_unit_test(test_runtime_tenants), cmocka_unit_test(test_set_sync),  cmocka_unit_test(test_random_messages),
      cmocka_unit_test(test_step_budget),     cmocka_unit_test(test_responses), cmocka_unit_test(test_audit_append),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
