// tr7ntpd.conf parsing and validation (see config.h).
#include "daemon/config.h"

#include <ini.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "core/digest.h"
#include "core/strutil.h"
#include "ctl/command.h"

namespace tr7::daemon {

const char* to_string(ClockMode m) { return m == ClockMode::None ? "none" : "kernel"; }

double SourceConfig::min_interval_s() const {
  if (burst_interval_s) {
    return *burst_interval_s;
  }
  double poll_s = minpoll >= 0 ? static_cast<double>(1 << minpoll) : 1.0 / static_cast<double>(1 << -minpoll);
  return poll_s < 2.0 ? poll_s : 2.0;
}

bool SourceConfig::operator==(const SourceConfig& o) const {
  return kind == o.kind && host == o.host && port == o.port && iburst == o.iburst && minpoll == o.minpoll &&
         maxpoll == o.maxpoll && burst_interval_s == o.burst_interval_s && maxsources == o.maxsources &&
         netns == o.netns && key_id == o.key_id && nts == o.nts && nts_port == o.nts_port;
}

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

// A single-valued key holding an integer (int_key) or a real (real_key) in [lo, hi];
// `set` stores the parsed value.
template <class Set>
KeyDef int_key(int64_t lo, int64_t hi, Set set) {
  return KeyDef{false, [lo, hi, set](const std::string& v, int) -> std::optional<std::string> {
                  auto n = parse_int(v, lo, hi);
                  if (!n) {
                    return n.error();
                  }
                  set(*n);
                  return std::nullopt;
                }};
}
template <class Set>
KeyDef real_key(double lo, double hi, Set set) {
  return KeyDef{false, [lo, hi, set](const std::string& v, int) -> std::optional<std::string> {
                  auto x = parse_double(v, lo, hi);
                  if (!x) {
                    return x.error();
                  }
                  set(*x);
                  return std::nullopt;
                }};
}

class Parser {
 public:
  Parser(std::string name, std::vector<std::string>& errors) : m_name(std::move(name)), m_errors(errors) {
    m_cfg.path = m_name;
    define_daemon();
    define_server();
    define_sources();
    define_discipline();
    define_metrics();
    define_nts();
    define_tenants();
    define_alerts();
    define_history();
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
    if ((sec == "tenant" || sec.rfind("tenant ", 0) == 0) && !m_sections.count(sec)) {
      if (!define_tenant(sec, line)) {
        return;
      }
    }
    if (!m_sections.count(sec)) {
      error(line, "unknown section [" + sec + "]");
      return;
    }
    if (sec == "alerts") {
      m_alerts_line = line;
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
  void warn(int line, const std::string& msg) {
    m_cfg.warnings.push_back(m_name + ":" + std::to_string(line) + ": " + msg);
  }
  void check_open_server();
  void define_daemon();
  void define_server();
  void define_sources();
  void define_discipline();
  std::optional<std::string> add_source(const std::string& v, int line, SourceConfig::Kind kind);
  void define_metrics();
  void define_nts();
  void define_tenants();
  void define_alerts();
  void define_history();
  bool define_tenant(const std::string& sec, int line);
  std::optional<std::string> add_rules(const std::string& v, int line, core::AccessAction action, core::AllowList& into,
                                       const std::string& section);

  std::string m_name;
  std::vector<std::string>& m_errors;
  Reader* m_reader = nullptr;
  Config m_cfg;
  std::map<std::string, std::map<std::string, KeyDef>> m_sections;
  std::map<std::string, int> m_seen;
  std::map<std::string, int> m_section_lines;
  std::map<std::string, std::vector<std::pair<core::Prefix, int>>> m_rule_lines;  // by section
  int m_min_sources_line = 0;
  int m_alerts_line = 0;
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
  // Privilege separation and the clock at start-up (tr7ntpd(8)).
  s["user"] = {false, [this](const std::string& v, int line) -> std::optional<std::string> {
                 // A plain user name (as useradd accepts them), never root.
                 bool ok = !v.empty() && v.size() <= 32 && v[0] != '-' && v[0] != '.';
                 for (char c : v) {
                   ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                               c == '-' || c == '.');
                 }
                 if (!ok) {
                   return "expected a user name ([A-Za-z0-9_.-], at most 32 characters)";
                 }
                 if (v == "root") {
                   return std::string("the worker must not run as root");
                 }
                 m_cfg.daemon.user = v;
                 m_cfg.daemon.user_line = line;
                 return std::nullopt;
               }};
  s["rtc"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                if (v == "none") {
                  m_cfg.daemon.rtc.clear();
                  return std::nullopt;
                }
                if (v.rfind("/dev/", 0) != 0 || v.size() > 64 || v.find("/..") != std::string::npos) {
                  return "expected 'none' or a device path such as /dev/rtc0, not '" + v + "'";
                }
                m_cfg.daemon.rtc = v;
                return std::nullopt;
              }};
  s["max_step"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                     auto d = parse_double(v, 0.001, 3.2e9);
                     if (!d) {
                       return d.error();
                     }
                     m_cfg.daemon.max_step_s = *d;
                     return std::nullopt;
                   }};
  s["max_correction_per_day"] = real_key(0.001, 3.2e9, [this](double d) { m_cfg.daemon.max_correction_per_day_s = d; });
  s["audit_keep"] = int_key(1, 1000, [this](int64_t n) { m_cfg.daemon.audit_keep = static_cast<unsigned>(n); });
  s["max_startup_step"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                             if (v == "unlimited") {
                               m_cfg.daemon.max_startup_step_s = 0.0;
                               return std::nullopt;
                             }
                             auto d = parse_double(v, 1.0, 3.2e9);
                             if (!d) {
                               return "expected 'unlimited' or seconds: " + d.error();
                             }
                             m_cfg.daemon.max_startup_step_s = *d;
                             return std::nullopt;
                           }};
  s["control_socket"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                           if (v != "none" && v[0] != '/') {
                             return "must be an absolute path or 'none'";
                           }
                           // sockaddr_un.sun_path holds 108 bytes with the NUL.
                           if (v.size() > 100) {
                             return "path too long (at most 100 bytes)";
                           }
                           if (v.find("/../") != std::string::npos || v.back() == '/') {
                             return "must name a file, without '..'";
                           }
                           m_cfg.daemon.control_socket = v;
                           m_cfg.daemon.control_socket_set = true;
                           return std::nullopt;
                         }};
  s["control_socket_mode"] = {
      false, [this](const std::string& v, int line) -> std::optional<std::string> {
        if (v.size() < 3 || v.size() > 4 || v.find_first_not_of("01234567") != std::string::npos) {
          return "expected an octal mode such as 0660";
        }
        unsigned m = static_cast<unsigned>(std::strtoul(v.c_str(), nullptr, 8));
        if (m & 07111) {
          return "no execute, setuid, setgid or sticky bits";
        }
        if ((m & 0600) != 0600) {
          return "the owner (root) needs read and write";
        }
        if (m & 0002) {
          warn(line,
               "control_socket_mode lets every local user connect (commands are still "
               "checked against admin_group and monitor_group)");
        }
        m_cfg.daemon.control_socket_mode = m;
        return std::nullopt;
      }};
  auto group_key = [this](std::string DaemonSettings::*field, int DaemonSettings::*line_field) {
    return KeyDef{false, [this, field, line_field](const std::string& v, int line) -> std::optional<std::string> {
                    // POSIX portable user/group names: [A-Za-z0-9._-], not starting with '-'.
                    if (v.size() > 32 || v[0] == '-' ||
                        v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                            std::string::npos) {
                      return "invalid group name '" + v + "'";
                    }
                    m_cfg.daemon.*field = v;
                    m_cfg.daemon.*line_field = line;
                    return std::nullopt;
                  }};
  };
  s["admin_group"] = group_key(&DaemonSettings::admin_group, &DaemonSettings::admin_group_line);
  s["monitor_group"] = group_key(&DaemonSettings::monitor_group, &DaemonSettings::monitor_group_line);
  s["keyfile"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                    if (v[0] != '/' || v.size() > 200 || v.find("/../") != std::string::npos) {
                      return std::string("must be an absolute path (at most 200 bytes, without '..')");
                    }
                    m_cfg.daemon.keyfile = v;
                    return std::nullopt;
                  }};
  s["node"] = {
      false, [this](const std::string& v, int) -> std::optional<std::string> {
        // Sealed into audit records and alert payloads unescaped: a plain name.
        if (v.size() > 64 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
                                 std::string::npos) {
          return "expected a node name ([A-Za-z0-9._-], at most 64 characters)";
        }
        m_cfg.daemon.node = v;
        return std::nullopt;
      }};
  s["audit_max_size"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                           if (v == "0") {
                             m_cfg.daemon.audit_max_bytes = 0;
                             return std::nullopt;
                           }
                           auto n = core::parse_size(v, 4096, int64_t{1} << 40);
                           if (!n) {
                             return n.error() + " (0: no rotation by size)";
                           }
                           m_cfg.daemon.audit_max_bytes = static_cast<uint64_t>(*n);
                           return std::nullopt;
                         }};
  s["timezone"] = {false, [this](const std::string& v, int line) -> std::optional<std::string> {
                     if (!ctl::valid_zone_name(v)) {
                       return "invalid time zone name '" + v + "' (an IANA name such as Europe/Istanbul)";
                     }
                     m_cfg.daemon.timezone = v;
                     m_cfg.daemon.timezone_line = line;
                     return std::nullopt;
                   }};
}

