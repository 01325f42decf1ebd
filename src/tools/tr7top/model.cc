// The dashboard's data model (see model.h).
#include "tools/tr7top/model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tools/tr7top/format.h"

namespace tr7::top {

SyncView sync_view(const ctl::TrackingStatus& t) {
  if (t.held) {
    return {"correction held", Tone::Bad};
  }
  if (t.state == "synchronised") {
    return {"synchronised", Tone::Good};
  }
  if (t.state == "local") {
    return {"local", Tone::Info};
  }
  if (t.state == "holdover") {
    return {"holdover", Tone::Warn};
  }
  if (t.state == "unsynchronised" || t.state.empty()) {
    return {"unsynchronised", Tone::Bad};
  }
  // A state this tr7top does not know: show the daemon's word, judged by the flag.
  return {clean(t.state, 24), t.synchronised ? Tone::Normal : Tone::Warn};
}

SourceStateView source_state(std::string_view state) {
  struct Entry {
    std::string_view name;
    char symbol;
    Tone tone;
    bool usable;
    int rank;
  };
  static constexpr Entry k_states[] = {
      {"selected", '*', Tone::Good, true, 0},      {"combined", '+', Tone::Good, true, 1},
      {"candidate", '-', Tone::Normal, true, 2},   {"jittery", '~', Tone::Warn, false, 3},
      {"unselectable", '?', Tone::Warn, false, 4}, {"falseticker", 'x', Tone::Bad, false, 5},
      {"kod", 'K', Tone::Bad, false, 6},           {"unreachable", '!', Tone::Bad, false, 7},
      {"resolving", '.', Tone::Dim, false, 8},
  };
  for (const auto& e : k_states) {
    if (state == e.name) {
      return {e.symbol, std::string(e.name), e.tone, e.usable, e.rank};
    }
  }
  return {'?', "unknown(" + clean(state, 16) + ")", Tone::Warn, false, 9};
}

const char* to_string(Severity s) {
  switch (s) {
    case Severity::Info:
      return "info";
    case Severity::Warning:
      return "warning";
    case Severity::Critical:
      return "critical";
  }
  return "?";
}

// --- History ---------------------------------------------------------------------

void History::add(int64_t mono_ns, double offset_s) {
  if (!std::isfinite(offset_s)) {
    return;
  }
  if (!m_samples.empty() && mono_ns < m_samples.back().mono_ns) {
    return;  // time never goes back; ignore rather than corrupt the order
  }
  m_samples.push_back({mono_ns, offset_s});
  auto keep_ns = static_cast<int64_t>(m_keep_s * 1e9);
  while (!m_samples.empty() && (m_samples.size() > m_max || m_samples.front().mono_ns < mono_ns - keep_ns)) {
    m_samples.pop_front();
  }
}

std::optional<double> History::trend(int64_t now_ns, double span_s) const {
  int64_t from = now_ns - static_cast<int64_t>(span_s * 1e9);
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  int64_t first = 0, last = 0;
  for (const auto& s : m_samples) {
    if (s.mono_ns < from || s.mono_ns > now_ns) {
      continue;
    }
    if (n == 0) {
      first = s.mono_ns;
    }
    last = s.mono_ns;
    double x = static_cast<double>(s.mono_ns - from) / 1e9;
    n += 1;
    sx += x;
    sy += s.offset_s;
    sxx += x * x;
    sxy += x * s.offset_s;
  }
  if (n < 3 || last - first < 2 * core::k_ns_per_s) {
    return std::nullopt;
  }
  double den = n * sxx - sx * sx;
  if (den <= 0) {
    return std::nullopt;
  }
  return (n * sxy - sx * sy) / den;
}

std::vector<std::optional<double>> History::buckets(int64_t now_ns, size_t columns, double window_s) const {
  std::vector<std::optional<double>> out(columns);
  if (columns == 0 || window_s <= 0) {
    return out;
  }
  double start = static_cast<double>(now_ns) - window_s * 1e9;
  double width = window_s * 1e9 / static_cast<double>(columns);
  for (const auto& s : m_samples) {
    double pos = (static_cast<double>(s.mono_ns) - start) / width;
    if (pos < 0 || s.mono_ns > now_ns) {
      continue;
    }
    auto i = std::min(columns - 1, static_cast<size_t>(pos));
    if (!out[i] || std::fabs(s.offset_s) > std::fabs(*out[i])) {
      out[i] = s.offset_s;
    }
  }
  return out;
}

Plot plot(const std::vector<std::optional<double>>& buckets, size_t height, bool utf8) {
  Plot p;
  height = std::max<size_t>(height, 1);
  p.rows.assign(height, std::string());
  bool any = false;
  for (const auto& b : buckets) {
    if (b) {
      p.lo = any ? std::min(p.lo, *b) : *b;
      p.hi = any ? std::max(p.hi, *b) : *b;
      any = true;
    }
  }
  p.empty = !any;
  double lo = p.lo, hi = p.hi;
  if (hi - lo <= 0) {  // flat: put the line in the middle
    double pad = std::max(std::fabs(hi) * 1e-3, 1e-12);
    lo -= pad;
    hi += pad;
  }
  static const char* const k_blocks[] = {" ",
                                         "\xE2\x96\x81",
                                         "\xE2\x96\x82",
                                         "\xE2\x96\x83",
                                         "\xE2\x96\x84",
                                         "\xE2\x96\x85",
                                         "\xE2\x96\x86",
                                         "\xE2\x96\x87",
                                         "\xE2\x96\x88"};
  static const char* const k_ascii[] = {" ", "_", "-", "=", "#"};
  const int per_row = utf8 ? 8 : 4;
  const int levels = static_cast<int>(height) * per_row;
  for (const auto& b : buckets) {
    int level = 0;
    if (b) {
      level = static_cast<int>(std::lround((*b - lo) / (hi - lo) * (levels - 1))) + 1;
      level = std::clamp(level, 1, levels);
    }
    for (size_t r = 0; r < height; ++r) {
      int base = static_cast<int>(height - 1 - r) * per_row;  // row 0 is the top
      int fill = std::clamp(level - base, 0, per_row);
      p.rows[r] += utf8 ? k_blocks[fill] : k_ascii[fill];
    }
  }
  return p;
}

// --- Sorting ---------------------------------------------------------------------

SortKey next(SortKey k) {
  switch (k) {
    case SortKey::Daemon:
      return SortKey::State;
    case SortKey::State:
      return SortKey::Name;
    case SortKey::Name:
      return SortKey::Stratum;
    case SortKey::Stratum:
      return SortKey::Offset;
    case SortKey::Offset:
      return SortKey::Delay;
    case SortKey::Delay:
      return SortKey::Daemon;
  }
  return SortKey::Daemon;
}

const char* to_string(SortKey k) {
  switch (k) {
    case SortKey::Daemon:
      return "daemon order";
    case SortKey::State:
      return "state";
    case SortKey::Name:
      return "name";
    case SortKey::Stratum:
      return "stratum";
    case SortKey::Offset:
      return "|offset|";
    case SortKey::Delay:
      return "delay";
  }
  return "?";
}

std::vector<ctl::SourceStatus> sorted(std::vector<ctl::SourceStatus> v, SortKey k) {
  auto rank = [](const ctl::SourceStatus& s) { return source_state(s.state).rank; };
  auto name_less = [](const ctl::SourceStatus& a, const ctl::SourceStatus& b) {
    return a.name != b.name ? a.name < b.name : a.address < b.address;
  };
  // NaN and unmeasured values sort last.
  auto key = [](double d) { return std::isfinite(d) ? std::fabs(d) : HUGE_VAL; };
  switch (k) {
    case SortKey::Daemon:
      break;
    case SortKey::State:
      std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
        return rank(a) != rank(b) ? rank(a) < rank(b) : name_less(a, b);
      });
      break;
    case SortKey::Name:
      std::stable_sort(v.begin(), v.end(), name_less);
      break;
    case SortKey::Stratum:
      std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
        int sa = a.stratum == 0 ? 256 : a.stratum, sb = b.stratum == 0 ? 256 : b.stratum;
        return sa != sb ? sa < sb : rank(a) < rank(b);
      });
      break;
    case SortKey::Offset:
      std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
        bool ma = a.reach != 0, mb = b.reach != 0;
        if (ma != mb) {
          return ma;
        }
        return key(a.offset_s) < key(b.offset_s);
      });
      break;
    case SortKey::Delay:
      std::stable_sort(v.begin(), v.end(), [&](const auto& a, const auto& b) {
        bool ma = a.reach != 0, mb = b.reach != 0;
        if (ma != mb) {
          return ma;
        }
        return key(a.delay_s) < key(b.delay_s);
      });
      break;
  }
  return v;
}

