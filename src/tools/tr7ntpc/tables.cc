// tr7ntpc's tables for people (see tables.h).
#include "tools/tr7ntpc/tables.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "ctl/json.h"
#include "ctl/status.h"

namespace tr7::tools {

namespace {

size_t width(const std::string& s) {
  size_t w = 0;
  for (char c : s) {
    w += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return w;
}

// Cuts text to w columns, marking the cut with '~' (never inside a UTF-8 sequence).
std::string cut_to(const std::string& s, size_t w) {
  if (width(s) <= w) {
    return s;
  }
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len = 1;
    auto c = static_cast<unsigned char>(s[i]);
    len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    if (n + 1 >= w) {
      break;
    }
    out.append(s, i, len);
    i += len;
    ++n;
  }
  return out + "~";
}

std::string pad(const std::string& s, size_t w, bool right) {
  size_t n = width(s);
  std::string sp(w > n ? w - n : 0, ' ');
  return right ? sp + s : s + sp;
}

std::optional<double> num(const ctl::Record& r, const char* key) {
  const std::string* v = ctl::find(r, key);
  if (!v || !ctl::is_json_number(*v)) {
    return std::nullopt;
  }
  return std::strtod(v->c_str(), nullptr);
}

std::string str(const ctl::Record& r, const char* key) {
  const std::string* v = ctl::find(r, key);
  return v ? *v : std::string();
}

std::string or_dash(const std::string& s) { return s.empty() ? "-" : fmt_plain(s); }

// A scaled integer (chronyc): the unit that keeps |v| within four digits.
std::string scaled(double s, bool sign) {
  if (!std::isfinite(s)) {
    return "-";
  }
  double a = std::fabs(s);
  const char* unit = "s";
  double v = s;
  if (a < 9999.5e-9) {
    unit = "ns";
    v = s * 1e9;
  } else if (a < 9999.5e-6) {
    unit = "us";
    v = s * 1e6;
  } else if (a < 9999.5e-3) {
    unit = "ms";
    v = s * 1e3;
  }
  char buf[64];
  v = std::round(v);
  if (v == 0) {
    v = 0;  // no "-0"
  }
  std::snprintf(buf, sizeof buf, sign ? "%+.0f%s" : "%.0f%s", sign ? v : std::fabs(v), unit);
  return buf;
}

}  // namespace

std::string fmt_offset(double s) { return scaled(s, true); }
std::string fmt_time(double s) { return scaled(s, false); }

std::string fmt_precise(double s, bool sign) {
  if (!std::isfinite(s)) {
    return "-";
  }
  double a = std::fabs(s);
  const char* unit = "s";
  double v = s;
  if (a == 0) {
    unit = "s";
  } else if (a < 0.9995e-6) {
    unit = "ns";
    v = s * 1e9;
  } else if (a < 0.9995e-3) {
    unit = "us";
    v = s * 1e6;
  } else if (a < 0.9995) {
    unit = "ms";
    v = s * 1e3;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, sign ? "%+.3f%s" : "%.3f%s", v, unit);
  return buf;
}

std::string fmt_age(double s) {
  if (!std::isfinite(s) || s < 0) {
    return "-";
  }
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", std::floor(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%.0fm", std::floor(s / 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%.0fh", std::floor(s / 3600));
  } else if (s < 1e4 * 86400) {
    std::snprintf(buf, sizeof buf, "%.0fd", std::floor(s / 86400));
  } else {
    std::snprintf(buf, sizeof buf, "%.0fy", std::floor(s / (365.25 * 86400)));
  }
  return buf;
}

std::string fmt_ppm(double ppm) {
  if (!std::isfinite(ppm)) {
    return "-";
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, std::fabs(ppm) < 1e5 ? "%+.3f" : "%+.0f", ppm);
  return buf;
}

std::string fmt_plain(const std::string& v) {
  if (!ctl::is_json_number(v) || v.find_first_of("eE.") == std::string::npos) {
    return v;
  }
  double d = std::strtod(v.c_str(), nullptr);
  if (v.find_first_of("eE") == std::string::npos) {
    return v;  // already fixed-point: the wire's full precision
  }
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.12f", d);
  std::string s = buf;
  while (s.size() > 1 && s.back() == '0') {
    s.pop_back();
  }
  if (s.back() == '.') {
    s.pop_back();
  }
  if (s == "-0" || s == "0" || s.find_first_not_of("-0.") == std::string::npos) {
    // Below the 12 decimals: the unit that shows it.
    return fmt_precise(d, d < 0);
  }
  return s;
}

std::string host_port(const std::string& host, const std::string& port) {
  if (port.empty() || port == "123") {
    return host;
  }
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + port;
  }
  return host + ":" + port;
}

