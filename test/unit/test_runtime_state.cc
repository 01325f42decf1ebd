// Runtime state file: round trip, strict decoding, overrides over the config's rules,
// atomic writes, the audit trail's tail.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>

#include "daemon/audit.h"
#include "daemon/log.h"
#include "daemon/runtime_state.h"
#include "daemon/tzdb.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::daemon;

static core::Prefix P(const char* s) { return *core::parse_prefix(s); }

static void test_roundtrip(void**) {
  RuntimeState s;
  s.timezone = "Europe/Istanbul";
  s.rules.push_back({P("10.0.0.0/8"), RuleOverride::Op::Allow});
  s.rules.push_back({P("2001:db8::/32"), RuleOverride::Op::Deny});
  s.rules.push_back({P("192.0.2.7"), RuleOverride::Op::Remove});
  s.sources.push_back({"ntp1.example.net", {"iburst", "minpoll", "4"}});
  auto back = RuntimeState::decode(s.encode());
  assert_true(back.has_value());
  assert_true(*back == s);
  assert_string_equal(back->sources[0].options[2].c_str(), "4");
  auto empty = RuntimeState::decode("");
  assert_true(empty.has_value() && empty->rules.empty() && !empty->timezone);
}

static void test_decode_refuses(void**) {
  for (const char* bad : {"rule=10.0.0.0/8 action=allow\n", "version=2\n", "version=1\nrule=10.0.0.1/8 action=allow\n",
                          "version=1\nrule=10.0.0.0/8 action=maybe\n", "version=1\nrule=10.0.0.0/8\n",
                          "version=1\nrule=10.0.0.0/8 action=allow\nrule=10.0.0.0/8 action=deny\n",
                          "version=1\ntimezone=../etc\n", "version=1\nsource=-x options=\n", "version=1\nbogus=1\n",
                          "version=1\nrule=10.0.0.0/8 action=allow x=1\n", "version=1\nnot a record\n"}) {
    auto r = RuntimeState::decode(bad);
    if (r.has_value()) {
      fail_msg("accepted:\n%s", bad);
    }
    assert_true(r.error().find("runtime.state:") == 0);
  }
}

static void test_overrides(void**) {
  core::AllowList base;
  base.add({P("127.0.0.0/8"), core::AccessAction::Allow});
  base.add({P("127.0.0.9/32"), core::AccessAction::Deny});
  RuntimeState s;
  s.set_rule(P("10.0.0.0/8"), core::AccessAction::Allow, base);  // new rule
  s.set_rule(P("127.0.0.9/32"), std::nullopt, base);             // delete a config rule
  core::AllowList eff = s.apply(base);
  assert_int_equal(eff.size(), 2);
  assert_true(eff.allowed(*core::parse_ip("10.1.1.1")));
  assert_true(eff.allowed(*core::parse_ip("127.0.0.9")));
  // Setting a prefix back to what the config says drops the override.
  s.set_rule(P("127.0.0.9/32"), core::AccessAction::Deny, base);
  assert_int_equal(s.rules.size(), 1);
  s.set_rule(P("10.0.0.0/8"), std::nullopt, base);
  assert_int_equal(s.rules.size(), 0);
  // Overriding the action of a config rule.
  s.set_rule(P("127.0.0.0/8"), core::AccessAction::Deny, base);
  assert_false(s.apply(base).allowed(*core::parse_ip("127.0.0.1")));
}

static std::string tmpdir() {
  char t[] = "/tmp/tr7-unit-state.XXXXXX";
  assert_non_null(mkdtemp(t));
  return t;
}

static void test_atomic_write(void**) {
  std::string d = tmpdir();
  int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  assert_true(dfd >= 0);
  assert_true(write_file_atomic(dfd, "f", "one\n").has_value());
  assert_true(write_file_atomic(dfd, "f", "two\n").has_value());
  auto r = read_small_file(dfd, "f", 100);
  assert_true(r.has_value() && r->has_value());
  assert_string_equal((*r)->c_str(), "two\n");
  assert_int_equal(access((d + "/f.tmp").c_str(), F_OK), -1);  // no temp left
  auto none = read_small_file(dfd, "missing", 100);
  assert_true(none.has_value() && !none->has_value());
  assert_false(read_small_file(dfd, "f", 2).has_value());  // too large
  // A symlink is never followed.
  assert_int_equal(symlink("/etc/passwd", (d + "/link").c_str()), 0);
  assert_false(read_small_file(dfd, "link", 1 << 20).has_value());
  assert_int_equal(symlink("/tmp/tr7-nonexistent-target", (d + "/f2.tmp").c_str()), 0);
  assert_true(write_file_atomic(dfd, "f2", "x").has_value());  // stale temp symlink replaced
  struct stat st {};
  assert_int_equal(lstat("/tmp/tr7-nonexistent-target", &st), -1);
  close(dfd);
  std::string cmd = "rm -rf " + d;
  assert_int_equal(std::system(cmd.c_str()), 0);
}