// --- Rates -----------------------------------------------------------------------

void RateMeter::add(int64_t mono_ns, const ServerCounters& c) {
  Sample s{mono_ns, c.received, c.answered, c.dropped, c.kod_rate + c.kod_deny};
  if (!m_samples.empty()) {
    const Sample& b = m_samples.back();
    if (mono_ns <= b.mono_ns) {
      return;
    }
    if (s.received < b.received || s.answered < b.answered || s.dropped < b.dropped || s.kod < b.kod) {
      m_samples.clear();  // counters went back: the daemon restarted
    }
  }
  m_samples.push_back(s);
  // Keep the newest sample that is at least a window old, and everything after it.
  while (m_samples.size() > 2 && m_samples[1].mono_ns <= mono_ns - m_window_ns) {
    m_samples.pop_front();
  }
}

std::optional<CounterRates> RateMeter::rates() const {
  if (m_samples.size() < 2) {
    return std::nullopt;
  }
  const Sample& a = m_samples.front();
  const Sample& b = m_samples.back();
  double dt = static_cast<double>(b.mono_ns - a.mono_ns) / 1e9;
  if (dt < 0.2) {
    return std::nullopt;
  }
  auto r = [dt](uint64_t x, uint64_t y) { return static_cast<double>(y - x) / dt; };
  return CounterRates{r(a.received, b.received), r(a.answered, b.answered), r(a.dropped, b.dropped), r(a.kod, b.kod)};
}

