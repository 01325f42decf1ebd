// NTP codec: round trips and every malformed-packet class of THREATS.md §2a.
#include "core/ntp_packet.h"

#include <vector>

#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

std::vector<uint8_t> header(uint8_t version, Mode mode) {
  std::vector<uint8_t> p(48, 0);
  p[0] = static_cast<uint8_t>((version & 7) << 3 | static_cast<uint8_t>(mode));
  return p;
}

void add_ext(std::vector<uint8_t>& p, uint16_t type, uint16_t len, size_t real_len) {
  size_t at = p.size();
  p.resize(at + real_len, 0);
  if (real_len >= 4) {
    p[at] = static_cast<uint8_t>(type >> 8);
    p[at + 1] = static_cast<uint8_t>(type);
    p[at + 2] = static_cast<uint8_t>(len >> 8);
    p[at + 3] = static_cast<uint8_t>(len);
  }
}

DecodeError err(const std::vector<uint8_t>& p) {
  auto r = decode(p);
  if (r.has_value()) {
    fail_msg("packet of %zu bytes accepted", p.size());
  }
  return r.error();
}

}  // namespace

static void test_round_trip_random(void**) {
  Rng rng(test_seed());
  for (int i = 0; i < 100000; ++i) {
    NtpHeader h;
    h.leap = static_cast<Leap>(rng.next_u32() & 3);
    h.version = static_cast<uint8_t>(1 + rng.next_u32() % 4);
    h.mode = static_cast<Mode>(rng.next_u32() & 7);
    h.stratum = static_cast<uint8_t>(rng.next_u32());
    h.poll = static_cast<int8_t>(rng.next_u32());
    h.precision = static_cast<int8_t>(rng.next_u32());
    h.root_delay = rng.next_u32();
    h.root_dispersion = rng.next_u32();
    h.refid = rng.next_u32();
    h.reference.raw = rng.next_u64();
    h.origin.raw = rng.next_u64();
    h.receive.raw = rng.next_u64();
    h.transmit.raw = rng.next_u64();
    uint8_t buf[48];
    encode_header(h, std::span<uint8_t, 48>(buf, 48));
    auto d = decode(std::span<const uint8_t>(buf, 48));
    assert_true(d.has_value());
    const NtpHeader& g = d->header;
    assert_true(g.leap == h.leap && g.version == h.version && g.mode == h.mode && g.stratum == h.stratum);
    assert_true(g.poll == h.poll && g.precision == h.precision);
    assert_true(g.root_delay == h.root_delay && g.root_dispersion == h.root_dispersion && g.refid == h.refid);
    assert_true(g.reference == h.reference && g.origin == h.origin && g.receive == h.receive &&
                g.transmit == h.transmit);
    // Re-encoding gives the same bytes.
    uint8_t buf2[48];
    encode_header(g, std::span<uint8_t, 48>(buf2, 48));
    assert_memory_equal(buf, buf2, 48);
  }
}

static void test_wire_layout(void**) {
  NtpHeader h;
  h.leap = Leap::Unsynchronised;
  h.version = 4;
  h.mode = Mode::Client;
  h.transmit = NtpTimestamp::from_parts(0x01020304, 0x05060708);
  uint8_t buf[48];
  encode_header(h, std::span<uint8_t, 48>(buf, 48));
  assert_int_equal(buf[0], 0xE3);  // LI=3 VN=4 mode=3
  assert_int_equal(buf[40], 1);
  assert_int_equal(buf[47], 8);
  encode_transmit(std::span<uint8_t, 48>(buf, 48), NtpTimestamp{0x1122334455667788ULL});
  assert_int_equal(buf[40], 0x11);
  assert_int_equal(buf[47], 0x88);
}

static void test_lengths(void**) {
  for (size_t len : {0, 1, 47}) {
    std::vector<uint8_t> p(len, 0x23);
    assert_true(err(p) == DecodeError::TooShort);
  }
  auto p48 = header(4, Mode::Client);
  assert_true(decode(p48).has_value());
  // 49..51: not a MAC, not an extension field.
  for (size_t extra : {1, 2, 3}) {
    auto p = header(4, Mode::Client);
    p.resize(48 + extra);
    assert_true(err(p) == DecodeError::BadExtension);
  }
  // 52: crypto-NAK (key id only).
  auto p52 = header(4, Mode::Client);
  p52.resize(52);
  auto d52 = decode(p52);
  assert_true(d52 && d52->auth == Auth::CryptoNak && d52->mac_len == 4);
  // 68 and 72: MD5 (4+16) and SHA1 (4+20) MACs.
  for (size_t mac : {20, 24}) {
    auto p = header(4, Mode::Client);
    p.resize(48 + mac, 0);
    p[48 + 3] = 7;  // key id 7
    auto d = decode(p);
    assert_true(d && d->auth == Auth::Mac && d->mac_len == mac && d->key_id == 7);
  }
  // 76: longer than any v4 MAC, so it must be an extension field of 28 bytes.
  auto p76 = header(4, Mode::Client);
  add_ext(p76, 0x1234, 28, 28);
  auto d76 = decode(p76);
  assert_true(d76 && d76->extension_count == 1 && d76->auth == Auth::None);
  // 76 bytes that are not a valid field are refused, not read as a 28-byte MAC.
  auto p76bad = header(4, Mode::Client);
  p76bad.resize(76, 0);
  assert_true(err(p76bad) == DecodeError::BadExtension);
  // Over the maximum.
  for (size_t len : {k_max_packet_len + 1, size_t{65507}}) {
    std::vector<uint8_t> p(len, 0);
    p[0] = 0x23;
    assert_true(err(p) == DecodeError::TooLong);
  }
  std::vector<uint8_t> pmax = header(4, Mode::Client);
  add_ext(pmax, 1, static_cast<uint16_t>(k_max_packet_len - 48), k_max_packet_len - 48);
  assert_true(decode(pmax).has_value());
}

