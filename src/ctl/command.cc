// The command table and parser (see command.h).
#include "ctl/command.h"

#include <algorithm>

#include "core/strutil.h"
#include "core/tenant.h"
#include "ctl/status.h"

namespace tr7::ctl {

const CmdInfo& info(Cmd c) { return k_commands[static_cast<size_t>(c)]; }

const char* to_string(Access a) {
  switch (a) {
    case Access::Any:
      return "any";
    case Access::Read:
      return "read";
    case Access::Admin:
      return "admin";
  }
  return "?";
}

const char* to_string(Shape s) {
  switch (s) {
    case Shape::None:
      return "none";
    case Shape::KeyValue:
      return "keyvalue";
    case Shape::Table:
      return "table";
    case Shape::Text:
      return "text";
    case Shape::Local:
      return "local";
  }
  return "?";
}

std::vector<ArgSpec> arg_specs(Cmd c) {
  std::vector<ArgSpec> out;
  // "[port PORT]" is one optional argument of two words: join bracketed groups.
  std::vector<std::string> groups;
  for (const auto& w : core::split_words(info(c).args)) {
    if (!groups.empty() && groups.back().front() == '[' && groups.back().back() != ']') {
      groups.back() += " " + w;
    } else {
      groups.push_back(w);
    }
  }
  for (const auto& w : groups) {
    ArgSpec a{ArgKind::Options, false, w};
    std::string_view n = w;
    if (n.size() >= 2 && n.front() == '[' && n.back() == ']') {
      a.optional = true;
      n = n.substr(1, n.size() - 2);
    }
    a.name = std::string(n);
    if (n == "PREFIX") {
      a.kind = ArgKind::Prefix;
    } else if (n == "ADDR") {
      a.kind = ArgKind::Addr;
    } else if (n == "HOST") {
      a.kind = ArgKind::Host;
    } else if (n == "HOST[:PORT]") {
      a.kind = ArgKind::Endpoint;
    } else if (n == "port PORT") {
      a.kind = ArgKind::PortOption;
      a.keyword = "port";
    } else if (n == "since TIME" || n == "until TIME") {
      a.kind = ArgKind::Time;
      a.keyword = std::string(n.substr(0, 5));
    } else if (n == "tenant TENANT") {
      a.kind = ArgKind::Tenant;
      a.keyword = "tenant";
    } else if (n == "format REPORT_FORMAT") {
      a.kind = ArgKind::ReportFormat;
      a.keyword = "format";
    } else if (n == "ZONE") {
      a.kind = ArgKind::Zone;
    } else if (n == "N") {
      a.kind = ArgKind::Count;
    } else if (n == "ID") {
      a.kind = ArgKind::Id;
    } else if (n == "FORMAT") {
      a.kind = ArgKind::Format;
    } else if (n == "TENANT") {
      a.kind = ArgKind::Tenant;
    } else if (n == "SETTING...") {
      a.kind = ArgKind::Settings;
      a.optional = true;
    } else {
      a.kind = ArgKind::Options;  // OPTION...
      a.optional = true;
    }
    out.push_back(a);
  }
  return out;
}

std::string usage(Cmd c) {
  std::string u = info(c).name;
  if (*info(c).args) {
    u += ' ';
    u += info(c).args;
  }
  return u;
}

std::string ParsedCommand::to_line() const {
  std::string s = info(cmd).name;
  for (const auto& a : args) {
    s += ' ';
    s += a;
  }
  return s;
}

bool valid_zone_name(std::string_view s) {
  // IANA names: components of [A-Za-z0-9._+-], separated by '/', none empty, none
  // starting with '.' or '-' (so no "..", no hidden files, no options), at most 64 bytes.
  if (s.empty() || s.size() > 64) {
    return false;
  }
  size_t start = 0;
  while (true) {
    size_t end = s.find('/', start);
    std::string_view comp = s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (comp.empty() || comp.size() > 30 || comp[0] == '.' || comp[0] == '-') {
      return false;
    }
    for (char c : comp) {
      bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                c == '+' || c == '.';
      if (!ok) {
        return false;
      }
    }
    if (end == std::string_view::npos) {
      return true;
    }
    start = end + 1;
  }
}

Result<core::Timestamp> parse_time_arg(std::string_view s) {
  if (!s.empty() && s.size() <= 12 && s.find_first_not_of("0123456789") == std::string_view::npos) {
    auto n = core::parse_int(s, 0, 253402300799);  // up to 9999-12-31
    if (!n) {
      return unexpected(n.error());
    }
    return core::Timestamp::from_ns(*n * core::k_ns_per_s);
  }
  if (s.size() == 10) {
    return parse_rfc3339(std::string(s) + "T00:00:00Z");
  }
  return parse_rfc3339(s);
}

bool valid_host_name(std::string_view s) {
  if (core::parse_ip(s)) {
    return true;
  }
  // RFC 1123 host name: labels of [A-Za-z0-9-], 1..63 bytes, not starting or ending
  // with '-', total at most 253; a trailing dot is allowed.
  if (s.empty() || s.size() > 253) {
    return false;
  }
  if (s.back() == '.') {
    s.remove_suffix(1);
  }
  size_t start = 0;
  bool any_alpha = false;
  while (true) {
    size_t end = s.find('.', start);
    std::string_view label = s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
      if (!alpha && !(c >= '0' && c <= '9')) {
        return false;
      }
      any_alpha = any_alpha || alpha;
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  // All-numeric names ("1.2.3", "010.1.1.1") are malformed addresses, not host names.
  return any_alpha;
}

Result<HostPort> parse_host_port(std::string_view s) {
  auto port_of = [](std::string_view p) -> Result<uint16_t> {
    auto n = core::parse_int(p, 1, 65535);
    if (!n) {
      return unexpected("port '" + std::string(p.substr(0, 20)) + "': " + n.error());
    }
    return static_cast<uint16_t>(*n);
  };
  HostPort hp;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) {
      return unexpected(std::string("missing ']'"));
    }
    std::string_view addr = s.substr(1, close - 1);
    auto ip = core::parse_ip(addr);
    if (!ip || !ip->is_v6()) {
      return unexpected("invalid IPv6 address '" + std::string(addr.substr(0, 60)) + "'");
    }
    hp.host = std::string(addr);
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) {
      return hp;
    }
    if (rest.front() != ':') {
      return unexpected(std::string("expected ':PORT' after ']'"));
    }
    auto p = port_of(rest.substr(1));
    if (!p) {
      return unexpected(p.error());
    }
    hp.port = *p;
    return hp;
  }
  size_t colon = s.find(':');
  if (colon != std::string_view::npos && s.find(':', colon + 1) == std::string_view::npos) {
    // One colon: HOST:PORT. (Two or more: an IPv6 address without a port.)
    std::string_view h = s.substr(0, colon);
    if (!valid_host_name(h)) {
      return unexpected("invalid host name or address '" + std::string(h.substr(0, 60)) + "'");
    }
    auto p = port_of(s.substr(colon + 1));
    if (!p) {
      return unexpected(p.error());
    }
    hp.host = std::string(h);
    hp.port = *p;
    return hp;
  }
  if (!valid_host_name(s)) {
    return unexpected("invalid host name or address '" + std::string(s.substr(0, 60)) + "'");
  }
  hp.host = std::string(s);
  return hp;
}

