// Civil time, RFC 3339 and POSIX TZ rules, checked against the C library: for every zone
// of the system tzdata, our evaluation of its footer rule must give the same UTC offset,
// DST flag and abbreviation as glibc's localtime_r with the same rule, at random times.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/tz.h"
#include "testutil.h"

using namespace tr7::core;

static void test_civil_roundtrip(void**) {
  std::mt19937_64 rng(test_seed());
  for (int i = 0; i < 100000; ++i) {
    int64_t days = static_cast<int64_t>(rng() % 2000000) - 1000000;
    int64_t y;
    int m, d;
    civil_from_days(days, y, m, d);
    assert_int_equal(days_from_civil(y, m, d), days);
    assert_true(m >= 1 && m <= 12 && d >= 1 && d <= 31);
  }
  assert_int_equal(days_from_civil(1970, 1, 1), 0);
  assert_int_equal(days_from_civil(2000, 3, 1), 11017);
  assert_int_equal(weekday_from_days(0), 4);  // Thursday
  assert_int_equal(weekday_from_days(-1), 3);
  assert_int_equal(weekday_from_days(-7), 4);
  // Against gmtime_r.
  for (int i = 0; i < 10000; ++i) {
    time_t t = static_cast<time_t>(rng() % 8000000000ULL) - 2000000000LL;
    tm g{};
    gmtime_r(&t, &g);
    WallTime c = to_wall_time(Timestamp::from_ns(static_cast<int64_t>(t) * k_ns_per_s + 5));
    assert_int_equal(c.year, g.tm_year + 1900);
    assert_int_equal(c.month, g.tm_mon + 1);
    assert_int_equal(c.day, g.tm_mday);
    assert_int_equal(c.hour, g.tm_hour);
    assert_int_equal(c.minute, g.tm_min);
    assert_int_equal(c.second, g.tm_sec);
    assert_int_equal(c.nanosecond, 5);
  }
}

static void test_rfc3339(void**) {
  Timestamp t = Timestamp::from_ns(1'795'000'000LL * k_ns_per_s + 123456789);
  assert_string_equal(format_rfc3339(t).c_str(), "2026-11-18T11:06:40.123456789Z");
  assert_string_equal(format_rfc3339(t, 3 * 3600).c_str(), "2026-11-18T14:06:40.123456789+03:00");
  assert_string_equal(format_rfc3339(t, -(9 * 3600 + 30 * 60)).c_str(), "2026-11-18T01:36:40.123456789-09:30");
  assert_string_equal(format_rfc3339(t, 0, true).c_str(), "2026-11-18T11:06:40.123456789+00:00");
  assert_string_equal(format_rfc3339(Timestamp::from_ns(-1)).c_str(), "1969-12-31T23:59:59.999999999Z");
}

static void test_rule_parse(void**) {
  auto r = parse_tz_rule("CET-1CEST,M3.5.0,M10.5.0/3");
  assert_true(r.has_value());
  assert_int_equal(r->std_offset_s, 3600);
  assert_int_equal(r->dst_offset_s, 7200);
  assert_string_equal(r->dst_abbr.c_str(), "CEST");
  assert_int_equal(r->end.time_s, 3 * 3600);
  auto i = parse_tz_rule("<+03>-3");
  assert_true(i.has_value());
  assert_int_equal(i->std_offset_s, 3 * 3600);
  assert_false(i->has_dst);
  auto ny = parse_tz_rule("<-03>3<-02>,M3.5.0/-2,M10.5.0/-1");  // negative times (RFC 8536)
  assert_true(ny.has_value());
  assert_int_equal(ny->start.time_s, -7200);
  for (const char* bad :
       {"", "C", "CET", "CET-1CEST,M3.5", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
        "CET-1CEST,M3.5.7,M10.5.0", "<+03", "CET-1CEST,J0,J365", "CET-200", "CET-1CEST,M3.5.0,M10.5.0x"}) {
    if (parse_tz_rule(bad).has_value()) {
      fail_msg("accepted '%s'", bad);
    }
  }
}

static void test_tzif_refuses_junk(void**) {
  assert_false(tzif_footer("").has_value());
  assert_false(tzif_footer("TZif").has_value());
  assert_false(tzif_footer(std::string(100, 'x')).has_value());
  std::string v1 = "TZif";
  v1 += std::string(40, '\0');
  assert_false(tzif_footer(v1).has_value());  // version 1, counts zero: typecnt 0 refused
}

namespace {

void list_zones(const std::string& root, const std::string& rel, std::vector<std::string>& out) {
  DIR* d = opendir((root + "/" + rel).c_str());
  if (!d) {
    return;
  }
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n[0] == '.' || n == "posix" || n == "right") {
      continue;
    }
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st {};
    if (stat((root + "/" + r).c_str(), &st) != 0) {
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      list_zones(root, r, out);
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(r);
    }
  }
  closedir(d);
}

}  // namespace

static void test_all_system_zones_match_glibc(void**) {
  const std::string root = "/usr/share/zoneinfo";
  std::vector<std::string> names;
  list_zones(root, "", names);
  if (names.empty()) {
    std::printf("# no tzdata in %s: skipped\n", root.c_str());
    skip();
  }
  std::mt19937_64 rng(test_seed(99));
  int zones = 0;
  long checks = 0;
  const char* saved = std::getenv("TZ");
  for (const auto& n : names) {
    std::ifstream in(root + "/" + n, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto footer = tzif_footer(ss.str());
    if (!footer) {
      continue;  // not a TZif file (zone.tab, leapseconds, ...)
    }
    auto rule = parse_tz_rule(*footer);
    if (!rule) {
      fail_msg("%s: footer '%s' refused: %s", n.c_str(), footer->c_str(), rule.error().c_str());
    }
    ++zones;
    setenv("TZ", footer->c_str(), 1);
    tzset();
    for (int i = 0; i < 200; ++i) {
      // 2000..2099, with extra samples right around every hour boundary.
      time_t t = 946684800 + static_cast<time_t>(rng() % (100ULL * 365 * 86400));
      if (i % 2) {
        t = t - t % 3600 + static_cast<time_t>(rng() % 3) - 1;
      }
      tm lt{};
      localtime_r(&t, &lt);
      LocalInfo li = local_info(*rule, Timestamp::from_ns(static_cast<int64_t>(t) * k_ns_per_s));
      if (li.utc_offset_s != lt.tm_gmtoff || li.dst != (lt.tm_isdst > 0) || li.abbr != lt.tm_zone) {
        fail_msg("%s (%s) at %lld: ours %d %d %s, glibc %ld %d %s", n.c_str(), footer->c_str(),
                 static_cast<long long>(t), li.utc_offset_s, li.dst, li.abbr.c_str(), lt.tm_gmtoff, lt.tm_isdst,
                 lt.tm_zone);
      }
      ++checks;
    }
  }
  if (saved) {
    setenv("TZ", saved, 1);
  } else {
    unsetenv("TZ");
  }
  std::printf("# %d zones, %ld times checked against glibc\n", zones, checks);
  assert_true(zones >= 400);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_civil_roundtrip),
      cmocka_unit_test(test_rfc3339),
      cmocka_unit_test(test_rule_parse),
      cmocka_unit_test(test_tzif_refuses_junk),
      cmocka_unit_test(test_all_system_zones_match_glibc),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
