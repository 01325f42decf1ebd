// NTS (RFC 8915): the NTS-KE record codec and decisions, the server's cookies and their
// keys, the NTS extension fields of both ends, the client's cookie jar (THREATS.md "NTS":
// flipped tags, forged and replayed cookies, malformed and oversized records, no
// amplification).
#include <cstring>
#include <string>
#include <vector>

#include "core/nts_client.h"
#include "core/nts_cookie.h"
#include "core/nts_ke.h"
#include "core/nts_ntp.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

// A deterministic "secure" random source for tests.
class TestRandom final : public SecureRandom {
 public:
  explicit TestRandom(uint64_t seed) : m_rng(seed) {}
  void fill(std::span<uint8_t> out) override {
    for (auto& b : out) {
      b = static_cast<uint8_t>(m_rng.next_u32());
    }
  }

 private:
  Rng m_rng;
};

NtsKeys test_keys(uint8_t base) {
  NtsKeys k;
  for (size_t i = 0; i < k.c2s.size(); ++i) {
    k.c2s[i] = static_cast<uint8_t>(base + i);
    k.s2c[i] = static_cast<uint8_t>(base + 100 + i);
  }
  return k;
}

std::vector<uint8_t> header(uint8_t mode = 3) {
  std::vector<uint8_t> h(48, 0);
  h[0] = static_cast<uint8_t>(4 << 3 | mode);
  for (int i = 40; i < 48; ++i) {
    h[i] = static_cast<uint8_t>(0x50 + i);
  }
  return h;
}

struct Server {
  TestRandom rng{7};
  std::vector<CookieKey> keys;
  std::shared_ptr<CookieKeys> ck;
  Server() {
    rotate_cookie_keys(keys, 1'800'000'000, 86400, rng);
    ck = std::make_shared<CookieKeys>(keys);
  }
  std::vector<std::vector<uint8_t>> cookies(const NtsKeys& k, size_t n) {
    std::vector<std::vector<uint8_t>> v;
    for (size_t i = 0; i < n; ++i) {
      uint8_t nonce[k_cookie_nonce_len];
      rng.fill(nonce);
      std::vector<uint8_t> c(k_cookie_len);
      assert_true(ck->make_cookie(k, std::span<const uint8_t, 16>(nonce, 16), c));
      v.push_back(c);
    }
    return v;
  }
};

// The server side of one request: parse, check, reply, seal. Returns the reply.
std::vector<uint8_t> serve(Server& s, std::span<const uint8_t> req, NtsCheck* verdict = nullptr) {
  auto parsed = parse_nts_request(req);
  assert_true(parsed.has_value());
  NtsKeys keys;
  NtsCheck v = check_nts_request(req, *parsed, *s.ck, keys);
  if (verdict != nullptr) {
    *verdict = v;
  }
  std::vector<uint8_t> out(1100);
  std::vector<uint8_t> h = header(4);
  std::copy(h.begin(), h.end(), out.begin());
  if (v == NtsCheck::Nak) {
    out.resize(build_nts_nak(out, *parsed));
    return out;
  }
  if (v != NtsCheck::Ok) {
    return {};
  }
  NtsSeal seal;
  size_t len = build_nts_reply(out, *parsed, keys, *s.ck, s.rng, req.size(), seal);
  assert_true(len > 0);
  assert_true(seal_nts_reply(out, seal));
  out.resize(len);
  return out;
}

}  // namespace

// --- NTS-KE records -----------------------------------------------------------------

static void test_ke_roundtrip(void**) {
  std::vector<uint8_t> req = ke_build_request();
  // Any prefix is incomplete, the whole is one message.
  for (size_t n = 0; n < req.size(); ++n) {
    auto m = parse_ke_message(std::span<const uint8_t>(req.data(), n));
    assert_true(m.has_value());
    assert_false(m->has_value());
  }
  auto m = parse_ke_message(req);
  assert_true(m.has_value() && m->has_value());
  assert_int_equal((*m)->length, req.size());
  KeServerDecision d = ke_server_decide(**m);
  assert_false(d.error.has_value());
  assert_true(d.ntpv4);
  assert_int_equal(*d.aead, k_aead_aes_siv_cmac_256);

  KeServerOffer offer;
  offer.port = 12345;
  offer.server = "ntp.example.net";
  std::vector<std::vector<uint8_t>> cookies(8, std::vector<uint8_t>(100, 0xAB));
  std::vector<uint8_t> resp = ke_build_response(d, offer, cookies);
  auto rm = parse_ke_message(resp);
  assert_true(rm.has_value() && rm->has_value());
  auto r = ke_parse_response(**rm);
  if (!r) {
    fail_msg("%s", r.error().c_str());
  }
  assert_int_equal(r->cookies.size(), 8);
  assert_int_equal(*r->port, 12345);
  assert_string_equal(r->server.c_str(), "ntp.example.net");
}

