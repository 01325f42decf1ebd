// Symmetric keys: chrony's key file format, the MACs (digest and AES-CMAC, RFC 8573),
// their truncation in NTPv4 and the checks (THREATS.md "MAC").
#include <cstring>
#include <string>
#include <vector>

#include "core/ntp_keys.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> v;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    v.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  }
  return v;
}

std::vector<uint8_t> packet48() {
  std::vector<uint8_t> d(48);
  for (size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<uint8_t>(i);
  }
  return d;
}

std::string error_text(const tr7::Result<KeyFile, std::vector<std::string>>& r) {
  std::string s;
  for (const auto& e : r.error()) {
    s += e + "\n";
  }
  return s;
}

}  // namespace

static void test_parse_formats(void**) {
  auto r = parse_key_file(
      "# comment\n"
      "\n"
      "1 tr7-secret-key            ; MD5 by default, ASCII\n"
      "2 SHA1 ASCII:tr7-secret-key\n"
      "3 sha256 HEX:7472372D7365637265742D6B6579\n"
      "4 AES128 HEX:2b7e151628aed2a6abf7158809cf4f3c\n"
      "5 AES256 HEX:603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\n"
      "6 SHA512 tr7-secret-key   # trailing comment\r\n"
      "7 SHA3-256 tr7-secret-key\n");
  if (!r) {
    fail_msg("%s", error_text(r).c_str());
  }
  assert_int_equal(r->keys->size(), 7);
  assert_int_equal(r->keys->find(1)->type(), KeyType::Md5);
  assert_int_equal(r->keys->find(3)->type(), KeyType::Sha256);
  assert_int_equal(r->keys->find(4)->bits(), 128);
  assert_int_equal(r->keys->find(5)->bits(), 256);
  assert_int_equal(r->keys->find(7)->type(), KeyType::Sha3_256);
  assert_null(r->keys->find(8));
  assert_true(r->warnings.empty());
}

static void test_parse_errors(void**) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"0 MD5 secretsecret\n", "line 1: key id"},
      {"4294967296 MD5 secretsecret\n", "line 1: key id"},
      {"-1 MD5 secretsecret\n", "line 1: key id"},
      {"x MD5 secretsecret\n", "line 1: key id"},
      {"1\n", "expected 'ID [TYPE] KEY'"},
      {"1 MD5 a b\n", "expected 'ID [TYPE] KEY'"},
      {"1 RC4 secretsecret\n", "unknown key type"},
      {"1 MD5 HEX:abc\n", "even"},
      {"1 MD5 HEX:zz\n", "hex digit"},
      {"1 MD5 HEX:\n", "even"},
      {"1 AES128 HEX:00112233\n", "AES128 key must be 128 bits"},
      {"1 AES256 HEX:2b7e151628aed2a6abf7158809cf4f3c\n", "AES256 key must be 256 bits"},
      {"1 MD5 ASCII:\n", "empty key"},
      {"1 MD5 secretsecret\n2 MD5 x\n1 SHA1 secretsecret\n", "line 3: duplicate key id 1 (first on line 1)"},
  };
  for (const auto& c : cases) {
    auto r = parse_key_file(c.text);
    assert_false(r.has_value());
    std::string e = error_text(r);
    if (e.find(c.want) == std::string::npos) {
      fail_msg("%s: got '%s', want '%s'", c.text, e.c_str(), c.want);
    }
  }
  // One bad line refuses the whole file.
  auto r = parse_key_file("1 MD5 secretsecret\n2 NOPE secretsecret\n");
  assert_false(r.has_value());
  // NUL bytes and oversized keys.
  std::string nul("1 MD5 sec\0ret\n", 14);
  assert_false(parse_key_file(nul).has_value());
  assert_false(parse_key_file("1 MD5 " + std::string(k_max_key_bytes + 1, 'a') + "\n").has_value());
}

static void test_short_key_warns(void**) {
  auto r = parse_key_file("9 MD5 short\n");
  assert_true(r.has_value());
  assert_int_equal(r->warnings.size(), 1);
  assert_non_null(strstr(r->warnings[0].c_str(), "line 1: key 9 is only 40 bits"));
}

