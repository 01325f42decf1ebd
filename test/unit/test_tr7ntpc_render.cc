// tr7ntpc rendering: aligned tables, JSON typing, CSV quoting, local times.
#include <cmath>
#include <random>
#include <sstream>
#include <string>

#include "testutil.h"
#include "tools/tr7ntpc/render.h"
#include "tools/tr7ntpc/tables.h"

using namespace tr7;
using namespace tr7::tools;

static Body body(ctl::Shape shape, const std::vector<std::string>& lines) {
  auto b = decode_body(shape, lines);
  assert_true(b.has_value());
  return *b;
}

static void test_keyvalue(void**) {
  // A key/value reply without a report of its own: aligned keys, local times.
  Body b = body(ctl::Shape::KeyValue, {"zone=Europe/Istanbul stratum=10 ref_id=0x7F7F0101 "
                                       "reference_time_utc=2026-11-26T06:00:00.5Z"});
  RenderOptions o;
  o.zone = *core::parse_tz_rule("<+03>-3");
  std::string h = render(ctl::Cmd::TimezoneGet, b, o);
  assert_string_equal(h.c_str(),
                      "zone           : Europe/Istanbul\n"
                      "stratum        : 10\n"
                      "ref_id         : 0x7F7F0101\n"
                      "reference_time : 2026-11-26 09:00:00.500000 +03\n");
  o.utc = true;
  assert_true(render(ctl::Cmd::TimezoneGet, b, o).find("reference_time_utc : 2026-11-26 06:00:00.500000 UTC") !=
              std::string::npos);
  o.format = OutputFormat::Json;
  assert_string_equal(render(ctl::Cmd::TimezoneGet, b, o).c_str(),
                      "{\"zone\":\"Europe/Istanbul\",\"stratum\":10,\"ref_id\":\"0x7F7F0101\","
                      "\"reference_time_utc\":\"2026-11-26T06:00:00.5Z\"}\n");
  o.format = OutputFormat::Csv;
  assert_string_equal(render(ctl::Cmd::TimezoneGet, b, o).c_str(),
                      "Europe/Istanbul,10,0x7F7F0101,2026-11-26T06:00:00.5Z\n");
}

static void test_table(void**) {
  Body b =
      body(ctl::Shape::Table, {"prefix=10.0.0.0/8 action=allow hits=5", "prefix=2001:db8::/32 action=deny hits=123"});
  RenderOptions o;
  assert_string_equal(render(ctl::Cmd::AllowList, b, o).c_str(),
                      "prefix        action hits\n"
                      "10.0.0.0/8    allow     5\n"
                      "2001:db8::/32 deny    123\n");
  o.format = OutputFormat::Json;
  assert_string_equal(render(ctl::Cmd::AllowList, b, o).c_str(),
                      "[{\"prefix\":\"10.0.0.0/8\",\"action\":\"allow\",\"hits\":5},\n"
                      "{\"prefix\":\"2001:db8::/32\",\"action\":\"deny\",\"hits\":123}]\n");
  Body none = body(ctl::Shape::Table, {});
  o.format = OutputFormat::Json;
  assert_string_equal(render(ctl::Cmd::Sources, none, o).c_str(), "[]\n");
  o.format = OutputFormat::Human;
  assert_string_equal(render(ctl::Cmd::Sources, none, o).c_str(), "(none)\n");
}

static void test_text_and_errors(void**) {
  Body b = body(ctl::Shape::Text, {"# TYPE a gauge", "..dot", "a 1"});
  RenderOptions o;
  assert_string_equal(render(ctl::Cmd::Metrics, b, o).c_str(), "# TYPE a gauge\n.dot\na 1\n");
  o.format = OutputFormat::Json;
  assert_string_equal(render(ctl::Cmd::Metrics, b, o).c_str(), "{\"text\":\"# TYPE a gauge\\n.dot\\na 1\\n\"}\n");
  ctl::Error e{ctl::ErrCode::PermissionDenied, "permission denied: x"};
  assert_string_equal(
      render_error(e, o).c_str(),
      "{\"error\":{\"code\":13,\"name\":\"permission_denied\",\"message\":\"permission denied: x\"}}\n");
  o.format = OutputFormat::Human;
  assert_string_equal(render_error(e, o).c_str(), "permission denied: x (error 13, permission_denied)\n");
  assert_false(decode_body(ctl::Shape::Table, {"not a record"}).has_value());
  assert_string_equal(csv_field("a,b").c_str(), "\"a,b\"");
  assert_string_equal(csv_field("say \"hi\"").c_str(), "\"say \"\"hi\"\"\"");
  assert_string_equal(csv_field("plain").c_str(), "plain");
  assert_string_equal(local_time("", o).c_str(), "-");
  assert_string_equal(local_time("garbage", o).c_str(), "garbage");
}