// --- Model -----------------------------------------------------------------------

namespace {
constexpr int64_t k_notice_ns = 15 * core::k_ns_per_s;
}

void Model::on_connected(const std::string& version, Now now, bool reconnected) {
  if (reconnected && !m_was_down) {
    m_notice = "reconnected to " + version + " (the daemon had closed the connection)";
    m_notice_until_ns = now.mono_ns + k_notice_ns;
  }
  if (m_was_down && m_link == Link::Unreachable) {
    double down_s = static_cast<double>(now.mono_ns - m_down_since.mono_ns) / 1e9;
    if (!m_version.empty() && version != m_version) {
      m_notice = "reconnected after " + format_duration(down_s) + ": now " + version + " (was " + m_version + ")";
    } else {
      m_notice = "reconnected to " + version + " after " + format_duration(down_s) + " unreachable";
    }
    m_notice_until_ns = now.mono_ns + k_notice_ns;
    for (auto& [name, meter] : m_rates) {
      meter.reset();  // a reconnect may be a restart: rates start afresh
    }
  }
  m_was_down = false;
  m_link = Link::Connected;
  m_failure.clear();
  m_version = version;
}

void Model::on_snapshot(Snapshot s, Now now) {
  if (s.tracking) {
    const auto& t = *s.tracking;
    if (t.synchronised || t.state == "holdover") {
      m_history.add(now.mono_ns, t.offset_s);
    }
  }
  if (s.server) {
    m_rates[""].add(now.mono_ns, *s.server);
  }
  std::map<std::string, RateMeter> keep;
  if (auto it = m_rates.find(""); it != m_rates.end()) {
    keep.emplace("", std::move(it->second));
  }
  if (s.tenants && *s.tenants) {
    for (const auto& c : **s.tenants) {
      std::string key = "tenant:" + c.tenant;
      RateMeter m;
      if (auto it = m_rates.find(key); it != m_rates.end()) {
        m = std::move(it->second);
      }
      m.add(now.mono_ns, c);
      keep[key] = std::move(m);
    }
  }
  m_rates = std::move(keep);
  if (s.zone && (!m_zone || m_zone->zone != s.zone->zone || m_zone->rule != s.zone->rule)) {
    m_rule.reset();
    if (!s.zone->rule.empty()) {
      if (auto r = core::parse_tz_rule(s.zone->rule)) {
        m_rule = std::move(*r);
      }
    }
  }
  if (s.zone) {
    m_zone = s.zone;
  }
  m_last = std::move(s);
  m_last_at = now;
}

