// Status snapshots as records (see status.h).
#include "ctl/status.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/strutil.h"
#include "core/tz.h"

namespace tr7::ctl {

std::string format_utc(core::Timestamp t) { return t.is_zero() ? std::string() : core::format_rfc3339(t); }

Result<core::Timestamp> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  auto bad = [&] { return unexpected("not an RFC 3339 time: '" + std::string(s.substr(0, 40)) + "'"); };
  if (s.size() < 20 || s.size() > 40) {
    return bad();
  }
  auto digits = [&](size_t at, size_t n, int64_t& out) {
    out = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (i >= s.size() || s[i] < '0' || s[i] > '9') {
        return false;
      }
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int64_t y, mo, d, h, mi, se;
  if (!digits(0, 4, y) || s[4] != '-' || !digits(5, 2, mo) || s[7] != '-' || !digits(8, 2, d) ||
      (s[10] != 'T' && s[10] != 't') || !digits(11, 2, h) || s[13] != ':' || !digits(14, 2, mi) || s[16] != ':' ||
      !digits(17, 2, se)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return bad();
  }
  size_t i = 19;
  int64_t ns = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t scale = 100000000;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (i - start < 9) {
        ns += (s[i] - '0') * scale;
        scale /= 10;
      }
      ++i;
    }
    if (i == start) {
      return bad();
    }
  }
  int64_t off = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) {
    off = 0;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int64_t oh, om;
    if (!digits(i + 1, 2, oh) || !digits(i + 4, 2, om) || oh > 23 || om > 59) {
      return bad();
    }
    off = (oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
  } else {
    return bad();
  }
  int64_t days = core::days_from_civil(y, static_cast<int>(mo), static_cast<int>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - off;
  return core::Timestamp::from_ns(secs * core::k_ns_per_s + ns);
}

std::string format_double(double v) {
  if (!std::isfinite(v)) {
    return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  }
  if (v == 0.0) {
    return "0";
  }
  char buf[40];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v) {
      break;
    }
  }
  // JSON has no "+" exponent sign issue ("1e+05" is valid JSON), keep as printed.
  return buf;
}

std::string format_refid(uint32_t id) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08X", id);
  return buf;
}

namespace {

std::string num(double v) { return format_double(v); }
std::string num(int64_t v) { return std::to_string(v); }
std::string yesno(bool b) { return b ? "yes" : "no"; }

}  // namespace

Record to_record(const TrackingStatus& t) {
  Record r{
      {"state", t.state},
      {"synchronised", yesno(t.synchronised)},
      {"stratum", num(static_cast<int64_t>(t.stratum))},
      {"ref_id", format_refid(t.ref_id)},
      {"ref_name", t.ref_name},
      {"reference_time_utc", format_utc(t.reference_time)},
      {"offset_s", num(t.offset_s)},
      {"last_offset_s", num(t.last_offset_s)},
      {"rms_offset_s", num(t.rms_offset_s)},
      {"freq_ppm", num(t.freq_ppm)},
      {"residual_freq_ppm", num(t.residual_freq_ppm)},
      {"skew_ppm", num(t.skew_ppm)},
      {"root_delay_s", num(t.root_delay_s)},
      {"root_dispersion_s", num(t.root_dispersion_s)},
      {"update_interval_s", num(t.update_interval_s)},
      {"leap", t.leap},
      {"clock_mode", t.clock_mode},
  };
  if (t.held) {
    r.emplace_back("held_id", num(t.held->id));
    r.emplace_back("held_offset_s", num(t.held->offset_s));
    r.emplace_back("held_since_utc", format_utc(t.held->since));
  } else {
    r.emplace_back("held_id", "");
    r.emplace_back("held_offset_s", "");
    r.emplace_back("held_since_utc", "");
  }
  return r;
}

Record to_record(const SourceStatus& s) {
  char reach[8];
  std::snprintf(reach, sizeof reach, "%03o", s.reach);
  return Record{
      {"name", s.name},
      {"address", s.address},
      {"port", num(static_cast<int64_t>(s.port))},
      {"mode", s.mode},
      {"state", s.state},
      {"stratum", num(static_cast<int64_t>(s.stratum))},
      {"poll", num(static_cast<int64_t>(s.poll))},
      {"reach", reach},
      {"last_rx_ago_s", s.last_rx_ago_s < 0 ? std::string() : num(s.last_rx_ago_s)},
      {"offset_s", num(s.offset_s)},
      {"delay_s", num(s.delay_s)},
      {"jitter_s", num(s.jitter_s)},
      {"error_s", num(s.error_s)},
  };
}

