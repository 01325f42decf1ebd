// tr7ntpd.conf: every kind of bad file is refused whole with file:line; good files parse.
#include <string>

#include "config_testutil.h"
#include "daemon/config.h"

using namespace tr7::daemon;

using config_test::accepted;
using config_test::refused;

static void test_good_file(void**) {
  Config c = accepted(
      "; comment\n"
      "# another\n"
      "[daemon]\n"
      "clock = none\n"
      "state_dir = /var/lib/tr7ntp-test\n"
      "log_level = debug\n"
      "\n"
      "[server]\n"
      "listen = 127.0.0.1:10123, [::1]:10123\n"
      "listen = 0.0.0.0:123\n"
      "allow = 10.0.0.0/8, 192.168.1.7 ; inline comment\n"
      "allow = 2001:db8::/32\n"
      "deny = 10.9.0.0/16\n"
      "local_stratum = 10\n"
      "ratelimit = interval 2 burst 8 kod yes\n"
      "max_clients = 1000\n"
      "threads = 3\n"
      "tx_timestamp = batch\n"
      "busy_poll = 50\n"
      "deny_kod = yes\n");
  assert_true(c.daemon.clock == ClockMode::None);
  assert_string_equal(c.daemon.state_dir.c_str(), "/var/lib/tr7ntp-test");
  assert_true(c.daemon.log_level == LogLevel::Debug);
  assert_int_equal(c.server.listen.size(), 3);
  assert_int_equal(c.server.access.size(), 4);
  assert_false(c.server.access.allowed(*tr7::core::parse_ip("10.9.1.1")));
  assert_true(c.server.access.allowed(*tr7::core::parse_ip("192.168.1.7")));
  assert_int_equal(*c.server.local_stratum, 10);
  assert_true(c.server.ratelimit.enabled && c.server.ratelimit.kod);
  assert_near(c.server.ratelimit.interval_s, 2.0, 0);
  assert_int_equal(c.server.ratelimit.burst, 8);
  assert_int_equal(c.server.max_clients, 1000);
  assert_int_equal(c.server.threads, 3);
  assert_false(c.server.tx_spread);
  assert_int_equal(c.server.busy_poll_us, 50);
  assert_true(c.server.deny_kod);
  assert_true(c.warnings.empty());
}

static void test_defaults(void**) {
  Config c = accepted("");
  assert_true(c.daemon.clock == ClockMode::Kernel);
  assert_false(c.server.ratelimit.enabled);
  assert_false(c.server.local_stratum.has_value());
  assert_true(c.server.listen.empty());
  assert_int_equal(c.server.threads, 0);  // auto
  assert_true(c.server.tx_spread);
  assert_int_equal(c.server.busy_poll_us, 0);
}

static void test_structure_errors(void**) {
  refused("[daemon]\nbogus = 1\n", 2, "unknown key 'bogus'");
  refused("[nope]\nx = 1\n", 1, "unknown section [nope]");
  refused("clock = none\n", 1, "outside any section");
  refused("[server\nlisten = 127.0.0.1:123\n", 1, "unclosed section");
  refused("[daemon]\nclock = none\n[daemon]\n", 3, "duplicate section [daemon]");
  refused("[daemon]\nclock = none\nclock = kernel\n", 3, "duplicate key 'clock' (first set on line 2)");
  refused("[daemon]\njust words\n", 2, "expected 'key = value'");
  refused("[daemon]\n= none\n", 2, "missing key");
  refused("[daemon]\nclock =\n", 2, "missing value");
  refused("[daemon] junk\n", 1, "text after section header");
  refused("[" + std::string(60, 's') + "]\n", 1, "section name too long");
}

