// Formatting of dashboard values (see format.h).
#include "tools/tr7top/format.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/strutil.h"
#include "core/tz.h"

namespace tr7::top {

namespace {

struct Unit {
  double scale;  // seconds per unit
  const char* utf8;
  const char* ascii;
};
constexpr Unit k_ns{1e-9, "ns", "ns"};
constexpr Unit k_us{1e-6, "\xC2\xB5s", "us"};  // U+00B5 MICRO SIGN
constexpr Unit k_ms{1e-3, "ms", "ms"};
constexpr Unit k_s{1.0, "s", "s"};

// Four significant digits in the largest unit that keeps the value >= 1; values that
// round up to 1000 of a unit move to the next one ("999.96µs" -> "1.000ms").
std::string time_text(double s, bool with_sign, bool utf8) {
  if (!std::isfinite(s)) {
    return "-";
  }
  if (s == 0.0) {
    return "0ns";
  }
  const char* sign = s < 0 ? "-" : (with_sign ? "+" : "");
  double a = std::fabs(s);
  char buf[48];
  if (a >= 1e5) {
    std::snprintf(buf, sizeof buf, a < 1e12 ? "%s%.0fs" : "%s%.3es", sign, a);
    return buf;
  }
  const Unit* units[] = {&k_ns, &k_us, &k_ms, &k_s};
  size_t i = a < 1e-6 ? 0 : a < 1e-3 ? 1 : a < 1 ? 2 : 3;
  for (;; ++i) {
    const Unit& u = *units[i];
    double v = a / u.scale;
    const char* name = utf8 ? u.utf8 : u.ascii;
    if (i == 0) {  // ns: whole nanoseconds are the resolution of the daemon's clock
      if (std::round(v) >= 1000.0) {
        continue;
      }
      std::snprintf(buf, sizeof buf, "%s%.0f%s", sign, v, name);
      return buf;
    }
    int decimals = v >= 1000 ? 0 : v >= 100 ? 1 : v >= 10 ? 2 : 3;
    double p = std::pow(10.0, decimals);
    double r = std::round(v * p) / p;
    if (r >= 1000.0 && i < 3) {
      continue;
    }
    if (r >= 100 && decimals > 1) {  // rounding crossed a decade: one decimal fewer
      decimals = 1;
    } else if (r >= 10 && decimals > 2) {
      decimals = 2;
    }
    std::snprintf(buf, sizeof buf, "%s%.*f%s", sign, decimals, v, name);
    return buf;
  }
}

}  // namespace

std::string format_offset(double s, bool utf8) { return time_text(s, true, utf8); }

std::string format_time(double s, bool utf8) { return time_text(std::isfinite(s) ? std::fabs(s) : s, false, utf8); }

std::string format_offset_err(double offset_s, double error_s, bool utf8) {
  return format_offset(offset_s, utf8) + (utf8 ? "\xC2\xB1" : "+-") + format_time(error_s, utf8);
}

std::string format_ppm(double ppm) {
  if (!std::isfinite(ppm)) {
    return "-";
  }
  if (ppm == 0.0) {
    return "0.000ppm";
  }
  char buf[48];
  double a = std::fabs(ppm);
  if (a >= 1e5) {
    std::snprintf(buf, sizeof buf, "%+.0fppm", ppm);  // whole ppm, never e-notation
  } else if (a >= 100) {
    std::snprintf(buf, sizeof buf, "%+.1fppm", ppm);
  } else {
    std::snprintf(buf, sizeof buf, "%+.3fppm", ppm);
  }
  return buf;
}

std::string format_reach(uint8_t reach) {
  std::string s(8, '0');
  for (int bit = 0; bit < 8; ++bit) {
    if (reach & (1u << bit)) {
      s[7 - bit] = '1';
    }
  }
  return s;
}

int parse_reach(std::string_view octal) {
  if (octal.empty() || octal.size() > 3) {
    return -1;
  }
  int v = 0;
  for (char c : octal) {
    if (c < '0' || c > '7') {
      return -1;
    }
    v = v * 8 + (c - '0');
  }
  return v <= 0377 ? v : -1;
}

std::string format_poll(int log2_s) {
  if (log2_s < -30 || log2_s > 30) {
    return "-";
  }
  char buf[32];
  if (log2_s >= 0) {
    std::snprintf(buf, sizeof buf, "%llus", 1ULL << log2_s);
  } else {
    std::snprintf(buf, sizeof buf, "%gs", std::ldexp(1.0, log2_s));
  }
  return buf;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) {
    return "-";
  }
  char buf[48];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", std::floor(s));
  } else if (s < 3600) {
    auto t = static_cast<long long>(s);
    std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  } else if (s < 86400) {
    auto t = static_cast<long long>(s) / 60;
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 60, t % 60);
  } else if (s < 1e9) {
    auto t = static_cast<long long>(s) / 3600;
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", t / 24, t % 24);
  } else {
    return "long";
  }
  return buf;
}