Record to_record(const SourceStats& s) {
  return Record{
      {"name", s.name},
      {"address", s.address},
      {"port", num(static_cast<int64_t>(s.port))},
      {"samples", num(static_cast<int64_t>(s.samples))},
      {"runs", num(static_cast<int64_t>(s.runs))},
      {"span_s", num(s.span_s)},
      {"freq_ppm", num(s.freq_ppm)},
      {"freq_skew_ppm", num(s.freq_skew_ppm)},
      {"offset_s", num(s.offset_s)},
      {"std_dev_s", num(s.std_dev_s)},
  };
}

Record to_record(const SelectStatus& s) {
  return Record{
      {"name", s.name},
      {"address", s.address},
      {"port", num(static_cast<int64_t>(s.port))},
      {"state", s.state},
      {"reasons", s.reasons},
      {"stratum", num(static_cast<int64_t>(s.stratum))},
      {"root_distance_s", num(s.root_distance_s)},
      {"lower_s", num(s.lower_s)},
      {"upper_s", num(s.upper_s)},
      {"leap", s.leap},
  };
}

Record to_record(const AuthStatus& a) {
  return Record{
      {"name", a.name},
      {"address", a.address},
      {"port", num(static_cast<int64_t>(a.port))},
      {"mode", a.mode},
      {"key_id", num(static_cast<int64_t>(a.key_id))},
      {"key_type", a.key_type},
      {"key_bits", num(static_cast<int64_t>(a.key_bits))},
      {"cookies", num(static_cast<int64_t>(a.cookies))},
      {"cookie_len", num(static_cast<int64_t>(a.cookie_len))},
      {"last_ke_ago_s", a.last_ke_ago_s < 0 ? std::string() : num(a.last_ke_ago_s)},
      {"ke_attempts", std::to_string(a.ke_attempts)},
      {"ke_ok", std::to_string(a.ke_ok)},
      {"ke_error", a.ke_error},
      {"authenticated", std::to_string(a.authenticated)},
      {"failed", std::to_string(a.failed)},
      {"naks", std::to_string(a.naks)},
      {"not_sent", std::to_string(a.not_sent)},
  };
}

Record to_record(const ActivityStatus& a) {
  return Record{
      {"online", num(static_cast<int64_t>(a.online))},
      {"offline", num(static_cast<int64_t>(a.offline))},
      {"burst_online", num(static_cast<int64_t>(a.burst_online))},
      {"burst_offline", num(static_cast<int64_t>(a.burst_offline))},
      {"unresolved", num(static_cast<int64_t>(a.unresolved))},
  };
}

Record to_record(const NtpDataStatus& d) {
  return Record{
      {"address", d.address},
      {"remote_port", num(static_cast<int64_t>(d.remote_port))},
      {"local_address", d.local_address},
      {"version", num(static_cast<int64_t>(d.version))},
      {"mode", num(static_cast<int64_t>(d.mode))},
      {"stratum", num(static_cast<int64_t>(d.stratum))},
      {"poll", num(static_cast<int64_t>(d.poll))},
      {"precision", num(static_cast<int64_t>(d.precision))},
      {"leap", d.leap},
      {"ref_id", format_refid(d.ref_id)},
      {"reference_time_utc", format_utc(d.reference_time)},
      {"root_delay_s", num(d.root_delay_s)},
      {"root_dispersion_s", num(d.root_dispersion_s)},
      {"offset_s", num(d.offset_s)},
      {"delay_s", num(d.delay_s)},
      {"dispersion_s", num(d.dispersion_s)},
      {"response_time_s", num(d.response_time_s)},
      {"tx", std::to_string(d.tx)},
      {"rx", std::to_string(d.rx)},
      {"valid_rx", std::to_string(d.valid_rx)},
      {"kod_rx", std::to_string(d.kod_rx)},
  };
}

}  // namespace tr7::ctl
