// The server's authenticated replies (NtpServer with keys and NTS cookie keys): MAC'd
// replies, crypto-NAKs, NTS replies and NAKs, refusals, and never a reply longer than
// its request (THREATS.md "Amplification", "NTS", "MAC").
#include <cstring>
#include <vector>

#include "core/ntp_server.h"
#include "core/nts_client.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

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

constexpr int64_t k_s = 1'000'000'000;
const Timestamp k_rx{1'795'000'000LL * k_s + 123'456'789};

ReferenceState synced() {
  ReferenceState r;
  r.synchronised = true;
  r.stratum = 3;
  r.refid = 0xC0000201;
  r.reference_time = Timestamp{k_rx.ns - 100 * k_s};
  return r;
}

std::vector<uint8_t> request() {
  std::vector<uint8_t> p(48, 0);
  p[0] = 4 << 3 | 3;
  p[2] = 6;
  for (int i = 40; i < 48; ++i) {
    p[i] = static_cast<uint8_t>(0xA0 + i);
  }
  return p;
}

const SockAddr k_client{*parse_ip("192.0.2.7"), 40000};

struct Fixture {
  std::shared_ptr<KeySet> keys = std::make_shared<KeySet>();
  std::shared_ptr<TestRandom> rng;
  std::vector<CookieKey> ck;
  std::shared_ptr<CookieKeys> cookies;
  std::unique_ptr<NtpServer> server;
  std::vector<uint8_t> out = std::vector<uint8_t>(k_max_packet_len);
  size_t len = 0;
  ReplySeal seal;

  explicit Fixture(bool with_nts = true, bool with_keys = true, uint64_t seed = 5)
      : rng(std::make_shared<TestRandom>(seed)) {
    keys->add(1, KeyType::Aes128, std::vector<uint8_t>(16, 0x42));
    keys->add(2, KeyType::Sha256, std::vector<uint8_t>(20, 0x43));
    rotate_cookie_keys(ck, 1'795'000'000, 86400, *rng);
    cookies = std::make_shared<CookieKeys>(ck);
    ServerPolicy p;
    if (with_keys) {
      p.keys = keys;
    }
    if (with_nts) {
      p.nts = cookies;
      p.random = rng;
    }
    server = std::make_unique<NtpServer>(p, SipKey{1, 2}, 42, -20);
  }
  Verdict ask(std::span<const uint8_t> req) {
    Verdict v = server->handle(req, k_client, IpAddr{}, k_rx, 0, synced(), out, len, seal);
    if (v != Verdict::Drop) {
      size_t sealed = seal_reply(out, len, seal, to_ntp(Timestamp{k_rx.ns + 1000}));
      assert_true(sealed > 0);
      len = sealed;
      assert_true(len <= req.size() || (len == 48 && req.size() >= 48));  // never an amplifier
    }
    return v;
  }
  std::span<const uint8_t> reply() const { return std::span<const uint8_t>(out.data(), len); }
};

}  // namespace

static void test_mac_reply(void**) {
  Fixture f;
  for (uint32_t id : {1u, 2u}) {
    std::vector<uint8_t> req = request();
    req.resize(100);
    size_t n = append_mac(req, 48, *f.keys->find(id), 4);
    req.resize(n);
    assert_int_equal(f.ask(req), Verdict::Reply);
    assert_int_equal(f.len, n);  // the same key: the same MAC length
    const SymmetricKey* k = nullptr;
    assert_int_equal(check_mac(f.reply(), 48, 4, *f.keys, &k), MacCheck::Ok);
    assert_int_equal(k->id(), id);
    NtpHeader h = decode_header(f.reply().first<48>());
    assert_int_equal(h.stratum, 3);
    assert_true(h.origin == decode_header(std::span<const uint8_t, 48>(req.data(), 48)).transmit);
  }
  assert_int_equal(f.server->stats().auth_mac, 2);
}

static void test_crypto_nak(void**) {
  Fixture f;
  KeySet other;
  other.add(1, KeyType::Aes128, std::vector<uint8_t>(16, 0x99));  // the right id, the wrong secret
  other.add(7, KeyType::Md5, std::vector<uint8_t>(12, 0x01));     // an id we do not know
  for (uint32_t id : {1u, 7u}) {
    std::vector<uint8_t> req = request();
    req.resize(100);
    req.resize(append_mac(req, 48, *other.find(id), 4));
    assert_int_equal(f.ask(req), Verdict::Nak);
    assert_int_equal(f.len, 52);  // header + key id 0: nothing a client could use as time
    NtpHeader h = decode_header(f.reply().first<48>());
    assert_int_equal(h.leap, Leap::Unsynchronised);
    assert_int_equal(h.stratum, 0);
    assert_int_equal(h.refid, kiss_code("CRYP"));
    auto d = decode(f.reply());
    assert_true(d.has_value());
    assert_int_equal(d->auth, Auth::CryptoNak);
    assert_int_equal(d->key_id, 0);
  }
  assert_int_equal(f.server->stats().nak_crypto, 2);
  assert_int_equal(f.server->stats().answered, 0);
  // Without any key file: every MAC'd request is NAK'd, none answered in clear.
  Fixture nokeys(false, false);
  std::vector<uint8_t> req = request();
  req.resize(100);
  req.resize(append_mac(req, 48, *f.keys->find(2), 4));
  assert_int_equal(nokeys.ask(req), Verdict::Nak);
}

static void test_nts_reply_and_nak(void**) {
  Fixture f;
  TestRandom crng(9);
  NtsKeys keys;
  for (size_t i = 0; i < 32; ++i) {
    keys.c2s[i] = static_cast<uint8_t>(i);
    keys.s2c[i] = static_cast<uint8_t>(i * 3);
  }
  std::vector<std::vector<uint8_t>> cookies;
  for (int i = 0; i < 3; ++i) {
    uint8_t nonce[16];
    crng.fill(nonce);
    std::vector<uint8_t> c(k_cookie_len);
    assert_true(f.cookies->make_cookie(keys, std::span<const uint8_t, 16>(nonce, 16), c));
    cookies.push_back(c);
  }
  NtsCookieJar jar;
  jar.reset(keys, cookies);
  std::vector<uint8_t> h = request();
  std::vector<uint8_t> req(k_max_packet_len);
  req.resize(jar.wrap(std::span<const uint8_t, 48>(h.data(), 48), req, crng));
  assert_int_equal(f.ask(req), Verdict::Reply);
  assert_int_equal(f.len, req.size());
  assert_int_equal(jar.check(f.reply()), NtsReply::Ok);
  assert_int_equal(jar.cookies(), 8);
  assert_int_equal(f.server->stats().auth_nts, 1);

  // A cookie under a key the server does not have (rotated out, forged): an NTS NAK.
  Fixture other(true, true, 6);  // other cookie keys
  std::vector<uint8_t> req2(k_max_packet_len);
  req2.resize(jar.wrap(std::span<const uint8_t, 48>(h.data(), 48), req2, crng));
  assert_int_equal(other.ask(req2), Verdict::Nak);
  assert_true(other.len < req2.size());
  assert_int_equal(other.server->stats().nak_nts, 1);
  assert_int_equal(jar.check(other.reply()), NtsReply::Nak);
  assert_true(jar.needs_ke());

  // NTS requests to a server without NTS, and malformed NTS requests: dropped, counted.
  Fixture plain(false, true);
  assert_int_equal(plain.ask(req2), Verdict::Drop);
  assert_int_equal(plain.server->stats().dropped[static_cast<size_t>(DropReason::AuthFailed)], 1);
  std::vector<uint8_t> broken = req2;
  broken[48 + 1] = 0x04;  // the unique identifier becomes a second cookie field
  broken[48] = 0x02;
  assert_int_equal(f.ask(broken), Verdict::Drop);
}

static void test_amplification_with_auth(void**) {
  // Random requests around the authenticated layouts: whatever comes back is never
  // longer than what came in.
  Fixture f;
  Rng rng(test_seed());
  std::vector<uint8_t> base = request();
  for (int i = 0; i < 20000; ++i) {
    size_t n = 48 + (rng.next_u32() % 400);
    std::vector<uint8_t> req(n);
    for (auto& b : req) {
      b = static_cast<uint8_t>(rng.next_u32());
    }
    std::copy(base.begin(), base.end(), req.begin());
    // Often an NTS-looking or MAC-looking layout.
    if (i % 3 == 0 && n >= 48 + 36) {
      req[48] = 0x01;
      req[49] = 0x04;
      req[50] = 0;
      req[51] = 36;
    }
    f.ask(req);  // the property is checked inside
  }
}

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_mac_reply),
      cmocka_unit_test(test_crypto_nak),
      cmocka_unit_test(test_nts_reply_and_nak),
      cmocka_unit_test(test_amplification_with_auth),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