static void test_line_errors(void**) {
  refused("[server]\nallow = " + std::string(300, '1') + "\n", 2, "line too long");
  refused("[server]\nallow = 10.0.0.0/8" + std::string(190, ' ') + "\n", 2, "line too long");
  std::string nul = "[daemon]\nclock = no";
  nul += '\0';
  nul += "ne\n";
  refused(nul, 2, "NUL byte");
  refused("[daemon]\nclock = n\xC3\n", 2, "invalid UTF-8");
  refused("[daemon]\nclock = none\rstate_dir = /x\n", 2, "carriage return");
  // A BOM is accepted on line 1 only; CRLF line ends are accepted.
  accepted(
      "\xEF\xBB\xBF"
      "[daemon]\r\nclock = none\r\n");
  refused(
      "[daemon]\n\xEF\xBB\xBF"
      "clock = none\n",
      2, "unknown key");
  // Indented lines are keys of their own, never a continuation of the previous value.
  Config c = accepted("[server]\nallow = 10.0.0.0/8\n    deny = 10.9.0.0/16\n");
  assert_int_equal(c.server.access.size(), 2);
}

static void test_value_errors(void**) {
  refused("[daemon]\nclock = sometimes\n", 2, "expected 'kernel' or 'none'");
  refused("[daemon]\nstate_dir = relative/path\n", 2, "absolute path");
  refused("[daemon]\nlog_level = loud\n", 2, "log_level");
  refused("[server]\nlisten = 256.1.1.1:123\n", 2, "invalid IP address");
  refused("[server]\nlisten = 127.0.0.1\n", 2, "ADDRESS:PORT");
  refused("[server]\nlisten = 127.0.0.1:0\n", 2, "invalid port");
  refused("[server]\nlisten = 127.0.0.1:70000\n", 2, "invalid port");
  refused("[server]\nlisten = ::1:123\n", 2, "brackets");
  refused("[server]\nlisten = 127.0.0.1:123, 127.0.0.1:123\n", 2, "duplicate listen");
  refused("[server]\nlisten = 127.0.0.1:123,\n", 2, "empty item");
  for (const char* a : {"1.2.3", "010.1.1.1", "0x7f.1", "fe80::1%eth0", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/08",
                        "10.0.0.1/8", "::/129", "host.example"}) {
    refused(std::string("[server]\nallow = ") + a + "\n", 2, "allow:");
  }
  refused("[server]\nallow = 10.0.0.0/8\ndeny = 10.0.0.0/8\n", 3, "already has a rule in [server] (line 2)");
  for (const char* n :
       {"0", "16", "nan", "inf", "1e309", "-0", "0x10", "5abc", "9223372036854775808", "2^63", "-1", "1.5"}) {
    refused(std::string("[server]\nlocal_stratum = ") + n + "\n", 2, "local_stratum:");
  }
  refused("[server]\nmax_clients = 15\n", 2, "out of range");
  refused("[server]\ndeny_kod = maybe\n", 2, "expected yes or no");
  for (const char* n : {"0", "257", "-1", "two", "1.5", "nan", "0x2", ""}) {
    if (*n) {
      refused(std::string("[server]\nthreads = ") + n + "\n", 2, "threads:");
    }
  }
  refused("[server]\nthreads = 2\nthreads = 3\n", 3, "duplicate key 'threads'");
  assert_int_equal(accepted("[server]\nthreads = auto\n").server.threads, 0);
  assert_int_equal(accepted("[server]\nthreads = 256\n").server.threads, 256);
  assert_int_equal(accepted("[server]\nthreads = 1\n").server.threads, 1);
  refused("[server]\ntx_timestamp = late\n", 2, "expected 'spread' or 'batch'");
  assert_true(accepted("[server]\ntx_timestamp = spread\n").server.tx_spread);
  for (const char* n : {"-1", "1001", "nan", "5us", "1e3"}) {
    refused(std::string("[server]\nbusy_poll = ") + n + "\n", 2, "busy_poll:");
  }
  assert_int_equal(accepted("[server]\nbusy_poll = 1000\n").server.busy_poll_us, 1000);
  refused("[server]\nratelimit = interval 2\n", 2, "needs both");
  refused("[server]\nratelimit = interval 2 burst\n", 2, "expected 'interval");
  refused("[server]\nratelimit = interval nan burst 8\n", 2, "interval:");
  refused("[server]\nratelimit = interval 2 burst 0\n", 2, "burst:");
  refused("[server]\nratelimit = interval 2 burst 8 kod perhaps\n", 2, "kod:");
  refused("[server]\nratelimit = interval 2 burst 8 speed 3\n", 2, "unknown option 'speed'");
  refused("[server]\nratelimit = interval 2 interval 3 burst 8\n", 2, "given twice");
}