void Parser::define_metrics() {
  auto& s = m_sections["metrics"];
  s["listen"] = {false, [this](const std::string& v, int line) -> std::optional<std::string> {
                   auto a = core::parse_sockaddr(v);
                   if (!a) {
                     return a.error();
                   }
                   if (!a->ip.is_loopback()) {
                     warn(line, "metrics listen address " + a->to_string() +
                                    " is not loopback: anyone who reaches it can read the metrics");
                   }
                   m_cfg.metrics.listen = *a;
                   return std::nullopt;
                 }};
}

void Parser::define_nts() {
  auto& s = m_sections["nts"];
  auto& n = m_cfg.nts;
  auto path_key = [](std::string& into) {
    return KeyDef{false, [&into](const std::string& v, int) -> std::optional<std::string> {
                    if (v[0] != '/' || v.size() > 200 || v.find("/../") != std::string::npos) {
                      return std::string("must be an absolute path (at most 200 bytes, without '..')");
                    }
                    into = v;
                    return std::nullopt;
                  }};
  };
  s["listen"] = {true, [&n](const std::string& v, int) -> std::optional<std::string> {
                   auto items = split_list(v);
                   if (!items) {
                     return items.error();
                   }
                   for (const auto& item : *items) {
                     auto a = core::parse_sockaddr(item);
                     if (!a) {
                       return a.error();
                     }
                     if (std::find(n.listen.begin(), n.listen.end(), *a) != n.listen.end()) {
                       return "duplicate listen address " + a->to_string();
                     }
                     n.listen.push_back(*a);
                   }
                   return std::nullopt;
                 }};
  s["cert"] = path_key(n.cert);
  s["key"] = path_key(n.key);
  s["trusted_certs"] = path_key(n.trusted_certs);
  s["ntp_port"] = int_key(1, 65535, [&n](int64_t p) { n.ntp_port = static_cast<uint16_t>(p); });
  s["ntp_server"] = {false, [&n](const std::string& v, int) -> std::optional<std::string> {
                       if (v.size() > 253 || v.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                 "0123456789.-:") != std::string::npos) {
                         return std::string("expected a host name or address");
                       }
                       n.ntp_server = v;
                       return std::nullopt;
                     }};
  s["cookie_rotation"] = real_key(60, 365 * 86400.0, [&n](double x) { n.cookie_rotation_s = x; });
  s["max_connections"] = int_key(1, 10000, [&n](int64_t x) { n.max_connections = static_cast<unsigned>(x); });
  s["timeout"] = real_key(0.1, 60, [&n](double x) { n.timeout_s = x; });
}

