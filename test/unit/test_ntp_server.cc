// Server decisions: which requests are answered, with what, and which are dropped
// (THREATS.md: amplification, bad packets, access, rate limiting).
#include <vector>

#include "core/ntp_server.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

constexpr int64_t k_s = 1'000'000'000;
const Timestamp k_rx{1'795'000'000LL * k_s + 123'456'789};  // 2026-11-18
const IpAddr k_none{};

std::vector<uint8_t> request(uint8_t version = 4, Mode mode = Mode::Client, size_t len = 48) {
  std::vector<uint8_t> p(len, 0);
  p[0] = static_cast<uint8_t>(version << 3 | static_cast<uint8_t>(mode));
  p[2] = 6;  // poll
  for (int i = 40; i < 48; ++i) {
    p[i] = static_cast<uint8_t>(0xA0 + i);  // transmit timestamp
  }
  return p;
}

SockAddr from(const char* ip, uint16_t port = 40000) { return SockAddr{*parse_ip(ip), port}; }

struct Fixture {
  NtpServer server;
  explicit Fixture(ServerPolicy p = {}) : server(std::move(p), SipKey{1, 2}, 42, -20) {}
  Verdict ask(const std::vector<uint8_t>& req, const SockAddr& src, const ReferenceState& ref,
              NtpHeader* out_h = nullptr, int64_t mono = 0, const IpAddr& to = k_none) {
    uint8_t out[48];
    Verdict v = server.handle(req, src, to, k_rx, mono, ref, std::span<uint8_t, 48>(out, 48));
    if (out_h && v != Verdict::Drop) {
      *out_h = decode_header(std::span<const uint8_t, 48>(out, 48));
    }
    return v;
  }
};

ReferenceState synced() {
  ReferenceState r;
  r.synchronised = true;
  r.stratum = 3;
  r.refid = 0xC0000201;
  r.reference_time = Timestamp{k_rx.ns - 100 * k_s};
  r.root_delay_s = 0.010;
  r.root_dispersion_s = 0.001;
  return r;
}

}  // namespace

static void test_reply_fields(void**) {
  Fixture f;
  NtpHeader h;
  auto req = request(4);
  assert_true(f.ask(req, from("192.0.2.1"), synced(), &h) == Verdict::Reply);
  assert_true(h.mode == Mode::Server);
  assert_int_equal(h.version, 4);
  assert_true(h.leap == Leap::None);
  assert_int_equal(h.stratum, 3);
  assert_int_equal(h.poll, 6);
  assert_int_equal(h.precision, -20);
  assert_int_equal(h.refid, 0xC0000201u);
  // Origin is the request's transmit timestamp, bit for bit.
  NtpHeader rq = decode_header(std::span<const uint8_t, 48>(req.data(), 48));
  assert_true(h.origin == rq.transmit);
  assert_true(h.receive == to_ntp(k_rx));
  assert_true(h.reference == to_ntp(Timestamp{k_rx.ns - 100 * k_s}));
  assert_near(from_ntp_short(h.root_delay), 0.010, 2e-5);
  // Root dispersion grew by PHI * 100 s.
  assert_near(from_ntp_short(h.root_dispersion), 0.001 + 100 * k_phi, 2e-5);
  assert_int_equal(f.server.stats().answered, 1);
}

static void test_unsynchronised_says_so(void**) {
  Fixture f;
  NtpHeader h;
  assert_true(f.ask(request(), from("192.0.2.1"), unsynchronised_reference(), &h) == Verdict::Reply);
  assert_true(h.leap == Leap::Unsynchronised);
  assert_int_equal(h.stratum, 0);
  assert_int_equal(h.refid, 0);
  assert_true(h.reference.is_zero());
}

static void test_local_stratum(void**) {
  Fixture f;
  NtpHeader h;
  auto ref = local_reference(5, k_rx, 1e-6);
  assert_true(f.ask(request(), from("192.0.2.1"), ref, &h) == Verdict::Reply);
  assert_true(h.leap == Leap::None);
  assert_int_equal(h.stratum, 5);
  assert_int_equal(h.refid, k_refid_local);
}