// --json: typed values. Booleans, numbers, null for the empty value, reach as its real
// value, free text as strings whatever it looks like.
static void test_json_types(void**) {
  assert_string_equal(json_field("synchronised", "yes").c_str(), "true");
  assert_string_equal(json_field("synchronised", "no").c_str(), "false");
  assert_string_equal(json_field("present", "true").c_str(), "true");
  assert_string_equal(json_field("held_id", "").c_str(), "null");
  assert_string_equal(json_field("held_offset_s", "").c_str(), "null");
  assert_string_equal(json_field("last_write_age_s", "").c_str(), "null");
  assert_string_equal(json_field("offset_s", "7.867172676320201e-08").c_str(), "7.867172676320201e-08");
  assert_string_equal(json_field("stratum", "10").c_str(), "10");
  assert_string_equal(json_field("reach", "377").c_str(), "255");
  assert_string_equal(json_field("reach", "000").c_str(), "0");
  assert_string_equal(json_field("reach", "017").c_str(), "15");
  assert_string_equal(json_field("abbreviation", "-03").c_str(), "\"-03\"");
  assert_string_equal(json_field("name", "yes").c_str(), "\"yes\"");
  assert_string_equal(json_field("address", "10").c_str(), "\"10\"");
  assert_string_equal(json_field("ref_id", "0x7F000001").c_str(), "\"0x7F000001\"");
  assert_string_equal(json_field("state", "local").c_str(), "\"local\"");
  Body b = body(ctl::Shape::KeyValue, {"state=synchronised synchronised=yes held_id= held_offset_s= offset_s=1e-08"});
  RenderOptions o;
  o.format = OutputFormat::Json;
  assert_string_equal(render(ctl::Cmd::Tracking, b, o).c_str(),
                      "{\"state\":\"synchronised\",\"synchronised\":true,\"held_id\":null,\"held_offset_s\":null,"
                      "\"offset_s\":1e-08}\n");
  Body src = body(ctl::Shape::Table, {"name=a address=127.0.0.1 port=123 reach=377 last_rx_ago_s="});
  assert_string_equal(render(ctl::Cmd::Sources, src, o).c_str(),
                      "[{\"name\":\"a\",\"address\":\"127.0.0.1\",\"port\":123,\"reach\":255,\"last_rx_ago_s\":null}]\n");
}

static void test_units(void**) {
  assert_string_equal(fmt_offset(7.867172676320201e-08).c_str(), "+79ns");
  assert_string_equal(fmt_offset(-5.514e-6).c_str(), "-5514ns");
  assert_string_equal(fmt_offset(7.3e-5).c_str(), "+73us");
  assert_string_equal(fmt_offset(-0.0123).c_str(), "-12ms");
  assert_string_equal(fmt_offset(12.4).c_str(), "+12s");
  assert_string_equal(fmt_offset(1e7).c_str(), "+10000000s");
  assert_string_equal(fmt_offset(0).c_str(), "+0ns");
  assert_string_equal(fmt_offset(-1e-12).c_str(), "+0ns");
  assert_string_equal(fmt_offset(NAN).c_str(), "-");
  assert_string_equal(fmt_time(-7.3e-5).c_str(), "73us");
  assert_string_equal(fmt_precise(7.867172676320201e-08, false).c_str(), "78.672ns");
  assert_string_equal(fmt_precise(-0.0123, true).c_str(), "-12.300ms");
  assert_string_equal(fmt_precise(16, false).c_str(), "16.000s");
  assert_string_equal(fmt_age(5.7).c_str(), "5s");
  assert_string_equal(fmt_age(200).c_str(), "3m");
  assert_string_equal(fmt_age(7300).c_str(), "2h");
  assert_string_equal(fmt_age(3 * 86400 + 5).c_str(), "3d");
  assert_string_equal(fmt_age(-1).c_str(), "-");
  assert_string_equal(fmt_ppm(12.3104).c_str(), "+12.310");
  assert_string_equal(fmt_plain("7.867172676320201e-08").c_str(), "0.000000078672");
  assert_string_equal(fmt_plain("1e+05").c_str(), "100000");
  assert_string_equal(fmt_plain("12").c_str(), "12");
  assert_string_equal(fmt_plain("1e-15").c_str(), "0.000ns");
  assert_string_equal(host_port("127.0.0.1", "123").c_str(), "127.0.0.1");
  assert_string_equal(host_port("127.0.0.1", "12325").c_str(), "127.0.0.1:12325");
  assert_string_equal(host_port("::1", "4123").c_str(), "[::1]:4123");
}