std::string format_table(const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows,
                         size_t max_width, const std::string& rule) {
  std::vector<size_t> w(cols.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    w[i] = width(cols[i].head);
    for (const auto& r : rows) {
      if (i < r.size()) {
        w[i] = std::max(w[i], width(r[i]));
      }
    }
  }
  auto total = [&] {
    size_t t = cols.empty() ? 0 : cols.size() - 1;
    for (size_t x : w) {
      t += x;
    }
    return t;
  };
  while (total() > max_width) {
    // The widest cuttable column above its minimum gives one column.
    size_t best = cols.size();
    for (size_t i = 0; i < cols.size(); ++i) {
      size_t floor = std::max(cols[i].min_w, width(cols[i].head));
      if (cols[i].cut && w[i] > floor && (best == cols.size() || w[i] > w[best])) {
        best = i;
      }
    }
    if (best == cols.size()) {
      break;
    }
    --w[best];
  }
  auto line = [&](const std::vector<std::string>& cells, bool head) {
    std::string l;
    for (size_t i = 0; i < cols.size(); ++i) {
      std::string c = i < cells.size() ? cells[i] : std::string();
      if (cols[i].cut) {
        c = cut_to(c, w[i]);
      }
      bool last = i + 1 == cols.size();
      l += (i ? " " : "") + (last && !cols[i].right ? c : pad(c, w[i], cols[i].right && !head));
    }
    while (!l.empty() && l.back() == ' ') {
      l.pop_back();
    }
    return l + "\n";
  };
  std::vector<std::string> head;
  for (const auto& c : cols) {
    head.push_back(c.head);
  }
  std::string out = line(head, true);
  if (!rule.empty()) {
    out += std::string(std::min(total(), max_width), rule[0]) + "\n";
  }
  for (const auto& r : rows) {
    out += line(r, false);
  }
  return out;
}

