// tr7ntpc output rendering (see render.h).
#include "tools/tr7ntpc/render.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "core/strutil.h"
#include "ctl/json.h"
#include "ctl/status.h"
#include "tools/tr7ntpc/tables.h"

namespace tr7::tools {

Result<Body> decode_body(ctl::Shape shape, const std::vector<std::string>& lines) {
  Body b;
  if (shape == ctl::Shape::Text) {
    for (const auto& l : lines) {
      b.text.push_back(ctl::unstuff_line(l));
    }
    return b;
  }
  for (const auto& l : lines) {
    auto r = ctl::decode_record(l);
    if (!r) {
      return unexpected("bad record from the daemon: " + r.error());
    }
    b.records.push_back(std::move(*r));
  }
  return b;
}

namespace {

bool is_time_key(const std::string& k) { return k.size() > 4 && k.compare(k.size() - 4, 4, "_utc") == 0; }

std::string display_key(const std::string& k, const RenderOptions& opt) {
  if (is_time_key(k) && !opt.utc) {
    return k.substr(0, k.size() - 4);
  }
  return k;
}

bool ends_with(const std::string& s, const char* suffix) {
  std::string x = suffix;
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// A value for people: local times, ages, seconds and ppm with units, never e-notation.
std::string display_value(const std::string& k, const std::string& v, const RenderOptions& opt) {
  if (is_time_key(k)) {
    return local_time(v, opt);
  }
  if (ends_with(k, "_ago_s") || ends_with(k, "_age_s")) {
    return v.empty() ? "never" : ctl::is_json_number(v) ? fmt_age(std::strtod(v.c_str(), nullptr)) : v;
  }
  if (!ctl::is_json_number(v)) {
    return v;
  }
  double d = std::strtod(v.c_str(), nullptr);
  bool integer = v.find_first_of(".eE") == std::string::npos;
  if (ends_with(k, "_s") && !integer) {
    return fmt_precise(d, d < 0 || k.find("offset") != std::string::npos);
  }
  if (ends_with(k, "_ppm")) {
    return fmt_ppm(d) + " ppm";
  }
  return fmt_plain(v);
}

std::string local_fn(const std::string& utc, const void* ctx) {
  return local_time(utc, *static_cast<const RenderOptions*>(ctx));
}

std::string cut(const std::string& v, size_t max) {
  if (v.size() <= max) {
    return v;
  }
  std::string s = v.substr(0, max - 3);
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) {
    s.pop_back();  // never cut inside a UTF-8 sequence
  }
  if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xC0) {
    s.pop_back();
  }
  return s + "...";
}

// Display width: UTF-8 continuation bytes do not count.
size_t width(const std::string& s) {
  size_t w = 0;
  for (char c : s) {
    w += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return w;
}

bool numeric(const std::string& v) { return ctl::is_json_number(v); }

std::string pad(const std::string& s, size_t w, bool right) {
  size_t n = width(s);
  std::string sp(w > n ? w - n : 0, ' ');
  return right ? sp + s : s + sp;
}

std::string one_line(const std::string& v) {
  std::string s = v;
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') {
      c = ' ';
    }
  }
  return s;
}