static void test_versions_and_modes(void**) {
  for (uint8_t v = 0; v <= 7; ++v) {
    for (uint8_t m = 0; m <= 7; ++m) {
      auto p = header(v, static_cast<Mode>(m));
      auto d = decode(p);
      bool ok = v >= 1 && v <= 4;
      if (d.has_value() != ok) {
        fail_msg("version %u mode %u: decode %s", v, m, d.has_value() ? "accepted" : "refused");
      }
      if (!ok) {
        assert_true(d.error() == DecodeError::BadVersion);
      } else {
        assert_int_equal(static_cast<int>(d->header.mode), m);
      }
    }
  }
}

static void test_extension_fields(void**) {
  // Length 0, < 16, not a multiple of 4, longer than the rest, 65535.
  struct Case {
    uint16_t len;
    size_t real;
  } cases[] = {{0, 28}, {4, 28}, {12, 28}, {15, 28}, {30, 32}, {64, 32}, {65535, 40}, {28, 27}};
  for (const auto& c : cases) {
    auto p = header(4, Mode::Client);
    add_ext(p, 0x0104, c.len, c.real);
    if (decode(p).has_value()) {
      fail_msg("extension length %u in %zu bytes accepted", c.len, c.real);
    }
  }
  // Fields followed by a MAC.
  auto p = header(4, Mode::Client);
  add_ext(p, 0x0104, 16, 16);
  add_ext(p, 0x0204, 32, 32);
  p.resize(p.size() + 20, 0);
  auto d = decode(p);
  assert_true(d && d->extension_count == 2 && d->extension_bytes == 48 && d->mac_len == 20);
  // Unknown types are walked like any other (and NTS fields when NTS is off).
  auto u = header(4, Mode::Client);
  add_ext(u, 0xFFFF, 16, 16);
  add_ext(u, 0x0204, 16, 16);  // NTS cookie type
  add_ext(u, 0x0104, 28, 28);  // NTS unique identifier
  assert_true(decode(u).has_value());
  // Many fields: as many as fit in the maximum length. RFC 7822 §7.5: without a MAC the
  // last field must be >= 28 bytes, else it reads as a MAC; that is what we do too.
  auto many = header(4, Mode::Client);
  for (int i = 0; i < 62; ++i) {
    add_ext(many, static_cast<uint16_t>(i), 16, 16);
  }
  add_ext(many, 99, 28, 28);
  auto dm = decode(many);
  assert_true(dm && dm->extension_count == 63 && dm->auth == Auth::None && many.size() == k_max_packet_len);
  auto short_last = header(4, Mode::Client);
  add_ext(short_last, 1, 16, 16);
  add_ext(short_last, 2, 16, 16);
  auto ds = decode(short_last);
  assert_true(ds && ds->extension_count == 1 && ds->auth == Auth::Mac && ds->mac_len == 16);
  // NTPv3 never has extension fields: a 28-byte trailer is a MAC there, 76 bytes is too long.
  auto v3 = header(3, Mode::Client);
  v3.resize(48 + 28, 0);
  auto dv3 = decode(v3);
  assert_true(dv3 && dv3->auth == Auth::Mac);
  auto v3long = header(3, Mode::Client);
  v3long.resize(48 + 72, 0);
  assert_true(err(v3long) == DecodeError::BadExtension);
  // Truncated MAC (not a multiple of 4).
  auto tr = header(4, Mode::Client);
  tr.resize(48 + 18, 0);
  assert_true(err(tr) == DecodeError::BadExtension);
  // MAC with key id 0 (MS-SNTP style zero forms) decodes; the key id is reported.
  auto z = header(4, Mode::Client);
  z.resize(48 + 20, 0);
  auto dz = decode(z);
  assert_true(dz && dz->key_id == 0);
}

static void test_header_extremes(void**) {
  // The codec reports values, it does not judge them: poll/precision +-127, stratum 255,
  // root delay 0xFFFFFFFF, LI=3 with stratum 1, zero and far-future timestamps.
  auto p = header(4, Mode::Server);
  p[0] |= 0xC0;
  p[1] = 255;
  p[2] = 127;
  p[3] = 0x81;  // -127
  for (int i = 4; i < 12; ++i) {
    p[i] = 0xFF;
  }
  for (int i = 16; i < 48; ++i) {
    p[i] = 0xFF;
  }
  auto d = decode(p);
  assert_true(d.has_value());
  assert_true(d->header.leap == Leap::Unsynchronised);
  assert_int_equal(d->header.stratum, 255);
  assert_int_equal(d->header.poll, 127);
  assert_int_equal(d->header.precision, -127);
  assert_int_equal(d->header.root_delay, 0xFFFFFFFFu);
  assert_true(d->header.transmit.raw == ~0ULL);
  assert_true(std::isfinite(from_ntp_short(d->header.root_delay)));
}

static void test_kiss_code(void**) {
  assert_int_equal(kiss_code("RATE"), 0x52415445u);
  assert_int_equal(kiss_code("DENY"), 0x44454E59u);
  assert_string_equal(to_string(DecodeError::TooShort), "too short");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_random), cmocka_unit_test(test_wire_layout),
      cmocka_unit_test(test_lengths),           cmocka_unit_test(test_versions_and_modes),
      cmocka_unit_test(test_extension_fields),  cmocka_unit_test(test_header_extremes),
      cmocka_unit_test(test_kiss_code),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
