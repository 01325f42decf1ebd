// Watches for the real-time clock stepped from outside the daemon, and for a suspend
// (core/clock_jump.h), on the event loop: at once when the kernel says the clock was set
// (a timerfd armed with TFD_TIMER_CANCEL_ON_SET, which a resume from suspend also
// cancels; only where asked, since a simulator such as clknetsim cannot emulate it), and
// otherwise whenever the caller looks (check(): the worker does at the NTP client's
// events). No periodic wake-up of its own in either case. What to do about a jump
// is the caller's (the worker discards the sources' samples and resynchronises).
//
// Test builds: TR7_TEST_CLOCK_JUMP_FILE names a file holding "REAL_S BOOT_S", seconds
// added to the CLOCK_REALTIME and CLOCK_BOOTTIME readings of this watcher only (a
// simulated external step or suspend: no test may step the real clock).
#pragma once

#include <functional>
#include <memory>

#include "core/clock_jump.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

class ClockWatch {
 public:
  using OnJump = std::function<void(const core::ClockJump&)>;
  ClockWatch(event_base* base, OnJump on_jump, bool cancel_on_set);
  // The daemon steps the real-time clock itself by delta_s (kernel clock mode).
  void expect_step(double delta_s) { m_detector.expect_step(delta_s); }
  uint64_t jumps() const { return m_jumps; }
  // Looks now (three clock reads). The worker also calls it whenever the NTP client's
  // state may have changed, which is where the kernel's notice is unavailable the only
  // look: a jump is then seen at the next poll at the latest.
  void check();

 private:
  void arm_cancel_on_set();

  core::ClockJumpDetector m_detector;
  OnJump m_on_jump;
  sys::Fd m_timerfd;
  std::unique_ptr<sys::Callback> m_tick;
  std::unique_ptr<sys::Callback> m_cancel_ev;
  uint64_t m_jumps = 0;
};

}  // namespace tr7::daemon