static void test_versions_modes_lengths(void**) {
  // Every version x mode x length 0..1100: replies only for v1-4 mode 3 and 1, and v1 mode 0;
  // a reply is never longer than the request.
  Fixture f;
  uint64_t replies = 0;
  for (uint8_t v = 0; v <= 7; ++v) {
    for (uint8_t m = 0; m <= 7; ++m) {
      for (size_t len = 0; len <= 1100; ++len) {
        auto req = request(v, static_cast<Mode>(m), len < 48 ? 48 : len);
        req.resize(len);
        Verdict got = f.ask(req, from("192.0.2.1"), synced());
        bool layout_ok = len == 48 || (len >= 52 && len <= 48 + (v == 4 ? 24 : 68) && len % 4 == 0);
        bool want = v >= 1 && v <= 4 && (m == 3 || m == 1 || (v == 1 && m == 0)) && layout_ok;
        // A MAC trailer (a key id and a digest) this server has no key for: a crypto-NAK,
        // never a reply in clear (test_server_auth has the MAC'd replies).
        bool nak = want && len >= 56;
        if ((got == Verdict::Reply) != (want && !nak) || (got == Verdict::Nak) != nak) {
          fail_msg("v%u mode %u len %zu: %s", v, m, len,
                   got == Verdict::Reply ? "answered"
                   : got == Verdict::Nak ? "NAK'd"
                                         : "dropped");
        }
        if (got != Verdict::Drop) {
          replies += got == Verdict::Reply;
          assert_true(len >= 48);  // reply is 48 bytes (a crypto-NAK 52, for requests of 56 or more)
        }
      }
    }
  }
  const ServerStats& s = f.server.stats();
  assert_int_equal(s.answered, replies);
  assert_int_equal(s.received, 8u * 8u * 1101u);
  assert_int_equal(s.received, s.answered + s.nak_crypto + s.dropped_total());
  assert_true(s.dropped[static_cast<size_t>(DropReason::TooShort)] == 8u * 8u * 48u);
  assert_true(s.dropped[static_cast<size_t>(DropReason::BadMode)] > 0);
  assert_true(s.dropped[static_cast<size_t>(DropReason::BadVersion)] > 0);
}

static void test_ntpv1_mode0(void**) {
  Fixture f;
  NtpHeader h;
  assert_true(f.ask(request(1, Mode::Reserved), from("192.0.2.1"), synced(), &h) == Verdict::Reply);
  assert_int_equal(h.version, 1);
  assert_true(h.mode == Mode::Reserved);
  assert_true(f.ask(request(2, Mode::Reserved), from("192.0.2.1"), synced()) == Verdict::Drop);
  // Symmetric active (Windows' w32time, HA peers): a mode-2 reply, no association state.
  assert_true(f.ask(request(4, Mode::SymmetricActive), from("192.0.2.1"), synced(), &h) == Verdict::Reply);
  assert_true(h.mode == Mode::SymmetricPassive);
  assert_int_equal(h.version, 4);
  assert_int_equal(h.stratum, 3);
  assert_int_equal(h.refid, 0xC0000201u);
  // Symmetric passive is never answered (we make no associations to answer for).
  assert_true(f.ask(request(4, Mode::SymmetricPassive), from("192.0.2.1"), synced()) == Verdict::Drop);
  // A spoofed server reply "from" another server: silence, no loop.
  assert_true(f.ask(request(4, Mode::Server), from("192.0.2.1", 123), synced()) == Verdict::Drop);
}

static void test_bad_sources(void**) {
  Fixture f;
  for (const char* s : {"0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::101"}) {
    assert_true(f.ask(request(), from(s), synced()) == Verdict::Drop);
  }
  assert_true(f.ask(request(), from("192.0.2.1", 0), synced()) == Verdict::Drop);
  // ::1 / 127.x arriving on a non-loopback address is spoofed (CVE-2014-9751).
  assert_true(f.ask(request(), from("::1"), synced(), nullptr, 0, *parse_ip("2001:db8::1")) == Verdict::Drop);
  assert_true(f.ask(request(), from("127.0.0.1"), synced(), nullptr, 0, *parse_ip("192.0.2.9")) == Verdict::Drop);
  // On loopback they are fine, 127.127.x.x included (no refclock trust here).
  assert_true(f.ask(request(), from("127.0.0.1"), synced(), nullptr, 0, *parse_ip("127.0.0.1")) == Verdict::Reply);
  assert_true(f.ask(request(), from("127.127.1.1"), synced(), nullptr, 0, *parse_ip("127.0.0.1")) == Verdict::Reply);
  assert_int_equal(f.server.stats().dropped[static_cast<size_t>(DropReason::BadSource)], 8);
}