namespace {

Error invalid(Cmd c, const std::string& what) {
  return Error{ErrCode::InvalidArgument, what + " (usage: " + usage(c) + ")"};
}

bool option_word(std::string_view w) {
  if (w.empty() || w.size() > 64) {
    return false;
  }
  for (char c : w) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool setting_word(std::string_view w) {
  if (w.empty() || w.size() > 128) {
    return false;
  }
  for (char c : w) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-' || c == ':' || c == '/' || c == '[' || c == ']' || c == ',' || c == '*' || c == '?';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Checks one argument; fills the typed fields of pc.
std::optional<Error> check_arg(Cmd c, const ArgSpec& spec, const std::string& w, ParsedCommand& pc) {
  if (w.size() > k_max_arg_len) {
    return invalid(c, spec.name + ": argument too long");
  }
  switch (spec.kind) {
    case ArgKind::Prefix: {
      auto p = core::parse_prefix(w);
      if (!p) {
        return invalid(c, spec.name + ": " + p.error());
      }
      pc.prefix = *p;
      return std::nullopt;
    }
    case ArgKind::Addr: {
      auto a = core::parse_ip(w);
      if (!a) {
        return invalid(c, spec.name + ": invalid IP address '" + escape(w) + "'");
      }
      pc.addr = *a;
      return std::nullopt;
    }
    case ArgKind::Host:
      if (!valid_host_name(w)) {
        return invalid(c, spec.name + ": invalid host name or address '" + escape(w) + "'");
      }
      return std::nullopt;
    case ArgKind::Endpoint: {
      auto hp = parse_host_port(w);
      if (!hp) {
        return invalid(c, spec.name + ": " + escape(hp.error()));
      }
      pc.host = hp->host;
      pc.port = hp->port;
      return std::nullopt;
    }
    case ArgKind::PortOption: {
      // The word "port" was checked by the caller: w is the number.
      auto n = core::parse_int(w, 1, 65535);
      if (!n) {
        return invalid(c, "port: " + n.error());
      }
      if (pc.port && *pc.port != *n) {
        return invalid(c, "two different ports given (" + std::to_string(*pc.port) + " and " + w + ")");
      }
      pc.port = static_cast<uint16_t>(*n);
      return std::nullopt;
    }
    case ArgKind::Time: {
      auto t = parse_time_arg(w);
      if (!t) {
        return invalid(c, spec.keyword + ": " + escape(t.error()));
      }
      (spec.keyword == "since" ? pc.since : pc.until) = *t;
      return std::nullopt;
    }
    case ArgKind::ReportFormat:
      if (w != "json" && w != "md") {
        return invalid(c, "format: expected json or md");
      }
      pc.format = w;
      return std::nullopt;
    case ArgKind::Zone:
      if (!valid_zone_name(w)) {
        return invalid(c, spec.name + ": invalid time zone name '" + escape(w) + "'");
      }
      return std::nullopt;
    case ArgKind::Count: {
      auto n = core::parse_int(w, 1, k_max_count);
      if (!n) {
        return invalid(c, spec.name + ": " + n.error());
      }
      pc.number = *n;
      return std::nullopt;
    }
    case ArgKind::Id: {
      auto n = core::parse_int(w, 1, INT64_MAX);
      if (!n) {
        return invalid(c, spec.name + ": " + n.error());
      }
      pc.number = *n;
      return std::nullopt;
    }
    case ArgKind::Format:
      if (w != "openmetrics" && w != "prometheus") {
        return invalid(c, spec.name + ": expected openmetrics or prometheus");
      }
      return std::nullopt;
    case ArgKind::Options:
      if (!option_word(w)) {
        return invalid(c, spec.name + ": invalid option '" + escape(w) + "'");
      }
      return std::nullopt;
    case ArgKind::Tenant:
      if (!core::valid_tenant_name(w)) {
        return invalid(c, spec.name + ": invalid tenant name '" + escape(w) + "' ([A-Za-z0-9_.-], 1 to 64)");
      }
      pc.tenant = w;
      return std::nullopt;
    case ArgKind::Settings:
      if (!setting_word(w)) {
        return invalid(c, spec.name + ": invalid setting '" + escape(w) + "'");
      }
      pc.settings.push_back(w);
      return std::nullopt;
  }
  return invalid(c, "bad argument");
}

}  // namespace

namespace {

// The longest command name that matches the first words; `used` gets its word count.
const CmdInfo* match_words(std::span<const std::string> words, size_t& used) {
  const CmdInfo* found = nullptr;
  used = 0;
  for (const auto& ci : k_commands) {
    auto nw = core::split_words(ci.name);
    if (nw.size() > words.size() || nw.size() <= used) {
      continue;
    }
    bool match = true;
    for (size_t i = 0; i < nw.size(); ++i) {
      match = match && nw[i] == words[i];
    }
    if (match) {
      found = &ci;
      used = nw.size();
    }
  }
  return found;
}

}  // namespace

std::optional<Cmd> match_command(std::string_view line) {
  auto words = core::split_words(line);
  size_t used = 0;
  const CmdInfo* ci = match_words(words, used);
  if (!ci) {
    return std::nullopt;
  }
  return ci->cmd;
}

Result<ParsedCommand, Error> parse_command(std::span<const std::string> words) {
  if (words.empty()) {
    return unexpected(Error{ErrCode::UnknownCommand, "empty command (try 'help')"});
  }
  size_t used = 0;
  const CmdInfo* found = match_words(words, used);
  if (!found) {
    // A known first word of a two-word command: say which second words exist.
    std::string subs;
    for (const auto& ci : k_commands) {
      auto nw = core::split_words(ci.name);
      if (nw.size() == 2 && nw[0] == words[0]) {
        subs += (subs.empty() ? "" : "|") + nw[1];
      }
    }
    if (!subs.empty()) {
      return unexpected(Error{ErrCode::UnknownCommand, "unknown command: " + words[0] + " " +
                                                           (words.size() > 1 ? escape(words[1].substr(0, 40)) : "") +
                                                           " (expected " + words[0] + " " + subs + ")"});
    }
    return unexpected(
        Error{ErrCode::UnknownCommand, "unknown command '" + escape(words[0].substr(0, 40)) + "' (try 'help')"});
  }
  ParsedCommand pc;
  pc.cmd = found->cmd;
  if (found->shape == Shape::Local) {
    // Arguments of tr7ntpc-only commands are checked by tr7ntpc.
    pc.args.assign(words.begin() + static_cast<std::ptrdiff_t>(used), words.end());
    return pc;
  }
  auto specs = arg_specs(pc.cmd);
  size_t wi = used;
  for (size_t si = 0; si < specs.size(); ++si) {
    const auto& spec = specs[si];
    if (spec.kind == ArgKind::Options || spec.kind == ArgKind::Settings) {
      size_t n = 0;
      size_t most = spec.kind == ArgKind::Options ? k_max_options : k_max_settings;
      while (wi < words.size()) {
        if (++n > most) {
          return unexpected(invalid(pc.cmd, std::string("too many ") +
                                                (spec.kind == ArgKind::Options ? "options" : "settings") +
                                                " (at most " + std::to_string(most) + ")"));
        }
        if (auto e = check_arg(pc.cmd, spec, words[wi], pc)) {
          return unexpected(*e);
        }
        pc.args.push_back(words[wi++]);
      }
      continue;
    }
    if (!spec.keyword.empty()) {
      if (wi >= words.size() || words[wi] != spec.keyword) {
        continue;  // optional, and not given
      }
      if (wi + 1 >= words.size()) {
        return unexpected(invalid(pc.cmd, spec.keyword + ": missing " + spec.name.substr(spec.keyword.size() + 1)));
      }
      if (auto e = check_arg(pc.cmd, spec, words[wi + 1], pc)) {
        return unexpected(*e);
      }
      pc.args.push_back(words[wi++]);
      pc.args.push_back(words[wi++]);
      continue;
    }
    if (spec.optional) {
      // "[TENANT] ADDR": skipped when the words left are only enough for what must follow.
      size_t required_after = 0;
      for (size_t k = si + 1; k < specs.size(); ++k) {
        required_after += specs[k].optional ? 0 : 1;
      }
      if (words.size() - wi <= required_after) {
        continue;
      }
    }
    if (wi >= words.size()) {
      return unexpected(invalid(pc.cmd, "missing " + spec.name));
    }
    if (auto e = check_arg(pc.cmd, spec, words[wi], pc)) {
      return unexpected(*e);
    }
    pc.args.push_back(words[wi++]);
  }
  if (wi < words.size()) {
    return unexpected(invalid(pc.cmd, "unexpected argument '" + escape(words[wi].substr(0, 40)) + "'"));
  }
  return pc;
}

Result<ParsedCommand, Error> parse_command(std::string_view line) {
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) {
      return unexpected(Error{ErrCode::BadEncoding, "control character in command"});
    }
  }
  if (!core::valid_utf8(line)) {
    return unexpected(Error{ErrCode::BadEncoding, "invalid UTF-8 in command"});
  }
  auto words = core::split_words(line);
  return parse_command(std::span<const std::string>(words));
}

