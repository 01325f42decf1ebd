// The drift file: strict parsing, atomic writing, garbage ignored with a warning; and
// the kernel clock's read-only queries (they must work unprivileged and change nothing).
#include "daemon/drift_file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "daemon/kernel_clock.h"
#include "testutil.h"

using namespace tr7::daemon;

namespace {

std::string make_dir() {
  char tmpl[] = "/tmp/tr7-drift.XXXXXX";
  const char* d = mkdtemp(tmpl);
  assert_non_null(d);
  return d;
}

void put(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
}

int entries(const std::string& dir) {
  int n = 0;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = readdir(d)) {
    n += e->d_name[0] != '.';
  }
  closedir(d);
  return n;
}

}  // namespace

static void test_parse(void**) {
  assert_near(*parse_drift("12.5\n"), 12.5, 0);
  assert_near(*parse_drift("  -3.25 1.0e-3\nmore\n"), -3.25, 0);
  assert_near(*parse_drift("500"), 500, 0);
  for (const char* bad : {"", "\n", "nan", "inf", "-inf", "1e309", "500.1", "-600", "abc", "12.5abc", "0x10"}) {
    if (parse_drift(bad).has_value()) {
      fail_msg("accepted '%s'", bad);
    }
  }
  assert_false(parse_drift(std::string(300, '1')).has_value());
}

static void test_write_read(void**) {
  std::string dir = make_dir();
  std::string path = dir + "/drift";
  auto sd = StateDir::open(dir);
  assert_true(sd.has_value());
  const StateDir& st = *sd;
  std::string warning;
  assert_false(read_drift_file(st, "drift", warning).has_value());  // missing: no warning
  assert_true(warning.empty());
  assert_true(write_drift_file(st, "drift", -12.345678).has_value());
  auto v = read_drift_file(st, "drift", warning);
  assert_true(v.has_value() && warning.empty());
  assert_near(*v, -12.345678, 1e-6);
  assert_true(write_drift_file(st, "drift", 3.5).has_value());  // replaced atomically
  assert_near(*read_drift_file(st, "drift", warning), 3.5, 1e-9);
  assert_int_equal(entries(dir), 1);  // no temporary file left behind
  // Out of range or not finite: not written, the old file kept.
  assert_false(write_drift_file(st, "drift", NAN).has_value());
  assert_false(write_drift_file(st, "drift", 501).has_value());
  assert_near(*read_drift_file(st, "drift", warning), 3.5, 1e-9);
  // Garbage: ignored with a warning.
  put(path, "garbage\n");
  assert_false(read_drift_file(st, "drift", warning).has_value());
  assert_true(warning.find("ignored") != std::string::npos);
  put(path, "9999\n");
  assert_false(read_drift_file(st, "drift", warning).has_value());
  assert_false(warning.empty());
  // A symlink is not followed (CVE-2020-14367 style), for reading or writing.
  std::string target = dir + "/target";
  put(target, "1.0\n");
  unlink(path.c_str());
  assert_int_equal(symlink(target.c_str(), path.c_str()), 0);
  assert_false(read_drift_file(st, "drift", warning).has_value());
  assert_false(warning.empty());
  // No state directory: an error, nothing written.
  StateDir none;
  assert_false(write_drift_file(none, "drift", 1.0).has_value());
  assert_false(read_drift_file(none, "drift", warning).has_value());
  unlink(path.c_str());
  unlink(target.c_str());
  rmdir(dir.c_str());
}

static void test_kernel_clock_read_only(void**) {
  // modes = 0: reads the kernel's frequency and status; needs no privilege.
  auto f = KernelClock::read_frequency_ppm();
  assert_true(f.has_value());
  assert_true(std::isfinite(*f) && std::fabs(*f) <= KernelClock::k_max_ppm);
  auto st = KernelClock::read_status();
  assert_true(st.has_value());
  std::printf("# kernel clock: frequency %.3f ppm, status 0x%x\n", *f, *st);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_write_read),
      cmocka_unit_test(test_kernel_clock_read_only),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
