// clock_adjtime(2) for mode `kernel` (see kernel_clock.h).
#include "daemon/kernel_clock.h"

#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "daemon/log.h"

namespace tr7::daemon {

namespace {

// USER_HZ ticks: 10000 us nominal; one tick unit changes the rate by 100 ppm.
long nominal_tick() {
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? 1000000 / hz : 10000;
}

tr7::Result<void> adjust(timex& tx, const char* what) {
  if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
    return tr7::unexpected(std::string(what) + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

KernelClock::KernelClock() {
  auto f = read_frequency_ppm();
  m_freq_ppm = f ? *f : 0.0;
}

tr7::Result<double> KernelClock::read_frequency_ppm() {
  timex tx{};
  tx.modes = 0;
  if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
    return tr7::unexpected(std::string("clock_adjtime: ") + std::strerror(errno));
  }
  double tick_ppm = static_cast<double>(tx.tick - nominal_tick()) * 1e6 / static_cast<double>(nominal_tick());
  return static_cast<double>(tx.freq) / 65536.0 + tick_ppm;
}

tr7::Result<int> KernelClock::read_status() {
  timex tx{};
  tx.modes = 0;
  if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
    return tr7::unexpected(std::string("clock_adjtime: ") + std::strerror(errno));
  }
  return tx.status;
}

tr7::Result<void> KernelClock::set_frequency(double ppm) {
  if (!std::isfinite(ppm) || std::fabs(ppm) > k_max_ppm) {
    return tr7::unexpected(std::string("frequency out of range"));
  }
  long nominal = nominal_tick();
  // Coarse part in whole ticks, the rest (|fine| <= 50 ppm) in the frequency register.
  long ticks = std::lround(ppm / (1e6 / static_cast<double>(nominal)));
  double fine = ppm - static_cast<double>(ticks) * 1e6 / static_cast<double>(nominal);
  timex tx{};
  tx.modes = ADJ_FREQUENCY | ADJ_TICK;
  tx.freq = std::lround(fine * 65536.0);
  tx.tick = nominal + ticks;
  auto r = adjust(tx, "set frequency");
  if (r) {
    m_freq_ppm = ppm;
  }
  return r;
}

tr7::Result<void> KernelClock::step(double delta_s) {
  if (!std::isfinite(delta_s) || std::fabs(delta_s) > k_max_step_s) {
    return tr7::unexpected(std::string("step out of range"));
  }
  timex tx{};
  tx.modes = ADJ_SETOFFSET | ADJ_NANO;
  double whole = std::floor(delta_s);
  tx.time.tv_sec = static_cast<time_t>(whole);
  tx.time.tv_usec = static_cast<suseconds_t>(std::lround((delta_s - whole) * 1e9));  // ns with ADJ_NANO
  if (tx.time.tv_usec >= 1000000000) {
    tx.time.tv_sec += 1;
    tx.time.tv_usec -= 1000000000;
  }
  return adjust(tx, "step");
}

tr7::Result<void> KernelClock::slew(double delta_s) {
  // The kernel's own single-shot slew (adjtime(3) semantics, 500 ppm), for an admin's
  // one-off correction; the discipline itself slews through set_frequency().
  if (!std::isfinite(delta_s) || std::fabs(delta_s) > 2000) {
    return tr7::unexpected(std::string("slew out of range"));
  }
  timex tx{};
  tx.modes = ADJ_OFFSET_SINGLESHOT;
  tx.offset = std::lround(delta_s * 1e6);
  return adjust(tx, "slew");
}

tr7::Result<void> KernelClock::set_leap(core::Leap leap) {
  timex tx{};
  tx.modes = 0;
  if (auto r = adjust(tx, "read status"); !r) {
    return r;
  }
  int status = tx.status & ~(STA_INS | STA_DEL);
  if (leap == core::Leap::Insert) {
    status |= STA_INS;
  } else if (leap == core::Leap::Delete) {
    status |= STA_DEL;
  }
  timex set{};
  set.modes = ADJ_STATUS;
  set.status = status;
  return adjust(set, "set leap");
}

tr7::Result<void> KernelClock::set_sync_status(bool synchronised, double est_error_s, double max_error_s) {
  if (!std::isfinite(est_error_s) || !std::isfinite(max_error_s) || est_error_s < 0 || max_error_s < 0) {
    return tr7::unexpected(std::string("sync status: error bounds out of range"));
  }
  timex tx{};
  tx.modes = 0;
  if (auto r = adjust(tx, "read status"); !r) {
    return r;
  }
  // As chronyd (sys_timex.c): not synchronised, or a bound past the kernel's limit,
  // is STA_UNSYNC with both errors at the limit.
  if (max_error_s >= k_max_sync_error_s) {
    synchronised = false;
  }
  if (!synchronised) {
    est_error_s = max_error_s = k_max_sync_error_s;
  }
  timex set{};
  set.modes = ADJ_STATUS | ADJ_ESTERROR | ADJ_MAXERROR;
  set.status = synchronised ? (tx.status & ~STA_UNSYNC) : (tx.status | STA_UNSYNC);
  set.esterror = std::lround(std::min(est_error_s, k_max_sync_error_s) * 1e6);
  set.maxerror = std::lround(max_error_s * 1e6);
  auto r = adjust(set, "set sync status");
  // What the kernel held before (maxerror grown by its 500 ppm since the last update)
  // and holds now (adjtimex returns its state): the record the clknetsim suite checks
  // against the simulated kernel's timex.
  if (r) {
    log_debug("kernel timex: was unsync=%d maxerror=%ld esterror=%ld, now unsync=%d maxerror=%ld esterror=%ld (us)",
              (tx.status & STA_UNSYNC) ? 1 : 0, tx.maxerror, tx.esterror, (set.status & STA_UNSYNC) ? 1 : 0,
              set.maxerror, set.esterror);
  }
  return r;
}

}  // namespace tr7::daemon
