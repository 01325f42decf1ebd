// The command table and parser: table consistency, every command parses, arguments are
// checked, canonical lines parse back the same, completion.
#include <algorithm>
#include <random>
#include <set>
#include <string>

#include "core/strutil.h"
#include "ctl/command.h"
#include "testutil.h"

using namespace tr7::ctl;

static void test_table_consistent(void**) {
  std::set<std::string> names;
  for (size_t i = 0; i < k_command_count; ++i) {
    const CmdInfo& ci = k_commands[i];
    assert_int_equal(static_cast<size_t>(ci.cmd), i);  // enum order = table order
    assert_true(names.insert(ci.name).second);         // unique names
    auto w = tr7::core::split_words(ci.name);
    assert_true(w.size() == 1 || w.size() == 2);
    assert_true(std::string(ci.help).size() > 10);
    assert_true(std::string(ci.help).size() < 90);
    // Changes are never Any or Local; table replies are read commands.
    if (ci.access == Access::Admin) {
      assert_true(ci.shape == Shape::None || ci.shape == Shape::KeyValue);
    }
    for (const auto& a : arg_specs(ci.cmd)) {
      assert_false(a.name.empty());
    }
  }
  // A one-word command never shadows a two-word one.
  for (const auto& a : k_commands) {
    for (const auto& b : k_commands) {
      auto wa = tr7::core::split_words(a.name);
      auto wb = tr7::core::split_words(b.name);
      if (wa.size() == 1 && wb.size() == 2) {
        assert_true(wa[0] != wb[0]);
      }
    }
  }
}

static std::string example_arg(const ArgSpec& a) {
  std::string kw = a.keyword.empty() || a.kind == ArgKind::PortOption ? "" : a.keyword + " ";
  switch (a.kind) {
    case ArgKind::Time:
      return kw + "2026-11-26";
    case ArgKind::ReportFormat:
      return kw + "md";
    case ArgKind::Prefix:
      return "10.0.0.0/8";
    case ArgKind::Addr:
      return "192.0.2.1";
    case ArgKind::Host:
      return "ntp1.example.net";
    case ArgKind::Endpoint:
      return "192.0.2.1:12325";
    case ArgKind::PortOption:
      return "port 12325";
    case ArgKind::Zone:
      return "Europe/Istanbul";
    case ArgKind::Count:
      return "5";
    case ArgKind::Id:
      return "42";
    case ArgKind::Format:
      return "prometheus";
    case ArgKind::Options:
      return "iburst";
    case ArgKind::Tenant:
      return kw + "acme";
    case ArgKind::Settings:
      return "netns acme listen 10.0.0.1:123";
  }
  return "";
}

