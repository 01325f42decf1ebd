// Civil time and POSIX TZ rules (see tz.h).
#include "core/tz.h"

#include <cstdio>
#include <cstring>

namespace tr7::core {

// Days from civil and back: the usual era-based algorithm (400-year cycles of
// 146097 days), exact for every int64 year the Timestamp range can hold.
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                                   // [0, 399]
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;  // [0, 365]
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           // [0, 146096]
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int& m, int& d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = yoe + era * 400 + (m <= 2);
}

int weekday_from_days(int64_t days) { return static_cast<int>(days >= -4 ? (days + 4) % 7 : (days + 5) % 7 + 6); }

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

WallTime to_wall_time(Timestamp t, int32_t utc_offset_s) {
  int64_t secs = floor_div(t.ns, k_ns_per_s);
  int64_t ns = t.ns - secs * k_ns_per_s;
  secs += utc_offset_s;
  int64_t days = floor_div(secs, 86400);
  int64_t sod = secs - days * 86400;
  WallTime c;
  civil_from_days(days, c.year, c.month, c.day);
  c.hour = static_cast<int>(sod / 3600);
  c.minute = static_cast<int>(sod / 60 % 60);
  c.second = static_cast<int>(sod % 60);
  c.nanosecond = ns;
  return c;
}

std::string format_rfc3339(Timestamp t, int32_t utc_offset_s, bool force_offset) {
  WallTime c = to_wall_time(t, utc_offset_s);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%09lld", static_cast<long long>(c.year), c.month,
                c.day, c.hour, c.minute, c.second, static_cast<long long>(c.nanosecond));
  std::string s = buf;
  if (utc_offset_s == 0 && !force_offset) {
    return s + "Z";
  }
  int32_t off = utc_offset_s < 0 ? -utc_offset_s : utc_offset_s;
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", utc_offset_s < 0 ? '-' : '+', off / 3600, off / 60 % 60);
  return s + buf;
}

// --- POSIX TZ rules ---

namespace {

struct P {
  std::string_view s;
  size_t i = 0;
  bool end() const { return i >= s.size(); }
  char peek() const { return end() ? '\0' : s[i]; }
};

bool parse_abbr(P& p, std::string& out) {
  if (p.peek() == '<') {
    size_t close = p.s.find('>', p.i);
    if (close == std::string_view::npos) {
      return false;
    }
    out = std::string(p.s.substr(p.i + 1, close - p.i - 1));
    p.i = close + 1;
    for (char c : out) {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-')) {
        return false;
      }
    }
    return out.size() >= 3;
  }
  size_t start = p.i;
  while (!p.end() && ((p.peek() >= 'A' && p.peek() <= 'Z') || (p.peek() >= 'a' && p.peek() <= 'z'))) {
    ++p.i;
  }
  out = std::string(p.s.substr(start, p.i - start));
  return out.size() >= 3;
}

bool parse_num(P& p, int& v, int max_digits) {
  int n = 0;
  v = 0;
  while (!p.end() && p.peek() >= '0' && p.peek() <= '9' && n < max_digits) {
    v = v * 10 + (p.peek() - '0');
    ++p.i;
    ++n;
  }
  return n > 0;
}

// [+-]hh[:mm[:ss]], hours up to 167 (RFC 8536 extension). Returns seconds.
bool parse_hms(P& p, int32_t& out, bool allow_sign = true) {
  int sign = 1;
  if (allow_sign && (p.peek() == '+' || p.peek() == '-')) {
    sign = p.peek() == '-' ? -1 : 1;
    ++p.i;
  }
  int h = 0, m = 0, s = 0;
  if (!parse_num(p, h, 3) || h > 167) {
    return false;
  }
  if (p.peek() == ':') {
    ++p.i;
    if (!parse_num(p, m, 2) || m > 59) {
      return false;
    }
    if (p.peek() == ':') {
      ++p.i;
      if (!parse_num(p, s, 2) || s > 59) {
        return false;
      }
    }
  }
  out = sign * (h * 3600 + m * 60 + s);
  return true;
}