// A digit, an optional '.', 'e' or 'E', an optional sign, a digit: "1e-05", "2.E+3".
// (By hand: std::regex trips g++ 12's -Wmaybe-uninitialized under the sanitizers.)
static bool has_e_notation(const std::string& s) {
  auto digit = [&](size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (!digit(i)) {
      continue;
    }
    size_t j = i + 1;
    if (j < s.size() && s[j] == '.') {
      ++j;
    }
    if (j >= s.size() || (s[j] != 'e' && s[j] != 'E')) {
      continue;
    }
    ++j;
    if (j < s.size() && (s[j] == '-' || s[j] == '+')) {
      ++j;
    }
    if (digit(j)) {
      return true;
    }
  }
  return false;
}
static size_t widest(const std::string& s) {
  size_t w = 0;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) {
    size_t n = 0;
    for (char c : l) {
      n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }
    w = std::max(w, n);
  }
  return w;
}

static void test_tracking_report(void**) {
  Body b = body(ctl::Shape::KeyValue,
                {"state=synchronised synchronised=yes stratum=3 ref_id=0x7F000002 ref_name=127.0.0.2 "
                 "reference_time_utc=2026-11-26T06:00:00.5Z offset_s=7.867172676320201e-08 last_offset_s=-1.5e-07 "
                 "rms_offset_s=2e-06 freq_ppm=12.31 residual_freq_ppm=0.001 skew_ppm=0.012 root_delay_s=0.000123 "
                 "root_dispersion_s=2.9802322387695312e-08 update_interval_s=16 leap=none clock_mode=none held_id= "
                 "held_offset_s= held_since_utc="});
  RenderOptions o;
  std::string h = render(ctl::Cmd::Tracking, b, o);
  assert_true(h.find("Reference ID    : 7F000002 (127.0.0.2)\n") != std::string::npos);
  assert_true(h.find("System time     : 0.000000079 seconds slow of NTP time\n") != std::string::npos);
  assert_true(h.find("Last offset     : -0.000000150 seconds\n") != std::string::npos);
  assert_true(h.find("Frequency       : 12.310 ppm slow\n") != std::string::npos);
  assert_true(h.find("Root dispersion : 0.000000030 seconds\n") != std::string::npos);
  assert_true(h.find("Update interval : 16.0 seconds\n") != std::string::npos);
  assert_true(h.find("Leap status     : Normal\n") != std::string::npos);
  assert_true(h.find("Held correction : none\n") != std::string::npos);
  assert_false(has_e_notation(h));
  assert_true(widest(h) <= 100);
  Body fast = body(ctl::Shape::KeyValue, {"state=local synchronised=yes stratum=10 offset_s=-0.25 freq_ppm=-3"});
  h = render(ctl::Cmd::Tracking, fast, o);
  assert_true(h.find("0.250000000 seconds fast of NTP time") != std::string::npos);
  assert_true(h.find("3.000 ppm fast") != std::string::npos);
  assert_true(h.find("State           : local (serving as synchronised)") != std::string::npos);
  o.verbose = true;
  assert_true(render(ctl::Cmd::Tracking, fast, o).find("\nSystem time: how far") != std::string::npos);
}

