// The state directory's atomic files, the start-up check with fake RTC and clock (RTC at
// 1970 and 2099, read failure, saved clock newer than the system clock, corrupt saved
// file), and the periodic saving and RTC writing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "daemon/clock_keeper.h"
#include "daemon/log.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::core;
using namespace tr7::daemon;

namespace {

constexpr int64_t k_day_ns = 86400LL * k_ns_per_s;

struct FakeClock final : ClockControl {
  std::vector<double> steps;
  Result<void> step(double d) override {
    steps.push_back(d);
    return {};
  }
  Result<void> slew(double) override { return unexpected(std::string("not here")); }
  Result<void> set_frequency(double) override { return unexpected(std::string("not here")); }
  double frequency() const override { return 0.0; }
  Result<void> set_leap(Leap) override { return unexpected(std::string("not here")); }
};

struct FakeRtc final : Rtc {
  Result<Timestamp, int> value = Timestamp{0};
  Result<Timestamp, int> read() override { return value; }
  Result<void, int> write(Timestamp) override { return {}; }
};

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/tr7-test-keeper.XXXXXX";
    char* p = mkdtemp(tmpl);
    assert_non_null(p);
    path = p;
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string file(const char* name) const { return path + "/" + name; }
  void write(const char* name, const std::string& text) const {
    FILE* f = std::fopen(file(name).c_str(), "wb");
    assert_non_null(f);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  std::string read(const char* name) const {
    FILE* f = std::fopen(file(name).c_str(), "rb");
    if (f == nullptr) {
      return "<missing>";
    }
    std::string s;
    char buf[512];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
      s.append(buf, n);
    }
    std::fclose(f);
    return s;
  }
};

StateDir open_dir(const TempDir& t) {
  auto d = StateDir::open(t.path);
  assert_true(d.has_value());
  return std::move(*d);
}

}  // namespace

static void test_state_dir_atomic_write(void**) {
  TempDir t;
  StateDir d = open_dir(t);
  assert_int_equal(d.write_atomic("x", "one\n"), 0);
  assert_string_equal(t.read("x").c_str(), "one\n");
  // A stale temporary file from a crash does not stop the next write.
  t.write("x.tmp", "stale");
  assert_int_equal(d.write_atomic("x", "two\n"), 0);
  assert_string_equal(t.read("x").c_str(), "two\n");
  assert_string_equal(t.read("x.tmp").c_str(), "<missing>");
  // A symlink planted as the temporary file is removed, never followed.
  t.write("victim", "keep me");
  assert_int_equal(symlink(t.file("victim").c_str(), t.file("x.tmp").c_str()), 0);
  assert_int_equal(d.write_atomic("x", "three\n"), 0);
  assert_string_equal(t.read("victim").c_str(), "keep me");
  // A symlink at the name itself is replaced by the file, its target untouched, and
  // reading through a symlink is refused.
  unlink(t.file("x").c_str());
  assert_int_equal(symlink(t.file("victim").c_str(), t.file("x").c_str()), 0);
  int err = 0;
  assert_false(d.read("x", 100, err).has_value());
  assert_int_equal(err, ELOOP);
  assert_int_equal(d.write_atomic("x", "four\n"), 0);
  assert_string_equal(t.read("victim").c_str(), "keep me");
  auto back = d.read("x", 100, err);
  assert_true(back && *back == "four\n");
  assert_false(d.read("x", 2, err).has_value());
  assert_int_equal(err, EFBIG);
  assert_false(d.read("missing", 100, err).has_value());
  assert_int_equal(err, ENOENT);
  // Writing into a directory that is gone fails cleanly.
  StateDir none;
  assert_int_equal(none.write_atomic("x", "y"), EBADF);
}