static void test_audit_tail(void**) {
  std::string d = tmpdir();
  int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TimezoneDb tz;
  tz.load("/nonexistent");  // UTC only
  AuditLog log(tz, "UTC");
  assert_true(log.open(dfd).has_value());
  auto now = core::Timestamp::from_ns(1'800'000'000LL * core::k_ns_per_s);
  for (int i = 0; i < 50; ++i) {
    AuditEntry e;
    e.who.known = true;
    e.who.uid = static_cast<uint32_t>(i);
    e.command = "allow add 10.0.0.0/8";
    e.before = "a\nb \"quoted\"";
    assert_true(log.append(e, now).has_value());
  }
  // A torn last line (a crash mid-write) is not a record.
  int fd = openat(dfd, k_audit_file, O_WRONLY | O_APPEND);
  assert_true(write(fd, "{\"time_utc\":\"x", 14) == 14);
  close(fd);
  auto t = log.tail(5);
  assert_true(t.has_value());
  assert_int_equal(t->size(), 5);
  assert_string_equal((*t)[4][3].key.c_str(), "uid");
  assert_string_equal((*t)[4][3].value.c_str(), "49");
  assert_string_equal((*t)[0][3].value.c_str(), "45");
  assert_string_equal((*t)[4][8].value.c_str(), "a\nb \"quoted\"");
  auto all = log.tail(1000);
  assert_int_equal(all->size(), 50);
  // Refusals: a burst, then one summary later.
  int written_before = static_cast<int>(log.records());
  AuditEntry r;
  r.command = "allow add 1.0.0.0/8";
  r.result = "refused: permission denied";
  for (int i = 0; i < 100; ++i) {
    log.refusal(r, now, 1'000'000'000LL + i);
  }
  assert_int_equal(static_cast<int>(log.records()) - written_before, k_refusal_burst);
  log.flush_suppressed(now, 1'000'000'000LL + static_cast<int64_t>(k_refusal_interval_s * 2e9));
  assert_int_equal(static_cast<int>(log.records()) - written_before, k_refusal_burst + 1);
  // The NTP client's hooks: one record each, via "ntp", no caller.
  assert_true(log.clock_step(-0.25, "makestep 0.128 3", now).has_value());
  assert_true(log.correction_held(7, 1.5, 1.0, now).has_value());
  assert_true(log.correction_released(7, 1.5, "approved by uid 0", now).has_value());
  auto hooks = log.tail(3);
  assert_int_equal(hooks->size(), 3);
  assert_string_equal((*hooks)[0][6].value.c_str(), "ntp");
  assert_string_equal((*hooks)[0][3].value.c_str(), "null");
  assert_string_equal((*hooks)[0][7].value.c_str(), "clock step");
  assert_string_equal((*hooks)[0][9].value.c_str(), "step_s=-0.25");
  assert_string_equal((*hooks)[1][10].value.c_str(), "held: waiting for approve 7");
  assert_string_equal((*hooks)[2][7].value.c_str(), "correction released");
  auto last = log.tail(4);
  assert_true((*last)[0][10].value.find("90 more refused") != std::string::npos);
  assert_string_equal((*last)[0][7].value.c_str(), "(refusals not recorded one by one)");
  close(dfd);
  std::string cmd = "rm -rf " + d;
  assert_int_equal(std::system(cmd.c_str()), 0);
}

int main() {
  log_init(true, LogLevel::Error, "test");  // the audit lines also go to the log: keep quiet
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),    cmocka_unit_test(test_decode_refuses), cmocka_unit_test(test_overrides),
      cmocka_unit_test(test_atomic_write), cmocka_unit_test(test_audit_tail),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
