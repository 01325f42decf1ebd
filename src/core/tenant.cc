#include "core/tenant.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "core/privsep.h"
#include "core/strutil.h"

namespace tr7::core {

// The same rule as a namespace name: a plain file-name-like token.
bool valid_tenant_name(std::string_view name) { return privsep::valid_netns_name(name); }

Result<RateLimitParams> parse_ratelimit(std::span<const std::string> w) {
  RateLimitParams p;
  p.enabled = true;
  if (w.size() % 2 != 0) {
    return unexpected(std::string("expected 'interval SECONDS burst N [kod yes|no] [leak N]'"));
  }
  std::map<std::string, bool> seen;
  for (size_t i = 0; i < w.size(); i += 2) {
    const std::string& k = w[i];
    const std::string& val = w[i + 1];
    if (!seen.emplace(k, true).second) {
      return unexpected("'" + k + "' given twice");
    }
    if (k == "interval") {
      auto d = parse_double(val, 0.001, 86400);
      if (!d) {
        return unexpected("interval: " + d.error());
      }
      p.interval_s = *d;
    } else if (k == "burst") {
      auto n = parse_int(val, 1, 1024);
      if (!n) {
        return unexpected("burst: " + n.error());
      }
      p.burst = static_cast<uint32_t>(*n);
    } else if (k == "kod") {
      auto b = parse_bool(val);
      if (!b) {
        return unexpected("kod: " + b.error());
      }
      p.kod = *b;
    } else if (k == "leak") {
      auto n = parse_int(val, 0, 16);
      if (!n) {
        return unexpected("leak: " + n.error());
      }
      p.leak = static_cast<uint32_t>(*n);
    } else {
      return unexpected("unknown option '" + k + "' (interval, burst, kod, leak)");
    }
  }
  if (!seen.count("interval") || !seen.count("burst")) {
    return unexpected(std::string("needs both 'interval SECONDS' and 'burst N'"));
  }
  return p;
}

namespace {

bool ratelimit_word(const std::string& w) { return w == "interval" || w == "burst" || w == "kod" || w == "leak"; }

std::string fmt_double(double v) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", v);
  // The shortest form that reads back the same.
  for (int prec = 1; prec <= 17; ++prec) {
    char s[40];
    std::snprintf(s, sizeof s, "%.*g", prec, v);
    if (std::strtod(s, nullptr) == v) {
      return s;
    }
  }
  return b;
}

}  // namespace

Result<TenantSpec> parse_tenant_words(std::string_view name, std::span<const std::string> w) {
  TenantSpec s;
  if (!valid_tenant_name(name)) {
    return unexpected("invalid tenant name '" + std::string(name.substr(0, 64)) + "' ([A-Za-z0-9_.-], 1 to 64)");
  }
  if (name == k_default_tenant) {
    return unexpected(std::string("'default' is the daemon's own server, not a tenant name"));
  }
  s.name = std::string(name);
  bool has_netns = false;
  bool has_max = false;
  bool has_kod = false;
  size_t i = 0;
  auto value = [&](const std::string& key) -> Result<std::string> {
    if (i + 1 >= w.size()) {
      return unexpected("'" + key + "' needs a value");
    }
    i += 2;
    return w[i - 1];
  };
  while (i < w.size()) {
    const std::string key = w[i];
    if (key == "netns") {
      auto v = value(key);
      if (!v) {
        return unexpected(v.error());
      }
      if (has_netns) {
        return unexpected(std::string("netns given twice"));
      }
      if (!valid_tenant_name(*v)) {
        return unexpected("netns: invalid namespace name '" + v->substr(0, 64) + "' ([A-Za-z0-9_.-], 1 to 64)");
      }
      s.netns = *v;
      has_netns = true;
    } else if (key == "listen") {
      auto v = value(key);
      if (!v) {
        return unexpected(v.error());
      }
      auto items = split_list(*v);
      if (!items) {
        return unexpected("listen: " + items.error());
      }
      for (const auto& item : *items) {
        auto a = parse_sockaddr(item);
        if (!a) {
          return unexpected("listen: " + a.error());
        }
        for (const auto& l : s.listen) {
          if (l == *a) {
            return unexpected("listen: duplicate address " + a->to_string());
          }
        }
        if (s.listen.size() >= k_max_tenant_listen) {
          return unexpected("listen: at most " + std::to_string(k_max_tenant_listen) + " addresses per tenant");
        }
        s.listen.push_back(*a);
      }
    } else if (key == "allow" || key == "deny") {
      auto v = value(key);
      if (!v) {
        return unexpected(v.error());
      }
      auto items = split_list(*v);
      if (!items) {
        return unexpected(key + ": " + items.error());
      }
      for (const auto& item : *items) {
        auto p = parse_prefix(item);
        if (!p) {
          return unexpected(key + ": " + p.error());
        }
        if (!s.access.add(AccessRule{*p, key == "allow" ? AccessAction::Allow : AccessAction::Deny})) {
          return unexpected(key + ": " + p->to_string() + " already has a rule");
        }
      }
    } else if (key == "max_clients") {
      auto v = value(key);
      if (!v) {
        return unexpected(v.error());
      }
      if (has_max) {
        return unexpected(std::string("max_clients given twice"));
      }
      auto n = parse_int(*v, 16, 16777216);
      if (!n) {
        return unexpected("max_clients: " + n.error());
      }
      s.max_clients = static_cast<size_t>(*n);
      has_max = true;
    } else if (key == "deny_kod") {
      auto v = value(key);
      if (!v) {
        return unexpected(v.error());
      }
      if (has_kod) {
        return unexpected(std::string("deny_kod given twice"));
      }
      auto b = parse_bool(*v);
      if (!b) {
        return unexpected("deny_kod: " + b.error());
      }
      s.deny_kod = *b;
      has_kod = true;
    } else if (key == "ratelimit") {
      if (s.ratelimit.enabled) {
        return unexpected(std::string("ratelimit given twice"));
      }
      size_t start = ++i;
      while (i + 1 < w.size() && ratelimit_word(w[i])) {
        i += 2;
      }
      auto r = parse_ratelimit(w.subspan(start, i - start));
      if (!r) {
        return unexpected("ratelimit: " + r.error());
      }
      s.ratelimit = *r;
    } else {
      return unexpected("unknown setting '" + key.substr(0, 64) +
                        "' (netns, listen, allow, deny, max_clients, deny_kod, ratelimit)");
    }
  }
  if (!has_netns) {
    return unexpected(std::string("missing 'netns NAME'"));
  }
  if (s.listen.empty()) {
    return unexpected(std::string("missing 'listen ADDR:PORT'"));
  }
  return s;
}