static void test_startup_with_fakes(void**) {
  TempDir t;
  StateDir d = open_dir(t);
  const Timestamp build{1'790'000'000LL * k_ns_per_s};
  FakeClock clock;
  FakeRtc rtc;

  // RTC at 1970, system clock at 1970, no saved clock: stepped to the build time.
  rtc.value = Timestamp{5 * k_ns_per_s};
  auto p = startup_clock_check(Timestamp{10 * k_ns_per_s}, build, &rtc, d, 0.0, &clock);
  assert_true(p.action == StartupAction::Step && p.rtc_ignored);
  assert_int_equal(clock.steps.size(), 1);
  assert_near(clock.steps[0], 1'790'000'000.0 - 10.0, 1e-6);

  // RTC at 2099, good system clock: nothing stepped.
  rtc.value = *from_civil(CivilTime{2099, 12, 31, 23, 59, 59});
  p = startup_clock_check(Timestamp{build.ns + k_day_ns}, build, &rtc, d, 0.0, &clock);
  assert_true(p.action == StartupAction::Keep && p.rtc_ignored);
  assert_int_equal(clock.steps.size(), 1);

  // RTC read failure and a saved clock newer than the system clock: stepped to it.
  rtc.value = unexpected(EINVAL);
  Timestamp saved{build.ns + 3 * k_day_ns};
  t.write(k_saved_clock_file, format_saved_clock(saved));
  p = startup_clock_check(Timestamp{build.ns + k_day_ns}, build, &rtc, d, 0.0, &clock);
  assert_true(p.action == StartupAction::Step);
  assert_int_equal(clock.steps.size(), 2);
  assert_near(clock.steps[1], 2 * 86400.0, 1e-6);

  // clock = none (no control): decided and reported, never applied.
  p = startup_clock_check(Timestamp{build.ns + k_day_ns}, build, nullptr, d, 0.0, nullptr);
  assert_true(p.action == StartupAction::Step);
  assert_int_equal(clock.steps.size(), 2);

  // A corrupt saved file is ignored: the floor is the build time again.
  t.write(k_saved_clock_file, "tr7ntp-clock 1 12x\n");
  assert_false(load_saved_clock(d).has_value());
  p = startup_clock_check(Timestamp{build.ns + k_day_ns}, build, nullptr, d, 0.0, &clock);
  assert_true(p.action == StartupAction::Keep);
  assert_true(p.floor == build);
  t.write(k_saved_clock_file, std::string(300, 'x'));  // too large
  assert_false(load_saved_clock(d).has_value());

  // A start-up step over max_startup_step is refused.
  p = startup_clock_check(Timestamp{10 * k_ns_per_s}, build, nullptr, d, 3600.0, &clock);
  assert_true(p.action == StartupAction::Refuse);
  assert_int_equal(clock.steps.size(), 2);
}

static void test_keeper_saves_only_when_synced(void**) {
  TempDir t;
  StateDir d = open_dir(t);
  bool synced = false;
  Timestamp now{1'800'000'000LL * k_ns_per_s};
  int rtc_writes = 0;
  bool rtc_fail = false;
  ClockKeeper k(
      nullptr, d, [&] { return now; }, [&] { return synced; },
      [&]() -> Result<void, std::string> {
        ++rtc_writes;
        if (rtc_fail) {
          return unexpected(std::string("fake"));
        }
        return {};
      });
  k.tick(100.0);
  assert_false(k.save_if_synced());
  assert_string_equal(t.read(k_saved_clock_file).c_str(), "<missing>");
  assert_int_equal(rtc_writes, 0);

  synced = true;
  k.tick(200.0);
  assert_int_equal(k.saves(), 1);
  assert_int_equal(rtc_writes, 1);
  assert_true(load_saved_clock(d) == now);
  // Within the intervals nothing more happens.
  now.ns += 60 * k_ns_per_s;
  k.tick(260.0);
  assert_int_equal(k.saves(), 1);
  assert_int_equal(rtc_writes, 1);
  // After k_rtc_interval_s the RTC is written again; after k_save_interval_s the clock saved.
  rtc_fail = true;
  k.tick(200.0 + k_rtc_interval_s);
  assert_int_equal(rtc_writes, 2);
  assert_int_equal(k.rtc_writes(), 1);  // the failed one is not counted
  assert_int_equal(k.rtc_failures(), 1);
  assert_true(k.writes_rtc());
  assert_true(k.last_rtc_write_s() == 200.0);  // the last successful one
  assert_true(k.last_save_s() == 200.0);
  k.tick(200.0 + k_save_interval_s);
  assert_int_equal(k.saves(), 2);
  assert_true(load_saved_clock(d) == now);
  // At exit.
  now.ns += k_ns_per_s;
  assert_true(k.save_if_synced());
  assert_true(load_saved_clock(d) == now);
}

int main() {
  log_init(true, LogLevel::Error, "test_clock_keeper");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_dir_atomic_write),
      cmocka_unit_test(test_startup_with_fakes),
      cmocka_unit_test(test_keeper_saves_only_when_synced),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