namespace {

// The name people see for a source: the configured name (an address for a pool's
// members, as each is a server of its own), or the address with -n; ":PORT" when not 123.
std::string source_name(const ctl::Record& r, const TableOptions& opt) {
  std::string name = str(r, "name");
  std::string addr = str(r, "address");
  bool pool = str(r, "mode") == "pool";
  std::string shown = (opt.numeric || pool) && !addr.empty() ? addr : name;
  return host_port(shown, str(r, "port"));
}

char state_char(const std::string& state) {
  if (state == "selected") return '*';
  if (state == "combined") return '+';
  if (state == "candidate") return '-';
  if (state == "falseticker") return 'x';
  if (state == "jittery") return '~';
  if (state == "resolving") return '.';
  return '?';  // unselectable, unreachable
}

std::string poll_text(const ctl::Record& r) { return or_dash(str(r, "poll")); }

std::string sources(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "  .-- Source mode  '^' = server (a pool's members are servers too).\n"
        " / .- Source state '*' = selected (the system peer), '+' = combined with it,\n"
        "| /                '-' = candidate, not combined, 'x' = falseticker (disagrees),\n"
        "||                 '~' = too variable, '?' = unusable or unreachable, '.' = resolving.\n"
        "||                                 Stratum: of the source; Poll: log2 of the interval (s).\n"
        "||                                 Reach: the last 8 polls (octal, 377 = all answered).\n"
        "||                                 LastRx: how long ago the last sample came.\n"
        "||                                 Offset: source - us (+: our clock is behind),\n"
        "||                                 +/- its error; Delay: round trip; Jitter.\n"
        "||                                 Units: ns, us, ms, s. -n: addresses, not names.\n";
  }
  std::vector<Column> cols{{"MS", false, false, 2},     {"Name/IP address", false, true, 15},
                           {"Stratum", true, false, 1}, {"Poll", true, false, 1},
                           {"Reach", true, false, 1},   {"LastRx", true, false, 1},
                           {"Offset", true, false, 1},  {"+/- Error", true, false, 1},
                           {"Delay", true, false, 1},   {"Jitter", true, false, 1}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    std::string st = str(r, "state");
    std::string ms = std::string("^") + state_char(st);
    bool sampled = !str(r, "last_rx_ago_s").empty();
    auto t = [&](const char* k, bool sign) {
      auto v = num(r, k);
      return sampled && v ? (sign ? fmt_offset(*v) : fmt_time(*v)) : std::string("-");
    };
    auto age = num(r, "last_rx_ago_s");
    rows.push_back({ms, source_name(r, opt), st == "resolving" ? "-" : or_dash(str(r, "stratum")),
                    st == "resolving" ? "-" : poll_text(r), st == "resolving" ? "-" : or_dash(str(r, "reach")),
                    age ? fmt_age(*age) : "-", t("offset_s", true),
                    sampled ? "+/- " + pad(t("error_s", false), 6, true) : "-", t("delay_s", false),
                    t("jitter_s", false)});
  }
  return out + format_table(cols, rows, opt.max_width);
}

std::string sourcestats(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Name/IP address: the source (ADDR:PORT when the port is not 123).\n"
        "NP: samples in the filter; NR: runs of residuals of one sign (0: not tested).\n"
        "Span: the time the samples cover. Frequency: the source's frequency against our\n"
        "clock (ppm, + = it runs faster), Freq Skew: its error bound (ppm).\n"
        "Offset: source - us now; Std Dev: the samples' spread. Units: ns, us, ms, s.\n";
  }
  std::vector<Column> cols{{"Name/IP address", false, true, 15},
                           {"NP", true, false, 1},
                           {"NR", true, false, 1},
                           {"Span", true, false, 1},
                           {"Frequency", true, false, 1},
                           {"Freq Skew", true, false, 1},
                           {"Offset", true, false, 1},
                           {"Std Dev", true, false, 1}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    auto d = [&](const char* k) { return num(r, k).value_or(NAN); };
    bool have = num(r, "samples").value_or(0) > 0;
    rows.push_back({source_name(r, opt), or_dash(str(r, "samples")), or_dash(str(r, "runs")),
                    have ? fmt_age(d("span_s")) : "-", have ? fmt_ppm(d("freq_ppm")) : "-",
                    have ? fmt_ppm(d("freq_skew_ppm")).substr(1) : "-", have ? fmt_offset(d("offset_s")) : "-",
                    have ? fmt_time(d("std_dev_s")) : "-"});
  }
  return out + format_table(cols, rows, opt.max_width);
}