std::string format_rate(double per_s) {
  if (!std::isfinite(per_s) || per_s < 0) {
    return "-";
  }
  char buf[48];
  if (per_s == 0) {
    return "0/s";
  } else if (per_s < 10) {
    std::snprintf(buf, sizeof buf, "%.2f/s", per_s);
  } else if (per_s < 100) {
    std::snprintf(buf, sizeof buf, "%.1f/s", per_s);
  } else if (per_s < 10000) {
    std::snprintf(buf, sizeof buf, "%.0f/s", per_s);
  } else if (per_s < 1e7) {
    std::snprintf(buf, sizeof buf, "%.1fk/s", per_s / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fM/s", per_s / 1e6);
  }
  return buf;
}

std::string format_count(uint64_t n) {
  char buf[32];
  if (n < 1000000) {
    std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
  } else if (n < 1000000000ULL) {
    std::snprintf(buf, sizeof buf, "%.2fM", static_cast<double>(n) / 1e6);
  } else if (n < 1000000000000ULL) {
    std::snprintf(buf, sizeof buf, "%.2fG", static_cast<double>(n) / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.2fT", static_cast<double>(n) / 1e12);
  }
  return buf;
}

std::string format_refid(std::string_view hex) {
  if (hex.substr(0, 2) == "0x" || hex.substr(0, 2) == "0X") {
    hex.remove_prefix(2);
  }
  if (hex.size() != 8) {
    return hex.empty() ? "-" : std::string(hex.substr(0, 16));
  }
  uint32_t id = 0;
  for (char c : hex) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) {
      return std::string(hex.substr(0, 16));
    }
    id = (id << 4) | static_cast<uint32_t>(d);
  }
  unsigned char b[4] = {static_cast<unsigned char>(id >> 24), static_cast<unsigned char>(id >> 16),
                        static_cast<unsigned char>(id >> 8), static_cast<unsigned char>(id)};
  char upper[9];
  std::snprintf(upper, sizeof upper, "%08X", id);
  // A name: an upper-case letter first, then letters/digits, NUL padded at the end.
  bool name = b[0] >= 'A' && b[0] <= 'Z';
  bool ended = false;
  std::string text;
  for (int i = 0; i < 4 && name; ++i) {
    if (b[i] == 0) {
      ended = true;
    } else if (ended || !((b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= '0' && b[i] <= '9'))) {
      name = false;
    } else {
      text += static_cast<char>(b[i]);
    }
  }
  if (!name) {
    char quad[20];
    std::snprintf(quad, sizeof quad, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    text = quad;
  }
  if (id == 0) {
    return "-";
  }
  return text + " (" + upper + ")";
}

std::string format_civil(core::Timestamp t, int32_t utc_offset_s, bool time_only) {
  core::WallTime c = core::to_wall_time(t, utc_offset_s);
  char buf[48];
  if (time_only) {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", c.hour, c.minute, c.second);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d:%02d", static_cast<long long>(c.year), c.month, c.day,
                  c.hour, c.minute, c.second);
  }
  return buf;
}

std::string format_utc_offset(int32_t utc_offset_s, bool z) {
  if (utc_offset_s == 0 && z) {
    return "Z";
  }
  int32_t a = utc_offset_s < 0 ? -utc_offset_s : utc_offset_s;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%c%02d:%02d", utc_offset_s < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return buf;
}

std::string clean(std::string_view s, size_t max_bytes) {
  bool utf8 = core::valid_utf8(s);
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) {
      out += '?';
    } else if (c >= 0x80 && !utf8) {
      out += '?';
    } else {
      out += ch;
    }
  }
  if (out.size() > max_bytes) {
    size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    out.resize(cut);
  }
  return out;
}

size_t display_width(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

namespace {

// Byte length of the first `cols` code points of s.
size_t prefix_bytes(std::string_view s, size_t cols) {
  size_t n = 0;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (n == cols) {
        break;
      }
      ++n;
    }
  }
  return i;
}

}  // namespace

std::string fit(std::string_view s, size_t width, bool mark) {
  size_t w = display_width(s);
  if (w <= width) {
    return std::string(s) + std::string(width - w, ' ');
  }
  if (width == 0) {
    return "";
  }
  if (!mark) {
    return std::string(s.substr(0, prefix_bytes(s, width)));
  }
  return std::string(s.substr(0, prefix_bytes(s, width - 1))) + "~";
}

std::string fit_right(std::string_view s, size_t width) {
  size_t w = display_width(s);
  if (w <= width) {
    return std::string(width - w, ' ') + std::string(s);
  }
  return fit(s, width, true);
}

}  // namespace tr7::top
