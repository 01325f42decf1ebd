// Minimal flat-object JSON (see json.h).
#include "ctl/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/strutil.h"

namespace tr7::ctl {

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t utf8_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    return 0;
  }
  return core::valid_utf8(s.substr(i, n)) ? n : 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      size_t n = utf8_len(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
    }
  }
  out += '"';
  return out;
}

bool is_json_number(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (i >= s.size()) {
    return false;
  }
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t d = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    if (i == d) {
      return false;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    size_t d = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    if (i == d) {
      return false;
    }
  }
  if (i != s.size() || s.size() > 40) {
    return false;
  }
  std::string buf(s);
  double v = std::strtod(buf.c_str(), nullptr);
  return std::isfinite(v);
}

std::string json_value(std::string_view s) { return is_json_number(s) ? std::string(s) : json_string(s); }

void JsonObject::key(std::string_view k) {
  if (m_s.size() > 1) {
    m_s += ',';
  }
  m_s += json_string(k);
  m_s += ':';
}

JsonObject& JsonObject::str(std::string_view k, std::string_view v) {
  key(k);
  m_s += json_string(v);
  return *this;
}

JsonObject& JsonObject::num(std::string_view k, long long v) {
  key(k);
  m_s += std::to_string(v);
  return *this;
}

JsonObject& JsonObject::num(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    m_s += "null";
  } else {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    m_s += buf;
  }
  return *this;
}

JsonObject& JsonObject::raw(std::string_view k, std::string_view json) {
  key(k);
  m_s += json;
  return *this;
}

JsonObject& JsonObject::null(std::string_view k) {
  key(k);
  m_s += "null";
  return *this;
}

namespace {

struct Cursor {
  std::string_view s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
      ++i;
    }
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
};

int hex4(std::string_view s, size_t i) {
  if (i + 4 > s.size()) {
    return -1;
  }
  int v = 0;
  for (size_t k = 0; k < 4; ++k) {
    char c = s[i + k];
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) {
      return -1;
    }
    v = v * 16 + d;
  }
  return v;
}

Result<std::string> parse_string(Cursor& c) {
  c.ws();
  if (c.i >= c.s.size() || c.s[c.i] != '"') {
    return unexpected(std::string("expected a string"));
  }
  ++c.i;
  std::string out;
  while (c.i < c.s.size()) {
    auto ch = static_cast<unsigned char>(c.s[c.i]);
    if (ch == '"') {
      ++c.i;
      if (!core::valid_utf8(out)) {
        return unexpected(std::string("invalid UTF-8 in string"));
      }
      return out;
    }
    if (ch < 0x20) {
      return unexpected(std::string("control character in string"));
    }
    if (ch != '\\') {
      out += static_cast<char>(ch);
      ++c.i;
      continue;
    }
    if (++c.i >= c.s.size()) {
      break;
    }
    char e = c.s[c.i++];
    switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        int cp = hex4(c.s, c.i);
        if (cp < 0) {
          return unexpected(std::string("bad \\u escape"));
        }
        c.i += 4;
        uint32_t code = static_cast<uint32_t>(cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          int lo = (c.i + 1 < c.s.size() && c.s[c.i] == '\\' && c.s[c.i + 1] == 'u') ? hex4(c.s, c.i + 2) : -1;
          if (lo < 0xDC00 || lo > 0xDFFF) {
            return unexpected(std::string("unpaired surrogate"));
          }
          c.i += 6;
          code = 0x10000 + ((static_cast<uint32_t>(cp) - 0xD800) << 10) + (static_cast<uint32_t>(lo) - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return unexpected(std::string("unpaired surrogate"));
        }
        append_utf8(out, code);
        break;
      }
      default:
        return unexpected(std::string("bad escape"));
    }
  }
  return unexpected(std::string("unterminated string"));
}

}  // namespace

Result<std::vector<JsonField>> parse_flat_object(std::string_view json) {
  Cursor c{json};
  std::vector<JsonField> out;
  if (!c.eat('{')) {
    return unexpected(std::string("expected '{'"));
  }
  if (!c.eat('}')) {
    while (true) {
      auto k = parse_string(c);
      if (!k) {
        return unexpected("key: " + k.error());
      }
      if (!c.eat(':')) {
        return unexpected(std::string("expected ':'"));
      }
      c.ws();
      JsonField f;
      f.key = std::move(*k);
      if (c.i < c.s.size() && c.s[c.i] == '"') {
        auto v = parse_string(c);
        if (!v) {
          return unexpected(f.key + ": " + v.error());
        }
        f.value = std::move(*v);
        f.is_string = true;
      } else {
        size_t start = c.i;
        while (c.i < c.s.size() && c.s[c.i] != ',' && c.s[c.i] != '}' && c.s[c.i] != ' ' && c.s[c.i] != '\n') {
          ++c.i;
        }
        std::string_view lit = c.s.substr(start, c.i - start);
        if (!(lit == "true" || lit == "false" || lit == "null" || is_json_number(lit))) {
          return unexpected(f.key + ": unsupported value (flat objects only)");
        }
        f.value = std::string(lit);
      }
      out.push_back(std::move(f));
      if (c.eat(',')) {
        continue;
      }
      if (c.eat('}')) {
        break;
      }
      return unexpected(std::string("expected ',' or '}'"));
    }
  }
  c.ws();
  if (c.i != c.s.size()) {
    return unexpected(std::string("trailing text after object"));
  }
  return out;
}

}  // namespace tr7::ctl