std::string selectdata(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "S: the state as in 'sources' ('*' selected, '+' combined, '-' candidate, 'x'\n"
        "falseticker, '~' jittery, '?' unusable). Distance: root distance (the error bound\n"
        "the source claims, delay/2 + dispersion, to its root). Lower/Upper: the interval\n"
        "that holds the true offset; sources whose intervals overlap agree.\n"
        "Reasons: why a source is not selected (none for the selected one).\n";
  }
  std::vector<Column> cols{{"S", false, false, 1},      {"Name/IP address", false, true, 15},
                           {"Stratum", true, false, 1}, {"Distance", true, false, 1},
                           {"Lower", true, false, 1},   {"Upper", true, false, 1},
                           {"Leap", false, false, 1},   {"Reasons", false, true, 10}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    auto d = [&](const char* k) { return num(r, k).value_or(NAN); };
    bool have = d("root_distance_s") > 0;
    rows.push_back({std::string(1, state_char(str(r, "state"))), source_name(r, opt), or_dash(str(r, "stratum")),
                    have ? fmt_time(d("root_distance_s")) : "-", have ? fmt_offset(d("lower_s")) : "-",
                    have ? fmt_offset(d("upper_s")) : "-", or_dash(str(r, "leap")), or_dash(str(r, "reasons"))});
  }
  return out + format_table(cols, rows, opt.max_width);
}

std::string authdata(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Mode: NTS, key (a symmetric key of the keyfile) or - (none). KeyID: the key's id.\n"
        "Type: the key's type (MD5, SHA256, AES128, ...) or the NTS AEAD; KLen: its bits.\n"
        "Last: since the last successful NTS-KE; Atmp: NTS-KE attempts since; NAK: NAKs\n"
        "received (crypto-NAK or NTS NAK); Cook: NTS cookies held; CLen: their length.\n"
        "Fail: replies refused by authentication (not by our key, not our request).\n";
  }
  std::vector<Column> cols{{"Name/IP address", false, true, 15},
                           {"Mode", false, false, 1},
                           {"KeyID", true, false, 1},
                           {"Type", false, false, 1},
                           {"KLen", true, false, 1},
                           {"Last", true, false, 1},
                           {"Atmp", true, false, 1},
                           {"NAK", true, false, 1},
                           {"Cook", true, false, 1},
                           {"CLen", true, false, 1},
                           {"Fail", true, false, 1}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    std::string mode = str(r, "mode");
    bool nts = mode == "nts";
    bool key = mode == "key";
    auto last = num(r, "last_ke_ago_s");
    rows.push_back({source_name(r, opt),
                    nts   ? "NTS"
                    : key ? "key"
                          : "-",
                    key ? or_dash(str(r, "key_id")) : "-", nts ? "AES-SIV" : or_dash(str(r, "key_type")),
                    (nts || key) ? or_dash(str(r, "key_bits")) : "-", nts && last ? fmt_age(*last) : "-",
                    nts ? or_dash(str(r, "ke_attempts")) : "-", or_dash(str(r, "naks")),
                    nts ? or_dash(str(r, "cookies")) : "-", nts ? or_dash(str(r, "cookie_len")) : "-",
                    or_dash(str(r, "failed"))});
  }
  out += format_table(cols, rows, opt.max_width);
  for (const auto& r : recs) {
    if (!str(r, "ke_error").empty()) {
      out += "NTS-KE " + source_name(r, opt) + ": " + str(r, "ke_error") + "\n";
    }
  }
  return out;
}

std::string clients(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Tenant: which server it reached (default: [server]; shown with tenants).\n"
        "Address: the client (IPv6 clients by their /64). Requests: NTP requests received;\n"
        "Answered; Limited: dropped by the rate limit; KoD: kiss-o'-death (RATE/DENY) sent;\n"
        "Denied: refused by the access rules. Last: since the last request; First: since\n"
        "the first one (s, m, h, d).\n";
  }
  bool tenants = false;
  for (const auto& r : recs) {
    std::string t = str(r, "tenant");
    tenants = tenants || (!t.empty() && t != "default");
  }
  std::vector<Column> cols{{"Address", false, true, 15}, {"Requests", true, false, 1}, {"Answered", true, false, 1},
                           {"Limited", true, false, 1},  {"KoD", true, false, 1},      {"Denied", true, false, 1},
                           {"Last", true, false, 1},     {"First", true, false, 1}};
  if (tenants) {
    cols.insert(cols.begin(), Column{"Tenant", false, true, 6});
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    auto last = num(r, "last_seen_ago_s");
    std::string first = "-";
    auto f = ctl::parse_rfc3339(str(r, "first_seen_utc"));
    auto l = ctl::parse_rfc3339(str(r, "last_seen_utc"));
    if (last && f && l) {
      first = fmt_age(*last + static_cast<double>(l->ns - f->ns) / 1e9);
    }
    rows.push_back({str(r, "address"), or_dash(str(r, "requests")), or_dash(str(r, "answered")),
                    or_dash(str(r, "limited")), or_dash(str(r, "kod")), or_dash(str(r, "denied")),
                    last ? fmt_age(*last) : "-", first});
    if (tenants) {
      rows.back().insert(rows.back().begin(), or_dash(str(r, "tenant")));
    }
  }
  return out + format_table(cols, rows, opt.max_width);
}

