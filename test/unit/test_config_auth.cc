// The configuration of authenticated time: [daemon] keyfile, the source options key,
// nts and ntsport, and [nts]; bad values are refused with file:line.
#include <string>

#include "config_testutil.h"
#include "daemon/config.h"

using namespace tr7::daemon;

using config_test::accepted;
using config_test::refused;

static void test_sources(void**) {
  Config c = accepted(
      "[daemon]\nkeyfile = /etc/tr7ntp/keys\n[sources]\n"
      "server = 192.0.2.1 key 7 iburst\n"
      "server = ntp.example.net nts\n"
      "server = ntp2.example.net nts ntsport 4461 port 1123\n");
  assert_int_equal(c.sources.sources.size(), 3);
  assert_int_equal(c.sources.sources[0].key_id, 7);
  assert_false(c.sources.sources[0].nts);
  assert_true(c.sources.sources[1].nts);
  assert_int_equal(c.sources.sources[1].nts_port, 4460);
  assert_int_equal(c.sources.sources[2].nts_port, 4461);
  assert_int_equal(c.sources.sources[2].port, 1123);
  assert_string_equal(c.daemon.keyfile.c_str(), "/etc/tr7ntp/keys");
  refused("[daemon]\nkeyfile = /k\n[sources]\nserver = 192.0.2.1 key 7 nts\n", 4, "exclude each other");
  refused("[sources]\nserver = 192.0.2.1 ntsport 4460\n", 2, "'ntsport' needs 'nts'");
  refused("[daemon]\nkeyfile = /k\n[sources]\nserver = 192.0.2.1 key 0\n", 4, "key:");
  refused("[daemon]\nkeyfile = /k\n[sources]\nserver = 192.0.2.1 key 4294967296\n", 4, "key:");
  refused("[sources]\nserver = 192.0.2.1 ntsport 0 nts\n", 2, "ntsport:");
  refused("[sources]\npool = pool.example.net nts\n", 2, "'nts' is for server lines");
  refused("[sources]\nserver = 192.0.2.1 key 3\n", 2, "needs [daemon] keyfile");
  refused("[daemon]\nkeyfile = keys\n", 2, "absolute path");
  refused("[daemon]\nkeyfile = /a/../b\n", 2, "absolute path");
}

static void test_nts_section(void**) {
  Config c = accepted(
      "[server]\nlisten = 127.0.0.1:123\n[nts]\nlisten = 0.0.0.0:4460, [::]:4460\ncert = /c.pem\nkey = /k.pem\n"
      "trusted_certs = /ca.pem\nntp_port = 1123\nntp_server = ntp.example.net\ncookie_rotation = 86400\n"
      "max_connections = 50\ntimeout = 1.5\n");
  assert_int_equal(c.nts.listen.size(), 2);
  assert_true(c.nts.server());
  assert_string_equal(c.nts.cert.c_str(), "/c.pem");
  assert_int_equal(*c.nts.ntp_port, 1123);
  assert_string_equal(c.nts.ntp_server.c_str(), "ntp.example.net");
  assert_near(c.nts.cookie_rotation_s, 86400, 0);
  assert_int_equal(c.nts.max_connections, 50);
  refused("[nts]\nlisten = 127.0.0.1:4460\n", 1, "needs 'cert = FILE' and 'key = FILE'");
  refused("[nts]\nlisten = 127.0.0.1\ncert = /c\nkey = /k\n", 2, "listen:");
  refused("[nts]\nlisten = 127.0.0.1:4460, 127.0.0.1:4460\ncert = /c\nkey = /k\n", 2, "duplicate listen");
  refused("[nts]\ncert = relative.pem\n", 2, "absolute path");
  refused("[nts]\ncookie_rotation = 10\n", 2, "cookie_rotation:");
  refused("[nts]\ntimeout = 0\n", 2, "timeout:");
  refused("[nts]\nntp_server = bad name\n", 2, "ntp_server:");
  refused("[nts]\nfrobnicate = 1\n", 2, "unknown key");
  // A warning, not an error: cert and key without listen; NTS-KE without an NTP listener.
  Config w = accepted("[nts]\ncert = /c.pem\nkey = /k.pem\n");
  assert_false(w.warnings.empty());
  Config w2 = accepted("[nts]\nlisten = 127.0.0.1:4460\ncert = /c.pem\nkey = /k.pem\n");
  assert_false(w2.warnings.empty());
  // The summary the audit trail records names the NTS settings.
  bool found = false;
  for (const auto& l : config_summary(c)) {
    found = found || l == "nts.listen = 0.0.0.0:4460";
  }
  assert_true(found);
}

static void test_source_command_grammar(void**) {
  // `source add` uses the same grammar.
  auto s = parse_source_line("ntp.example.net nts ntsport 4460 iburst", SourceConfig::Kind::Server);
  assert_true(s.has_value());
  assert_true(s->nts);
  auto k = parse_source_line("192.0.2.9 key 12", SourceConfig::Kind::Server);
  assert_true(k.has_value());
  assert_int_equal(k->key_id, 12);
  SourceConfig a = *k, b = *k;
  b.key_id = 13;
  assert_false(a == b);  // a changed key is a changed source (a reload names it)
}

int main() {
  const CMUnitTest tests[] = {
      cmocka_unit_test(test_sources),
      cmocka_unit_test(test_nts_section),
      cmocka_unit_test(test_source_command_grammar),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
