#include "core/strutil.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tr7::core {

std::string_view trim(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) {
    ++b;
  }
  size_t e = s.size();
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) {
    --e;
  }
  return s.substr(b, e - b);
}

Result<std::vector<std::string>> split_list(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t next = s.find(sep, pos);
    std::string_view item = trim(s.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (item.empty()) {
      return unexpected(std::string("empty item in list"));
    }
    out.emplace_back(item);
    if (next == std::string_view::npos) {
      break;
    }
    pos = next + 1;
  }
  return out;
}

std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
      ++i;
    }
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') {
      ++j;
    }
    if (j > i) {
      out.emplace_back(s.substr(i, j - i));
    }
    i = j;
  }
  return out;
}

Result<int64_t> parse_int(std::string_view s, int64_t min, int64_t max) {
  std::string range = " (" + std::to_string(min) + ".." + std::to_string(max) + ")";
  if (s.empty()) {
    return unexpected("missing number" + range);
  }
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
  }
  if (i >= s.size()) {
    return unexpected("invalid number '" + std::string(s) + "'" + range);
  }
  if (s.size() - i > 1 && s[i] == '0') {
    return unexpected("invalid number '" + std::string(s) + "' (no leading zeros)");
  }
  // Accumulate as a negative value so INT64_MIN fits.
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') {
      return unexpected("invalid number '" + std::string(s) + "'" + range);
    }
    int d = c - '0';
    if (v < (INT64_MIN + d) / 10) {
      return unexpected("number '" + std::string(s) + "' out of range" + range);
    }
    v = v * 10 - d;
  }
  if (!neg) {
    if (v == INT64_MIN) {
      return unexpected("number '" + std::string(s) + "' out of range" + range);
    }
    v = -v;
  } else if (v == 0) {
    return unexpected("invalid number '" + std::string(s) + "' (negative zero)");
  }
  if (v < min || v > max) {
    return unexpected("number '" + std::string(s) + "' out of range" + range);
  }
  return v;
}

Result<double> parse_double(std::string_view s, double min, double max) {
  char mb[64], xb[64];
  std::snprintf(mb, sizeof mb, "%g", min);
  std::snprintf(xb, sizeof xb, "%g", max);
  std::string range = std::string(" (") + mb + ".." + xb + ")";
  if (s.empty() || s.size() > 40) {
    return unexpected("invalid number '" + std::string(s) + "'" + range);
  }
  // Only [-]digits[.digits][e[+-]digits]: refuses hex floats, nan, inf, "+1", ".5".
  size_t i = 0;
  if (s[i] == '-') {
    ++i;
  }
  size_t int_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
  }
  bool ok = i > int_start;
  if (ok && i < s.size() && s[i] == '.') {
    ++i;
    size_t frac_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    ok = i > frac_start;
  }
  if (ok && i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    size_t exp_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    ok = i > exp_start;
  }
  if (!ok || i != s.size()) {
    return unexpected("invalid number '" + std::string(s) + "'" + range);
  }
  std::string buf(s);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || errno == ERANGE || !std::isfinite(v)) {
    return unexpected("number '" + std::string(s) + "' out of range" + range);
  }
  if (v == 0.0) {
    v = 0.0;  // -0 -> 0
  }
  if (v < min || v > max) {
    return unexpected("number '" + std::string(s) + "' out of range" + range);
  }
  return v;
}

Result<int64_t> parse_size(std::string_view s, int64_t min, int64_t max) {
  int64_t unit = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K':
        unit = 1024;
        break;
      case 'M':
        unit = 1024 * 1024;
        break;
      case 'G':
        unit = 1024 * 1024 * 1024;
        break;
      default:
        break;
    }
  }
  std::string_view digits = unit == 1 ? s : s.substr(0, s.size() - 1);
  auto n = parse_int(digits, 0, max / unit);
  if (!n) {
    return unexpected("invalid size '" + std::string(s) + "' (bytes, or with a K, M or G suffix, up to " +
                      std::to_string(max) + ")");
  }
  if (*n * unit < min) {
    return unexpected("size '" + std::string(s) + "' below " + std::to_string(min) + " bytes");
  }
  return *n * unit;
}

Result<bool> parse_bool(std::string_view s) {
  if (s == "yes" || s == "true" || s == "on" || s == "1") {
    return true;
  }
  if (s == "no" || s == "false" || s == "off" || s == "0") {
    return false;
  }
  return unexpected("expected yes or no, not '" + std::string(s) + "'");
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) {
        return false;
      }
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values above U+10FFFF are invalid.
    static constexpr uint32_t k_min[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < k_min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace tr7::core
