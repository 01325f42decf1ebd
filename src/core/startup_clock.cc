// The clock at start-up (see startup_clock.h).
#include "core/startup_clock.h"

#include <cmath>

#include "core/strutil.h"

namespace tr7::core {

namespace {

constexpr std::string_view k_saved_magic = "tr7ntp-clock 1 ";

bool in_window(Timestamp t, Timestamp lo, Timestamp hi) { return t >= lo && t <= hi; }

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (the classic
// era/day-of-era decomposition: 400-year eras of 146097 days, years starting in March).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                   // [0, 399]
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int k_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : k_days[m - 1];
}

}  // namespace

StartupClockPlan plan_startup_clock(const StartupClockInput& in) {
  StartupClockPlan p;
  p.ceiling = Timestamp{in.build.ns + k_plausible_s * k_ns_per_s};
  p.floor = in.build;
  if (in.saved) {
    if (*in.saved > p.ceiling) {
      p.saved_ignored = true;
    } else if (*in.saved > p.floor) {
      p.floor = *in.saved;
    }
  }
  std::optional<Timestamp> rtc;
  if (in.rtc) {
    if (in_window(*in.rtc, p.floor, p.ceiling)) {
      rtc = in.rtc;
    } else {
      p.rtc_ignored = true;
    }
  }
  if (in.system > p.ceiling) {
    p.system_ahead = true;
  }
  if (in.system >= p.floor) {
    return p;  // plausible, or ahead: start-up never steps backwards
  }
  if (rtc) {
    p.target = *rtc;
    p.source = "rtc";
  } else {
    p.target = p.floor;
    p.source = in.saved && !p.saved_ignored && *in.saved >= in.build ? "saved clock" : "build time";
  }
  p.step_s = diff_s(p.target, in.system);
  bool bounded = in.max_step_s > 0.0 && std::isfinite(in.max_step_s);
  p.action = bounded && p.step_s > in.max_step_s ? StartupAction::Refuse : StartupAction::Step;
  return p;
}

std::string format_saved_clock(Timestamp t) { return std::string(k_saved_magic) + std::to_string(t.ns) + "\n"; }

std::optional<Timestamp> parse_saved_clock(std::string_view text) {
  if (text.size() < k_saved_magic.size() + 2 || text.substr(0, k_saved_magic.size()) != k_saved_magic ||
      text.back() != '\n') {
    return std::nullopt;
  }
  std::string_view num = text.substr(k_saved_magic.size(), text.size() - k_saved_magic.size() - 1);
  // parse_int is strict: digits only, no sign, no leading zero, no junk, no overflow.
  auto v = parse_int(num, 0, INT64_MAX);
  if (!v || (num.size() > 1 && num[0] == '0')) {
    return std::nullopt;
  }
  return Timestamp{*v};
}

std::optional<Timestamp> from_civil(const CivilTime& c) {
  if (c.year < 1900 || c.year > 2200 || c.month < 1 || c.month > 12 || c.day < 1 ||
      c.day > days_in_month(c.year, c.month) || c.hour < 0 || c.hour > 23 || c.minute < 0 || c.minute > 59 ||
      c.second < 0 || c.second > 59) {
    return std::nullopt;
  }
  int64_t days = days_from_civil(c.year, c.month, c.day);
  int64_t s = days * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
  return Timestamp{s * k_ns_per_s};
}

CivilTime to_civil(Timestamp t) {
  int64_t s = t.ns / k_ns_per_s;
  if (t.ns % k_ns_per_s < 0) {
    --s;  // floor for times before 1970
  }
  int64_t days = s / 86400;
  int64_t rem = s % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Inverse of days_from_civil.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  CivilTime c;
  c.year = static_cast<int>(y + (m <= 2 ? 1 : 0));
  c.month = m;
  c.day = d;
  c.hour = static_cast<int>(rem / 3600);
  c.minute = static_cast<int>(rem % 3600 / 60);
  c.second = static_cast<int>(rem % 60);
  return c;
}

}  // namespace tr7::core
