// Clock jump watch (see clock_watch.h).
#include "daemon/clock_watch.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "autoconfig.h"
#include "daemon/log.h"

namespace tr7::daemon {

namespace {

int64_t read_ns(clockid_t id, bool& ok) {
  timespec ts{};
  ok = clock_gettime(id, &ts) == 0;
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

core::ClockReadings read_clocks() {
  core::ClockReadings r;
  bool ok = false;
  r.realtime_ns = read_ns(CLOCK_REALTIME, ok);
  r.monotonic_ns = read_ns(CLOCK_MONOTONIC, ok);
  int64_t boot = read_ns(CLOCK_BOOTTIME, ok);
  if (ok) {
    r.boottime_ns = boot;
  }
#ifdef TR7_TEST_HOOKS
  if (const char* path = std::getenv("TR7_TEST_CLOCK_JUMP_FILE")) {
    if (FILE* f = std::fopen(path, "re")) {
      double real_s = 0;
      double boot_s = 0;
      if (std::fscanf(f, "%lf %lf", &real_s, &boot_s) >= 1) {
        r.realtime_ns += static_cast<int64_t>(real_s * 1e9);
        if (r.boottime_ns) {
          *r.boottime_ns += static_cast<int64_t>(boot_s * 1e9);
        }
      }
      std::fclose(f);
    }
  }
#endif
  return r;
}

}  // namespace

ClockWatch::ClockWatch(event_base* base, OnJump on_jump, bool cancel_on_set) : m_on_jump(std::move(on_jump)) {
  m_detector.check(read_clocks());  // the baseline
  m_tick = std::make_unique<sys::Callback>(base, -1, EV_PERSIST, [this](evutil_socket_t, short) { check(); });
#ifdef TR7_TEST_HOOKS
  // The simulated jumps of the test hook come without the kernel's notice: look every second.
  if (std::getenv("TR7_TEST_CLOCK_JUMP_FILE") != nullptr) {
    m_tick->add(1.0);
    return;
  }
#endif
  if (cancel_on_set) {
    m_timerfd.reset(timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!m_timerfd.valid()) {
      log_debug("clock watch: timerfd_create: %s (checking at the NTP client's events)", std::strerror(errno));
    }
  }
  if (!m_timerfd.valid()) {
    // No notice from the kernel: the caller's looks only (check()). REALTIME - MONOTONIC
    // moves only with a step (slews and frequency changes move both clocks), so however
    // long between two looks, no false alarm: only a later detection.
    return;
  }
  // The kernel cancels the timer when the real-time clock is set, and also on a resume from
  // suspend (it sets the clock from the persistent clock then): both are seen at once, with
  // no periodic wake-up at all (an idle daemon stays idle).
  arm_cancel_on_set();
  m_cancel_ev =
      std::make_unique<sys::Callback>(base, m_timerfd.get(), EV_READ | EV_PERSIST, [this](evutil_socket_t fd, short) {
        uint64_t n = 0;
        // ECANCELED: the clock was set. Re-arm, then look.
        if (read(fd, &n, sizeof n) < 0 && errno == ECANCELED) {
          arm_cancel_on_set();
        }
        check();
      });
  m_cancel_ev->add();
}

void ClockWatch::arm_cancel_on_set() {
  // An absolute expiry far ahead: it never fires; setting the clock cancels it.
  itimerspec its{};
  its.it_value.tv_sec = std::time(nullptr) + 10LL * 365 * 86400;
  if (timerfd_settime(m_timerfd.get(), TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, nullptr) != 0) {
    log_debug("clock watch: timerfd_settime: %s", std::strerror(errno));
  }
}

void ClockWatch::check() {
  core::ClockJump j = m_detector.check(read_clocks());
  if (j.kind == core::JumpKind::None) {
    return;
  }
  ++m_jumps;
  m_on_jump(j);
}

}  // namespace tr7::daemon