void Model::on_failure(const std::string& why, Now now) {
  if (m_link != Link::Unreachable) {
    m_down_since = now;
  }
  m_link = Link::Unreachable;
  m_was_down = true;
  m_failure = why;
  m_notice.clear();
}

std::string Model::notice(Now now) const { return now.mono_ns < m_notice_until_ns ? m_notice : std::string(); }

std::optional<double> Model::offset_trend(Now now) const { return m_history.trend(now.mono_ns, 60); }

std::optional<CounterRates> Model::rates(const std::string& tenant) const {
  auto it = m_rates.find(tenant.empty() ? std::string() : "tenant:" + tenant);
  if (it == m_rates.end()) {
    return std::nullopt;
  }
  return it->second.rates();
}

int32_t Model::zone_offset(core::Timestamp t) const {
  if (m_rule) {
    return core::local_info(*m_rule, t).utc_offset_s;
  }
  return m_zone ? m_zone->utc_offset_s : 0;
}

std::string Model::zone_label(core::Timestamp t) const {
  if (!m_zone) {
    return "";
  }
  std::string abbr = m_rule ? core::local_info(*m_rule, t).abbr : m_zone->abbreviation;
  if (abbr.empty()) {
    abbr = format_utc_offset(zone_offset(t));
  }
  return clean(abbr + " " + m_zone->zone, 64);
}

int usable_sources(const std::vector<ctl::SourceStatus>& v) {
  int n = 0;
  for (const auto& s : v) {
    if (source_state(s.state).usable) {
      ++n;
    }
  }
  return n;
}

std::string format_trend(std::optional<double> slope, double offset_s, bool utf8) {
  if (!slope || !std::isfinite(*slope)) {
    return "";
  }
  double per_min = *slope * 60;
  // Steady when the change over a minute is below 1 ns or 1 % of the offset.
  bool steady = std::fabs(per_min) < std::max(1e-9, 0.01 * std::fabs(offset_s));
  const char* arrow = steady        ? (utf8 ? "\xE2\x86\x92" : "=")
                      : per_min > 0 ? (utf8 ? "\xE2\x86\x91" : "^")
                                    : (utf8 ? "\xE2\x86\x93" : "v");
  return std::string(arrow) + format_offset(steady ? 0.0 : per_min, utf8) + "/min";
}

namespace {

std::string names(const std::vector<const ctl::SourceStatus*>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == 3) {
      s += " and " + std::to_string(v.size() - 3) + " more";
      break;
    }
    s += (i ? ", " : "") + clean(v[i]->name.empty() ? v[i]->address : v[i]->name, 40);
  }
  return s;
}

}  // namespace

