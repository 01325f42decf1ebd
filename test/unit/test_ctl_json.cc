// Flat JSON: escaping always gives valid JSON, the flat parser reads back what we write,
// status timestamps round-trip through RFC 3339.
#include <random>
#include <string>

#include "core/strutil.h"
#include "ctl/json.h"
#include "ctl/status.h"
#include "testutil.h"

using namespace tr7::ctl;

static void test_string_escape(void**) {
  assert_string_equal(json_string("a\"b\\c\n\x01").c_str(), "\"a\\\"b\\\\c\\n\\u0001\"");
  assert_string_equal(json_string("\xC3\xA9").c_str(), "\"\xC3\xA9\"");
  assert_string_equal(json_string("\xC3").c_str(), "\"\xEF\xBF\xBD\"");  // invalid UTF-8 -> U+FFFD
  assert_true(is_json_number("0"));
  assert_true(is_json_number("-1.5e-05"));
  assert_false(is_json_number("007"));
  assert_false(is_json_number("0x7F7F0101"));
  assert_false(is_json_number("1."));
  assert_false(is_json_number("nan"));
  assert_false(is_json_number("1e999"));
  assert_false(is_json_number("10.0.0.0/8"));
  assert_string_equal(json_value("12").c_str(), "12");
  assert_string_equal(json_value("yes").c_str(), "\"yes\"");
}

static void test_object_roundtrip_random(void**) {
  std::mt19937_64 rng(test_seed());
  for (int i = 0; i < 3000; ++i) {
    JsonObject o;
    std::vector<std::string> vals;
    int n = static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) {
      std::string v(rng() % 20, '\0');
      for (auto& c : v) {
        c = static_cast<char>(rng() % 0x80);  // any ASCII incl. controls
      }
      vals.push_back(v);
      o.str("k" + std::to_string(k), v);
    }
    o.num("n", static_cast<long long>(rng() % 1000) - 500);
    o.null("z");
    auto p = parse_flat_object(o.done());
    assert_true(p.has_value());
    assert_int_equal(p->size(), static_cast<size_t>(n) + 2);
    for (int k = 0; k < n; ++k) {
      assert_true((*p)[k].is_string);
      assert_true((*p)[k].value == vals[k]);
    }
    assert_false(p->back().is_string);
    assert_string_equal(p->back().value.c_str(), "null");
  }
}

static void test_parser_refuses(void**) {
  for (const char* bad :
       {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":{}}", "{\"a\":[1]}", "{\"a\":1,}", "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\x\"}", "{\"a\":1} x", "{\"a\":\"\x01\"}", "{a:1}", "{\"a\":tru}"}) {
    if (parse_flat_object(bad).has_value()) {
      fail_msg("accepted '%s'", bad);
    }
  }
  auto ok = parse_flat_object(" { \"a\" : \"\\u00e9\\ud83d\\ude00\" , \"b\" : true } ");
  assert_true(ok.has_value());
  assert_string_equal((*ok)[0].value.c_str(), "\xC3\xA9\xF0\x9F\x98\x80");
  assert_string_equal((*ok)[1].value.c_str(), "true");
}

static void test_rfc3339_roundtrip(void**) {
  std::mt19937_64 rng(test_seed(3));
  for (int i = 0; i < 20000; ++i) {
    auto t = tr7::core::Timestamp::from_ns(static_cast<int64_t>(rng() % 4000000000000000000ULL));
    auto back = parse_rfc3339(format_utc(t));
    assert_true(back.has_value());
    assert_true(back->ns == t.ns);
  }
  auto z = parse_rfc3339("2026-11-26T09:00:00+03:00");
  assert_true(z.has_value());
  assert_string_equal(format_utc(*z).c_str(), "2026-11-26T06:00:00.000000000Z");
  for (const char* bad : {"", "2026-11-26", "2026-11-26T09:00:00", "2026-13-26T09:00:00Z", "2026-11-26T09:00:00+3:00",
                          "2026-11-26T09:00:00.Z", "2026-11-26 09:00:00Z"}) {
    if (parse_rfc3339(bad).has_value()) {
      fail_msg("accepted '%s'", bad);
    }
  }
  assert_string_equal(format_double(0.1).c_str(), "0.1");
  assert_string_equal(format_double(-1.2e-05).c_str(), "-1.2e-05");
  assert_string_equal(format_refid(0x7F7F0101).c_str(), "0x7F7F0101");
}

static void test_status_records(void**) {
  TrackingStatus t;
  t.state = "local";
  t.synchronised = true;
  t.stratum = 10;
  t.ref_id = 0x7F7F0101;
  t.ref_name = "LOCAL";
  Record r = to_record(t);
  assert_string_equal(find(r, "state")->c_str(), "local");
  assert_string_equal(find(r, "stratum")->c_str(), "10");
  assert_string_equal(find(r, "ref_id")->c_str(), "0x7F7F0101");
  assert_string_equal(find(r, "reference_time_utc")->c_str(), "");
  assert_string_equal(find(r, "held_id")->c_str(), "");
  for (const auto& [k, v] : r) {
    assert_true(valid_key(k));
  }
  auto d = decode_record(encode_record(r));
  assert_true(d.has_value() && *d == r);
  for (const auto& rec : {to_record(SourceStatus{}), to_record(SourceStats{}), to_record(SelectStatus{}),
                          to_record(ActivityStatus{}), to_record(NtpDataStatus{})}) {
    for (const auto& [k, v] : rec) {
      assert_true(valid_key(k));
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_string_escape),  cmocka_unit_test(test_object_roundtrip_random),
      cmocka_unit_test(test_parser_refuses), cmocka_unit_test(test_rfc3339_roundtrip),
      cmocka_unit_test(test_status_records),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