// allow/deny lines of [server] and of each [tenant NAME]: `into` is that section's list,
// `section` names it for the line numbers of duplicates.
std::optional<std::string> Parser::add_rules(const std::string& v, int line, core::AccessAction action,
                                             core::AllowList& into, const std::string& section) {
  auto items = split_list(v);
  if (!items) {
    return items.error();
  }
  auto& lines = m_rule_lines[section];
  for (const auto& item : *items) {
    auto p = core::parse_prefix(item);
    if (!p) {
      return p.error();
    }
    if (p->len == 0) {
      warn(line, std::string(action == core::AccessAction::Allow ? "allow" : "deny") + " " + p->to_string() +
                     " matches every " + (p->addr.is_v4() ? "IPv4" : "IPv6") + " address");
    }
    if (!into.add(core::AccessRule{*p, action})) {
      int first = 0;
      for (const auto& [pre, l] : lines) {
        if (pre == *p) {
          first = l;
        }
      }
      return p->to_string() + " already has a rule in [" + section + "] (line " + std::to_string(first) + ")";
    }
    lines.emplace_back(*p, line);
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
  s["allow"] = {true, [this](const std::string& v, int line) {
                  return add_rules(v, line, core::AccessAction::Allow, m_cfg.server.access, "server");
                }};
  s["deny"] = {true, [this](const std::string& v, int line) {
                 return add_rules(v, line, core::AccessAction::Deny, m_cfg.server.access, "server");
               }};
  s["local_stratum"] = int_key(1, 15, [this](int64_t n) { m_cfg.server.local_stratum = static_cast<uint8_t>(n); });
  s["max_clients"] = int_key(16, 16777216, [this](int64_t n) { m_cfg.server.max_clients = static_cast<size_t>(n); });
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

namespace {

// A host name (RFC 1123 labels) or an address literal; no spaces, no '/'.
bool valid_host(const std::string& h) {
  if (h.empty() || h.size() > 253) {
    return false;
  }
  if (core::parse_ip(h)) {
    return true;
  }
  size_t label = 0;
  for (size_t i = 0; i < h.size(); ++i) {
    char c = h[i];
    if (c == '.') {
      if (label == 0 || h[i - 1] == '-') {
        return false;
      }
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c == '-' && label > 0) ||
              c == '_';
    if (!ok || ++label > 63) {
      return false;
    }
  }
  return h.back() != '-';
}

}  // namespace

}  // namespace

Result<SourceConfig, std::string> parse_source_line(std::string_view value, SourceConfig::Kind kind,
                                                    std::string* note) {
  auto w = split_words(value);
  if (w.empty()) {
    return unexpected(std::string("missing host"));
  }
  SourceConfig sc;
  sc.kind = kind;
  sc.host = w[0];
  if (!sc.host.empty() && sc.host.front() == '[' && sc.host.back() == ']') {
    sc.host = sc.host.substr(1, sc.host.size() - 2);  // [IPv6]
  }
  if (!valid_host(sc.host)) {
    return unexpected("'" + w[0] + "' is not a host name or address");
  }
  std::map<std::string, bool> seen;
  for (size_t i = 1; i < w.size(); ++i) {
    const std::string& k = w[i];
    if (!seen.emplace(k, true).second) {
      return unexpected("'" + k + "' given twice");
    }
    if (k == "iburst") {
      sc.iburst = true;
      continue;
    }
    if (k == "nts") {
      sc.nts = true;
      continue;
    }
    bool known = k == "minpoll" || k == "maxpoll" || k == "port" || k == "burst_interval" || k == "netns" ||
                 k == "key" || k == "ntsport" || (k == "maxsources" && kind == SourceConfig::Kind::Pool);
    if (!known) {
      return unexpected("unknown option '" + k +
                        "' (iburst, minpoll N, maxpoll N, port N, burst_interval S, netns NAME, key ID, nts, "
                        "ntsport N" +
                        (kind == SourceConfig::Kind::Pool ? ", maxsources N)" : ")"));
    }
    if (i + 1 >= w.size()) {
      return unexpected("'" + k + "' needs a value");
    }
    const std::string& val = w[++i];
    if (k == "key") {
      auto n = parse_int(val, 1, 4294967295LL);
      if (!n) {
        return unexpected("key: " + n.error() + " (a key id of the keyfile)");
      }
      sc.key_id = static_cast<uint32_t>(*n);
    } else if (k == "ntsport") {
      auto n = parse_int(val, 1, 65535);
      if (!n) {
        return unexpected("ntsport: " + n.error());
      }
      sc.nts_port = static_cast<uint16_t>(*n);
    } else if (k == "netns") {
      if (!core::valid_tenant_name(val)) {
        return unexpected("netns: invalid namespace name '" + val + "' (a name under /run/netns)");
      }
      sc.netns = val;
    } else if (k == "minpoll" || k == "maxpoll") {
      auto n = parse_int(val, -6, 17);
      if (!n) {
        return unexpected(k + ": " + n.error());
      }
      (k == "minpoll" ? sc.minpoll : sc.maxpoll) = static_cast<int8_t>(*n);
    } else if (k == "port") {
      auto n = parse_int(val, 1, 65535);
      if (!n) {
        return unexpected("port: " + n.error());
      }
      sc.port = static_cast<uint16_t>(*n);
    } else if (k == "burst_interval") {
      auto d = parse_double(val, 0.01, 60);
      if (!d) {
        return unexpected("burst_interval: " + d.error());
      }
      sc.burst_interval_s = *d;
    } else {
      auto n = parse_int(val, 1, 16);
      if (!n) {
        return unexpected("maxsources: " + n.error());
      }
      sc.maxsources = static_cast<unsigned>(*n);
    }
  }
  if (sc.minpoll > sc.maxpoll) {
    return unexpected("minpoll " + std::to_string(sc.minpoll) + " is above maxpoll " + std::to_string(sc.maxpoll));
  }
  if (sc.nts && sc.key_id != 0) {
    return unexpected(std::string("'key' and 'nts' exclude each other"));
  }
  if (!sc.nts && seen.count("ntsport")) {
    return unexpected(std::string("'ntsport' needs 'nts'"));
  }
  if (sc.nts && kind == SourceConfig::Kind::Pool) {
    return unexpected(std::string("'nts' is for server lines (each NTS-KE server names its NTP server)"));
  }
  if (note != nullptr && kind == SourceConfig::Kind::Pool && core::parse_ip(sc.host)) {
    *note = "pool " + sc.host + " is an address: it gives one source";
  }
  return sc;
}

Result<PeerConfig, std::string> parse_peer_line(std::string_view value) {
  auto w = split_words(value);
  if (w.empty()) {
    return unexpected(std::string("missing host"));
  }
  PeerConfig pc;
  pc.host = w[0];
  if (pc.host.size() > 2 && pc.host.front() == '[' && pc.host.back() == ']') {
    pc.host = pc.host.substr(1, pc.host.size() - 2);
  }
  if (!valid_host(pc.host)) {
    return unexpected("'" + w[0] + "' is not a host name or address");
  }
  std::map<std::string, bool> seen;
  for (size_t i = 1; i < w.size(); i += 2) {
    const std::string& k = w[i];
    if (k != "port" && k != "minpoll" && k != "maxpoll") {
      return unexpected("unknown option '" + k + "' (port N, minpoll N, maxpoll N)");
    }
    if (!seen.emplace(k, true).second) {
      return unexpected("'" + k + "' given twice");
    }
    if (i + 1 >= w.size()) {
      return unexpected("'" + k + "' needs a value");
    }
    if (k == "port") {
      auto n = parse_int(w[i + 1], 1, 65535);
      if (!n) {
        return unexpected("port: " + n.error());
      }
      pc.port = static_cast<uint16_t>(*n);
    } else {
      auto n = parse_int(w[i + 1], -2, 17);
      if (!n) {
        return unexpected(k + ": " + n.error());
      }
      (k == "minpoll" ? pc.minpoll : pc.maxpoll) = static_cast<int8_t>(*n);
    }
  }
  if (pc.minpoll > pc.maxpoll) {
    if (seen.count("maxpoll")) {
      return unexpected("minpoll " + std::to_string(pc.minpoll) + " is above maxpoll " + std::to_string(pc.maxpoll));
    }
    pc.maxpoll = pc.minpoll;
  }
  return pc;
}

namespace {

std::optional<std::string> Parser::add_source(const std::string& v, int line, SourceConfig::Kind kind) {
  std::string note;
  auto sc = parse_source_line(v, kind, &note);
  if (!sc) {
    return sc.error();
  }
  sc->line = line;
  for (const auto& o : m_cfg.sources.sources) {
    if (o.host == sc->host && o.port == sc->port) {
      return sc->host + " already configured (line " + std::to_string(o.line) + ")";
    }
  }
  if (!note.empty()) {
    warn(line, note);
  }
  m_cfg.sources.sources.push_back(*sc);
  return std::nullopt;
}

void Parser::define_sources() {
  auto& s = m_sections["sources"];
  s["server"] = {true,
                 [this](const std::string& v, int line) { return add_source(v, line, SourceConfig::Kind::Server); }};
  s["pool"] = {true, [this](const std::string& v, int line) { return add_source(v, line, SourceConfig::Kind::Pool); }};
  s["peer"] = {true, [this](const std::string& v, int line) -> std::optional<std::string> {
                 auto pc = parse_peer_line(v);
                 if (!pc) {
                   return pc.error();
                 }
                 pc->line = line;
                 for (const auto& o : m_cfg.sources.peers) {
                   if (o.host == pc->host && o.port == pc->port) {
                     return pc->host + " already a peer (line " + std::to_string(o.line) + ")";
                   }
                 }
                 m_cfg.sources.peers.push_back(*pc);
                 return std::nullopt;
               }};
  s["min_sources"] = {false, [this](const std::string& v, int line) -> std::optional<std::string> {
                        auto n = parse_int(v, 1, 16);
                        if (!n) {
                          return n.error();
                        }
                        m_cfg.sources.min_sources = static_cast<size_t>(*n);
                        m_min_sources_line = line;
                        return std::nullopt;
                      }};
}

void Parser::define_discipline() {
  auto& s = m_sections["discipline"];
  auto& d = m_cfg.discipline;
  s["makestep"] = {false, [&d](const std::string& v, int) -> std::optional<std::string> {
                     auto w = split_words(v);
                     if (w.size() != 2) {
                       return std::string("expected 'THRESHOLD_SECONDS LIMIT' (e.g. 0.128 3)");
                     }
                     auto t = parse_double(w[0], 0.0, 1e6);
                     if (!t) {
                       return "threshold: " + t.error();
                     }
                     auto n = parse_int(w[1], 0, 1000);
                     if (!n) {
                       return "limit: " + n.error();
                     }
                     d.makestep_threshold_s = *t;
                     d.makestep_limit = static_cast<int>(*n);
                     return std::nullopt;
                   }};
  s["max_slew_ppm"] = real_key(1, core::k_max_slew_limit_ppm, [&d](double x) { d.max_slew_ppm = x; });
  s["offset_tolerance"] = {false, [&d](const std::string& v, int) -> std::optional<std::string> {
                             auto x = parse_double(v, 0, 1e6);
                             if (!x) {
                               return x.error();
                             }
                             if (*x > 0 && *x < 0.001) {
                               return std::string("below 0.001 s would hold normal corrections (0 turns it off)");
                             }
                             d.offset_tolerance_s = *x;
                             return std::nullopt;
                           }};
  s["max_distance"] = real_key(0.01, 16, [&d](double x) { d.max_distance_s = x; });
  s["drift_file"] = {false, [&d](const std::string& v, int) -> std::optional<std::string> {
                       // A plain name: the file lives in state_dir, which is the worker's
                       // root under privilege separation (no other path is reachable).
                       if (v != "none" && (v.size() > 64 || v == "." || v == ".." || v[0] == '.' ||
                                           v.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                               "0123456789._-") != std::string::npos)) {
                         return std::string("expected a file name in state_dir (letters, digits, . _ -) or 'none'");
                       }
                       d.drift_file = v;
                       return std::nullopt;
                     }};
  s["drift_interval"] = real_key(10, 86400, [&d](double x) { d.drift_interval_s = x; });
}

void Parser::define_tenants() {
  auto& s = m_sections["tenants"];
  s["runtime"] = {true, [this](const std::string& v, int) -> std::optional<std::string> {
                    auto r = core::parse_runtime_bind_rule(v);
                    if (!r) {
                      return r.error();
                    }
                    for (const auto& o : m_cfg.tenants.runtime) {
                      if (o == *r) {
                        return "duplicate rule '" + core::to_string(*r) + "'";
                      }
                    }
                    m_cfg.tenants.runtime.push_back(*r);
                    return std::nullopt;
                  }};
  s["check_interval"] = {false, [this](const std::string& v, int) -> std::optional<std::string> {
                           auto d = parse_double(v, 0.1, 3600);
                           if (!d) {
                             return d.error();
                           }
                           m_cfg.tenants.check_interval_s = *d;
                           return std::nullopt;
                         }};
}

void Parser::define_alerts() {
  auto& s = m_sections["alerts"];
  auto& a = m_cfg.alerts;
  s["offset"] = real_key(1e-6, 1e6, [&a](double x) { a.engine.offset_s = x; });
  s["drift"] = real_key(0.001, 1e5, [&a](double x) { a.engine.drift_ppm = x; });
  s["drift_window"] = real_key(60, 7 * 86400, [&a](double x) { a.engine.drift_window_s = x; });
  s["peer_max_offset"] = real_key(1e-6, 1e6, [&a](double x) { a.engine.peer_max_offset_s = x; });
  s["hysteresis"] = real_key(0.1, 1, [&a](double x) { a.engine.hysteresis = x; });
  s["hold"] = real_key(0, 86400, [&a](double x) { a.engine.hold_s = x; });
  s["clear_hold"] = real_key(0, 86400, [&a](double x) { a.engine.clear_hold_s = x; });
  s["startup_grace"] = real_key(0, 86400, [&a](double x) { a.engine.startup_grace_s = x; });
  s["stratum_settle"] = real_key(0, 7 * 86400, [&a](double x) { a.engine.stratum_settle_s = x; });
  s["webhook"] = {false, [&a](const std::string& v, int) -> std::optional<std::string> {
                    auto u = parse_http_url(v);
                    if (!u) {
                      return u.error();
                    }
                    a.webhook = *u;
                    return std::nullopt;
                  }};
  s["webhook_secret_file"] = {false, [&a](const std::string& v, int) -> std::optional<std::string> {
                                if (v[0] != '/' || v.size() > 200 || v.find("/../") != std::string::npos) {
                                  return std::string("expected an absolute path of a file");
                                }
                                a.webhook_secret_file = v;
                                return std::nullopt;
                              }};
  s["webhook_timeout"] = real_key(0.1, 60, [&a](double x) { a.webhook_timeout_s = x; });
}

void Parser::define_history() {
  auto& s = m_sections["history"];
  auto& h = m_cfg.history;
  s["interval"] = real_key(1, 3600, [&h](double x) { h.interval_s = x; });
  s["keep_days"] = int_key(1, 3660, [&h](int64_t n) { h.keep_days = static_cast<unsigned>(n); });
  s["max_size"] = {false, [&h](const std::string& v, int) -> std::optional<std::string> {
                     auto n = core::parse_size(v, 1 << 20, int64_t{1} << 40);
                     if (!n) {
                       return n.error();
                     }
                     h.max_size = static_cast<uint64_t>(*n);
                     return std::nullopt;
                   }};
  s["max_clients_per_day"] =
      int_key(100, 10000000, [&h](int64_t n) { h.max_clients_per_day = static_cast<size_t>(n); });
}

// [tenant NAME]: the section's keys write into m_cfg.tenants.tenants[index].
bool Parser::define_tenant(const std::string& sec, int line) {
  std::string name(core::trim(std::string_view(sec).substr(std::min<size_t>(sec.size(), 7))));
  if (!core::valid_tenant_name(name) || name == core::k_default_tenant) {
    error(line,
          "invalid tenant name '" + name + "' in [" + sec + "] ([A-Za-z0-9_.-], 1 to 64 characters, not 'default')");
    return false;
  }
  if (sec != "tenant " + name) {
    error(line, "write the section as [tenant " + name + "]");
    return false;
  }
  size_t idx = m_cfg.tenants.tenants.size();
  TenantConfig tc;
  tc.spec.name = name;
  tc.line = line;
  m_cfg.tenants.tenants.push_back(tc);
  auto spec = [this, idx]() -> core::TenantSpec& { return m_cfg.tenants.tenants[idx].spec; };
  auto& s = m_sections[sec];
  s["netns"] = {false, [spec](const std::string& v, int) -> std::optional<std::string> {
                  if (!core::valid_tenant_name(v)) {
                    return "invalid namespace name '" + v + "' (a name under /run/netns: [A-Za-z0-9_.-], 1 to 64)";
                  }
                  spec().netns = v;
                  return std::nullopt;
                }};
  s["listen"] = {true, [spec](const std::string& v, int) -> std::optional<std::string> {
                   auto items = split_list(v);
                   if (!items) {
                     return items.error();
                   }
                   for (const auto& item : *items) {
                     auto a = core::parse_sockaddr(item);
                     if (!a) {
                       return a.error();
                     }
                     for (const auto& l : spec().listen) {
                       if (l == *a) {
                         return "duplicate listen address " + a->to_string();
                       }
                     }
                     if (spec().listen.size() >= core::k_max_tenant_listen) {
                       return "at most " + std::to_string(core::k_max_tenant_listen) + " addresses per tenant";
                     }
                     spec().listen.push_back(*a);
                   }
                   return std::nullopt;
                 }};
  auto rules = [this, spec, sec](core::AccessAction action) {
    return KeyDef{true, [this, spec, sec, action](const std::string& v, int at) {
                    return add_rules(v, at, action, spec().access, sec);
                  }};
  };
  s["allow"] = rules(core::AccessAction::Allow);
  s["deny"] = rules(core::AccessAction::Deny);
  s["max_clients"] = int_key(16, 16777216, [spec](int64_t n) { spec().max_clients = static_cast<size_t>(n); });
  s["deny_kod"] = {false, [spec](const std::string& v, int) -> std::optional<std::string> {
                     auto b = parse_bool(v);
                     if (!b) {
                       return b.error();
                     }
                     spec().deny_kod = *b;
                     return std::nullopt;
                   }};
  s["ratelimit"] = {false, [spec](const std::string& v, int) -> std::optional<std::string> {
                      auto r = core::parse_ratelimit(split_words(v));
                      if (!r) {
                        return r.error();
                      }
                      spec().ratelimit = *r;
                      return std::nullopt;
                    }};
  return true;
}

void Parser::finish() {
  // Every tenant needs a namespace and an address; no two may bind the same one.
  const auto& ts = m_cfg.tenants.tenants;
  for (size_t i = 0; i < ts.size(); ++i) {
    const auto& t = ts[i];
    if (t.spec.netns.empty()) {
      error(t.line, "[tenant " + t.spec.name + "] needs 'netns = NAME'");
    }
    if (t.spec.listen.empty()) {
      error(t.line, "[tenant " + t.spec.name + "] needs 'listen = ADDR:PORT'");
    }
    for (size_t j = 0; j < i; ++j) {
      if (ts[j].spec.netns != t.spec.netns) {
        continue;
      }
      for (const auto& a : t.spec.listen) {
        for (const auto& b : ts[j].spec.listen) {
          if (a == b) {
            error(t.line, "[tenant " + t.spec.name + "] listens on " + a.to_string() + " in netns " + t.spec.netns +
                              ", as [tenant " + ts[j].spec.name + "] does (line " + std::to_string(ts[j].line) + ")");
          }
        }
      }
    }
  }
  // A server listening beyond loopback with no allow rule would answer the whole
  // network: it answers loopback only unless allow rules say who else (issue 19 item 12).
  check_open_server();
  for (const auto& t : m_cfg.tenants.tenants) {
    bool any_allow = false;
    for (const auto& r : t.spec.access.rules()) {
      any_allow = any_allow || r.action == core::AccessAction::Allow;
    }
    if (!any_allow) {
      warn(t.line, "[tenant " + t.spec.name + "] has no allow rule: everyone who reaches its addresses in netns " +
                       t.spec.netns + " is answered");
    }
  }
  // [nts]: a server needs its certificate and key; keys on sources need a keyfile.
  if (m_cfg.nts.server() && (m_cfg.nts.cert.empty() || m_cfg.nts.key.empty())) {
    error(m_section_lines.count("nts") ? m_section_lines["nts"] : 0,
          "[nts] listen needs 'cert = FILE' and 'key = FILE' (PEM certificate chain and private key)");
  }
  if (m_cfg.nts.server() && m_cfg.server.listen.empty() && !m_cfg.nts.ntp_port) {
    warn(m_section_lines.count("nts") ? m_section_lines["nts"] : 0,
         "[nts] listen without [server] listen: NTS-KE clients are sent to port 123, which this daemon does not serve");
  }
  if (!m_cfg.nts.server() && (!m_cfg.nts.cert.empty() || !m_cfg.nts.key.empty())) {
    warn(m_section_lines.count("nts") ? m_section_lines["nts"] : 0, "[nts] cert/key without listen: no NTS server");
  }
  for (const auto& sc : m_cfg.sources.sources) {
    if (sc.key_id != 0 && m_cfg.daemon.keyfile.empty()) {
      error(sc.line, "source " + sc.host + ": 'key " + std::to_string(sc.key_id) + "' needs [daemon] keyfile");
    }
  }
  m_cfg.alerts.engine.min_sources = m_cfg.sources.min_sources;
  if (!m_cfg.alerts.webhook_secret_file.empty() && !m_cfg.alerts.webhook) {
    error(m_alerts_line, "[alerts] webhook_secret_file without a webhook");
  }
  // min_sources that no configuration can reach would never synchronise.
  size_t possible = 0;
  for (const auto& sc : m_cfg.sources.sources) {
    possible += sc.kind == SourceConfig::Kind::Pool ? sc.maxsources : 1;
  }
  if (!m_cfg.sources.sources.empty() && m_cfg.sources.min_sources > possible) {
    error(m_min_sources_line, "min_sources " + std::to_string(m_cfg.sources.min_sources) + " is more than the " +
                                  std::to_string(possible) + " source(s) configured");
  }
}

void Parser::check_open_server() {
  std::string beyond;
  for (const auto& a : m_cfg.server.listen) {
    if (!a.ip.is_loopback()) {
      beyond += (beyond.empty() ? "" : ", ") + a.to_string();
    }
  }
  bool any_allow = false;
  for (const auto& r : m_cfg.server.access.rules()) {
    any_allow = any_allow || r.action == core::AccessAction::Allow;
  }
  if (beyond.empty() || any_allow) {
    return;
  }
  m_cfg.server.access.set_loopback_only(true);
  auto it = m_section_lines.find("server");
  warn(it == m_section_lines.end() ? 0 : it->second,
       "[server] listen " + beyond +
           " is not loopback and there is no allow rule: only loopback clients are answered (deny by "
           "default); say who may ask with 'allow = NETWORKS' ('allow = 0.0.0.0/0, ::/0' answers everyone)");
}

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
    auto line_of = [&](const std::string& e) { return std::atoi(e.c_str() + std::min(e.size(), name.size() + 1)); };
    std::stable_sort(errors.begin(), errors.end(),
                     [&](const std::string& a, const std::string& b) { return line_of(a) < line_of(b); });
    return unexpected(std::move(errors));
  }
  parser.config().sha256 = core::sha256_hex(text);
  return std::move(parser.config());
}