std::vector<Alert> Model::alerts(Now now) const {
  std::vector<Alert> a;
  auto add = [&](Severity s, std::string text) { a.push_back({s, std::move(text)}); };
  if (m_link == Link::Unreachable) {
    double down = static_cast<double>(now.mono_ns - m_down_since.mono_ns) / 1e9;
    add(Severity::Critical, "daemon unreachable for " + format_duration(down) + ": " + m_failure);
  } else if (m_link == Link::Connecting) {
    add(Severity::Info, "connecting to the daemon");
  }
  if (m_last) {
    const Snapshot& s = *m_last;
    // The daemon's own alerts when it has them: then tr7top's thresholds (offset,
    // frequency, too few sources, held correction, unsynchronised) stay quiet.
    bool daemon_alerts = s.alerts && s.alerts->has_value();
    if (daemon_alerts) {
      for (const auto& d : **s.alerts) {
        if (!d.firing) {
          continue;
        }
        std::string since;
        if (!d.fired.is_zero()) {
          since = " for " + format_duration(diff_s(now.real, d.fired));
        }
        add(d.severity == "critical" ? Severity::Critical : Severity::Warning,
            d.alert + (d.subject.empty() ? "" : " (" + d.subject + ")") + since + ": " + d.message);
      }
    } else if (s.alerts) {
      add(Severity::Info, "alerts: " + s.alerts->error().text);
    }
    std::string state;
    if (!s.tracking) {
      add(Severity::Critical, "tracking: " + s.tracking.error().text);
    } else {
      const auto& t = *s.tracking;
      state = t.state;
      if (t.held && !daemon_alerts) {
        std::string id = std::to_string(t.held->id);
        std::string since;
        if (!t.held->since.is_zero()) {
          since = " for " + format_duration(diff_s(now.real, t.held->since));
        }
        add(Severity::Critical, "correction of " + format_offset(t.held->offset_s) + " held" + since +
                                    ": check, then 'tr7ntpc approve " + id + "'");
      }
      if (t.state == "holdover") {
        add(Severity::Warning, "holdover: no usable source, the clock runs on its last frequency");
      } else if (!t.synchronised && !daemon_alerts) {
        add(Severity::Critical, "not synchronised");
      }
      if (daemon_alerts) {
        // The daemon's thresholds apply.
      } else if (std::isfinite(t.offset_s) && std::fabs(t.offset_s) > m_th.offset_s) {
        add(Severity::Warning,
            "offset " + format_offset(t.offset_s) + " beyond " + format_time(m_th.offset_s) + " threshold");
      } else if (!std::isfinite(t.offset_s)) {
        add(Severity::Warning, "offset is not a number");
      }
      if (!daemon_alerts && std::isfinite(t.freq_ppm) && std::fabs(t.freq_ppm) > m_th.drift_ppm) {
        char thr[32];
        std::snprintf(thr, sizeof thr, "%gppm", m_th.drift_ppm);
        add(Severity::Warning, "frequency " + format_ppm(t.freq_ppm) + " beyond " + thr + " threshold");
      }
      if (t.leap == "insert" || t.leap == "delete") {
        add(Severity::Info, "leap second announced: " + t.leap + " at the end of the UTC day");
      }
    }
    if (!s.sources) {
      add(Severity::Warning, "sources: " + s.sources.error().text);
    } else {
      const auto& v = *s.sources;
      int usable = usable_sources(v);
      if (v.empty()) {
        if (state == "local") {
          add(Severity::Info, "no NTP sources: serving the local clock");
        } else {
          add(Severity::Warning, "no NTP sources");
        }
      } else if (usable < m_th.min_sources && !daemon_alerts) {
        add(Severity::Warning, "too few sources: " + std::to_string(usable) + " of " + std::to_string(v.size()) +
                                   " usable, " + std::to_string(m_th.min_sources) + " wanted");
      }
      std::vector<const ctl::SourceStatus*> unreachable, falsetickers, kod;
      for (const auto& src : v) {
        if (src.state == "unreachable") {
          unreachable.push_back(&src);
        } else if (src.state == "falseticker") {
          falsetickers.push_back(&src);
        } else if (src.state == "kod") {
          kod.push_back(&src);
        }
      }
      if (!falsetickers.empty()) {
        add(Severity::Warning, "falseticker: " + names(falsetickers));
      }
      if (!unreachable.empty()) {
        add(Severity::Warning, "unreachable: " + names(unreachable));
      }
      if (!kod.empty()) {
        add(Severity::Warning, "KoD (refused) by: " + names(kod));
      }
    }
    if (!s.server) {
      add(Severity::Info, "serverstats: " + s.server.error().text);
    }
    if (s.tenants && !*s.tenants) {
      add(Severity::Info, "tenants: " + s.tenants->error().text);
    }
  }
  std::stable_sort(a.begin(), a.end(), [](const Alert& x, const Alert& y) { return x.severity > y.severity; });
  return a;
}

}  // namespace tr7::top
