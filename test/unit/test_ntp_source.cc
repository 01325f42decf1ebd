// Per-source protocol: requests leak nothing, every response test of THREATS.md is
// applied and counted, KoD is believed only after the origin check, polling.
#include "core/ntp_source.h"

#include <array>
#include <cmath>
#include <vector>

#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

const Timestamp k_t1{1'795'000'000LL * k_ns_per_s};

struct Exchange {
  NtpSource src;
  Rng rng;
  NtpHeader req;
  explicit Exchange(SourceOptions o = {}, uint64_t seed = 1) : src(o, 0.0), rng(seed) {}

  void send(double mono = 0.0) {
    auto bytes = src.make_request(mono, rng);
    req = decode_header(std::span<const uint8_t, k_header_len>(bytes.data(), bytes.size()));
    src.request_sent(k_t1);
  }
  // A valid reply: server 0.5 s ahead, 10 ms round trip.
  NtpHeader reply() const {
    NtpHeader h;
    h.leap = Leap::None;
    h.version = 4;
    h.mode = Mode::Server;
    h.stratum = 2;
    h.poll = req.poll;
    h.precision = -20;
    h.root_delay = to_ntp_short(0.002);
    h.root_dispersion = to_ntp_short(0.001);
    h.refid = 0xC0000201;
    h.origin = req.transmit;
    h.receive = to_ntp(add_s(k_t1, 0.505));
    h.transmit = to_ntp(add_s(k_t1, 0.5051));
    h.reference = to_ntp(add_s(k_t1, -10));
    return h;
  }
  ResponseResult deliver(const NtpHeader& h, double rtt = 0.0101, double mono = 0.01) {
    std::array<uint8_t, k_header_len> b{};
    encode_header(h, std::span<uint8_t, k_header_len>(b.data(), b.size()));
    return src.on_response(b, add_s(k_t1, rtt), mono);
  }
};

void expect_reject(ResponseResult r, Reject why) {
  assert_false(r.sample.has_value());
  assert_true(r.reject.has_value());
  if (*r.reject != why) {
    fail_msg("rejected as %s, expected %s", to_string(*r.reject), to_string(why));
  }
}

}  // namespace

static void test_request_leaks_nothing(void**) {
  Exchange x;
  std::vector<uint64_t> seen;
  for (int i = 0; i < 100; ++i) {
    x.send(i * 100.0);
    assert_int_equal(static_cast<int>(x.req.mode), static_cast<int>(Mode::Client));
    assert_int_equal(x.req.version, 4);
    assert_int_equal(static_cast<int>(x.req.leap), 0);
    assert_int_equal(x.req.stratum, 0);
    assert_int_equal(x.req.precision, 0);
    assert_int_equal(x.req.root_delay, 0);
    assert_int_equal(x.req.root_dispersion, 0);
    assert_int_equal(x.req.refid, 0);
    assert_true(x.req.reference.is_zero() && x.req.origin.is_zero() && x.req.receive.is_zero());
    assert_false(x.req.transmit.is_zero());
    for (uint64_t s : seen) {
      assert_true(s != x.req.transmit.raw);
    }
    seen.push_back(x.req.transmit.raw);
  }
}

static void test_valid_reply(void**) {
  Exchange x;
  x.send();
  auto r = x.deliver(x.reply());
  assert_true(r.sample.has_value());
  // offset = ((T2-T1) + (T3-T4)) / 2 = (0.505 + 0.4950) / 2 = 0.5; delay = 0.0101 - 0.0001
  assert_near(r.sample->offset_s, 0.5, 1e-8);
  assert_near(r.sample->delay_s, 0.0100, 1e-8);
  assert_int_equal(r.sample->stratum, 2);
  assert_int_equal(x.src.reach(), 1);
  assert_int_equal(x.src.stats().accepted, 1);
}

static void test_one_reply_per_request(void**) {
  Exchange x;
  x.send();
  NtpHeader h = x.reply();
  assert_true(x.deliver(h).sample.has_value());
  expect_reject(x.deliver(h), Reject::NotRequested);  // exact duplicate
  x.send(64);
  NtpHeader h2 = x.reply();
  h2.transmit = h.transmit;  // the server replays its previous transmit timestamp
  expect_reject(x.deliver(h2), Reject::Replay);
  assert_int_equal(x.src.stats().rejected_count(Reject::NotRequested), 1);
  assert_int_equal(x.src.stats().rejected_count(Reject::Replay), 1);
}