static void test_all_errors_reported_nothing_applied(void**) {
  auto r = parse_config_text(
      "[daemon]\n"
      "clock = none\n"
      "bogus = 1\n"
      "[server]\n"
      "listen = 127.0.0.1:123\n"
      "local_stratum = 99\n",
      "t.conf");
  assert_false(r.has_value());
  assert_int_equal(r.error().size(), 2);
  assert_string_equal(r.error()[0].c_str(), "t.conf:3: unknown key 'bogus' in [daemon]");
  assert_true(r.error()[1].rfind("t.conf:6: local_stratum:", 0) == 0);
}

static void test_warnings(void**) {
  Config c = accepted("[server]\nallow = 0.0.0.0/0\n");
  assert_int_equal(c.warnings.size(), 1);
  assert_true(c.warnings[0].find("t.conf:2:") == 0);
}

// Issue 19 item 12: listening beyond loopback with no allow rule is deny by default
// (loopback answered), with a warning that says how to open it.
static void test_open_server_denied_by_default(void**) {
  using tr7::core::parse_ip;
  for (const char* listen : {"0.0.0.0:123", "[::]:123", "192.0.2.1:123", "127.0.0.1:123, 10.0.0.1:123"}) {
    Config c = accepted(std::string("[server]\nlisten = ") + listen + "\n");
    assert_true(c.server.access.loopback_only());
    assert_false(c.server.access.allowed(*parse_ip("192.0.2.7")));
    assert_true(c.server.access.allowed(*parse_ip("127.0.0.1")));
    assert_int_equal(c.warnings.size(), 1);
    assert_true(c.warnings[0].find("t.conf:1:") == 0);
    assert_true(c.warnings[0].find("only loopback clients are answered") != std::string::npos);
    assert_true(c.warnings[0].find("allow = 0.0.0.0/0, ::/0") != std::string::npos);
  }
  // Loopback only, or with allow rules: as before, no warning.
  Config lo = accepted("[server]\nlisten = 127.0.0.1:123, [::1]:123\n");
  assert_false(lo.server.access.loopback_only());
  assert_true(lo.warnings.empty());
  Config open = accepted("[server]\nlisten = 0.0.0.0:123\nallow = 0.0.0.0/0, ::/0\n");
  assert_false(open.server.access.loopback_only());
  assert_true(open.server.access.allowed(*parse_ip("192.0.2.7")));
  // Deny rules alone do not say who may ask: still loopback only.
  Config deny = accepted("[server]\nlisten = 0.0.0.0:123\ndeny = 10.0.0.0/8\n");
  assert_true(deny.server.access.loopback_only());
}

static void test_file_errors(void**) {
  auto r = load_config_file("/nonexistent/tr7ntpd.conf");
  assert_false(r.has_value());
  assert_true(r.error()[0].find("cannot open") != std::string::npos);
}

