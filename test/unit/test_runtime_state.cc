// Runtime state file: round trip, strict decoding, overrides over the config's rules,
// atomic writes, the audit trail's tail.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
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

namespace {

// The value of `key` in a parsed audit record ("" if absent).
std::string field(const std::vector<tr7::ctl::JsonField>& rec, const char* key) {
  for (const auto& f : rec) {
    if (f.key == key) {
      return f.value;
    }
  }
  return "";
}

}  // namespace

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
  assert_string_equal(field((*t)[4], "uid").c_str(), "49");
  assert_string_equal(field((*t)[0], "uid").c_str(), "45");
  assert_string_equal(field((*t)[4], "before").c_str(), "a\nb \"quoted\"");
  assert_string_equal(field((*t)[4], "seq").c_str(), "50");
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
  assert_string_equal(field((*hooks)[0], "via").c_str(), "ntp");
  assert_string_equal(field((*hooks)[0], "uid").c_str(), "null");
  assert_string_equal(field((*hooks)[0], "command").c_str(), "clock step");
  assert_string_equal(field((*hooks)[0], "after").c_str(), "step_s=-0.25");
  assert_string_equal(field((*hooks)[1], "result").c_str(), "held: waiting for approve 7");
  assert_string_equal(field((*hooks)[2], "command").c_str(), "correction released");
  auto last = log.tail(4);
  assert_true(field((*last)[0], "result").find("90 more refused") != std::string::npos);
  assert_string_equal(field((*last)[0], "command").c_str(), "(refusals not recorded one by one)");
  close(dfd);
  std::string cmd = "rm -rf " + d;
  assert_int_equal(std::system(cmd.c_str()), 0);
}

// The chain across a restart (a new AuditLog on the same directory), a torn last line,
// size rotation, and verify() catching an altered byte and a deleted record.
static void test_audit_chain_rotation(void**) {
  std::string d = tmpdir();
  int dfd = open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TimezoneDb tz;
  tz.load("/nonexistent");
  auto now = core::Timestamp::from_ns(1'800'000'000LL * core::k_ns_per_s);
  auto add = [&](AuditLog& log, int n) {
    for (int i = 0; i < n; ++i) {
      AuditEntry e;
      e.command = "allow add 10." + std::to_string(i) + ".0.0/16";
      assert_true(log.append(e, now).has_value());
    }
  };
  {
    AuditLog log(tz, "UTC");
    log.set_node("n1");
    assert_true(log.open(dfd, 2000, 3).has_value());
    add(log, 5);
    assert_int_equal(log.chain().seq, 5);
  }
  // A crash in the middle of a write, then a restart: the torn bytes go, the chain goes on.
  int fd = openat(dfd, k_audit_file, O_WRONLY | O_APPEND);
  assert_true(write(fd, "{\"seq\":6,\"no", 12) == 12);
  close(fd);
  AuditLog log(tz, "UTC");
  log.set_node("n1");
  assert_true(log.open(dfd, 2000, 3).has_value());
  assert_int_equal(log.chain().seq, 5);
  add(log, 20);  // about 400 bytes each: several rotations
  assert_true(log.rotations() >= 3);
  AuditVerdict v = log.verify();
  assert_true(v.error.empty());
  assert_true(v.chain.ok);
  assert_int_equal(v.files.size(), 4);  // .3 .2 .1 and audit.log
  assert_string_equal(v.files[0].c_str(), "audit/audit.log.3");
  assert_int_equal(v.chain.last_seq, 25);
  assert_true(v.chain.first_seq > 1);  // older files rotated away
  // One altered byte in the middle file.
  auto edit = [&](const char* name, const std::function<void(std::string&)>& f) {
    auto text = read_small_file(dfd, name, 1 << 20);
    assert_true(text && *text);
    std::string t = **text;
    f(t);
    assert_true(write_file_atomic(dfd, name, t).has_value());
  };
  std::string saved;
  edit("audit/audit.log.2", [&](std::string& t) {
    saved = t;
    size_t p = t.find("10.");
    t[p + 1] = '1';
  });
  v = log.verify();
  assert_false(v.chain.ok);
  uint64_t first_of_2 = v.chain.first_seq;
  assert_true(v.chain.first_bad_seq.has_value());
  assert_true(v.chain.where.rfind("audit/audit.log.2:1", 0) == 0);
  edit("audit/audit.log.2", [&](std::string& t) { t = saved; });
  assert_true(log.verify().chain.ok);
  // One record deleted (the second line of audit.log.1).
  edit("audit/audit.log.1", [&](std::string& t) {
    size_t a = t.find('\n');
    size_t b = t.find('\n', a + 1);
    t.erase(a + 1, b - a);
  });
  v = log.verify();
  assert_false(v.chain.ok);
  assert_string_equal(v.chain.problem.c_str(), "record missing (deleted)");
  assert_true(*v.chain.first_bad_seq > first_of_2);
  close(dfd);
  std::string cmd = "rm -rf " + d;
  assert_int_equal(std::system(cmd.c_str()), 0);
}

int main() {
  log_init(true, LogLevel::Error, "test");  // the audit lines also go to the log: keep quiet
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_decode_refuses),
      cmocka_unit_test(test_overrides),  cmocka_unit_test(test_atomic_write),
      cmocka_unit_test(test_audit_tail), cmocka_unit_test(test_audit_chain_rotation),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
