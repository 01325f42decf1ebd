// Metrics text: both formats from one description; names, units, counters, escaping.
#include <set>
#include <sstream>
#include <string>

#include "ctl/metrics.h"
#include "testutil.h"

using namespace tr7::ctl;

static bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

static MetricsInput sample_input() {
  MetricsInput in;
  in.version = "0.1.0";
  in.tracking.state = "local";
  in.tracking.synchronised = true;
  in.tracking.stratum = 10;
  in.tracking.offset_s = -1.5e-6;
  tr7::core::ServerStats s;
  s.received = 7;
  s.answered = 5;
  s.drop(tr7::core::DropReason::Denied) = 2;
  in.server.emplace_back("default", s);
  in.server_clients.emplace_back("default", 3);
  SourceStatus src;
  src.name = "ntp \"1\"";
  src.address = "192.0.2.1";
  src.reach = 0377;
  src.state = "selected";
  in.sources.push_back(src);
  return in;
}

static void test_openmetrics(void**) {
  std::string t = render_metrics(sample_input(), MetricsFormat::OpenMetrics);
  assert_true(has_line(t, "# TYPE tr7_server_requests counter"));
  assert_true(has_line(t, "tr7_server_requests_total{tenant=\"default\"} 7"));
  assert_true(has_line(t, "# UNIT tr7_offset_seconds seconds"));
  assert_true(has_line(t, "tr7_offset_seconds -1.5e-06"));
  assert_true(has_line(t, "tr7_stratum 10"));
  assert_true(has_line(t, "tr7_sync_state{state=\"local\"} 1"));
  assert_true(has_line(t, "tr7_sync_state{state=\"synchronised\"} 0"));
  assert_true(has_line(t, "tr7_server_dropped_total{tenant=\"default\",reason=\"denied\"} 2"));
  assert_true(has_line(t, "tr7_source_reach{source=\"ntp \\\"1\\\"\",address=\"192.0.2.1\"} 255"));
  assert_true(has_line(t, "tr7_build_info{version=\"0.1.0\"} 1"));
  assert_true(t.size() > 6 && t.substr(t.size() - 6) == "# EOF\n");
  // Every family is declared once, before its samples.
  std::set<std::string> fams;
  std::istringstream in(t);
  std::string l;
  while (std::getline(in, l)) {
    if (l.rfind("# TYPE ", 0) == 0) {
      std::string name = l.substr(7, l.find(' ', 7) - 7);
      assert_true(fams.insert(name).second);
    }
  }
}

static void test_prometheus(void**) {
  std::string t = render_metrics(sample_input(), MetricsFormat::Prometheus);
  assert_true(has_line(t, "# TYPE tr7_server_requests_total counter"));
  assert_true(has_line(t, "tr7_server_requests_total{tenant=\"default\"} 7"));
  assert_true(has_line(t, "# TYPE tr7_build_info gauge"));
  assert_true(t.find("# UNIT") == std::string::npos);
  assert_true(t.find("# EOF") == std::string::npos);
}

static void test_values(void**) {
  assert_string_equal(format_metric_value(0.0).c_str(), "0");
  assert_string_equal(format_metric_value(3.0).c_str(), "3");
  assert_string_equal(format_metric_value(0.25).c_str(), "0.25");
  assert_string_equal(format_metric_value(0.0 / 0.0).c_str(), "NaN");
  assert_string_equal(format_metric_value(1.0 / 0.0).c_str(), "+Inf");
  MetricsInput none;  // no sources: the per-source families are left out
  std::string t = render_metrics(none, MetricsFormat::OpenMetrics);
  assert_true(t.find("tr7_source_reach") == std::string::npos);
  assert_true(has_line(t, "tr7_sources 0"));
}

int main() {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_openmetrics), cmocka_unit_test(test_prometheus),
                                     cmocka_unit_test(test_values)};
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