static void test_each_bogus_field(void**) {
  struct Case {
    const char* what;
    void (*mangle)(NtpHeader&);
    Reject why;
  };
  const Case cases[] = {
      {"mode 3", [](NtpHeader& h) { h.mode = Mode::Client; }, Reject::BadMode},
      {"mode 5", [](NtpHeader& h) { h.mode = Mode::Broadcast; }, Reject::BadMode},
      {"zero origin", [](NtpHeader& h) { h.origin = NtpTimestamp{}; }, Reject::BadOrigin},
      {"wrong origin", [](NtpHeader& h) { h.origin.raw ^= 1; }, Reject::BadOrigin},
      {"zero receive", [](NtpHeader& h) { h.receive = NtpTimestamp{}; }, Reject::ZeroTimestamp},
      {"zero transmit", [](NtpHeader& h) { h.transmit = NtpTimestamp{}; }, Reject::ZeroTimestamp},
      {"LI 3", [](NtpHeader& h) { h.leap = Leap::Unsynchronised; }, Reject::Unsynchronised},
      {"stratum 16", [](NtpHeader& h) { h.stratum = 16; }, Reject::BadStratum},
      {"stratum 255", [](NtpHeader& h) { h.stratum = 255; }, Reject::BadStratum},
      {"root delay max", [](NtpHeader& h) { h.root_delay = 0xFFFFFFFF; }, Reject::RootDistance},
      {"root dispersion 4 s", [](NtpHeader& h) { h.root_dispersion = to_ntp_short(4.0); }, Reject::RootDistance},
      {"rx after tx", [](NtpHeader& h) { std::swap(h.receive, h.transmit); }, Reject::BadDelay},
      {"server time > round trip",
       [](NtpHeader& h) { h.transmit = NtpTimestamp{h.receive.raw + (1ULL << 31)}; }, Reject::BadDelay},
      {"stratum 0 unknown kiss", [](NtpHeader& h) { h.stratum = 0; h.refid = kiss_code("XXXX"); }, Reject::KodOther},
  };
  for (const auto& c : cases) {
    Exchange x;
    x.send();
    NtpHeader h = x.reply();
    c.mangle(h);
    auto r = x.deliver(h);
    if (!r.reject || *r.reject != c.why) {
      fail_msg("%s: got %s", c.what, r.reject ? to_string(*r.reject) : "accepted");
    }
    assert_int_equal(x.src.stats().rejected_count(c.why), 1);
    assert_int_equal(x.src.reach(), 0);
  }
  // Truncated and malformed datagrams.
  Exchange x;
  x.send();
  std::array<uint8_t, 47> shortp{};
  expect_reject(x.src.on_response(shortp, k_t1, 0), Reject::Malformed);
  // A round trip longer than max_delay_s.
  NtpHeader h = x.reply();
  expect_reject(x.deliver(h, 3.5), Reject::BadDelay);
}

// A server that fuzzes the bits below its precision (chronyd does) can send T3 < T2 by up
// to one server precision: such a reply is valid. Beyond the precision it is not.
static void test_fuzzed_server_timestamps(void**) {
  for (int8_t prec : {int8_t{-20}, int8_t{-10}, int8_t{-6}}) {
    double p = log2_to_s(prec);
    for (double frac : {0.0, 0.5, 0.99}) {
      Exchange x;
      x.send();
      NtpHeader h = x.reply();
      h.precision = prec;
      h.transmit = to_ntp(add_s(from_ntp(h.receive, k_t1), -frac * p));
      auto r = x.deliver(h);
      if (!r.sample) {
        fail_msg("precision 2^%d, T3-T2 = -%.2f precision: refused as %s", prec, frac,
                 r.reject ? to_string(*r.reject) : "?");
      }
      assert_true(r.sample->response_time_s >= 0);
      assert_true(r.sample->delay_s >= 0.0101 - 1e-9);
    }
    Exchange x;
    x.send();
    NtpHeader h = x.reply();
    h.precision = prec;
    h.transmit = to_ntp(add_s(from_ntp(h.receive, k_t1), -1.5 * p));
    expect_reject(x.deliver(h), Reject::BadDelay);
  }
}

