// The clock at start-up: is the system clock clearly wrong, and if so, where to put it.
// Also the saved-clock file format and the RTC's broken-down time. Pure: no I/O; every
// reading (system clock, RTC, saved file) is passed in, so tests use fakes.
//
// Policy (tr7ntpd(8), "The clock at start-up"):
//  * The plausible window is [floor, ceiling]: floor = the later of the build time and the
//    saved clock (the last known good time), ceiling = the build time + k_plausible_s.
//  * A reading outside the window is ignored (an RTC at 1970 or 2099, a saved clock from
//    the far future).
//  * The system clock is clearly wrong only when it is before the floor. Then it is stepped
//    FORWARD to the RTC if that is plausible, else to the floor. Start-up never steps the
//    clock backwards: a clock that is ahead is the NTP discipline's business.
//  * A step larger than max_step_s is refused (the clock is left as it is, and an error is
//    logged).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"

namespace tr7::core {

// How far after the build time a clock reading is still believed (20 years).
inline constexpr int64_t k_plausible_s = 20LL * 36525 * 864;  // 20 * 365.25 days

struct StartupClockInput {
  Timestamp system;                // CLOCK_REALTIME at start
  Timestamp build;                 // the build time
  std::optional<Timestamp> rtc;    // nullopt: no RTC, or it could not be read
  std::optional<Timestamp> saved;  // nullopt: no saved clock, or the file was unusable
  double max_step_s = 0.0;         // <= 0 or infinity: no bound beyond the window
};

enum class StartupAction {
  Keep,    // the system clock is plausible (or ahead): leave it
  Step,    // step forward by step_s to target
  Refuse,  // it is wrong, but the step would exceed max_step_s
};

struct StartupClockPlan {
  StartupAction action = StartupAction::Keep;
  Timestamp floor;
  Timestamp ceiling;
  Timestamp target;            // Step/Refuse: where the clock should be
  double step_s = 0.0;         // Step/Refuse: target - system (> 0)
  const char* source = "";     // Step/Refuse: "rtc", "saved clock" or "build time"
  bool rtc_ignored = false;    // an RTC reading outside the window
  bool saved_ignored = false;  // a saved clock after the ceiling
  bool system_ahead = false;   // the system clock is after the ceiling (left alone)
};

StartupClockPlan plan_startup_clock(const StartupClockInput& in);

// The saved-clock file: exactly one line "tr7ntp-clock 1 <ns since 1970>\n".
std::string format_saved_clock(Timestamp t);
// nullopt for anything else (a corrupt, truncated or foreign file), or a time before 1970.
std::optional<Timestamp> parse_saved_clock(std::string_view text);

// A broken-down UTC time as an RTC keeps it (struct rtc_time without its quirks).
struct CivilTime {
  int year = 1970;  // e.g. 2026
  int month = 1;    // 1..12
  int day = 1;      // 1..31
  int hour = 0;     // 0..23
  int minute = 0;   // 0..59
  int second = 0;   // 0..59 (an RTC has no leap second)
};
// nullopt for an impossible date (month 13, 31 April, 29 February 2100...) or a year
// outside 1900..2200.
std::optional<Timestamp> from_civil(const CivilTime& c);
// Truncated to the second. For t within 1900..2200.
CivilTime to_civil(Timestamp t);

}  // namespace tr7::core
