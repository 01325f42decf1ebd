// tr7ntpd.conf parsing and validation (see config.h).
#include "daemon/config.h"

#include <ini.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/strutil.h"

namespace tr7::daemon {

const char* to_string(ClockMode m) { return m == ClockMode::None ? "none" : "kernel"; }

namespace {

using core::parse_bool;
using core::parse_double;
using core::parse_int;
using core::split_list;
using core::split_words;

// The line reader handed to inih: one physical line per call, with our checks.
struct Reader {
  std::string_view text;
  size_t pos = 0;
  int line = 0;
  std::string name;
  std::vector<std::string>* errors;
  std::vector<int> bad_lines;  // lines already reported by the reader

  void error(const std::string& msg) {
    errors->push_back(name + ":" + std::to_string(line) + ": " + msg);
    bad_lines.push_back(line);
  }

  static char* read(char* str, int num, void* stream) {
    auto* r = static_cast<Reader*>(stream);
    if (r->pos >= r->text.size()) {
      return nullptr;
    }
    size_t end = r->text.find('\n', r->pos);
    size_t next = end == std::string_view::npos ? r->text.size() : end + 1;
    std::string_view raw = r->text.substr(r->pos, (end == std::string_view::npos ? r->text.size() : end) - r->pos);
    r->pos = next;
    ++r->line;
    if (!raw.empty() && raw.back() == '\r') {
      raw.remove_suffix(1);  // CRLF files are accepted
    }
    if (r->line == 1 && raw.substr(0, 3) == "\xEF\xBB\xBF") {
      raw.remove_prefix(3);
    }
    std::string line(raw);
    bool bad = false;
    if (line.find('\0') != std::string::npos) {
      r->error("NUL byte in line");
      bad = true;
    } else if (!core::valid_utf8(line)) {
      r->error("invalid UTF-8");
      bad = true;
    } else if (line.find('\r') != std::string::npos) {
      r->error("carriage return inside a line");
      bad = true;
    } else if (line.size() > k_config_max_line || line.size() + 3 > static_cast<size_t>(num)) {
      r->error("line too long (" + std::to_string(line.size()) + " bytes, at most " +
               std::to_string(k_config_max_line) + "; list keys may be repeated instead)");
      bad = true;
    }
    std::string_view t = core::trim(line);
    if (!bad && !t.empty() && t[0] != ';' && t[0] != '#') {
      if (t[0] == '[') {
        size_t close = t.find(']');
        if (close == std::string_view::npos) {
          r->error("unclosed section header");
          bad = true;
        } else if (close > 49) {
          r->error("section name too long");
          bad = true;
        } else {
          std::string_view after = core::trim(t.substr(close + 1));
          if (!after.empty() && after[0] != ';' && after[0] != '#') {
            r->error("text after section header");
            bad = true;
          }
        }
      } else if (t.find('=') == std::string_view::npos && t.find(':') == std::string_view::npos) {
        r->error("expected 'key = value'");
        bad = true;
      } else if (t.find('=') != std::string_view::npos && t.find('=') == 0) {
        r->error("missing key before '='");
        bad = true;
      }
    }
    // Hand inih the trimmed line (never an indented one: inih would treat it as a
    // continuation of the previous key). A bad line becomes a comment so inih skips it.
    std::string out = bad ? std::string(";") : std::string(t);
    out += '\n';
    if (out.size() + 1 > static_cast<size_t>(num)) {
      out = ";\n";
    }
    std::memcpy(str, out.c_str(), out.size() + 1);
    return str;
  }
};

struct KeyDef {
  bool repeatable;
  // Applies one value; returns an error text or nothing.
  std::function<std::optional<std::string>(const std::string& value, int line)> apply;
};

class Parser {
 public:
  Parser(std::string name, std::vector<std::string>& errors) : m_name(std::move(name)), m_errors(errors) {
    m_cfg.path = m_name;
    define_daemon();
    define_server();
  }

  int handle(const char* section, const char* key, const char* value) {
    int line = m_reader->line;
    std::string sec(section);
    if (sec.empty()) {
      error(line, "key '" + std::string(key) + "' outside any section");
      return 1;
    }
    auto sit = m_sections.find(sec);
    if (sit == m_sections.end()) {
      return 1;  // the section header was reported already
    }
    auto kit = sit->second.find(key);
    if (kit == sit->second.end()) {
      error(line, "unknown key '" + std::string(key) + "' in [" + sec + "]");
      return 1;
    }
    std::string full = sec + "." + key;
    auto seen = m_seen.find(full);
    if (seen != m_seen.end() && !kit->second.repeatable) {
      error(line, "duplicate key '" + std::string(key) + "' (first set on line " + std::to_string(seen->second) + ")");
      return 1;
    }
    m_seen.emplace(full, line);
    std::string v(value);
    if (v.empty()) {
      error(line, std::string(key) + ": missing value");
      return 1;
    }
    if (auto err = kit->second.apply(v, line)) {
      error(line, std::string(key) + ": " + *err);
      return 1;
    }
    return 1;
  }