static void test_control_and_metrics_keys(void**) {
  Config c = accepted(
      "[daemon]\n"
      "control_socket = /run/tr7ntp/ctl.sock\n"
      "control_socket_mode = 0660\n"
      "admin_group = tr7ntp-admin\n"
      "monitor_group = tr7ntp_mon\n"
      "timezone = Europe/Istanbul\n"
      "[metrics]\n"
      "listen = 127.0.0.1:9123\n");
  assert_string_equal(c.daemon.control_socket.c_str(), "/run/tr7ntp/ctl.sock");
  assert_true(c.daemon.control_socket_set);
  assert_int_equal(c.daemon.control_socket_mode, 0660);
  assert_string_equal(c.daemon.admin_group.c_str(), "tr7ntp-admin");
  assert_string_equal(c.daemon.monitor_group.c_str(), "tr7ntp_mon");
  assert_string_equal(c.daemon.timezone.c_str(), "Europe/Istanbul");
  assert_true(c.metrics.listen.has_value() && c.metrics.listen->port == 9123);
  assert_true(c.warnings.empty());
  Config d = accepted("");
  assert_string_equal(d.daemon.control_socket.c_str(), k_default_control_socket);
  assert_false(d.daemon.control_socket_set);
  assert_string_equal(d.daemon.timezone.c_str(), "UTC");
  assert_false(d.metrics.listen.has_value());
  assert_string_equal(accepted("[daemon]\ncontrol_socket = none\n").daemon.control_socket.c_str(), "none");
  assert_int_equal(accepted("[daemon]\ncontrol_socket_mode = 0666\n").warnings.size(), 1);
  assert_int_equal(accepted("[metrics]\nlisten = 0.0.0.0:9123\n").warnings.size(), 1);

  refused("[daemon]\ncontrol_socket = relative.sock\n", 2, "absolute path");
  refused("[daemon]\ncontrol_socket = /" + std::string(120, 'a') + "\n", 2, "too long");
  refused("[daemon]\ncontrol_socket = /run/../etc/x\n", 2, "'..'");
  refused("[daemon]\ncontrol_socket = /run/tr7ntp/\n", 2, "name a file");
  for (const char* m : {"0777", "0661", "4660", "660x", "0460", "99", "06600"}) {
    refused(std::string("[daemon]\ncontrol_socket_mode = ") + m + "\n", 2, "control_socket_mode:");
  }
  refused("[daemon]\nadmin_group = -root\n", 2, "invalid group name");
  refused("[daemon]\nmonitor_group = a b\n", 2, "invalid group name");
  refused("[daemon]\nmonitor_group = " + std::string(40, 'g') + "\n", 2, "invalid group name");
  refused("[daemon]\ntimezone = ../../etc/passwd\n", 2, "invalid time zone");
  refused("[daemon]\ntimezone = Europe/\n", 2, "invalid time zone");
  refused("[metrics]\nlisten = 127.0.0.1\n", 2, "ADDRESS:PORT");
  refused("[metrics]\nlisten = 127.0.0.1:9123\nlisten = 127.0.0.1:9124\n", 3, "duplicate key");
  refused("[metrics]\nport = 1\n", 2, "unknown key 'port'");
}

static void test_summary(void**) {
  Config c = accepted("[server]\nallow = 10.0.0.0/8\ndeny = 10.9.0.0/16\n");
  auto s = config_summary(c);
  bool allow = false, deny = false;
  for (const auto& l : s) {
    allow = allow || l == "server.allow = 10.0.0.0/8";
    deny = deny || l == "server.deny = 10.9.0.0/16";
  }
  assert_true(allow && deny);
  Config d = accepted("[server]\nallow = 10.0.0.0/8\n");
  assert_int_equal(config_summary(d).size(), s.size() - 1);
}

static void test_privsep_keys(void**) {
  Config d = accepted("[daemon]\nclock = none\n");
  assert_string_equal(d.daemon.user.c_str(), "_tr7ntp");
  assert_true(d.daemon.rtc.empty());
  assert_near(d.daemon.max_step_s, 366.0 * 86400.0, 1e-9);
  assert_near(d.daemon.max_startup_step_s, 0.0, 0.0);
  Config c = accepted(
      "[daemon]\n"
      "user = ntp-worker.1\n"
      "rtc = /dev/rtc1\n"
      "max_step = 3600\n"
      "max_startup_step = 86400\n");
  assert_string_equal(c.daemon.user.c_str(), "ntp-worker.1");
  assert_string_equal(c.daemon.rtc.c_str(), "/dev/rtc1");
  assert_near(c.daemon.max_step_s, 3600.0, 1e-9);
  assert_near(c.daemon.max_startup_step_s, 86400.0, 1e-9);
  c = accepted("[daemon]\nrtc = none\nmax_startup_step = unlimited\n");
  assert_true(c.daemon.rtc.empty());
  assert_near(c.daemon.max_startup_step_s, 0.0, 0.0);
  refused("[daemon]\nuser = root\n", 2, "must not run as root");
  refused("[daemon]\nuser = a b\n", 2, "user name");
  refused("[daemon]\nuser = -x\n", 2, "user name");
  refused("[daemon]\nuser = ../../x\n", 2, "user name");
  refused("[daemon]\nuser = " + std::string(33, 'a') + "\n", 2, "user name");
  refused("[daemon]\nrtc = rtc0\n", 2, "device path");
  refused("[daemon]\nrtc = /etc/passwd\n", 2, "device path");
  refused("[daemon]\nrtc = /dev/../etc/shadow\n", 2, "device path");
  refused("[daemon]\nmax_step = 0\n", 2, "max_step");
  refused("[daemon]\nmax_step = nan\n", 2, "max_step");
  refused("[daemon]\nmax_step = inf\n", 2, "max_step");
  refused("[daemon]\nmax_step = -1\n", 2, "max_step");
  refused("[daemon]\nmax_startup_step = 1e309\n", 2, "max_startup_step");
  refused("[daemon]\nmax_startup_step = forever\n", 2, "max_startup_step");
}