// 1 real reply + 10^4 spoofed replies with random origins: only the real one is used,
// the schedule is unchanged, every spoof counted (THREATS.md "Off-path time shifting").
static void test_spoof_flood(void**) {
  Exchange x;
  Rng r(test_seed());
  x.send();
  double next = x.src.next_poll_s();
  NtpHeader real = x.reply();
  for (int i = 0; i < 10000; ++i) {
    NtpHeader h = real;
    h.origin = NtpTimestamp{r.next_u64()};
    h.receive = to_ntp(add_s(k_t1, r.next_double() * 100));
    if (i % 3 == 0) {
      h.stratum = 0;
      h.refid = kiss_code("DENY");
    }
    expect_reject(x.deliver(h), Reject::BadOrigin);
  }
  assert_true(x.deliver(real).sample.has_value());
  assert_int_equal(x.src.stats().rejected_count(Reject::BadOrigin), 10000);
  assert_near(x.src.next_poll_s(), next, 0);
  assert_false(x.src.retired());
}

static void test_kod(void**) {
  SourceOptions o;
  o.minpoll = 4;
  o.maxpoll = 8;
  o.iburst = true;
  {
    // RATE with the wrong origin: ignored. With the right origin: poll raised, burst over.
    Exchange x(o);
    x.send();
    assert_true(x.src.in_burst());
    NtpHeader h = x.reply();
    h.stratum = 0;
    h.refid = kiss_code("RATE");
    h.origin.raw ^= 2;
    expect_reject(x.deliver(h), Reject::BadOrigin);
    assert_int_equal(x.src.poll(), 4);
    h.origin = x.req.transmit;
    h.poll = 17;  // clamped to maxpoll
    expect_reject(x.deliver(h), Reject::KodRate);
    assert_int_equal(x.src.poll(), 8);
    assert_false(x.src.in_burst());
    assert_false(x.src.retired());
    assert_true(x.src.next_poll_s() >= 256.0);
  }
  for (const char* code : {"DENY", "RSTR"}) {
    Exchange x(o);
    x.send();
    NtpHeader h = x.reply();
    h.stratum = 0;
    h.refid = kiss_code(code[0] == 'D' ? "DENY" : "RSTR");
    h.origin.raw ^= 4;
    expect_reject(x.deliver(h), Reject::BadOrigin);
    assert_false(x.src.retired());  // a spoofed DENY keeps the source
    h.origin = x.req.transmit;
    expect_reject(x.deliver(h), Reject::KodDeny);
    assert_true(x.src.retired());
    assert_false(x.src.due(1e9));
  }
}