std::vector<std::string> complete(std::span<const std::string> words, std::string_view prefix) {
  std::vector<std::string> out;
  auto add = [&](const std::string& w) {
    if (w.compare(0, prefix.size(), prefix) == 0) {
      for (const auto& o : out) {
        if (o == w) {
          return;
        }
      }
      out.push_back(w);
    }
  };
  for (const auto& ci : k_commands) {
    auto nw = core::split_words(ci.name);
    if (words.size() < nw.size()) {
      bool match = true;
      for (size_t i = 0; i < words.size(); ++i) {
        match = match && nw[i] == words[i];
      }
      if (match) {
        add(nw[words.size()]);
      }
      continue;
    }
    bool match = true;
    for (size_t i = 0; i < nw.size(); ++i) {
      match = match && nw[i] == words[i];
    }
    if (!match) {
      continue;
    }
    auto specs = arg_specs(ci.cmd);
    size_t ai = words.size() - nw.size();
    // Keyword options: after one, its values; else the ones not given yet.
    std::string prev = words.size() > nw.size() ? words.back() : std::string();
    bool after_keyword = false;
    for (const auto& sp : specs) {
      after_keyword = after_keyword || (!sp.keyword.empty() && prev == sp.keyword);
    }
    if (after_keyword) {
      if (prev == "format") {
        add("json");
        add("md");
      }
      continue;
    }
    if (ai < specs.size() && specs[ai].kind == ArgKind::PortOption) {
      add("port");
    }
    for (const auto& sp : specs) {
      if (!sp.keyword.empty() && sp.kind != ArgKind::PortOption &&
          std::find(words.begin() + static_cast<std::ptrdiff_t>(nw.size()), words.end(), sp.keyword) == words.end()) {
        add(sp.keyword);
      }
    }
    if (ai < specs.size() && specs[ai].kind == ArgKind::Format) {
      add("openmetrics");
      add("prometheus");
    }
  }
  return out;
}

}  // namespace tr7::ctl