static void test_sources_table(void**) {
  Body b = body(ctl::Shape::Table,
                {"name=127.0.0.1 address=127.0.0.1 port=12325 mode=server state=selected stratum=2 poll=6 "
                 "reach=377 last_rx_ago_s=5.2 offset_s=-9.59e-07 delay_s=0.000131 jitter_s=2.1e-06 error_s=7.3e-05",
                 "name=a-very-long-name-of-a-server.ntp.example.net address=192.0.2.10 port=123 mode=server "
                 "state=falseticker stratum=1 poll=10 reach=17 last_rx_ago_s=7300 offset_s=0.0123 delay_s=0.05 "
                 "jitter_s=0.001 error_s=0.002",
                 "name=pool.example address=2001:db8::1234:5678:9abc:def0 port=4123 mode=pool state=candidate "
                 "stratum=2 poll=6 reach=377 last_rx_ago_s=200 offset_s=1.5 delay_s=1e-09 jitter_s=0 error_s=1e-10",
                 "name=unresolved.example address= port=123 mode=server state=resolving stratum=0 poll=0 reach=0 "
                 "last_rx_ago_s= offset_s=0 delay_s=0 jitter_s=0 error_s=0"});
  RenderOptions o;
  std::string h = render(ctl::Cmd::Sources, b, o);
  assert_false(has_e_notation(h));
  assert_true(widest(h) <= 100);
  assert_true(h.find("^* 127.0.0.1:12325 ") != std::string::npos);
  assert_true(h.find(" 377     5s  -959ns +/-   73us 131us 2100ns\n") != std::string::npos);
  assert_true(h.find("^x a-very-long-name") != std::string::npos);
  assert_true(h.find("  2h ") != std::string::npos);
  assert_true(h.find("^- [2001:db8::1234:5678:9abc:def0]:4123 ") != std::string::npos);  // a pool member: address
  assert_true(h.find("^. unresolved.example ") != std::string::npos);
  o.max_width = 80;
  h = render(ctl::Cmd::Sources, b, o);
  assert_true(widest(h) <= 80);
  assert_true(h.find("~") != std::string::npos);  // the long name is cut, visibly
  assert_true(h.find("+/-   73us") != std::string::npos);  // numbers never
  o.numeric = true;
  o.max_width = 100;
  h = render(ctl::Cmd::Sources, b, o);
  assert_true(h.find("^x 192.0.2.10 ") != std::string::npos);
  o.verbose = true;
  h = render(ctl::Cmd::Sources, b, o);
  assert_true(h.find("Source state '*' = selected") != std::string::npos);
  assert_true(widest(h) <= 100);
}

// Every report, fed random magnitudes: no e-notation, no line over 100 columns.
static void test_reports_random(void**) {
  auto seed = static_cast<unsigned>(test_seed());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> ex(-15, 12);
  auto rnd = [&] {
    double v = std::pow(10.0, ex(rng)) * ((rng() & 1) ? -1 : 1);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return std::string(buf);
  };
  struct Rep {
    ctl::Cmd cmd;
    std::vector<std::string> keys;
  };
  const Rep reps[] = {
      {ctl::Cmd::Tracking,
       {"offset_s", "last_offset_s", "rms_offset_s", "freq_ppm", "residual_freq_ppm", "skew_ppm", "root_delay_s",
        "root_dispersion_s", "update_interval_s", "held_offset_s"}},
      {ctl::Cmd::Sources, {"offset_s", "delay_s", "jitter_s", "error_s", "last_rx_ago_s"}},
      {ctl::Cmd::SourceStats, {"span_s", "freq_ppm", "freq_skew_ppm", "offset_s", "std_dev_s", "samples"}},
      {ctl::Cmd::SelectData, {"root_distance_s", "lower_s", "upper_s"}},
      {ctl::Cmd::Clients, {"requests", "last_seen_ago_s"}},
      {ctl::Cmd::NtpData, {"offset_s", "delay_s", "dispersion_s", "response_time_s", "root_delay_s"}},
      {ctl::Cmd::ServerStats, {"received", "answered"}},
  };
  for (int round = 0; round < 200; ++round) {
    for (const auto& r : reps) {
      std::string line = "name=n.example address=192.0.2.1 port=123 state=selected held_id=1";
      for (const auto& k : r.keys) {
        line += " " + k + "=" + rnd();
      }
      const ctl::CmdInfo& ci = ctl::info(r.cmd);
      Body b = body(ci.shape, {line, line});
      RenderOptions o;
      std::string h = render(r.cmd, b, o);
      if (has_e_notation(h) || widest(h) > 100) {
        fail_msg("seed %u: %s:\n%s", seed, ci.name, h.c_str());
      }
    }
  }
}

static void test_help_lists_every_command(void**) {
  std::string h = help_text();
  for (const auto& ci : ctl::k_commands) {
    if (h.find(std::string("\n  ") + ci.name) == std::string::npos) {
      fail_msg("help lacks '%s'", ci.name);
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_keyvalue), cmocka_unit_test(test_table),
                                     cmocka_unit_test(test_text_and_errors), cmocka_unit_test(test_json_types),
                                     cmocka_unit_test(test_units), cmocka_unit_test(test_tracking_report),
                                     cmocka_unit_test(test_sources_table), cmocka_unit_test(test_reports_random),
                                     cmocka_unit_test(test_help_lists_every_command)};
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
