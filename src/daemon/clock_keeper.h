// The saved clock and the RTC: the start-up check, and keeping both up to date while the
// clock is synchronised (tr7ntpd(8), "The clock at start-up").
//
// At start (as root, before privilege separation), startup_clock_check() reads the RTC
// and <state_dir>/saved-clock, decides with core::plan_startup_clock() and, when the system
// clock is clearly wrong and a clock control is given (clock = kernel), steps it forward.
// With clock = none it only reports: the system clock is never touched.
//
// While running, ClockKeeper saves the time (atomically) every hour and at exit, and asks
// the helper to write the RTC every 11 minutes, but only while the clock is synchronised:
// an unsynchronised clock is no "last known good time".
#pragma once

#include <event2/event.h>

#include <functional>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/rtc.h"
#include "core/startup_clock.h"
#include "daemon/state_dir.h"
#include "sys/event.h"

namespace tr7::daemon {

inline constexpr const char* k_saved_clock_file = "saved-clock";
inline constexpr double k_save_interval_s = 3600.0;
inline constexpr double k_rtc_interval_s = 660.0;
inline constexpr double k_keeper_tick_s = 60.0;

// The build time (configure: SOURCE_DATE_EPOCH, else the time configure ran).
core::Timestamp build_time();

// Reads the saved clock. nullopt when there is none (quietly) or it is unusable (a
// warning is logged: corrupt, unreadable, a symlink, too large).
std::optional<core::Timestamp> load_saved_clock(const StateDir& dir);

// The start-up check. `rtc` and `control` may be nullptr. Logs what it found and did.
core::StartupClockPlan startup_clock_check(core::Timestamp system_now, core::Timestamp build, core::Rtc* rtc,
                                           const StateDir& dir, double max_step_s, core::ClockControl* control);

class ClockKeeper {
 public:
  using NowFn = std::function<core::Timestamp()>;
  using SyncedFn = std::function<bool()>;
  using RtcWriteFn = std::function<Result<void, std::string>()>;  // empty: no RTC to write

  // `base` may be nullptr (no periodic work; tests call tick() themselves).
  ClockKeeper(event_base* base, const StateDir& dir, NowFn now, SyncedFn synced, RtcWriteFn write_rtc);

  // The periodic work; `mono_s` is a monotonic time in seconds.
  void tick(double mono_s);
  // The sync state may have changed: looks now unless a look is already scheduled.
  void poke();
  // Saves the clock now if it is synchronised (at exit). Returns true if saved.
  bool save_if_synced();

  uint64_t saves() const { return m_saves; }
  uint64_t rtc_writes() const { return m_rtc_writes; }
  // Whether an RTC is written at all (a device was opened by the privileged side).
  bool writes_rtc() const { return static_cast<bool>(m_write_rtc); }
  // Monotonic times (s) of the last successful save and RTC write, if any.
  std::optional<double> last_save_s() const { return m_last_save_s; }
  std::optional<double> last_rtc_write_s() const { return m_last_rtc_ok_s; }
  uint64_t rtc_failures() const { return m_rtc_failures; }

 private:
  const StateDir& m_dir;
  NowFn m_now;
  SyncedFn m_synced;
  RtcWriteFn m_write_rtc;
  std::optional<double> m_last_save_s;
  std::optional<double> m_last_rtc_s;
  uint64_t m_saves = 0;
  uint64_t m_rtc_writes = 0;
  uint64_t m_rtc_failures = 0;
  std::optional<double> m_last_rtc_ok_s;
  bool m_save_warned = false;
  std::unique_ptr<sys::Callback> m_timer;
};

}  // namespace tr7::daemon
