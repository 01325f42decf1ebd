// tr7ntpc rendering: aligned tables, JSON typing, CSV quoting, local times.
#include <string>

#include "testutil.h"
#include "tools/tr7ntpc/render.h"

using namespace tr7;
using namespace tr7::tools;

static Body body(ctl::Shape shape, const std::vector<std::string>& lines) {
  auto b = decode_body(shape, lines);
  assert_true(b.has_value());
  return *b;
}

static void test_keyvalue(void**) {
  Body b = body(ctl::Shape::KeyValue,
                {"state=local stratum=10 ref_id=0x7F7F0101 reference_time_utc=2026-11-26T06:00:00.5Z"});
  RenderOptions o;
  o.zone = *core::parse_tz_rule("<+03>-3");
  std::string h = render(ctl::Cmd::Tracking, b, o);
  assert_string_equal(h.c_str(),
                      "state          : local\n"
                      "stratum        : 10\n"
                      "ref_id         : 0x7F7F0101\n"
                      "reference_time : 2026-11-26 09:00:00.500000 +03\n");
  o.utc = true;
  assert_true(render(ctl::Cmd::Tracking, b, o).find("reference_time_utc : 2026-11-26 06:00:00.500000 UTC") !=
              std::string::npos);
  o.format = OutputFormat::Json;
  assert_string_equal(render(ctl::Cmd::Tracking, b, o).c_str(),
                      "{\"state\":\"local\",\"stratum\":10,\"ref_id\":\"0x7F7F0101\","
                      "\"reference_time_utc\":\"2026-11-26T06:00:00.5Z\"}\n");
  o.format = OutputFormat::Csv;
  assert_string_equal(render(ctl::Cmd::Tracking, b, o).c_str(), "local,10,0x7F7F0101,2026-11-26T06:00:00.5Z\n");
}

static void test_table(void**) {
  Body b =
      body(ctl::Shape::Table, {"prefix=10.0.0.0/8 action=allow hits=5", "prefix=2001:db8::/32 action=deny hits=123"});
  RenderOptions o;
  assert_string_equal(render(ctl::Cmd::AllowList, b, o).c_str(),
                      "prefix         action  hits\n"
                      "10.0.0.0/8     allow      5\n"
                      "2001:db8::/32  deny     123\n");
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
                                     cmocka_unit_test(test_help_lists_every_command)};
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