static void test_polling(void**) {
  SourceOptions o;
  o.minpoll = 4;
  o.maxpoll = 6;
  o.iburst = true;
  o.min_interval_s = 2.0;
  NtpSource s(o, 100.0);
  Rng rng(1);
  assert_true(s.due(100.0));  // the first request at once
  std::vector<double> times;
  double t = 100.0;
  for (int i = 0; i < 6; ++i) {
    t = s.next_poll_s();
    times.push_back(t);
    (void)s.make_request(t, rng);
  }
  // A burst of 4 at 2 s spacing, then 2^4 s, longer by up to k_poll_spread at random
  // (and not always by the same).
  assert_near(times[1] - times[0], 2.0, 1e-9);
  assert_near(times[3] - times[2], 2.0, 1e-9);
  for (int i = 4; i <= 5; ++i) {
    assert_true(times[i] - times[i - 1] >= 16.0);
    assert_true(times[i] - times[i - 1] < 16.0 * (1 + k_poll_spread));
  }
  assert_true(std::fabs((times[5] - times[4]) - (times[4] - times[3])) > 1e-6);
  // Over many polls the spread is used evenly: the mean interval is 1 % longer.
  {
    SourceOptions p;
    p.minpoll = p.maxpoll = 4;
    NtpSource m(p, 0.0);
    double sum = 0;
    for (int i = 0; i < 1000; ++i) {
      double a = m.next_poll_s();
      (void)m.make_request(a, rng);
      sum += m.next_poll_s() - a;
    }
    assert_true(std::fabs(sum / 1000 / 16.0 - (1 + k_poll_spread / 2)) < 0.002);
  }
  // Unanswered polls empty the reachability register and count timeouts.
  assert_int_equal(s.reach(), 0);
  assert_int_equal(s.stats().timeouts, 5);
  assert_int_equal(s.unanswered(), 5);
  s.set_poll(10);
  assert_int_equal(s.poll(), 6);
  s.set_poll(-3);
  assert_int_equal(s.poll(), 4);

  // Negative poll (LAN): 2^-2 s with a small burst_interval.
  SourceOptions lan;
  lan.minpoll = -2;
  lan.maxpoll = 0;
  lan.min_interval_s = 0.25;
  NtpSource l(lan, 0.0);
  (void)l.make_request(0.0, rng);
  assert_true(l.next_poll_s() >= 0.25 && l.next_poll_s() < 0.25 * (1 + k_poll_spread));
  // Out-of-range poll exponents are clamped.
  SourceOptions wild;
  wild.minpoll = -100;
  wild.maxpoll = 100;
  NtpSource w(wild, 0.0);
  assert_int_equal(w.options().minpoll, k_min_poll);
  assert_int_equal(w.options().maxpoll, k_max_poll);
}

// chronyd's test D: a server whose refid is the refid of our own address is synchronised
// to us; its samples are refused while it is, and used again once it is not.
static void test_sync_loop(void**) {
  Exchange x;
  x.src.set_local_refid(0xC0000201);  // the reply's refid: us
  x.send();
  expect_reject(x.deliver(x.reply()), Reject::SyncLoop);
  assert_int_equal(x.src.stats().rejected_count(Reject::SyncLoop), 1);
  // Stratum 1 names a reference clock, not an address: never a loop.
  x.send(100);
  NtpHeader s1 = x.reply();
  s1.stratum = 1;
  assert_true(x.deliver(s1, 0.0101, 100.01).sample.has_value());
  // Another refid, or no local refid known: used.
  x.send(200);
  NtpHeader other = x.reply();
  other.refid = 0xC0000202;
  other.transmit = to_ntp(add_s(k_t1, 0.5052));  // not a replay of the last one
  assert_true(x.deliver(other, 0.0101, 200.01).sample.has_value());
  x.src.set_local_refid(0);
  x.send(300);
  NtpHeader again = x.reply();
  again.transmit = to_ntp(add_s(k_t1, 0.5053));
  assert_true(x.deliver(again, 0.0101, 300.01).sample.has_value());
}

static void test_random_replies_never_crash(void**) {
  Exchange x;
  Rng r(test_seed());
  for (int i = 0; i < 20000; ++i) {
    if (i % 50 == 0) {
      x.send(i);
    }
    std::vector<uint8_t> junk(r.next_u32() % 100);
    for (auto& b : junk) {
      b = static_cast<uint8_t>(r.next_u32());
    }
    if (junk.size() >= 32 && i % 2 == 0) {
      // Sometimes with the right origin so the later tests run too.
      uint64_t o = x.req.transmit.raw;
      for (int k = 0; k < 8 && 24 + k < static_cast<int>(junk.size()); ++k) {
        junk[24 + k] = static_cast<uint8_t>(o >> (56 - 8 * k));
      }
    }
    auto res = x.src.on_response(junk, add_s(k_t1, r.next_double()), i);
    if (res.sample) {
      assert_true(std::isfinite(res.sample->offset_s) && res.sample->delay_s >= 0);
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_leaks_nothing),
      cmocka_unit_test(test_valid_reply),
      cmocka_unit_test(test_one_reply_per_request),
      cmocka_unit_test(test_each_bogus_field),
      cmocka_unit_test(test_fuzzed_server_timestamps),
      cmocka_unit_test(test_spoof_flood),
      cmocka_unit_test(test_kod),
      cmocka_unit_test(test_polling),
      cmocka_unit_test(test_random_replies_never_crash),
      cmocka_unit_test(test_sync_loop),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