std::string tenants(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Name: the tenant; Netns: its network namespace; Listen: its addresses; State.\n"
        "Requests: NTP requests received; Answered; Denied: by its access rules (dropped\n"
        "or KoD DENY); Limited: by its rate limit (dropped or KoD RATE); Clients: clients\n"
        "remembered (of the capacity). 'tr7ntpc --json tenants' has every counter.\n";
  }
  std::vector<Column> cols{{"Name", false, true, 6},   {"Netns", false, true, 6},    {"Listen", false, true, 12},
                           {"State", false, true, 6},  {"Requests", true, false, 1}, {"Answered", true, false, 1},
                           {"Denied", true, false, 1}, {"Limited", true, false, 1},  {"Clients", true, false, 1}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    rows.push_back({str(r, "name"), or_dash(str(r, "netns")), or_dash(str(r, "listen")), or_dash(str(r, "state")),
                    or_dash(str(r, "requests")), or_dash(str(r, "answered")), or_dash(str(r, "denied")),
                    or_dash(str(r, "ratelimited")), or_dash(str(r, "clients"))});
  }
  return out + format_table(cols, rows, opt.max_width);
}

std::string audit_tail(const std::vector<ctl::Record>& recs, const TableOptions& opt, LocalTimeFn local,
                       const void* ctx) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Time: when (the daemon's zone; -u: UTC); UID: who (root 0); Via: control socket,\n"
        "reload, ntp (the clock discipline) or start; Command; Result: ok or why refused.\n"
        "'tr7ntpc --json audit tail' has the before and after of each change.\n";
  }
  std::vector<Column> cols{{"Time", false, false, 19},
                           {"UID", true, false, 1},
                           {"Via", false, false, 1},
                           {"Command", false, true, 16},
                           {"Result", false, true, 16}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    std::string t = local(str(r, "time_utc"), ctx);
    // "2026-11-26 09:29:24.818123 +03" -> "2026-11-26 09:29:24" (the zone is in -v).
    if (t.size() > 19 && t[10] == ' ') {
      t = t.substr(0, 19);
    }
    rows.push_back({t, or_dash(str(r, "uid")), or_dash(str(r, "via")), str(r, "command"), str(r, "result")});
  }
  return out + format_table(cols, rows, opt.max_width);
}

std::string peers(const std::vector<ctl::Record>& recs, const TableOptions& opt) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Peers are monitored only: never selected or combined. State: ok (measured),\n"
        "unreachable, resolving, unsynchronised (it answers LI=3), refused (bad replies).\n"
        "Offset: peer - us (+: our clock is behind it), from the sample with the shortest\n"
        "round trip of the last 8; Delay: its round trip; D: '!' beyond peer_max_offset.\n";
  }
  std::vector<Column> cols{{"Name/IP address", false, true, 15},
                           {"State", false, false, 5},
                           {"Stratum", true, false, 1},
                           {"Poll", true, false, 1},
                           {"Reach", true, false, 1},
                           {"LastRx", true, false, 1},
                           {"Offset", true, false, 1},
                           {"Delay", true, false, 1},
                           {"D", false, false, 1}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    std::string addr = str(r, "address");
    std::string shown = opt.numeric && !addr.empty() ? addr : str(r, "name");
    auto off = num(r, "offset_s");
    auto del = num(r, "delay_s");
    auto age = num(r, "last_rx_ago_s");
    rows.push_back({host_port(shown, str(r, "port")), str(r, "state"), or_dash(str(r, "stratum")),
                    or_dash(str(r, "poll")), or_dash(str(r, "reach")), age ? fmt_age(*age) : "-",
                    off ? fmt_offset(*off) : "-", del ? fmt_time(*del) : "-", str(r, "disagrees") == "yes" ? "!" : ""});
  }
  return out + format_table(cols, rows, opt.max_width);
}

