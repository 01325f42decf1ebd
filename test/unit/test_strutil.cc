// Strict number, boolean, list and UTF-8 parsing (THREATS.md §2b numbers).
#include "core/strutil.h"

#include "testutil.h"

using namespace tr7::core;

static void test_int(void**) {
  assert_int_equal(*parse_int("0", 0, 10), 0);
  assert_int_equal(*parse_int("15", 1, 15), 15);
  assert_int_equal(*parse_int("-5", -10, 10), -5);
  assert_true(*parse_int("-9223372036854775808", INT64_MIN, 0) == INT64_MIN);
  assert_true(*parse_int("9223372036854775807", 0, INT64_MAX) == INT64_MAX);
  for (const char* bad : {"", "-", "+1", "08", "0x10", "5abc", "1.0", "1e3", " 1", "1 ", "nan", "inf",
                          "9223372036854775808", "-9223372036854775809", "99999999999999999999", "-0", "16"}) {
    if (parse_int(bad, -100, 15).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
}

static void test_double(void**) {
  assert_near(*parse_double("0.128", 0, 1), 0.128, 1e-15);
  assert_near(*parse_double("1e-3", 0, 1), 0.001, 1e-15);
  assert_near(*parse_double("-0", -1, 1), 0.0, 0);
  assert_near(*parse_double("2", 0, 10), 2.0, 0);
  for (const char* bad : {"", "nan", "NaN", "inf", "-inf", "infinity", "1e309", "0x10", "0x1p3", "5abc", "+1",
                          ".5", "5.", "1e", "1e+", "--1", "1,5", "11"}) {
    if (parse_double(bad, -10, 10).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
}

static void test_bool_and_lists(void**) {
  assert_true(*parse_bool("yes") && *parse_bool("on") && *parse_bool("true") && *parse_bool("1"));
  assert_false(*parse_bool("no") || *parse_bool("off"));
  assert_false(parse_bool("maybe").has_value());
  auto l = split_list(" a, b ,c ");
  assert_true(l && l->size() == 3 && (*l)[1] == "b");
  assert_false(split_list("a,,b").has_value());
  assert_false(split_list("a,").has_value());
  auto w = split_words("interval  2\tburst 8");
  assert_int_equal(w.size(), 4);
}

static void test_size(void**) {
  assert_int_equal(*parse_size("0", 0, 1 << 30), 0);
  assert_int_equal(*parse_size("4096", 0, 1 << 30), 4096);
  assert_int_equal(*parse_size("16M", 0, 1LL << 40), 16 << 20);
  assert_int_equal(*parse_size("2K", 0, 1LL << 40), 2048);
  assert_int_equal(*parse_size("1G", 0, 1LL << 40), 1LL << 30);
  for (const char* bad : {"", "M", "-1", "1.5M", "16m", "16 M", "016", "0x10", "2G"}) {
    if (parse_size(bad, 0, 1LL << 30).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
  assert_false(parse_size("1K", 4096, 1 << 30).has_value());  // below the minimum
}

static void test_utf8(void**) {
  assert_true(valid_utf8("plain"));
  assert_true(valid_utf8("Europe/İstanbul \xE2\x82\xAC \xF0\x9F\x95\x92"));
  for (const char* bad : {"\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "abc\xC3",
                          "\xE2\x82", "\x80"}) {
    if (valid_utf8(bad)) {
      fail_msg("invalid UTF-8 accepted");
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int),  cmocka_unit_test(test_double), cmocka_unit_test(test_bool_and_lists),
      cmocka_unit_test(test_utf8), cmocka_unit_test(test_size),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