static void test_access(void**) {
  ServerPolicy p;
  p.access.add(AccessRule{*parse_prefix("10.0.0.0/8"), AccessAction::Allow});
  p.access.add(AccessRule{*parse_prefix("10.9.0.0/16"), AccessAction::Deny});
  Fixture f(p);
  assert_true(f.ask(request(), from("10.1.1.1"), synced()) == Verdict::Reply);
  assert_true(f.ask(request(), from("10.9.1.1"), synced()) == Verdict::Drop);
  assert_true(f.ask(request(), from("192.0.2.1"), synced()) == Verdict::Drop);
  assert_int_equal(f.server.stats().dropped[static_cast<size_t>(DropReason::Denied)], 2);
  // With deny_kod: a KoD DENY, throttled per client.
  p.deny_kod = true;
  Fixture g(p);
  NtpHeader h;
  assert_true(g.ask(request(), from("10.9.1.1"), synced(), &h, 0) == Verdict::KodDeny);
  assert_int_equal(h.stratum, 0);
  assert_true(h.leap == Leap::Unsynchronised);
  assert_int_equal(h.refid, kiss_code("DENY"));
  assert_true(g.ask(request(), from("10.9.1.1"), synced(), nullptr, 1) == Verdict::Drop);
  assert_true(g.ask(request(), from("10.9.1.1"), synced(), nullptr, 3 * k_s) == Verdict::KodDeny);
  assert_int_equal(g.server.stats().kod_deny, 2);
}

static void test_rate_limit_and_port_rotation(void**) {
  ServerPolicy p;
  p.ratelimit.enabled = true;
  p.ratelimit.interval_s = 1;
  p.ratelimit.burst = 2;
  p.ratelimit.leak = 0;
  p.ratelimit.kod = true;
  Fixture f(p);
  // Rotating the source port does not evade the limit.
  int replies = 0, kods = 0;
  for (uint16_t port = 1000; port < 1010; ++port) {
    NtpHeader h;
    Verdict v = f.ask(request(), from("192.0.2.1", port), synced(), &h, 0);
    replies += v == Verdict::Reply;
    if (v == Verdict::KodRate) {
      ++kods;
      assert_int_equal(h.refid, kiss_code("RATE"));
      assert_int_equal(h.stratum, 0);
    }
  }
  assert_int_equal(replies, 2);
  assert_int_equal(kods, 1);
  assert_int_equal(f.server.stats().dropped[static_cast<size_t>(DropReason::RateLimited)], 7);
  // Another client is unaffected.
  assert_true(f.ask(request(), from("192.0.2.2"), synced()) == Verdict::Reply);
  assert_int_equal(f.server.clients().size(), 2);
  const ClientRecord* c = f.server.clients().find(*parse_ip("192.0.2.1"));
  assert_non_null(c);
  assert_int_equal(c->requests, 10);
  assert_int_equal(c->answered, 2);
  assert_int_equal(c->limited, 8);
}

static void test_random_garbage_never_crashes(void**) {
  Rng rng(test_seed());
  Fixture f;
  std::vector<uint8_t> buf;
  uint64_t replies = 0;
  for (int i = 0; i < 200000; ++i) {
    buf.resize(rng.next_u32() % 1200);
    for (auto& b : buf) {
      b = static_cast<uint8_t>(rng.next_u32());
    }
    Verdict v = f.ask(buf, from("192.0.2.1"), synced());
    if (v != Verdict::Drop) {
      replies += v == Verdict::Reply;
      assert_true(buf.size() >= 48);
    }
  }
  assert_int_equal(f.server.stats().received, 200000);
  assert_int_equal(f.server.stats().answered, replies);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reply_fields),
      cmocka_unit_test(test_unsynchronised_says_so),
      cmocka_unit_test(test_local_stratum),
      cmocka_unit_test(test_versions_modes_lengths),
      cmocka_unit_test(test_ntpv1_mode0),
      cmocka_unit_test(test_bad_sources),
      cmocka_unit_test(test_access),
      cmocka_unit_test(test_rate_limit_and_port_rotation),
      cmocka_unit_test(test_random_garbage_never_crashes),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