  void set_reader(Reader* r) { m_reader = r; }
  void note_section(const std::string& sec, int line) {
    if (!m_sections.count(sec)) {
      error(line, "unknown section [" + sec + "]");
      return;
    }
    auto [it, fresh] = m_section_lines.emplace(sec, line);
    if (!fresh) {
      error(line, "duplicate section [" + sec + "] (first on line " + std::to_string(it->second) + ")");
    }
  }
  Config& config() { return m_cfg; }
  void finish();

 private:
  void error(int line, const std::string& msg) { m_errors.push_back(m_name + ":" + std::to_string(line) + ": " + msg); }
  void warn(int line, const std::string& msg) { m_cfg.warnings.push_back(m_name + ":" + std::to_string(line) + ": " + msg); }
  void define_daemon();
  void define_server();
  std::optional<std::string> add_rules(const std::string& v, int line, core::AccessAction action);

  std::string m_name;
  std::vector<std::string>& m_errors;
  Reader* m_reader = nullptr;
  Config m_cfg;
  std::map<std::string, std::map<std::string, KeyDef>> m_sections;
  std::map<std::string, int> m_seen;
  std::map<std::string, int> m_section_lines;
  std::vector<std::pair<core::Prefix, int>> m_rule_lines;
};

void Parser::define_daemon() {
  auto& s = m_sections["daemon"];
  s["clock"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                  if (v == "none") {
                    m_cfg.daemon.clock = ClockMode::None;
                  } else if (v == "kernel") {
                    m_cfg.daemon.clock = ClockMode::Kernel;
                  } else {
                    return "expected 'kernel' or 'none', not '" + v + "'";
                  }
                  return std::nullopt;
                }};
  s["state_dir"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                      if (v[0] != '/') {
                        return "must be an absolute path";
                      }
                      if (v.size() > 200) {
                        return "path too long";
                      }
                      m_cfg.daemon.state_dir = v;
                      return std::nullopt;
                    }};
  s["log_level"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                      if (!parse_log_level(v.c_str(), m_cfg.daemon.log_level)) {
                        return "expected error, warning, info or debug";
                      }
                      return std::nullopt;
                    }};
}

std::optional<std::string> Parser::add_rules(const std::string& v, int line, core::AccessAction action) {
  auto items = split_list(v);
  if (!items) {
    return items.error();
  }
  for (const auto& item : *items) {
    auto p = core::parse_prefix(item);
    if (!p) {
      return p.error();
    }
    if (p->len == 0) {
      warn(line, std::string(action == core::AccessAction::Allow ? "allow" : "deny") + " " + p->to_string() +
                     " matches every " + (p->addr.is_v4() ? "IPv4" : "IPv6") + " address");
    }
    if (!m_cfg.server.access.add(core::AccessRule{*p, action})) {
      int first = 0;
      for (const auto& [pre, l] : m_rule_lines) {
        if (pre == *p) {
          first = l;
        }
      }
      return p->to_string() + " already has a rule (line " + std::to_string(first) + ")";
    }
    m_rule_lines.emplace_back(*p, line);
  }
  return std::nullopt;
}