static void test_sources_and_discipline(void**) {
  Config c = accepted(
      "[sources]\n"
      "server = 192.0.2.1 iburst\n"
      "server = ntp1.example.net minpoll 4 maxpoll 8 port 10123\n"
      "server = [2001:db8::1] minpoll -2 maxpoll 0 burst_interval 0.25\n"
      "pool = pool.example.org maxsources 3 iburst\n"
      "min_sources = 2\n"
      "[discipline]\n"
      "makestep = 0.5 2\n"
      "max_slew_ppm = 1000\n"
      "offset_tolerance = 2.5\n"
      "max_distance = 3\n"
      "drift_file = drift-test\n"
      "drift_interval = 600\n");
  assert_int_equal(c.sources.sources.size(), 4);
  const auto& a = c.sources.sources[0];
  assert_true(a.kind == SourceConfig::Kind::Server && a.iburst && a.port == 123);
  assert_int_equal(a.minpoll, 6);
  assert_int_equal(a.maxpoll, 10);
  assert_near(a.min_interval_s(), 2.0, 0);
  const auto& b = c.sources.sources[1];
  assert_string_equal(b.host.c_str(), "ntp1.example.net");
  assert_int_equal(b.port, 10123);
  assert_int_equal(b.minpoll, 4);
  assert_int_equal(b.maxpoll, 8);
  const auto& l = c.sources.sources[2];
  assert_string_equal(l.host.c_str(), "2001:db8::1");
  assert_int_equal(l.minpoll, -2);
  assert_near(l.min_interval_s(), 0.25, 0);
  const auto& p = c.sources.sources[3];
  assert_true(p.kind == SourceConfig::Kind::Pool);
  assert_int_equal(p.maxsources, 3);
  assert_int_equal(c.sources.min_sources, 2);
  assert_near(c.discipline.makestep_threshold_s, 0.5, 0);
  assert_int_equal(c.discipline.makestep_limit, 2);
  assert_near(c.discipline.max_slew_ppm, 1000, 0);
  assert_near(c.discipline.offset_tolerance_s, 2.5, 0);
  assert_near(c.discipline.max_distance_s, 3, 0);
  assert_string_equal(c.discipline.drift_name().c_str(), "drift-test");
  assert_near(c.discipline.drift_interval_s, 600, 0);
  // Defaults.
  Config d = accepted("[sources]\nserver = 192.0.2.1 minpoll 0 maxpoll 4\n");
  assert_int_equal(d.sources.min_sources, 1);
  assert_near(d.sources.sources[0].min_interval_s(), 1.0, 0);  // minpoll 0 asks for 1 s
  assert_near(d.discipline.makestep_threshold_s, 0.128, 0);
  assert_int_equal(d.discipline.makestep_limit, 3);
  assert_near(d.discipline.offset_tolerance_s, 1.0, 0);
  assert_string_equal(d.discipline.drift_name().c_str(), "drift");
  Config n = accepted("[discipline]\ndrift_file = none\noffset_tolerance = 0\n");
  assert_string_equal(n.discipline.drift_name().c_str(), "");
  assert_near(n.discipline.offset_tolerance_s, 0, 0);
}