// A value with its unit: seconds and ppm as the other tables show them.
std::string with_unit(const std::string& v, const std::string& unit, bool sign) {
  if (!ctl::is_json_number(v)) {
    return or_dash(v);
  }
  double d = std::strtod(v.c_str(), nullptr);
  if (unit == "s") {
    return sign ? fmt_offset(d) : fmt_time(d);
  }
  if (unit == "ppm") {
    return fmt_ppm(d).substr(d >= 0 ? 1 : 0) + "ppm";
  }
  return fmt_plain(v);
}

std::string alerts(const std::vector<ctl::Record>& recs, const TableOptions& opt, LocalTimeFn local, const void* ctx) {
  std::string out;
  if (opt.verbose) {
    out +=
        "Alert: the condition; Subject: the peer or tenant it is about; State: firing, or\n"
        "resolved (the last ones); Sev: warning or critical; Value and Limit: what was seen\n"
        "and the threshold; Since: when it fired (resolved: when it ended); Message.\n";
  }
  std::vector<Column> cols{{"Alert", false, false, 5},  {"Subject", false, true, 7}, {"State", false, false, 5},
                           {"Sev", false, false, 3},    {"Value", true, false, 1},   {"Limit", true, false, 1},
                           {"Since", false, false, 19}, {"Message", false, true, 10}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : recs) {
    std::string state = str(r, "state");
    std::string t = local(str(r, state == "resolved" ? "resolved_utc" : "fired_utc"), ctx);
    if (t.size() > 19 && t[10] == ' ') {
      t = t.substr(0, 19);
    }
    std::string unit = str(r, "unit");
    rows.push_back({str(r, "alert"), or_dash(str(r, "subject")), state,
                    str(r, "severity") == "critical" ? "crit" : "warn", with_unit(str(r, "value"), unit, true),
                    with_unit(str(r, "threshold"), unit, false), t, str(r, "message")});
  }
  return out + format_table(cols, rows, opt.max_width);
}