std::vector<std::string> config_summary(const Config& c) {
  std::vector<std::string> out;
  auto add = [&](const std::string& k, const std::string& v) { out.push_back(k + " = " + v); };
  add("daemon.clock", to_string(c.daemon.clock));
  add("daemon.state_dir", c.daemon.state_dir);
  const char* levels[] = {"error", "warning", "info", "debug"};
  add("daemon.log_level", levels[static_cast<int>(c.daemon.log_level)]);
  add("daemon.user", c.daemon.user);
  add("daemon.rtc", c.daemon.rtc);
  add("daemon.max_step", std::to_string(c.daemon.max_step_s));
  add("daemon.max_startup_step", std::to_string(c.daemon.max_startup_step_s));
  add("daemon.audit_max_size", std::to_string(c.daemon.audit_max_bytes));
  add("daemon.audit_keep", std::to_string(c.daemon.audit_keep));
  add("daemon.max_correction_per_day", std::to_string(c.daemon.max_correction_per_day_s));
  add("daemon.control_socket", c.daemon.control_socket);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", c.daemon.control_socket_mode);
  add("daemon.control_socket_mode", mode);
  add("daemon.admin_group", c.daemon.admin_group);
  add("daemon.monitor_group", c.daemon.monitor_group);
  add("daemon.timezone", c.daemon.timezone);
  add("daemon.keyfile", c.daemon.keyfile);
  for (const auto& l : c.nts.listen) {
    add("nts.listen", l.to_string());
  }
  add("nts.cert", c.nts.cert);
  add("nts.key", c.nts.key);
  add("nts.trusted_certs", c.nts.trusted_certs);
  add("nts.ntp_port", c.nts.ntp_port ? std::to_string(*c.nts.ntp_port) : "");
  add("nts.ntp_server", c.nts.ntp_server);
  add("nts.cookie_rotation", std::to_string(c.nts.cookie_rotation_s));
  add("daemon.node", c.daemon.node);
  for (const auto& l : c.server.listen) {
    add("server.listen", l.to_string());
  }
  for (const auto& r : c.server.access.rules()) {
    add(r.action == core::AccessAction::Allow ? "server.allow" : "server.deny", r.prefix.to_string());
  }
  add("server.deny_kod", c.server.deny_kod ? "yes" : "no");
  add("server.max_clients", std::to_string(c.server.max_clients));
  add("server.local_stratum", c.server.local_stratum ? std::to_string(*c.server.local_stratum) : "");
  if (c.server.ratelimit.enabled) {
    char rl[160];
    std::snprintf(rl, sizeof rl, "interval %g burst %u kod %s leak %u", c.server.ratelimit.interval_s,
                  c.server.ratelimit.burst, c.server.ratelimit.kod ? "yes" : "no", c.server.ratelimit.leak);
    add("server.ratelimit", rl);
  } else {
    add("server.ratelimit", "");
  }
  add("metrics.listen", c.metrics.listen ? c.metrics.listen->to_string() : "");
  for (const auto& p : c.sources.peers) {
    add("sources.peer", p.host + " port " + std::to_string(p.port) + " minpoll " + std::to_string(p.minpoll) +
                            " maxpoll " + std::to_string(p.maxpoll));
  }
  const core::AlertSettings& a = c.alerts.engine;
  char al[320];
  std::snprintf(al, sizeof al,
                "offset %g drift %g drift_window %g peer_max_offset %g hysteresis %g hold %g clear_hold %g "
                "startup_grace %g stratum_settle %g",
                a.offset_s, a.drift_ppm, a.drift_window_s, a.peer_max_offset_s, a.hysteresis, a.hold_s, a.clear_hold_s,
                a.startup_grace_s, a.stratum_settle_s);
  add("alerts", al);
  add("alerts.webhook", c.alerts.webhook ? c.alerts.webhook->text : "");
  add("history", "interval " + std::to_string(c.history.interval_s) + " keep_days " +
                     std::to_string(c.history.keep_days) + " max_size " + std::to_string(c.history.max_size) +
                     " max_clients_per_day " + std::to_string(c.history.max_clients_per_day));
  add("alerts.webhook_secret_file", c.alerts.webhook_secret_file);
  for (const auto& r : c.tenants.runtime) {
    add("tenants.runtime", core::to_string(r));
  }
  for (const auto& t : c.tenants.tenants) {
    std::string words;
    for (const auto& w : core::tenant_words(t.spec)) {
      words += (words.empty() ? "" : " ") + w;
    }
    add("tenant." + t.spec.name, words);
  }
  return out;
}