static void test_tenants(void**) {
  Config c = accepted(
      "[server]\n"
      "listen = 127.0.0.1:10123\n"
      "[tenants]\n"
      "runtime = t-* 10.99.0.0/16 port 123\n"
      "runtime = lab? 192.0.2.0/24\n"
      "check_interval = 0.5\n"
      "[tenant acme]\n"
      "netns = ns-acme\n"
      "listen = 10.20.0.1:123\n"
      "listen = [fd00::1]:123\n"
      "allow = 10.20.0.0/16\n"
      "deny = 10.20.9.0/24\n"
      "ratelimit = interval 2 burst 8 kod yes\n"
      "max_clients = 1000\n"
      "deny_kod = yes\n"
      "[tenant beta.2]\n"
      "netns = ns-beta\n"
      "listen = 10.20.0.1:123\n");
  assert_int_equal(c.tenants.tenants.size(), 2);
  const auto& a = c.tenants.tenants[0].spec;
  assert_string_equal(a.name.c_str(), "acme");
  assert_string_equal(a.netns.c_str(), "ns-acme");
  assert_int_equal(a.listen.size(), 2);
  assert_string_equal(a.listen[1].to_string().c_str(), "[fd00::1]:123");
  assert_int_equal(a.access.size(), 2);
  assert_true(a.ratelimit.enabled && a.ratelimit.kod);
  assert_int_equal(a.ratelimit.burst, 8);
  assert_int_equal(a.max_clients, 1000);
  assert_true(a.deny_kod);
  assert_int_equal(c.tenants.tenants[0].line, 7);
  const auto& b = c.tenants.tenants[1].spec;
  assert_int_equal(b.max_clients, tr7::core::k_tenant_default_max_clients);
  assert_false(b.ratelimit.enabled);
  assert_int_equal(c.tenants.runtime.size(), 2);
  assert_int_equal(c.tenants.runtime[0].port, 123);
  assert_true(c.tenants.check_interval_s == 0.5);
  // The summary carries the tenants (audited on reload).
  bool seen = false;
  for (const auto& l : config_summary(c)) {
    seen = seen || l == "tenant.beta.2 = netns ns-beta listen 10.20.0.1:123";
  }
  assert_true(seen);

  refused("[tenant a]\nlisten = 10.0.0.1:123\n", 1, "needs 'netns = NAME'");
  refused("[tenant a]\nnetns = x\n", 1, "needs 'listen = ADDR:PORT'");
  refused("[tenant default]\nnetns = x\nlisten = 10.0.0.1:123\n", 1, "invalid tenant name");
  refused("[tenant a/b]\nnetns = x\nlisten = 10.0.0.1:123\n", 1, "invalid tenant name");
  refused("[tenant ]\nnetns = x\n", 1, "invalid tenant name");
  refused("[tenant a]\nnetns = ../x\nlisten = 10.0.0.1:123\n", 2, "invalid namespace name");
  refused("[tenant a]\nnetns = x\nnetns = y\nlisten = 10.0.0.1:123\n", 3, "duplicate key");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1\n", 3, "listen");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123, 10.0.0.1:123\n", 3, "duplicate listen");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\nallow = 10.0.0.0/8\ndeny = 10.0.0.0/8\n", 5,
          "already has a rule");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\nratelimit = interval 2\n", 4, "needs both");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\nmax_clients = 3\n", 4, "max_clients");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\nthreads = 3\n", 4, "unknown key 'threads'");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\n[tenant a]\nnetns = y\n", 4, "duplicate section");
  refused("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\n[tenant b]\nnetns = x\nlisten = 10.0.0.1:123\n", 4,
          "as [tenant a] does");
  refused("[tenants]\nruntime = a/b 10.0.0.0/8\n", 2, "invalid namespace pattern");
  refused("[tenants]\nruntime = t* 10.0.0.0/8 port 0\n", 2, "port");
  refused("[tenants]\nruntime = t* 10.0.0.0/8\nruntime = t* 10.0.0.0/8\n", 3, "duplicate rule");
  refused("[tenants]\ncheck_interval = 0\n", 2, "check_interval");
  // Sources reached from a namespace.
  Config m = accepted("[sources]\nserver = 192.0.2.1 netns mgmt iburst\npool = pool.example.net netns mgmt\n");
  assert_string_equal(m.sources.sources[0].netns.c_str(), "mgmt");
  assert_string_equal(m.sources.sources[1].netns.c_str(), "mgmt");
  assert_true(m.sources.sources[0].iburst);
  refused("[sources]\nserver = 192.0.2.1 netns ../x\n", 2, "invalid namespace name");
  refused("[sources]\nserver = 192.0.2.1 netns\n", 2, "needs a value");
  refused("[sources]\nserver = 192.0.2.1 netns a netns b\n", 2, "given twice");
  // Two tenants may use the same address in different namespaces (that is the point).
  accepted("[tenant a]\nnetns = x\nlisten = 10.0.0.1:123\n[tenant b]\nnetns = y\nlisten = 10.0.0.1:123\n");
}