// tracking, as chronyc shows it.
std::string tracking(const ctl::Record& r, const TableOptions& opt, LocalTimeFn local, const void* ctx) {
  std::string out;
  auto line = [&](const char* label, const std::string& v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%-16s: ", label);
    out += buf + v + "\n";
  };
  auto d = [&](const char* k) { return num(r, k).value_or(NAN); };
  auto secs = [](double s, bool sign) {
    if (!std::isfinite(s)) {
      return std::string("-");
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, sign ? "%+.9f seconds" : "%.9f seconds", s);
    return std::string(buf);
  };
  std::string refid = str(r, "ref_id");
  if (refid.size() == 10 && refid.compare(0, 2, "0x") == 0) {
    refid = refid.substr(2);
  }
  line("Reference ID", refid + " (" + or_dash(str(r, "ref_name")) + ")");
  line("Stratum", or_dash(str(r, "stratum")));
  std::string ref = str(r, "reference_time_utc");
  line("Ref time", ref.empty() ? "never" : local(ref, ctx));
  double off = d("offset_s");
  {
    char buf[96];
    // offset_s = reference - local: positive, our clock is behind (slow).
    std::snprintf(buf, sizeof buf, "%.9f seconds %s of NTP time", std::fabs(std::isfinite(off) ? off : 0),
                  off > 0 ? "slow" : "fast");
    line("System time", std::isfinite(off) ? buf : "-");
  }
  line("Last offset", secs(d("last_offset_s"), true));
  line("RMS offset", secs(d("rms_offset_s"), false));
  double f = d("freq_ppm");
  {
    char buf[64];
    // The correction speeds the clock up (+) because it runs slow by itself.
    std::snprintf(buf, sizeof buf, "%.3f ppm %s", std::fabs(f), f >= 0 ? "slow" : "fast");
    line("Frequency", std::isfinite(f) ? buf : "-");
  }
  line("Residual freq", fmt_ppm(d("residual_freq_ppm")) + " ppm");
  line("Skew", fmt_ppm(d("skew_ppm")).substr(1) + " ppm");
  line("Root delay", secs(d("root_delay_s"), false));
  line("Root dispersion", secs(d("root_dispersion_s"), false));
  {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f seconds", d("update_interval_s"));
    line("Update interval", std::isfinite(d("update_interval_s")) ? buf : "-");
  }
  std::string leap = str(r, "leap");
  line("Leap status", leap == "none"             ? "Normal"
                      : leap == "insert"         ? "Insert second"
                      : leap == "delete"         ? "Delete second"
                      : leap == "unsynchronised" ? "Not synchronised"
                                                 : or_dash(leap));
  std::string state = str(r, "state");
  std::string sync = str(r, "synchronised");
  // "local" serves time although no source synchronised it: say which it is.
  line("State", or_dash(state) +
                    (state == "synchronised" || sync.empty() ? ""
                     : sync == "yes"                         ? " (serving as synchronised)"
                                                             : " (not synchronised)") +
                    ", clock " + or_dash(str(r, "clock_mode")));
  std::string held = str(r, "held_id");
  if (held.empty()) {
    line("Held correction", "none");
  } else {
    std::string since = str(r, "held_since_utc");
    line("Held correction", "id " + held + ": " + secs(d("held_offset_s"), true) +
                                (since.empty() ? "" : " since " + local(since, ctx)) + " ('approve " + held + "')");
  }
  if (opt.verbose) {
    out +=
        "\nSystem time: how far the clock is from the reference now (slow: behind it), and\n"
        "being corrected; Last offset: the last measured offset (+: behind); Frequency: how\n"
        "fast or slow the clock runs by itself (the correction applied); Residual freq and\n"
        "Skew: the remaining frequency error and its bound; Root delay/dispersion: to the\n"
        "stratum 1 source; State: synchronised, local (local_stratum, no source),\n"
        "holdover or unsynchronised; Held correction: one offset_tolerance held back.\n";
  }
  return out;
}

}  // namespace

std::optional<std::string> people_report(const std::string& command, const std::vector<ctl::Record>& records,
                                         const TableOptions& opt, LocalTimeFn local, const void* ctx) {
  if (command == "tracking" && records.size() == 1) {
    return tracking(records[0], opt, local, ctx);
  }
  bool table = command == "sources" || command == "sourcestats" || command == "selectdata" || command == "authdata" ||
               command == "clients" || command == "tenants" || command == "audit tail" || command == "alerts" ||
               command == "peers";
  if (!table) {
    return std::nullopt;
  }
  if (records.empty()) {
    return std::string("(none)\n");
  }
  if (command == "sources") {
    return sources(records, opt);
  }
  if (command == "sourcestats") {
    return sourcestats(records, opt);
  }
  if (command == "selectdata") {
    return selectdata(records, opt);
  }
  if (command == "authdata") {
    return authdata(records, opt);
  }
  if (command == "clients") {
    return clients(records, opt);
  }
  if (command == "tenants") {
    return tenants(records, opt);
  }
  if (command == "alerts") {
    return alerts(records, opt, local, ctx);
  }
  if (command == "peers") {
    return peers(records, opt);
  }
  return audit_tail(records, opt, local, ctx);
}

}  // namespace tr7::tools