static void test_ke_server_refusals(void**) {
  auto decide = [](std::vector<uint8_t> msg) {
    auto m = parse_ke_message(msg);
    assert_true(m.has_value() && m->has_value());
    return ke_server_decide(**m);
  };
  uint16_t ntp = 0, aead = 15, other = 30;
  auto with = [&](bool npn_critical, int npn_count, int aead_count, std::vector<uint16_t> extra_types,
                  bool extra_critical) {
    std::vector<uint8_t> m;
    for (int i = 0; i < npn_count; ++i) {
      add_ke_u16_record(m, npn_critical, k_ke_next_protocol, std::span<const uint16_t>(&ntp, 1));
    }
    for (int i = 0; i < aead_count; ++i) {
      add_ke_u16_record(m, false, k_ke_aead, std::span<const uint16_t>(&aead, 1));
    }
    for (uint16_t t : extra_types) {
      add_ke_record(m, extra_critical, t, {});
    }
    add_ke_record(m, true, k_ke_end, {});
    return m;
  };
  assert_int_equal(*decide(with(false, 1, 1, {}, false)).error, k_ke_err_bad_request);  // NPN not critical
  assert_int_equal(*decide(with(true, 0, 1, {}, false)).error, k_ke_err_bad_request);   // no NPN
  assert_int_equal(*decide(with(true, 2, 1, {}, false)).error, k_ke_err_bad_request);   // two NPNs
  assert_int_equal(*decide(with(true, 1, 0, {}, false)).error, k_ke_err_bad_request);   // no AEAD
  assert_int_equal(*decide(with(true, 1, 1, {k_ke_new_cookie}, false)).error, k_ke_err_bad_request);
  assert_int_equal(*decide(with(true, 1, 1, {k_ke_error}, false)).error, k_ke_err_bad_request);
  assert_int_equal(*decide(with(true, 1, 1, {999}, true)).error, k_ke_err_unrecognized_critical);
  assert_false(decide(with(true, 1, 1, {999}, false)).error.has_value());  // unknown, not critical: ignored
  // Only an AEAD we do not have: an empty AEAD record back.
  std::vector<uint8_t> m;
  add_ke_u16_record(m, true, k_ke_next_protocol, std::span<const uint16_t>(&ntp, 1));
  add_ke_u16_record(m, true, k_ke_aead, std::span<const uint16_t>(&other, 1));
  add_ke_record(m, true, k_ke_end, {});
  KeServerDecision d = decide(m);
  assert_false(d.error.has_value());
  assert_false(d.aead.has_value());
  auto resp = ke_build_response(d, {}, {});
  auto rm = parse_ke_message(resp);
  assert_true(rm.has_value() && rm->has_value());
  assert_false(ke_parse_response(**rm).has_value());
  // An error record, as the client sees it.
  KeServerDecision e;
  e.error = k_ke_err_bad_request;
  auto ebytes = ke_build_response(e, {}, {});
  auto er = parse_ke_message(ebytes);
  auto cr = ke_parse_response(**er);
  assert_false(cr.has_value());
  assert_non_null(strstr(cr.error().c_str(), "bad request"));
}

static void test_ke_bounds(void**) {
  // A record longer than the message bound, records without end, too many records.
  std::vector<uint8_t> big = {0x00, 0x05, 0xFF, 0xFF};
  big.resize(4 + 0xFFFF, 0);
  assert_false(parse_ke_message(big).has_value());
  std::vector<uint8_t> many;
  for (size_t i = 0; i < k_max_ke_records + 1; ++i) {
    add_ke_record(many, false, 99, {});
  }
  add_ke_record(many, true, k_ke_end, {});
  auto r = parse_ke_message(many);
  assert_false(r.has_value());
  assert_int_equal(r.error(), KeParseError::TooManyRecords);
  std::vector<uint8_t> endless(k_max_ke_message, 0);
  for (size_t i = 0; i + 4 <= endless.size(); i += 4) {
    endless[i + 1] = 99;  // type 99, length 0, never an end
  }
  r = parse_ke_message(endless);
  assert_false(r.has_value());
  // A non-critical end, an end with a body.
  std::vector<uint8_t> bad_end = {0x00, 0x00, 0x00, 0x00};
  assert_int_equal(parse_ke_message(bad_end).error(), KeParseError::BadEnd);
  std::vector<uint8_t> end_body = {0x80, 0x00, 0x00, 0x02, 1, 2};
  assert_int_equal(parse_ke_message(end_body).error(), KeParseError::BadEnd);
}