static void test_sources_errors(void**) {
  refused("[sources]\nserver =\n", 2, "missing value");
  refused("[sources]\nserver = bad/host\n", 2, "not a host name");
  refused("[sources]\nserver = -bad.example\n", 2, "not a host name");
  refused("[sources]\nserver = a..b\n", 2, "not a host name");
  refused("[sources]\nserver = 192.0.2.1 minpoll 8 maxpoll 4\n", 2, "above maxpoll");
  refused("[sources]\nserver = 192.0.2.1 minpoll -7\n", 2, "minpoll");
  refused("[sources]\nserver = 192.0.2.1 maxpoll 18\n", 2, "maxpoll");
  refused("[sources]\nserver = 192.0.2.1 minpoll\n", 2, "needs a value");
  refused("[sources]\nserver = 192.0.2.1 port 0\n", 2, "port");
  refused("[sources]\nserver = 192.0.2.1 port 65536\n", 2, "port");
  refused("[sources]\nserver = 192.0.2.1 iburst iburst\n", 2, "twice");
  refused("[sources]\nserver = 192.0.2.1 fast\n", 2, "unknown option");
  refused("[sources]\nserver = 192.0.2.1 maxsources 3\n", 2, "unknown option");
  refused("[sources]\nserver = 192.0.2.1 burst_interval 0\n", 2, "burst_interval");
  refused("[sources]\nserver = 192.0.2.1 burst_interval nan\n", 2, "burst_interval");
  refused("[sources]\npool = p.example maxsources 17\n", 2, "maxsources");
  refused("[sources]\nserver = 192.0.2.1\nserver = 192.0.2.1\n", 3, "already configured");
  refused("[sources]\nmin_sources = 0\n", 2, "min_sources");
  refused("[sources]\nmin_sources = 17\n", 2, "min_sources");
  refused("[sources]\nmin_sources = 3\nserver = 192.0.2.1\nserver = 192.0.2.2\n", 2, "more than the 2");
  refused("[discipline]\nmakestep = 0.1\n", 2, "THRESHOLD");
  refused("[discipline]\nmakestep = -1 3\n", 2, "threshold");
  refused("[discipline]\nmakestep = 0.1 1e3\n", 2, "limit");
  refused("[discipline]\nmax_slew_ppm = 0\n", 2, "max_slew_ppm");
  refused("[discipline]\nmax_slew_ppm = inf\n", 2, "max_slew_ppm");
  refused("[discipline]\noffset_tolerance = 0.0001\n", 2, "0 turns it off");
  refused("[discipline]\nmax_distance = 100\n", 2, "max_distance");
  refused("[discipline]\ndrift_file = relative/drift\n", 2, "file name in state_dir");
  refused("[discipline]\ndrift_file = /var/lib/tr7ntp/drift\n", 2, "file name in state_dir");
  refused("[discipline]\ndrift_file = ..\n", 2, "file name in state_dir");
  refused("[discipline]\ndrift_interval = 1\n", 2, "drift_interval");
  refused("[discipline]\nmakestep = 0.1 3\nmakestep = 0.2 3\n", 3, "duplicate key");
}

