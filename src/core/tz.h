// Civil time and time zones without the C library's global state.
//
// No I/O. The daemon works in UTC; local time is only for showing times to people (the
// audit trail's local time, tr7ntpc, tr7top). Zone data comes from the system tzdata
// (TZif files, RFC 8536) that the daemon reads once at start, before any chroot: only
// each zone's footer is kept, the POSIX TZ rule (RFC 8536 §3.3, POSIX.1 "TZ") that
// describes the zone's current rules, e.g. "CET-1CEST,M3.5.0,M10.5.0/3". That rule is
// exact for times after the zone's last rule change, which is what "now" needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"

namespace tr7::core {

struct WallTime {
  int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
  int hour = 0, minute = 0, second = 0;
  int64_t nanosecond = 0;
};

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t days_from_civil(int64_t y, int m, int d);
void civil_from_days(int64_t days, int64_t& y, int& m, int& d);
// 0 = Sunday.
int weekday_from_days(int64_t days);
WallTime to_wall_time(Timestamp t, int32_t utc_offset_s = 0);

// RFC 3339 with nanoseconds: "2026-11-26T06:09:27.123456789Z", or "+03:00" when
// utc_offset_s is not zero (or `force_offset`).
std::string format_rfc3339(Timestamp t, int32_t utc_offset_s = 0, bool force_offset = false);

// A parsed POSIX TZ rule.
struct TzRule {
  struct Transition {  // Mm.w.d, Jn or n, at `time_s` local time (may be negative, or >24h)
    enum class Kind : uint8_t { MonthWeekDay, Julian1, Julian0 } kind = Kind::MonthWeekDay;
    int month = 0, week = 0, wday = 0;  // M form
    int day = 0;                        // J (1..365, no Feb 29) and n (0..365) forms
    int32_t time_s = 7200;
  };
  std::string std_abbr;
  int32_t std_offset_s = 0;  // UTC offset east-positive (the TZ string's sign is inverted)
  bool has_dst = false;
  std::string dst_abbr;
  int32_t dst_offset_s = 0;
  Transition start, end;
};

Result<TzRule> parse_tz_rule(std::string_view s);

struct LocalInfo {
  int32_t utc_offset_s = 0;
  bool dst = false;
  std::string abbr;
};
LocalInfo local_info(const TzRule& r, Timestamp t);

// The footer of a TZif file (version 2 or later), or an error for anything else
// (version 1 files have no footer; truncated or inconsistent files are refused).
Result<std::string> tzif_footer(std::string_view file);

}  // namespace tr7::core