// --- cookies --------------------------------------------------------------------------

static void test_cookie_roundtrip_and_forgery(void**) {
  Server s;
  NtsKeys k = test_keys(1);
  auto c = s.cookies(k, 1)[0];
  assert_int_equal(c.size(), k_cookie_len);
  auto back = s.ck->open_cookie(c);
  assert_true(back.has_value());
  assert_memory_equal(back->c2s.data(), k.c2s.data(), 32);
  assert_memory_equal(back->s2c.data(), k.s2c.data(), 32);
  // Any flipped bit (key id, nonce, tag, ciphertext): refused.
  for (size_t i = 0; i < c.size(); ++i) {
    c[i] ^= 1;
    assert_false(s.ck->open_cookie(c).has_value());
    c[i] ^= 1;
  }
  // Wrong lengths.
  assert_false(s.ck->open_cookie(std::span<const uint8_t>(c.data(), c.size() - 4)).has_value());
  std::vector<uint8_t> longer = c;
  longer.resize(c.size() + 4);
  assert_false(s.ck->open_cookie(longer).has_value());
}

static void test_cookie_rotation(void**) {
  TestRandom rng(3);
  std::vector<CookieKey> keys;
  int64_t t = 1'800'000'000;
  assert_true(rotate_cookie_keys(keys, t, 3600, rng));
  assert_false(rotate_cookie_keys(keys, t + 3599, 3600, rng));
  auto old = std::make_shared<CookieKeys>(keys);
  TestRandom crng(4);
  NtsKeys k = test_keys(9);
  uint8_t nonce[16] = {};
  std::vector<uint8_t> c(k_cookie_len);
  assert_true(old->make_cookie(k, std::span<const uint8_t, 16>(nonce, 16), c));
  // Two rotations later the first key is still kept; the third drops it.
  for (int i = 1; i <= 3; ++i) {
    assert_true(rotate_cookie_keys(keys, t + 3600 * i, 3600, rng));
    assert_true(keys.size() <= k_kept_cookie_keys);
    CookieKeys now(keys);
    assert_int_equal(now.open_cookie(c).has_value(), i < 3);
  }
  // A clock far in the past or future rotates too (a key from a wrong clock is not kept current).
  assert_true(rotate_cookie_keys(keys, t - 100000, 3600, rng));
  // The file format round-trips; junk is refused.
  auto text = encode_cookie_keys(keys);
  auto parsed = parse_cookie_keys(text);
  assert_true(parsed.has_value());
  assert_int_equal(parsed->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    assert_int_equal((*parsed)[i].id, keys[i].id);
    assert_memory_equal((*parsed)[i].key.data(), keys[i].key.data(), 32);
  }
  assert_false(parse_cookie_keys("junk\n").has_value());
  assert_false(parse_cookie_keys("tr7ntp-nts-cookie-keys 1\nzz 00 1\n").has_value());
  assert_false(parse_cookie_keys("").has_value());
}

// --- NTS extension fields ------------------------------------------------------------

static void test_nts_exchange(void**) {
  Server s;
  TestRandom crng(11);
  NtsKeys k = test_keys(5);
  NtsCookieJar jar;
  jar.reset(k, s.cookies(k, 8));
  assert_int_equal(jar.cookies(), 8);
  // Several exchanges: each spends a cookie, asks for what is missing, gets it back.
  for (int round = 0; round < 5; ++round) {
    std::vector<uint8_t> h = header();
    std::vector<uint8_t> req(k_max_packet_len);
    size_t n = jar.wrap(std::span<const uint8_t, 48>(h.data(), 48), req, crng);
    assert_true(n > 48);
    req.resize(n);
    assert_int_equal(jar.cookies(), 7);
    NtsCheck v;
    auto reply = serve(s, req, &v);
    assert_int_equal(v, NtsCheck::Ok);
    assert_int_equal(reply.size(), req.size());  // exactly the request's size: no amplification
    assert_int_equal(jar.check(reply), NtsReply::Ok);
    assert_int_equal(jar.cookies(), 8);
    // The same reply again (a replay): refused, nothing added.
    assert_int_equal(jar.check(reply), NtsReply::Bad);
  }
}

