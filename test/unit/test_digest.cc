// Digests (known-answer vectors) and the refid of addresses (RFC 5905 §7.3).
#include <vector>

#include "core/digest.h"
#include "core/refid.h"
#include "testutil.h"

using namespace tr7::core;

static void test_known_answers(void**) {
  std::vector<uint8_t> none;
  assert_string_equal(to_hex(md5(none)).c_str(), "d41d8cd98f00b204e9800998ecf8427e");
  assert_string_equal(sha256_hex("abc").c_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231-style check against Python's hmac module.
  assert_string_equal(to_hex(hmac_sha256("key", "The quick brown fox jumps over the lazy dog")).c_str(),
                      "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

static void test_refid(void**) {
  // IPv4: the address. IPv6: MD5 of the 16 bytes, first 4 octets (values from Python's
  // hashlib, as chronyd's UTI_IPToRefid computes them).
  assert_int_equal(refid_of(*parse_ip("192.0.2.1")), 0xC0000201u);
  assert_int_equal(refid_of(*parse_ip("::1")), 0xcf404dc8u);
  assert_int_equal(refid_of(*parse_ip("2001:db8::1")), 0x39ab9b37u);
  assert_int_equal(refid_of(*parse_ip("fd7a::a")), 0x79d4031fu);
  assert_int_equal(refid_of(IpAddr{}), 0u);
  // The loop test.
  assert_true(is_sync_loop(2, 0x79d4031fu, 0x79d4031fu));
  assert_false(is_sync_loop(1, 0x79d4031fu, 0x79d4031fu));
  assert_false(is_sync_loop(3, 0x79d4031fu, 0));
  assert_false(is_sync_loop(3, 0x79d4031eu, 0x79d4031fu));
}

int main() {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_known_answers), cmocka_unit_test(test_refid)};
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