static void test_report_command(void**) {
  auto p = parse_command("report");
  assert_true(p.has_value() && !p->since && !p->until && !p->tenant && !p->format);
  p = parse_command("report since 2026-11-01 until 2026-12-01T12:00:00Z tenant acme format md");
  assert_true(p.has_value());
  assert_int_equal(p->since->ns / tr7::core::k_ns_per_s, 1793491200);
  assert_int_equal(p->until->ns / tr7::core::k_ns_per_s, 1796126400);
  assert_string_equal(p->tenant->c_str(), "acme");
  assert_string_equal(p->format->c_str(), "md");
  p = parse_command("report until 1796126400");
  assert_true(p.has_value() && p->until->ns == 1796126400LL * tr7::core::k_ns_per_s && !p->since);
  assert_true(parse_command("report format json").has_value());
  for (const char* bad : {"report since", "report since yesterday", "report format html", "report tenant a/b",
                          "report until 2026-11-01 since 2026-10-01", "report x", "report since 2026-13-01"}) {
    if (parse_command(bad).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
  std::vector<std::string> w{"report"};
  auto c = complete(w, "");
  assert_int_equal(c.size(), 4);  // since until tenant format
  w = {"report", "since", "2026-11-01", "format"};
  c = complete(w, "");
  assert_int_equal(c.size(), 2);  // json md
}

static void test_tenant_commands(void**) {
  auto p = parse_command("allow check 10.0.0.1");
  assert_true(p.has_value());
  assert_false(p->tenant.has_value());
  assert_string_equal(p->addr->to_string().c_str(), "10.0.0.1");
  p = parse_command("allow check acme 10.0.0.1");
  assert_true(p.has_value());
  assert_string_equal(p->tenant->c_str(), "acme");
  assert_string_equal(p->addr->to_string().c_str(), "10.0.0.1");
  assert_false(parse_command("allow check acme").has_value());  // ADDR missing
  assert_false(parse_command("allow check a/b 10.0.0.1").has_value());
  assert_false(parse_command("allow check acme 10.0.0.1 x").has_value());
  p = parse_command(
      "tenant add tC netns ns-c listen 10.9.0.1:123,[fd00::1]:123 allow 10.9.0.0/16 ratelimit interval 2 "
      "burst 8");
  assert_true(p.has_value());
  assert_int_equal(static_cast<int>(p->cmd), static_cast<int>(Cmd::TenantAdd));
  assert_string_equal(p->tenant->c_str(), "tC");
  assert_int_equal(p->settings.size(), 11);
  assert_string_equal(p->settings[3].c_str(), "10.9.0.1:123,[fd00::1]:123");
  assert_true(parse_command("tenant add tC").has_value());  // settings are checked by the daemon
  assert_false(parse_command("tenant add").has_value());
  assert_false(parse_command("tenant add tC netns a;b").has_value());
  assert_false(parse_command("tenant add tC netns a$b").has_value());
  std::string many = "tenant add tC";
  for (int i = 0; i < 33; ++i) {
    many += " x";
  }
  assert_false(parse_command(many).has_value());
  p = parse_command("tenant delete tC");
  assert_true(p.has_value() && *p->tenant == "tC");
  assert_false(parse_command("tenant delete").has_value());
  assert_false(parse_command("tenant delete tC x").has_value());
  assert_true(parse_command("tenants").has_value());
  assert_true(parse_command("tenant list").has_value());
}

static void test_every_command_parses(void**) {
  for (const auto& ci : k_commands) {
    std::string line = ci.name;
    std::string minimal = ci.name;
    for (const auto& a : arg_specs(ci.cmd)) {
      line += " " + example_arg(a);
      if (!a.optional) {
        minimal += " " + example_arg(a);
      }
    }
    auto p = parse_command(line);
    if (!p) {
      fail_msg("'%s': %s", line.c_str(), p.error().text.c_str());
    }
    assert_int_equal(static_cast<int>(p->cmd), static_cast<int>(ci.cmd));
    assert_string_equal(p->to_line().c_str(), line.c_str());
    auto m = parse_command("  " + minimal + "\t ");
    assert_true(m.has_value());
    assert_string_equal(m->to_line().c_str(), minimal.c_str());
    // A required argument missing is InvalidArgument, an extra one too.
    if (ci.shape != Shape::Local) {
      auto extra =
          parse_command(line + " extra junk words here and more and more and more and more and more and more %");
      assert_false(extra.has_value());
      assert_int_equal(static_cast<int>(extra.error().code), static_cast<int>(ErrCode::InvalidArgument));
    }
  }
}

// `source add` takes a whole [sources] line: the longest one has 12 option words.
static void test_source_add_whole_line(void**) {
  auto p = parse_command(
      "source add pool.example pool maxsources 2 port 1234 minpoll -2 maxpoll 0 burst_interval 0.25 iburst");
  if (!p) {
    fail_msg("%s", p.error().text.c_str());
  }
  assert_int_equal(static_cast<int>(p->args.size()), 13);
}

// `source delete HOST[:PORT] [port PORT]`: the host and port it names, in every spelling.
static void test_source_delete_port(void**) {
  struct Case {
    const char* line;
    const char* host;
    int port;  // -1: none given
  };
  const Case ok[] = {
      {"source delete 127.0.0.1", "127.0.0.1", -1},
      {"source delete 127.0.0.1 port 12325", "127.0.0.1", 12325},
      {"source delete 127.0.0.1:12325", "127.0.0.1", 12325},
      {"source delete 127.0.0.1:12325 port 12325", "127.0.0.1", 12325},
      {"source delete [::1]:12325", "::1", 12325},
      {"source delete [::1]", "::1", -1},
      {"source delete ::1", "::1", -1},
      {"source delete 2001:db8::1 port 123", "2001:db8::1", 123},
      {"source delete ntp.example.net:4123", "ntp.example.net", 4123},
      {"source delete ntp.example.net", "ntp.example.net", -1},
  };
  for (const auto& c : ok) {
    auto p = parse_command(c.line);
    if (!p) {
      fail_msg("'%s': %s", c.line, p.error().text.c_str());
    }
    assert_true(p->host.has_value());
    assert_string_equal(p->host->c_str(), c.host);
    assert_int_equal(p->port ? *p->port : -1, c.port);
    assert_string_equal(p->to_line().c_str(), c.line);
  }
  const char* bad[] = {
      "source delete 127.0.0.1:0",        "source delete 127.0.0.1:65536",    "source delete 127.0.0.1:x",
      "source delete [127.0.0.1]:123",    "source delete [::1]x",             "source delete [::1",
      "source delete 127.0.0.1 port",     "source delete 127.0.0.1 port 0",   "source delete 127.0.0.1 port 70000",
      "source delete 127.0.0.1:1 port 2", "source delete 127.0.0.1 prot 123", "source delete bad_host:123",
      "source delete",
  };
  for (const char* l : bad) {
    auto p = parse_command(l);
    if (p) {
      fail_msg("'%s' parsed", l);
    }
    assert_int_equal(static_cast<int>(p.error().code), static_cast<int>(ErrCode::InvalidArgument));
  }
  std::vector<std::string> w{"source", "delete", "127.0.0.1"};
  auto c = complete(w, "p");
  assert_true(std::find(c.begin(), c.end(), "port") != c.end());
}

static void test_bad_arguments(void**) {
  struct Case {
    const char* line;
    ErrCode code;
  } cases[] = {
      {"", ErrCode::UnknownCommand},
      {"   ", ErrCode::UnknownCommand},
      {"frobnicate", ErrCode::UnknownCommand},
      {"allow", ErrCode::UnknownCommand},
      {"allow frob", ErrCode::UnknownCommand},
      {"allow add", ErrCode::InvalidArgument},
      {"allow add 10.0.0.1/8", ErrCode::InvalidArgument},  // host bits set
      {"allow add 256.1.1.1", ErrCode::InvalidArgument},
      {"allow add 10.0.0.0/33", ErrCode::InvalidArgument},
      {"allow add 10.0.0.0/08", ErrCode::InvalidArgument},
      {"allow add fe80::1%eth0", ErrCode::InvalidArgument},
      {"allow check 1.2.3", ErrCode::InvalidArgument},
      {"allow check 010.1.1.1", ErrCode::InvalidArgument},
      {"clients 0", ErrCode::InvalidArgument},
      {"clients 10001", ErrCode::InvalidArgument},
      {"clients -1", ErrCode::InvalidArgument},
      {"clients 0x10", ErrCode::InvalidArgument},
      {"audit tail 5abc", ErrCode::InvalidArgument},
      {"timezone set ../../etc/passwd", ErrCode::InvalidArgument},
      {"timezone set /etc/passwd", ErrCode::InvalidArgument},
      {"timezone set Europe//Paris", ErrCode::InvalidArgument},
      {"timezone set .hidden", ErrCode::InvalidArgument},
      {"timezone set -rf", ErrCode::InvalidArgument},
      {"metrics json", ErrCode::InvalidArgument},
      {"source add", ErrCode::InvalidArgument},
      {"source add -bad-", ErrCode::InvalidArgument},
      {"source add 1.2.3", ErrCode::InvalidArgument},
      {"source add a.example iburst A B", ErrCode::InvalidArgument},  // upper case option
      {"source add a.example 1 2 3 4 5 6 7 8 9 10 11 12 13", ErrCode::InvalidArgument},
      {"approve 0", ErrCode::InvalidArgument},
      {"tracking now", ErrCode::InvalidArgument},
      {"tracking\x01", ErrCode::BadEncoding},
      {"tracking \xC3\x28", ErrCode::BadEncoding},
  };
  for (const auto& c : cases) {
    auto p = parse_command(c.line);
    if (p.has_value()) {
      fail_msg("accepted '%s'", c.line);
    }
    if (p.error().code != c.code) {
      fail_msg("'%s': code %d (%s), expected %d", c.line, static_cast<int>(p.error().code), p.error().text.c_str(),
               static_cast<int>(c.code));
    }
    assert_false(p.error().text.empty());
  }
  // Typed values.
  auto a = parse_command("allow check ::ffff:10.1.2.3");
  assert_true(a.has_value() && a->addr && a->addr->is_v4());
  auto n = parse_command("clients 10000");
  assert_true(n.has_value() && n->number && *n->number == 10000);
  auto pre = parse_command("deny add 2001:db8::/32");
  assert_true(pre.has_value() && pre->prefix && pre->prefix->len == 32);
  // tr7ntpc-only commands take their own options.
  auto w = parse_command("waitsync --timeout 5");
  assert_true(w.has_value());
  assert_int_equal(w->args.size(), 2);
}

static void test_names(void**) {
  assert_true(valid_zone_name("Europe/Istanbul"));
  assert_true(valid_zone_name("UTC"));
  assert_true(valid_zone_name("America/Argentina/Buenos_Aires"));
  assert_true(valid_zone_name("Etc/GMT+3"));
  assert_true(valid_zone_name("America/Port-au-Prince"));
  assert_false(valid_zone_name(""));
  assert_false(valid_zone_name("Europe/"));
  assert_false(valid_zone_name("/UTC"));
  assert_false(valid_zone_name("a/../b"));
  assert_false(valid_zone_name("Europe/Ist anbul"));
  assert_false(valid_zone_name(std::string(65, 'a')));
  assert_true(valid_host_name("pool.ntp.org"));
  assert_true(valid_host_name("192.0.2.1"));
  assert_true(valid_host_name("2001:db8::1"));
  assert_true(valid_host_name("ntp1."));
  assert_false(valid_host_name("-a.example"));
  assert_false(valid_host_name("a..b"));
  assert_false(valid_host_name("1.2.3"));
  assert_false(valid_host_name("a_b.example"));
  assert_false(valid_host_name(std::string(64, 'a') + ".example"));
}

static void test_random_lines_never_crash(void**) {
  std::mt19937_64 rng(test_seed(11));
  const char* words[] = {"allow",       "add",    "deny",   "check",   "timezone", "set",  "10.0.0.0/8",
                         "::1",         "5",      "x",      "clients", "audit",    "tail", "metrics",
                         "openmetrics", "source", "delete", "%",       "\xC3\xA9"};
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    int n = static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) {
      line += (k ? " " : "") + std::string(words[rng() % (sizeof words / sizeof *words)]);
    }
    auto p = parse_command(line);
    if (p) {
      // Canonical form is a fixed point.
      auto q = parse_command(p->to_line());
      assert_true(q.has_value());
      assert_string_equal(q->to_line().c_str(), p->to_line().c_str());
    } else {
      assert_false(p.error().text.empty());
    }
  }
}

static void test_completion(void**) {
  std::vector<std::string> none;
  auto top = complete(none, "");
  assert_true(std::find(top.begin(), top.end(), "allow") != top.end());
  assert_true(std::find(top.begin(), top.end(), "tracking") != top.end());
  int allows = 0;
  for (const auto& w : top) {
    allows += w == "allow";
  }
  assert_int_equal(allows, 1);
  auto t = complete(none, "tim");
  assert_int_equal(t.size(), 1);
  assert_string_equal(t[0].c_str(), "timezone");
  std::vector<std::string> tz{"timezone"};
  auto sub = complete(tz, "");
  assert_int_equal(sub.size(), 3);
  std::vector<std::string> m{"metrics"};
  auto fmt = complete(m, "p");
  assert_int_equal(fmt.size(), 1);
  assert_string_equal(fmt[0].c_str(), "prometheus");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_consistent),
      cmocka_unit_test(test_every_command_parses),
      cmocka_unit_test(test_tenant_commands),
      cmocka_unit_test(test_report_command),
      cmocka_unit_test(test_source_add_whole_line),
      cmocka_unit_test(test_source_delete_port),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_random_lines_never_crash),
      cmocka_unit_test(test_completion),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