static void test_nts_forgeries(void**) {
  Server s;
  TestRandom crng(12);
  NtsKeys k = test_keys(6);
  NtsCookieJar jar;
  jar.reset(k, s.cookies(k, 2));
  std::vector<uint8_t> h = header();
  std::vector<uint8_t> req(k_max_packet_len);
  size_t n = jar.wrap(std::span<const uint8_t, 48>(h.data(), 48), req, crng);
  req.resize(n);
  auto parsed = parse_nts_request(req);
  assert_true(parsed.has_value());
  size_t cookie_at = static_cast<size_t>(parsed->cookie.data() - req.data());
  size_t auth_at = parsed->auth_offset;
  // A flipped bit in the cookie: NAK. In the header, unique id or authenticator: NAK.
  for (size_t i : {cookie_at, cookie_at + 50, size_t{5}, size_t{60}, auth_at + 8, auth_at + 30}) {
    std::vector<uint8_t> bad = req;
    bad[i] ^= 0x04;
    auto p = parse_nts_request(bad);
    assert_true(p.has_value());
    NtsKeys keys;
    assert_int_equal(check_nts_request(bad, *p, *s.ck, keys), NtsCheck::Nak);
  }
  // The NAK carries our unique identifier: the jar believes it and forgets everything.
  std::vector<uint8_t> forged = req;
  forged[cookie_at + 10] ^= 1;
  NtsCheck v;
  auto nak = serve(s, forged, &v);
  assert_int_equal(v, NtsCheck::Nak);
  assert_true(nak.size() <= forged.size());
  nak[1] = 0;  // stratum 0
  std::memcpy(nak.data() + 12, "NTSN", 4);
  // ... but not a NAK for another unique identifier.
  std::vector<uint8_t> other = nak;
  other[52] ^= 1;
  assert_int_equal(jar.check(other), NtsReply::Bad);
  assert_int_equal(jar.check(nak), NtsReply::Nak);
  assert_true(jar.needs_ke());
  assert_int_equal(jar.cookies(), 0);
}

static void test_nts_reply_tampering(void**) {
  Server s;
  TestRandom crng(13);
  NtsKeys k = test_keys(7);
  NtsCookieJar jar;
  jar.reset(k, s.cookies(k, 8));
  std::vector<uint8_t> h = header();
  std::vector<uint8_t> req(k_max_packet_len);
  req.resize(jar.wrap(std::span<const uint8_t, 48>(h.data(), 48), req, crng));
  auto reply = serve(s, req);
  // Every byte of the reply matters (header, unique id, authenticator, cookies) except
  // the padding at the end: a flipped bit is refused.
  for (size_t i = 0; i < reply.size(); ++i) {
    std::vector<uint8_t> bad = reply;
    bad[i] ^= 0x80;
    NtsReply r = jar.check(bad);
    if (r == NtsReply::Ok) {
      fail_msg("byte %zu flipped and still accepted", i);
    }
  }
  // A reply under other keys (another client's): refused.
  NtsCookieJar other;
  other.reset(test_keys(8), s.cookies(test_keys(8), 1));
  assert_int_equal(other.check(reply), NtsReply::Bad);
  assert_int_equal(jar.check(reply), NtsReply::Ok);
}