bool parse_transition(P& p, TzRule::Transition& t) {
  using K = TzRule::Transition::Kind;
  if (p.peek() == 'M') {
    ++p.i;
    t.kind = K::MonthWeekDay;
    if (!parse_num(p, t.month, 2) || t.month < 1 || t.month > 12 || p.peek() != '.') {
      return false;
    }
    ++p.i;
    if (!parse_num(p, t.week, 1) || t.week < 1 || t.week > 5 || p.peek() != '.') {
      return false;
    }
    ++p.i;
    if (!parse_num(p, t.wday, 1) || t.wday > 6) {
      return false;
    }
  } else if (p.peek() == 'J') {
    ++p.i;
    t.kind = K::Julian1;
    if (!parse_num(p, t.day, 3) || t.day < 1 || t.day > 365) {
      return false;
    }
  } else {
    t.kind = K::Julian0;
    if (!parse_num(p, t.day, 3) || t.day > 365) {
      return false;
    }
  }
  t.time_s = 7200;
  if (p.peek() == '/') {
    ++p.i;
    if (!parse_hms(p, t.time_s)) {
      return false;
    }
  }
  return true;
}

// Seconds from the start of `year` (local standard-time wall clock) to the transition.
int64_t transition_in_year(const TzRule::Transition& t, int64_t year) {
  using K = TzRule::Transition::Kind;
  int64_t jan1 = days_from_civil(year, 1, 1);
  int64_t day = 0;  // days after Jan 1
  switch (t.kind) {
    case K::Julian1:
      // Day 1..365, February 29 never counted.
      day = t.day - 1 + ((is_leap(year) && t.day >= 60) ? 1 : 0);
      break;
    case K::Julian0:
      day = t.day;
      break;
    case K::MonthWeekDay: {
      int64_t first = days_from_civil(year, t.month, 1);
      int wd = weekday_from_days(first);
      int64_t d = first + ((t.wday - wd + 7) % 7) + 7 * (t.week - 1);
      int next_month = t.month == 12 ? 1 : t.month + 1;
      int64_t month_end = days_from_civil(t.month == 12 ? year + 1 : year, next_month, 1);
      while (d >= month_end) {
        d -= 7;  // week 5 means the last such weekday
      }
      day = d - jan1;
      break;
    }
  }
  return day * 86400 + t.time_s;
}

}  // namespace

Result<TzRule> parse_tz_rule(std::string_view s) {
  TzRule r;
  P p{s};
  auto bad = [&](const char* what) {
    return unexpected(std::string("TZ rule '") + std::string(s.substr(0, 60)) + "': " + what);
  };
  if (s.empty() || s.size() > 128) {
    return bad("empty or too long");
  }
  if (!parse_abbr(p, r.std_abbr)) {
    return bad("bad standard-time name");
  }
  int32_t off = 0;
  if (!parse_hms(p, off)) {
    return bad("bad offset");
  }
  r.std_offset_s = -off;  // POSIX offsets are west-positive
  if (p.end()) {
    return r;
  }
  r.has_dst = true;
  if (!parse_abbr(p, r.dst_abbr)) {
    return bad("bad daylight-time name");
  }
  r.dst_offset_s = r.std_offset_s + 3600;
  if (p.peek() != ',' && !p.end()) {
    if (!parse_hms(p, off)) {
      return bad("bad daylight offset");
    }
    r.dst_offset_s = -off;
  }
  if (p.end()) {
    // No rule: POSIX leaves it implementation-defined; glibc uses the US rules.
    r.start = TzRule::Transition{TzRule::Transition::Kind::MonthWeekDay, 3, 2, 0, 0, 7200};
    r.end = TzRule::Transition{TzRule::Transition::Kind::MonthWeekDay, 11, 1, 0, 0, 7200};
    return r;
  }
  if (p.peek() != ',') {
    return bad("expected ',' before the start rule");
  }
  ++p.i;
  if (!parse_transition(p, r.start)) {
    return bad("bad start rule");
  }
  if (p.peek() != ',') {
    return bad("expected ',' before the end rule");
  }
  ++p.i;
  if (!parse_transition(p, r.end)) {
    return bad("bad end rule");
  }
  if (!p.end()) {
    return bad("trailing text");
  }
  return r;
}