Result<HttpUrl, std::string> parse_http_url(std::string_view s) {
  HttpUrl u;
  u.text = std::string(s);
  if (s.rfind("https://", 0) == 0) {
    return unexpected(std::string("https is not supported (no TLS in this build): use http:// to a local relay"));
  }
  if (s.rfind("http://", 0) != 0) {
    return unexpected("expected http://HOST[:PORT][/PATH], not '" + std::string(s.substr(0, 60)) + "'");
  }
  std::string_view rest = s.substr(7);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.path = std::string(rest.substr(slash));
  }
  for (char c : u.path) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == '#') {
      return unexpected(std::string("the path must be plain URL characters (no spaces, no fragment)"));
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return unexpected(std::string("no user:password@ in the URL (the body is signed with webhook_secret_file)"));
  }
  auto hp = [&]() -> Result<std::pair<std::string, std::optional<uint16_t>>, std::string> {
    if (!authority.empty() && authority.front() == '[') {
      size_t close = authority.find(']');
      if (close == std::string_view::npos) {
        return unexpected(std::string("missing ']'"));
      }
      std::string h(authority.substr(1, close - 1));
      auto ip = core::parse_ip(h);
      if (!ip || !ip->is_v6()) {
        return unexpected("invalid IPv6 address '" + h + "'");
      }
      std::string_view after = authority.substr(close + 1);
      if (after.empty()) {
        return std::make_pair(h, std::optional<uint16_t>());
      }
      if (after.front() != ':') {
        return unexpected(std::string("expected ':PORT' after ']'"));
      }
      auto p = parse_int(after.substr(1), 1, 65535);
      if (!p) {
        return unexpected("port: " + p.error());
      }
      return std::make_pair(h, std::optional<uint16_t>(static_cast<uint16_t>(*p)));
    }
    size_t colon = authority.find(':');
    std::string h(authority.substr(0, colon));
    std::optional<uint16_t> port;
    if (colon != std::string_view::npos) {
      auto p = parse_int(authority.substr(colon + 1), 1, 65535);
      if (!p) {
        return unexpected("port: " + p.error());
      }
      port = static_cast<uint16_t>(*p);
    }
    if (!valid_host(h)) {
      return unexpected("'" + h + "' is not a host name or address");
    }
    return std::make_pair(h, port);
  }();
  if (!hp) {
    return unexpected(hp.error());
  }
  u.host = hp->first;
  u.port = hp->second.value_or(80);
  return u;
}

std::string node_name(const DaemonSettings& d) {
  if (!d.node.empty()) {
    return d.node;
  }
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') {
    return "localhost";
  }
  std::string n;
  for (const char* p = host; *p && n.size() < 64; ++p) {
    char c = *p;
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    n += ok ? c : '_';
  }
  return n;
}

ConfigResult load_config_fd(int fd, const std::string& name) {
  constexpr size_t k_max = 1024 * 1024;
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return unexpected(std::vector<std::string>{name + ": cannot read: " + std::strerror(errno)});
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > k_max) {
      return unexpected(std::vector<std::string>{name + ": file too large (over 1 MiB)"});
    }
  }
  auto r = parse_config_text(text, name);
  if (r) {
    struct stat st {};
    if (fstat(fd, &st) == 0 && (st.st_mode & S_IWOTH)) {
      r->warnings.push_back(name + ": file is world-writable");
    }
  }
  return r;
}

ConfigResult load_config_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rbe");
  if (f == nullptr) {
    return unexpected(std::vector<std::string>{path + ": cannot open: " + std::strerror(errno)});
  }
  auto r = load_config_fd(fileno(f), path);
  std::fclose(f);
  return r;
}

}  // namespace tr7::daemon