std::string human(ctl::Cmd cmd, const Body& b, const RenderOptions& opt) {
  const ctl::CmdInfo& ci = ctl::info(cmd);
  std::string out;
  if (ci.shape == ctl::Shape::Text) {
    for (const auto& l : b.text) {
      out += l + "\n";
    }
    return out;
  }
  TableOptions topt;
  topt.verbose = opt.verbose;
  topt.numeric = opt.numeric;
  topt.max_width = opt.max_width;
  if (auto r = people_report(ci.name, b.records, topt, local_fn, &opt)) {
    return *r;
  }
  if (ci.shape == ctl::Shape::KeyValue || ci.shape == ctl::Shape::None) {
    size_t kw = 0;
    for (const auto& r : b.records) {
      for (const auto& [k, v] : r) {
        kw = std::max(kw, display_key(k, opt).size());
      }
    }
    for (const auto& r : b.records) {
      for (const auto& [k, v] : r) {
        out += pad(display_key(k, opt), kw, false) + " : " + one_line(display_value(k, v, opt)) + "\n";
      }
    }
    return out;
  }
  // Table.
  if (b.records.empty()) {
    return "(none)\n";
  }
  std::vector<std::string> keys;
  for (const auto& [k, v] : b.records[0]) {
    keys.push_back(k);
  }
  std::vector<std::vector<std::string>> cells;
  std::vector<Column> cols;
  for (const auto& k : keys) {
    cols.push_back(Column{display_key(k, opt), true, false, 8});
  }
  for (const auto& r : b.records) {
    std::vector<std::string> row;
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string* v = ctl::find(r, keys[i]);
      std::string s = v ? cut(one_line(display_value(keys[i], *v, opt)), opt.max_cell) : "";
      if (!s.empty() && !(v && numeric(*v))) {
        cols[i].right = false;  // text: left-aligned, and may be shortened to fit
        cols[i].cut = true;
      }
      row.push_back(std::move(s));
    }
    cells.push_back(std::move(row));
  }
  return format_table(cols, cells, opt.max_width, "");
}

std::string record_json(const ctl::Record& r) {
  std::string s = "{";
  for (size_t i = 0; i < r.size(); ++i) {
    s += (i ? "," : "") + ctl::json_string(r[i].first) + ":" + json_field(r[i].first, r[i].second);
  }
  return s + "}";
}

}  // namespace

std::string json_field(const std::string& key, const std::string& value) {
  if (value.empty()) {
    return "null";
  }
  static const char* const k_text[] = {
      "name",       "address",  "ref_name", "abbreviation", "zone",  "command",  "before",       "after",
      "result",     "netns",    "listen",   "prefix",       "rule",  "tenant",   "reason",       "reasons",
      "local_time", "utc_time", "device",   "help",         "args",  "message",  "host",         "local_address",
      "ratelimit",  "rules",    "origin",   "via",          "user",  "group",    "restart_keys", "node",
      "prev_hash",  "hash",     "problem",  "where",        "files", "key_type", "ke_error"};  // authdata
  for (const char* t : k_text) {
    if (key == t) {
      return ctl::json_string(value);
    }
  }
  if (key == "reach" && value.size() <= 3 && value.find_first_not_of("01234567") == std::string::npos) {
    return std::to_string(std::strtol(value.c_str(), nullptr, 8));
  }
  if (value == "yes" || value == "true") {
    return "true";
  }
  if (value == "no" || value == "false") {
    return "false";
  }
  return ctl::json_value(value);
}

std::string local_time(const std::string& utc_value, const RenderOptions& opt) {
  if (utc_value.empty()) {
    return "-";
  }
  auto t = ctl::parse_rfc3339(utc_value);
  if (!t) {
    return utc_value;
  }
  int32_t off = 0;
  std::string abbr = "UTC";
  if (!opt.utc && opt.zone) {
    core::LocalInfo li = core::local_info(*opt.zone, *t);
    off = li.utc_offset_s;
    abbr = li.abbr;
  }
  core::WallTime c = core::to_wall_time(*t, off);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d %02d:%02d:%02d.%06lld %s", static_cast<long long>(c.year), c.month,
                c.day, c.hour, c.minute, c.second, static_cast<long long>(c.nanosecond / 1000), abbr.c_str());
  return buf;
}

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) {
    return v;
  }
  std::string s = "\"";
  for (char c : v) {
    if (c == '"') {
      s += "\"\"";
    } else {
      s += c;
    }
  }
  return s + "\"";
}