void Parser::define_server() {
  auto& s = m_sections["server"];
  s["listen"] = {true, [this](const std::string& v, int) -> std::optional<std::string> {
                   auto items = split_list(v);
                   if (!items) {
                     return items.error();
                   }
                   for (const auto& item : *items) {
                     auto a = core::parse_sockaddr(item);
                     if (!a) {
                       return a.error();
                     }
                     for (const auto& l : m_cfg.server.listen) {
                       if (l == *a) {
                         return "duplicate listen address " + a->to_string();
                       }
                     }
                     m_cfg.server.listen.push_back(*a);
                   }
                   return std::nullopt;
                 }};
  s["allow"] = {true, [this](const std::string& v, int line) { return add_rules(v, line, core::AccessAction::Allow); }};
  s["deny"] = {true, [this](const std::string& v, int line) { return add_rules(v, line, core::AccessAction::Deny); }};
  s["local_stratum"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                          auto n = parse_int(v, 1, 15);
                          if (!n) {
                            return n.error();
                          }
                          m_cfg.server.local_stratum = static_cast<uint8_t>(*n);
                          return std::nullopt;
                        }};
  s["max_clients"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                        auto n = parse_int(v, 16, 16777216);
                        if (!n) {
                          return n.error();
                        }
                        m_cfg.server.max_clients = static_cast<size_t>(*n);
                        return std::nullopt;
                      }};
  s["threads"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                    if (v == "auto") {
                      m_cfg.server.threads = 0;
                      return std::nullopt;
                    }
                    auto n = parse_int(v, 1, k_max_server_threads);
                    if (!n) {
                      return n.error() + " (or 'auto')";
                    }
                    m_cfg.server.threads = static_cast<unsigned>(*n);
                    return std::nullopt;
                  }};
  s["tx_timestamp"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                         if (v == "spread") {
                           m_cfg.server.tx_spread = true;
                         } else if (v == "batch") {
                           m_cfg.server.tx_spread = false;
                         } else {
                           return "expected 'spread' or 'batch', not '" + v + "'";
                         }
                         return std::nullopt;
                       }};
  s["busy_poll"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                      auto n = parse_int(v, 0, 1000);
                      if (!n) {
                        return n.error() + " (microseconds, 0 = off)";
                      }
                      m_cfg.server.busy_poll_us = static_cast<unsigned>(*n);
                      return std::nullopt;
                    }};
  s["deny_kod"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                     auto b = parse_bool(v);
                     if (!b) {
                       return b.error();
                     }
                     m_cfg.server.deny_kod = *b;
                     return std::nullopt;
                   }};
  s["ratelimit"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                      core::RateLimitParams p;
                      p.enabled = true;
                      auto w = split_words(v);
                      if (w.size() % 2 != 0) {
                        return std::string("expected 'interval SECONDS burst N [kod yes|no] [leak N]'");
                      }
                      std::map<std::string, bool> seen;
                      for (size_t i = 0; i < w.size(); i += 2) {
                        const std::string& k = w[i];
                        const std::string& val = w[i + 1];
                        if (!seen.emplace(k, true).second) {
                          return "'" + k + "' given twice";
                        }
                        if (k == "interval") {
                          auto d = parse_double(val, 0.001, 86400);
                          if (!d) {
                            return "interval: " + d.error();
                          }
                          p.interval_s = *d;
                        } else if (k == "burst") {
                          auto n = parse_int(val, 1, 1024);
                          if (!n) {
                            return "burst: " + n.error();
                          }
                          p.burst = static_cast<uint32_t>(*n);
                        } else if (k == "kod") {
                          auto b = parse_bool(val);
                          if (!b) {
                            return "kod: " + b.error();
                          }
                          p.kod = *b;
                        } else if (k == "leak") {
                          auto n = parse_int(val, 0, 16);
                          if (!n) {
                            return "leak: " + n.error();
                          }
                          p.leak = static_cast<uint32_t>(*n);
                        } else {
                          return "unknown option '" + k + "' (interval, burst, kod, leak)";
                        }
                      }
                      if (!seen.count("interval") || !seen.count("burst")) {
                        return std::string("needs both 'interval SECONDS' and 'burst N'");
                      }
                      m_cfg.server.ratelimit = p;
                      return std::nullopt;
                    }};
}

void Parser::finish() {}

int ini_handler_fn(void* user, const char* section, const char* name, const char* value) {
  return static_cast<Parser*>(user)->handle(section, name, value);
}

}  // namespace

ConfigResult parse_config_text(std::string_view text, const std::string& name) {
  std::vector<std::string> errors;
  Parser parser(name, errors);
  Reader reader;
  reader.text = text;
  reader.name = name;
  reader.errors = &errors;
  parser.set_reader(&reader);

  // Section headers are checked here (inih does not report them): duplicates.
  {
    Reader pre;
    std::vector<std::string> ignored;
    pre.text = text;
    pre.name = name;
    pre.errors = &ignored;
    char buf[512];
    while (Reader::read(buf, sizeof buf, &pre) != nullptr) {
      std::string_view t = core::trim(buf);
      if (!t.empty() && t[0] == '[' && t.find(']') != std::string_view::npos) {
        parser.note_section(std::string(core::trim(t.substr(1, t.find(']') - 1))), pre.line);
      }
    }
  }

  int rc = ini_parse_stream(&Reader::read, &reader, &ini_handler_fn, &parser);
  if (rc < 0) {
    errors.push_back(name + ": cannot parse (out of memory)");
  } else if (rc > 0) {
    bool known = false;
    for (int l : reader.bad_lines) {
      known = known || l == rc;
    }
    if (!known && errors.empty()) {
      errors.push_back(name + ":" + std::to_string(rc) + ": syntax error");
    }
  }
  parser.finish();
  if (!errors.empty()) {
    // Report in file order (section checks ran before the main pass).
    auto line_of = [&](const std::string& e) {
      return std::atoi(e.c_str() + std::min(e.size(), name.size() + 1));
    };
    std::stable_sort(errors.begin(), errors.end(),
                     [&](const std::string& a, const std::string& b) { return line_of(a) < line_of(b); });
    return unexpected(std::move(errors));
  }
  return std::move(parser.config());
}

ConfigResult load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return unexpected(std::vector<std::string>{path + ": cannot open: " + std::strerror(errno)});
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > 1024 * 1024) {
    return unexpected(std::vector<std::string>{path + ": file too large (over 1 MiB)"});
  }
  auto r = parse_config_text(text, path);
  if (r) {
    struct stat st{};
    if (stat(path.c_str(), &st) == 0 && (st.st_mode & S_IWOTH)) {
      r->warnings.push_back(path + ": file is world-writable");
    }
  }
  return r;
}

}  // namespace tr7::daemon