static void test_digest_vectors(void**) {
  // MAC = H(key || data): the values of Python's hashlib for the same input.
  auto r = parse_key_file(
      "1 MD5 tr7-secret-key\n2 SHA1 tr7-secret-key\n3 SHA256 tr7-secret-key\n"
      "4 SHA512 tr7-secret-key\n");
  assert_true(r.has_value());
  auto d = packet48();
  uint8_t out[k_max_mac_len];
  assert_int_equal(r->keys->find(1)->mac(d, out), 16);
  assert_memory_equal(out, unhex("c236deca8ade9112df7155b163f1b509").data(), 16);
  assert_int_equal(r->keys->find(2)->mac(d, out), 20);
  assert_memory_equal(out, unhex("34a76b7e8ac072db9ecb5874519259e4cf3befe3").data(), 20);
  assert_int_equal(r->keys->find(3)->mac(d, out), 32);
  assert_memory_equal(out, unhex("e2409e65cb1456aebd449cb61d3c3f66a56e4541").data(), 20);
  assert_int_equal(r->keys->find(4)->mac(d, out), 64);
  assert_memory_equal(out, unhex("3ecde24a824ad38de5a496b404953a100bf3711e").data(), 20);
}

static void test_cmac_vectors(void**) {
  // RFC 4493 §4 (AES-128) and NIST SP 800-38B (AES-256) examples.
  auto r = parse_key_file(
      "1 AES128 HEX:2b7e151628aed2a6abf7158809cf4f3c\n"
      "2 AES256 HEX:603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\n");
  assert_true(r.has_value());
  uint8_t out[k_max_mac_len];
  assert_int_equal(r->keys->find(1)->mac({}, out), 16);
  assert_memory_equal(out, unhex("bb1d6929e95937287fa37d129b756746").data(), 16);
  auto m = unhex("6bc1bee22e409f96e93d7e117393172a");
  r->keys->find(1)->mac(m, out);
  assert_memory_equal(out, unhex("070a16b46b4d4144f79bdd9dd04a287c").data(), 16);
  r->keys->find(2)->mac({}, out);
  assert_memory_equal(out, unhex("028962f61b7bf89efc6b551f4667d983").data(), 16);
  r->keys->find(2)->mac(m, out);
  assert_memory_equal(out, unhex("28a7023f452e8f82bd4bf28d8c37c35c").data(), 16);
}

static void test_append_and_check(void**) {
  auto r = parse_key_file(
      "1 MD5 tr7-secret-key\n2 SHA256 tr7-secret-key\n3 AES128 HEX:2b7e151628aed2a6abf7158809cf4f3c\n"
      "4 SHA512 tr7-secret-key\n");
  assert_true(r.has_value());
  const KeySet& keys = *r->keys;
  struct Case {
    uint32_t id;
    uint8_t version;
    size_t len;
  } cases[] = {{1, 4, 68}, {2, 4, 72}, {3, 4, 68}, {4, 4, 72}, {2, 3, 84}, {4, 3, 116}};
  for (const auto& c : cases) {
    std::vector<uint8_t> buf(200);
    auto d = packet48();
    std::copy(d.begin(), d.end(), buf.begin());
    size_t n = append_mac(buf, 48, *keys.find(c.id), c.version);
    assert_int_equal(n, c.len);
    std::span<const uint8_t> pkt(buf.data(), n);
    const SymmetricKey* k = nullptr;
    assert_int_equal(check_mac(pkt, 48, c.version, keys, &k), MacCheck::Ok);
    assert_ptr_equal(k, keys.find(c.id));
    // Every single bit flipped, in the data or the MAC: refused.
    for (size_t i = 0; i < n; ++i) {
      if (i >= 48 && i < 52) {
        continue;  // the key id: another key, checked below
      }
      buf[i] ^= 0x10;
      assert_int_equal(check_mac(pkt, 48, c.version, keys), MacCheck::Bad);
      buf[i] ^= 0x10;
    }
    // A MAC of another length (a full SHA256 MAC in NTPv4, a cut one): refused.
    assert_int_equal(check_mac(std::span<const uint8_t>(buf.data(), n - 4), 48, c.version, keys), MacCheck::Bad);
  }
  // Unknown key id, and the key id alone (a crypto-NAK).
  std::vector<uint8_t> buf(68, 0);
  buf[51] = 99;
  assert_int_equal(check_mac(buf, 48, 4, keys), MacCheck::UnknownKey);
  assert_int_equal(check_mac(std::span<const uint8_t>(buf.data(), 50), 48, 4, keys), MacCheck::Bad);
  // Too small a buffer: nothing written.
  std::vector<uint8_t> small(60);
  assert_int_equal(append_mac(small, 48, *keys.find(1), 4), 0);
}

static void test_equal_ct(void**) {
  uint8_t a[20] = {1, 2, 3}, b[20] = {1, 2, 3};
  assert_true(equal_ct(a, b));
  b[19] = 1;
  assert_false(equal_ct(a, b));
  assert_false(equal_ct(std::span<const uint8_t>(a, 19), b));
}

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_formats),   cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_short_key_warns), cmocka_unit_test(test_digest_vectors),
      cmocka_unit_test(test_cmac_vectors),    cmocka_unit_test(test_append_and_check),
      cmocka_unit_test(test_equal_ct),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