// [alerts], [history], peer lines, node and the audit rotation.
static void test_alerts_history_peers(void**) {
  Config c = accepted(
      "[daemon]\nnode = ntp-a.dc1\naudit_max_size = 8M\naudit_keep = 5\n"
      "[sources]\nserver = 192.0.2.1\npeer = 192.0.2.7 port 10123 minpoll 2\npeer = [2001:db8::7]\nmin_sources = 1\n"
      "[alerts]\noffset = 0.05\ndrift = 2\npeer_max_offset = 0.01\nhold = 20\nclear_hold = 60\nhysteresis = 0.8\n"
      "startup_grace = 120\nwebhook = http://alerts.example:8080/hook?x=1\nwebhook_secret_file = /etc/tr7ntp/hook.key\n"
      "[history]\ninterval = 60\nkeep_days = 90\nmax_size = 64M\n");
  assert_string_equal(c.daemon.node.c_str(), "ntp-a.dc1");
  assert_int_equal(c.daemon.audit_max_bytes, 8 << 20);
  assert_int_equal(c.daemon.audit_keep, 5);
  assert_int_equal(c.sources.peers.size(), 2);
  assert_int_equal(c.sources.peers[0].port, 10123);
  assert_int_equal(c.sources.peers[0].minpoll, 2);
  assert_int_equal(c.sources.peers[0].maxpoll, 8);
  assert_string_equal(c.sources.peers[1].host.c_str(), "2001:db8::7");
  assert_near(c.alerts.engine.offset_s, 0.05, 0);
  assert_near(c.alerts.engine.peer_max_offset_s, 0.01, 0);
  assert_near(c.alerts.engine.hysteresis, 0.8, 0);
  assert_int_equal(c.alerts.engine.min_sources, 1);
  assert_true(c.alerts.webhook.has_value());
  assert_string_equal(c.alerts.webhook->host.c_str(), "alerts.example");
  assert_int_equal(c.alerts.webhook->port, 8080);
  assert_string_equal(c.alerts.webhook->path.c_str(), "/hook?x=1");
  assert_near(c.history.interval_s, 60, 0);
  assert_int_equal(c.history.keep_days, 90);
  assert_int_equal(c.history.max_size, 64 << 20);
  assert_int_equal(c.sha256.size(), 64);
  auto u = parse_http_url("http://[::1]:9000");
  assert_true(u && u->host == "::1" && u->port == 9000 && u->path == "/");
  assert_true(parse_http_url("http://192.0.2.1").has_value());
  refused("[daemon]\nnode = a b\n", 2, "node name");
  refused("[daemon]\naudit_max_size = 10\n", 2, "audit_max_size");
  refused("[daemon]\naudit_keep = 0\n", 2, "audit_keep");
  refused("[sources]\npeer = 192.0.2.7 iburst\n", 2, "unknown option");
  refused("[sources]\npeer = 192.0.2.7\npeer = 192.0.2.7\n", 3, "already a peer");
  refused("[sources]\npeer = 192.0.2.7 minpoll 9 maxpoll 4\n", 2, "above maxpoll");
  refused("[alerts]\noffset = 0\n", 2, "offset");
  refused("[alerts]\nhysteresis = 2\n", 2, "hysteresis");
  refused("[alerts]\nwebhook = https://x.example/\n", 2, "https is not supported");
  refused("[alerts]\nwebhook = ftp://x.example/\n", 2, "http://");
  refused("[alerts]\nwebhook = http://u:p@x.example/\n", 2, "user:password");
  refused("[alerts]\nwebhook = http://x.example:0/\n", 2, "port");
  refused("[alerts]\nwebhook = http://x.example/a b\n", 2, "plain URL characters");
  refused("[alerts]\nwebhook_secret_file = key\n", 2, "absolute path");
  refused("[alerts]\nwebhook_secret_file = /k\n", 1, "without a webhook");
  refused("[alerts]\nbogus = 1\n", 2, "unknown key");
  refused("[history]\ninterval = 0\n", 2, "interval");
  refused("[history]\nmax_size = 1K\n", 2, "max_size");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_good_file),
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_sources_and_discipline),
      cmocka_unit_test(test_sources_errors),
      cmocka_unit_test(test_structure_errors),
      cmocka_unit_test(test_line_errors),
      cmocka_unit_test(test_value_errors),
      cmocka_unit_test(test_all_errors_reported_nothing_applied),
      cmocka_unit_test(test_warnings),
      cmocka_unit_test(test_open_server_denied_by_default),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_control_and_metrics_keys),
      cmocka_unit_test(test_summary),
      cmocka_unit_test(test_privsep_keys),
      cmocka_unit_test(test_tenants),
      cmocka_unit_test(test_alerts_history_peers),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