std::string render(ctl::Cmd cmd, const Body& b, const RenderOptions& opt) {
  const ctl::CmdInfo& ci = ctl::info(cmd);
  switch (opt.format) {
    case OutputFormat::Human:
      return human(cmd, b, opt);
    case OutputFormat::Json: {
      if (ci.shape == ctl::Shape::Text) {
        std::string all;
        for (const auto& l : b.text) {
          all += l + "\n";
        }
        return "{\"text\":" + ctl::json_string(all) + "}\n";
      }
      if (ci.shape == ctl::Shape::Table) {
        std::string s = "[";
        for (size_t i = 0; i < b.records.size(); ++i) {
          s += (i ? ",\n" : "") + record_json(b.records[i]);
        }
        return s + "]\n";
      }
      if (b.records.empty()) {
        return "{\"ok\":true}\n";
      }
      ctl::Record merged;
      for (const auto& r : b.records) {
        merged.insert(merged.end(), r.begin(), r.end());
      }
      return record_json(merged) + "\n";
    }
    case OutputFormat::Csv: {
      std::string out;
      if (ci.shape == ctl::Shape::Text) {
        for (const auto& l : b.text) {
          out += l + "\n";
        }
        return out;
      }
      for (const auto& r : b.records) {
        std::string l;
        for (size_t i = 0; i < r.size(); ++i) {
          l += (i ? "," : "") + csv_field(r[i].second);
        }
        out += l + "\n";
      }
      return out;
    }
  }
  return {};
}

std::string render_error(const ctl::Error& e, const RenderOptions& opt) {
  if (opt.format == OutputFormat::Json) {
    ctl::JsonObject inner;
    inner.num("code", static_cast<long long>(static_cast<int>(e.code)));
    inner.str("name", ctl::to_string(e.code));
    inner.str("message", e.text);
    return "{\"error\":" + inner.done() + "}\n";
  }
  return e.text + " (error " + std::to_string(static_cast<int>(e.code)) + ", " + ctl::to_string(e.code) + ")\n";
}

std::string help_text() {
  std::string s =
      "Usage: tr7ntpc [OPTION]... COMMAND [ARGUMENT]...\n"
      "Control and monitor tr7ntpd through its control socket.\n"
      "\n"
      "  -s, --socket PATH  control socket (default $TR7NTPC_SOCKET or /run/tr7ntp/tr7ntpd.sock)\n"
      "  -j, --json         one JSON document per command (errors too, on stdout)\n"
      "  -c, --csv          comma-separated values, no header (like chronyc -c)\n"
      "  -u, --utc          show times in UTC instead of the daemon's time zone\n"
      "  -v, --verbose      tables: a legend explaining the columns first (as chronyc -v)\n"
      "  -n, --numeric      sources: addresses instead of the configured names (tr7ntpc\n"
      "                     itself never looks names up)\n"
      "  -t, --timeout S    seconds to wait for the daemon's answer (default 10)\n"
      "  -V, --version      print the version and exit\n"
      "  -h, --help         print this help and exit\n"
      "\n"
      "Commands (admin: root or admin_group; read: also monitor_group):\n";
  size_t w = 0;
  for (const auto& ci : ctl::k_commands) {
    w = std::max(w, ctl::usage(ci.cmd).size());
  }
  for (const auto& ci : ctl::k_commands) {
    std::string u = ctl::usage(ci.cmd);
    if (ci.cmd == ctl::Cmd::WaitSync) {
      u = "waitsync [--max-offset S] [--timeout S] [--interval S]";
    }
    w = std::min<size_t>(w, 30);
    std::string h = std::string(ci.access == ctl::Access::Admin ? "[admin] " : "") + ci.help;
    if (u.size() > w || 2 + w + 2 + h.size() > 100) {
      // A long synopsis or help: the help on lines of its own (no line over 100 columns).
      s += "  " + u + "\n";
      std::string l = "      ";
      for (const auto& word : core::split_words(h)) {
        if (l.size() > 6 && l.size() + 1 + word.size() > 100) {
          s += l + "\n";
          l = "      ";
        }
        l += (l.size() > 6 ? " " : "") + word;
      }
      s += l + "\n";
      continue;
    }
    s += "  " + u + std::string(w + 2 - u.size(), ' ') + h + "\n";
  }
  s += "\n"
       "Exit status: 0 ok, 1 command refused or failed, 2 usage error, 3 daemon unreachable\n"
       "(busy, no permission, no answer), 4 tr7ntpd is not running (no socket, or a stale one).\n"
       "See tr7ntpc(1) and tr7ntp-control(7).\n";
  return s;
}

}  // namespace tr7::tools