std::string listen_text(const std::vector<SockAddr>& listen) {
  std::string t;
  for (const auto& a : listen) {
    t += (t.empty() ? "" : ",") + a.to_string();
  }
  return t;
}

std::vector<std::string> tenant_words(const TenantSpec& s) {
  std::vector<std::string> w{"netns", s.netns, "listen", listen_text(s.listen)};
  for (const auto& r : s.access.rules()) {
    w.push_back(r.action == AccessAction::Allow ? "allow" : "deny");
    w.push_back(r.prefix.to_string());
  }
  if (s.max_clients != k_tenant_default_max_clients) {
    w.push_back("max_clients");
    w.push_back(std::to_string(s.max_clients));
  }
  if (s.deny_kod) {
    w.push_back("deny_kod");
    w.push_back("yes");
  }
  if (s.ratelimit.enabled) {
    for (const char* x : {"ratelimit", "interval"}) {
      w.push_back(x);
    }
    w.push_back(fmt_double(s.ratelimit.interval_s));
    w.push_back("burst");
    w.push_back(std::to_string(s.ratelimit.burst));
    w.push_back("kod");
    w.push_back(s.ratelimit.kod ? "yes" : "no");
    w.push_back("leak");
    w.push_back(std::to_string(s.ratelimit.leak));
  }
  return w;
}

bool glob_match(std::string_view p, std::string_view t) {
  // Classic two-pointer wildcard matching with one backtrack point: O(|p| * |t|) at worst.
  size_t pi = 0;
  size_t ti = 0;
  size_t star = std::string_view::npos;
  size_t mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

Result<RuntimeBindRule> parse_runtime_bind_rule(std::string_view text) {
  auto w = split_words(text);
  if (w.size() != 2 && w.size() != 4) {
    return unexpected(std::string("expected 'NETNS_PATTERN PREFIX [port N]'"));
  }
  RuntimeBindRule r;
  const std::string& g = w[0];
  bool ok = !g.empty() && g.size() <= 64;
  for (char c : g) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                c == '-' || c == '*' || c == '?');
  }
  if (!ok) {
    return unexpected("invalid namespace pattern '" + g.substr(0, 64) + "' ([A-Za-z0-9_.-] with * and ?)");
  }
  r.netns_glob = g;
  auto p = parse_prefix(w[1]);
  if (!p) {
    return unexpected(p.error());
  }
  r.prefix = *p;
  if (w.size() == 4) {
    if (w[2] != "port") {
      return unexpected("unknown option '" + w[2].substr(0, 64) + "' (port)");
    }
    auto n = parse_int(w[3], 1, 65535);
    if (!n) {
      return unexpected("port: " + n.error());
    }
    r.port = static_cast<uint16_t>(*n);
  }
  return r;
}

std::string to_string(const RuntimeBindRule& r) {
  std::string s = r.netns_glob + " " + r.prefix.to_string();
  if (r.port != 0) {
    s += " port " + std::to_string(r.port);
  }
  return s;
}

bool runtime_bind_allowed(std::span<const RuntimeBindRule> rules, std::string_view netns, const SockAddr& addr) {
  if (addr.port == 0 || !valid_tenant_name(netns)) {
    return false;
  }
  for (const auto& r : rules) {
    if ((r.port == 0 || r.port == addr.port) && r.prefix.contains(addr.ip) && glob_match(r.netns_glob, netns)) {
      return true;
    }
  }
  return false;
}

}  // namespace tr7::core