static void test_nts_server_refusals(void**) {
  Server s;
  TestRandom crng(14);
  NtsKeys k = test_keys(9);
  auto cookie = s.cookies(k, 1)[0];
  std::vector<uint8_t> uid(32, 0x11), nonce(16, 0x22);
  auto build = [&](size_t placeholders) {
    std::vector<uint8_t> p(k_max_packet_len);
    auto h = header();
    std::copy(h.begin(), h.end(), p.begin());
    p.resize(build_nts_request(p, uid, cookie, placeholders, k, nonce));
    return p;
  };
  // No NTS field: an ordinary request.
  auto plain = header();
  assert_int_equal(parse_nts_request(plain).error(), NtsParse::NotNts);
  // Two cookies, no unique id, the authenticator not last, a short unique id: malformed.
  auto good = build(0);
  std::vector<uint8_t> two = good;
  two.insert(two.begin() + 48 + 36, good.begin() + 48 + 36, good.begin() + 48 + 36 + 104);
  assert_int_equal(parse_nts_request(two).error(), NtsParse::Malformed);
  std::vector<uint8_t> no_uid(good.begin(), good.begin() + 48);
  no_uid.insert(no_uid.end(), good.begin() + 48 + 36, good.end());
  assert_int_equal(parse_nts_request(no_uid).error(), NtsParse::Malformed);
  std::vector<uint8_t> not_last = good;
  std::vector<uint8_t> unknown = {0x7F, 0x00, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  not_last.insert(not_last.end(), unknown.begin(), unknown.end());
  assert_int_equal(parse_nts_request(not_last).error(), NtsParse::Malformed);
  std::vector<uint8_t> short_uid(16, 1);
  std::vector<uint8_t> p(k_max_packet_len);
  auto h = header();
  std::copy(h.begin(), h.end(), p.begin());
  p.resize(build_nts_request(p, short_uid, cookie, 0, k, nonce));
  assert_int_equal(parse_nts_request(p).error(), NtsParse::Malformed);
  // Placeholders of another length than the cookie: malformed.
  auto with_ph = build(2);
  size_t ph_at = 48 + 36 + 104;
  with_ph[ph_at + 3] = 0x6C;  // 108 instead of 104 ...
  with_ph.insert(with_ph.begin() + ph_at + 104, {0, 0, 0, 0});
  assert_false(parse_nts_request(with_ph).has_value());
  // Seven placeholders: eight cookies back, in a reply exactly the request's size.
  auto full = build(7);
  NtsCheck v;
  auto reply = serve(s, full, &v);
  assert_int_equal(v, NtsCheck::Ok);
  assert_int_equal(reply.size(), full.size());
  std::vector<std::vector<uint8_t>> got;
  assert_int_equal(check_nts_reply(reply, uid, k, got), NtsReply::Ok);
  assert_int_equal(got.size(), 8);
  // A short client nonce: its field still leaves room for 16 bytes (RFC 8915 §5.6), so
  // the reply is again exactly the request's size, with every cookie asked for.
  std::vector<uint8_t> short_nonce(4, 0x33);
  std::vector<uint8_t> q(k_max_packet_len);
  std::copy(h.begin(), h.end(), q.begin());
  q.resize(build_nts_request(q, uid, cookie, 3, k, short_nonce));
  auto r2 = serve(s, q, &v);
  assert_int_equal(v, NtsCheck::Ok);
  assert_int_equal(r2.size(), q.size());
  got.clear();
  assert_int_equal(check_nts_reply(r2, uid, k, got), NtsReply::Ok);
  assert_int_equal(got.size(), 4);
}

static void test_jar_state_file(void**) {
  Server s;
  NtsKeys k = test_keys(10);
  NtsCookieJar jar;
  jar.reset(k, s.cookies(k, 5));
  SockAddr to{*parse_ip("192.0.2.1"), 4123};
  std::string text = jar.encode(to);
  SockAddr back;
  auto j = NtsCookieJar::decode(text, back);
  assert_true(j.has_value());
  assert_true(back == to);
  assert_int_equal(j->cookies(), 5);
  assert_memory_equal(j->keys().s2c.data(), k.s2c.data(), 32);
  assert_false(NtsCookieJar::decode("tr7ntp-nts-client 1\nserver 1.2.3.4:5\n", back).has_value());
  assert_false(NtsCookieJar::decode("other\n", back).has_value());
  assert_false(NtsCookieJar::decode(text + "cookie zz\n", back).has_value());
}

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_ke_roundtrip),        cmocka_unit_test(test_ke_server_refusals),
      cmocka_unit_test(test_ke_bounds),           cmocka_unit_test(test_cookie_roundtrip_and_forgery),
      cmocka_unit_test(test_cookie_rotation),     cmocka_unit_test(test_nts_exchange),
      cmocka_unit_test(test_nts_forgeries),       cmocka_unit_test(test_nts_reply_tampering),
      cmocka_unit_test(test_nts_server_refusals), cmocka_unit_test(test_jar_state_file),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
