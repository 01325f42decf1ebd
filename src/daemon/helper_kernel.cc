#include "daemon/helper_kernel.h"

#include <sys/timex.h>
#include <time.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace tr7::daemon {

namespace {

Result<void> adjust(timex& tx, const char* what) {
  if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
    return unexpected(std::string(what) + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace

HelperKernelClock::HelperKernelClock() {
  timex tx{};
  tx.modes = 0;  // read only
  if (clock_adjtime(CLOCK_REALTIME, &tx) >= 0) {
    m_freq_ppm = static_cast<double>(tx.freq) / 65536.0;
  }
}

Result<void> HelperKernelClock::step(double delta_s) {
  if (!std::isfinite(delta_s)) {
    return unexpected(std::string("step: not finite"));
  }
  timex tx{};
  tx.modes = ADJ_SETOFFSET | ADJ_NANO;
  double whole = std::floor(delta_s);
  tx.time.tv_sec = static_cast<time_t>(whole);
  // With ADJ_NANO the "tv_usec" field holds nanoseconds, in [0, 1e9).
  long ns = std::lround((delta_s - whole) * 1e9);
  if (ns >= 1000000000L) {
    ns -= 1000000000L;
    tx.time.tv_sec += 1;
  }
  tx.time.tv_usec = ns;
  return adjust(tx, "clock_adjtime(ADJ_SETOFFSET)");
}

Result<void> HelperKernelClock::slew(double delta_s) {
  if (!std::isfinite(delta_s)) {
    return unexpected(std::string("slew: not finite"));
  }
  timex tx{};
  tx.modes = ADJ_OFFSET_SINGLESHOT;
  tx.offset = std::lround(delta_s * 1e6);  // microseconds
  return adjust(tx, "clock_adjtime(ADJ_OFFSET_SINGLESHOT)");
}

Result<void> HelperKernelClock::set_frequency(double ppm) {
  if (!std::isfinite(ppm)) {
    return unexpected(std::string("frequency: not finite"));
  }
  timex tx{};
  tx.modes = ADJ_FREQUENCY;
  tx.freq = std::lround(ppm * 65536.0);
  auto r = adjust(tx, "clock_adjtime(ADJ_FREQUENCY)");
  if (r) {
    m_freq_ppm = static_cast<double>(tx.freq) / 65536.0;
  }
  return r;
}

Result<void> HelperKernelClock::set_leap(core::Leap leap) {
  timex tx{};
  tx.modes = 0;
  if (auto r = adjust(tx, "clock_adjtime(read)"); !r) {
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
  return adjust(set, "clock_adjtime(ADJ_STATUS)");
}

}  // namespace tr7::daemon