LocalInfo local_info(const TzRule& r, Timestamp t) {
  LocalInfo std_info{r.std_offset_s, false, r.std_abbr};
  if (!r.has_dst) {
    return std_info;
  }
  LocalInfo dst_info{r.dst_offset_s, true, r.dst_abbr};
  int64_t utc = floor_div(t.ns, k_ns_per_s);
  // The year of t in standard time; also check the neighbours for rules near New Year.
  int64_t y;
  int m, d;
  civil_from_days(floor_div(utc + r.std_offset_s, 86400), y, m, d);
  int64_t jan1_utc = days_from_civil(y, 1, 1) * 86400;
  // Start is given in standard time, end in daylight time (POSIX).
  int64_t start = jan1_utc + transition_in_year(r.start, y) - r.std_offset_s;
  int64_t end = jan1_utc + transition_in_year(r.end, y) - r.dst_offset_s;
  bool in_dst;
  if (start < end) {
    in_dst = utc >= start && utc < end;  // northern hemisphere
  } else {
    in_dst = !(utc >= end && utc < start);  // southern: DST spans the new year
  }
  return in_dst ? dst_info : std_info;
}

namespace {

uint32_t be32(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

// Size of a TZif data block (RFC 8536 §3.2) from its header at `at`; 0 if malformed.
size_t block_size(std::string_view f, size_t at, size_t time_size) {
  if (at + 44 > f.size() || f.substr(at, 4) != "TZif") {
    return 0;
  }
  uint64_t isutcnt = be32(f, at + 20), isstdcnt = be32(f, at + 24), leapcnt = be32(f, at + 28);
  uint64_t timecnt = be32(f, at + 32), typecnt = be32(f, at + 36), charcnt = be32(f, at + 40);
  if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || leapcnt > 10000 || charcnt > 100000 ||
      (isutcnt != 0 && isutcnt != typecnt) || (isstdcnt != 0 && isstdcnt != typecnt)) {
    return 0;
  }
  return 44 + timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) + isstdcnt + isutcnt;
}

}  // namespace

Result<std::string> tzif_footer(std::string_view f) {
  if (f.size() < 44 || f.substr(0, 4) != "TZif") {
    return unexpected(std::string("not a TZif file"));
  }
  char version = f[4];
  if (version != '2' && version != '3' && version != '4') {
    return unexpected(std::string("TZif version 1 (no footer)"));
  }
  size_t v1 = block_size(f, 0, 4);
  if (v1 == 0 || v1 > f.size()) {
    return unexpected(std::string("truncated TZif file"));
  }
  size_t v2 = block_size(f, v1, 8);
  if (v2 == 0 || v1 + v2 > f.size()) {
    return unexpected(std::string("truncated TZif file"));
  }
  size_t at = v1 + v2;
  if (at >= f.size() || f[at] != '\n') {
    return unexpected(std::string("TZif footer missing"));
  }
  size_t nl = f.find('\n', at + 1);
  if (nl == std::string_view::npos || nl - at - 1 > 128) {
    return unexpected(std::string("TZif footer malformed"));
  }
  std::string footer(f.substr(at + 1, nl - at - 1));
  if (footer.empty()) {
    return unexpected(std::string("TZif footer empty (no rule for the future)"));
  }
  auto rule = parse_tz_rule(footer);
  if (!rule) {
    return unexpected(rule.error());
  }
  return footer;
}

}  // namespace tr7::core
