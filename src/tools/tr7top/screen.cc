// The screen as text (see screen.h).
#include "tools/tr7top/screen.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "tools/tr7top/format.h"

namespace tr7::top {

Style style_of(Tone t) {
  switch (t) {
    case Tone::Normal:
      return Style::Normal;
    case Tone::Good:
      return Style::Good;
    case Tone::Info:
      return Style::Info;
    case Tone::Warn:
      return Style::Warn;
    case Tone::Bad:
      return Style::Bad;
    case Tone::Dim:
      return Style::Dim;
  }
  return Style::Normal;
}

size_t line_width(const Line& l) {
  size_t w = 0;
  for (const auto& s : l) {
    w += display_width(s.text);
  }
  return w;
}

std::string frame_text(const Frame& f) {
  std::string out;
  for (const auto& l : f.lines) {
    for (const auto& s : l) {
      out += s.text;
    }
    out += '\n';
  }
  return out;
}

namespace {

// Cuts a line to `width` columns and pads it with `pad_style` spaces to exactly that.
Line fit_line(Line l, size_t width, Style pad_style = Style::Normal) {
  Line out;
  size_t used = 0;
  for (auto& s : l) {
    if (used >= width) {
      break;
    }
    size_t w = display_width(s.text);
    if (used + w > width) {
      s.text = fit(s.text, width - used, false);
      w = width - used;
    }
    used += w;
    out.push_back(std::move(s));
  }
  if (used < width) {
    out.push_back({std::string(width - used, ' '), pad_style});
  }
  return out;
}

void append(Line& to, Line from) {
  for (auto& s : from) {
    to.push_back(std::move(s));
  }
}

struct Composer {
  const Model& m;
  UiState& ui;
  const Context& c;
  const Snapshot* snap = nullptr;
  const ctl::TrackingStatus* trk = nullptr;
  bool stale = false;

  Style value_style(Style s) const { return stale ? Style::Dim : s; }

  int32_t shown_offset(core::Timestamp t) const { return ui.show_local ? m.zone_offset(t) : 0; }
  // Time of day in the shown zone.
  std::string tod(core::Timestamp t) const { return format_civil(t, shown_offset(t), true); }
  std::string zone_word(core::Timestamp t) const {
    if (!ui.show_local || !m.has_zone()) {
      return "UTC";
    }
    std::string l = m.zone_label(t);
    return l.substr(0, l.find(' '));
  }

  Line title() const {
    core::Timestamp now = c.now.real;
    bool date = c.cols >= 100;  // below, the dates would crowd out host and version
    std::string utc = format_civil(now, 0, !date) + " UTC";
    std::string right;
    if (m.has_zone()) {
      std::string local = format_civil(now, m.zone_offset(now), !date) + " " + m.zone_label(now);
      std::string local_short = format_civil(now, m.zone_offset(now), true) + " " + m.zone_label(now);
      std::string utc_short = format_civil(now, 0, true) + " UTC";
      right = ui.show_local ? local + "  " + utc_short : utc + "  " + local_short;
    } else {
      right = utc;
    }
    std::string left = " tr7top  " + c.host + "  " + (m.version().empty() ? "tr7ntpd ?" : m.version());
    size_t rw = display_width(right) + 3;
    if (rw + 20 > c.cols) {  // narrow: drop the second clock
      right = ui.show_local && m.has_zone() ? format_civil(now, m.zone_offset(now), false) + " " + zone_word(now) : utc;
      rw = display_width(right) + 3;
    }
    Line l;
    if (rw >= c.cols) {
      l.push_back({fit(left, c.cols, true), Style::Title});
      return l;
    }
    l.push_back({fit(left, c.cols - rw, true), Style::Title});
    l.push_back({"  " + right + " ", Style::Title});
    return fit_line(std::move(l), c.cols, Style::Title);
  }

  struct Field {
    std::string label;
    Line value;
  };

  std::vector<Field> fields(size_t n) const {
    std::vector<Field> f;
    auto v = [&](std::string text, Style s = Style::Normal) { return Line{{std::move(text), value_style(s)}}; };
    // State.
    Line state;
    if (m.link() == Link::Unreachable) {
      state.push_back({"daemon unreachable", Style::Bad});  // the values below are dimmed: stale
    } else if (!trk) {
      state.push_back({m.link() == Link::Connecting ? "connecting" : "no data", Style::Dim});
    } else {
      SyncView sv = sync_view(*trk);
      state.push_back({sv.words, style_of(sv.tone)});
    }
    f.push_back({"State", state});
    if (!trk) {
      const char* dash = "-";
      for (const char* label : {"Reference", "Stratum", "Leap", "Offset", "Frequency", "Root delay", "Root disp",
                                "Updated", "Interval", "RMS offset", "Clock"}) {
        f.push_back({label, v(dash, Style::Dim)});
      }
      f.resize(n);
      return f;
    }
    const auto& t = *trk;
    std::string hex = ctl::format_refid(t.ref_id);
    std::string ref = t.ref_id == 0 && t.ref_name.empty() ? "-"
                      : t.ref_name.empty()                ? format_refid(hex)
                                                          : t.ref_name + " (" + hex.substr(2) + ")";
    f.push_back({"Reference", v(ref)});
    f.push_back({"Stratum", v(t.stratum > 0 ? std::to_string(t.stratum) : "-")});
    f.push_back({"Leap", v(t.leap, t.leap == "insert" || t.leap == "delete" ? Style::Warn : Style::Normal)});
    bool off_alert = !std::isfinite(t.offset_s) || std::fabs(t.offset_s) > m.thresholds().offset_s;
    Line off = v(format_offset(t.offset_s, c.utf8), off_alert ? Style::Warn : Style::Normal);
    std::string trend = format_trend(m.offset_trend(c.now), t.offset_s, c.utf8);
    if (!trend.empty()) {
      off.push_back({"  " + trend, value_style(Style::Dim)});
    }
    f.push_back({"Offset", off});
    bool freq_alert = !std::isfinite(t.freq_ppm) || std::fabs(t.freq_ppm) > m.thresholds().drift_ppm;
    Line freq = v(format_ppm(t.freq_ppm), freq_alert ? Style::Warn : Style::Normal);
    char skew[32];
    std::snprintf(skew, sizeof skew, "  skew %.3fppm", std::fabs(t.skew_ppm));
    freq.push_back({std::isfinite(t.skew_ppm) ? skew : "  skew -", value_style(Style::Dim)});
    f.push_back({"Frequency", freq});
    f.push_back({"Root delay", v(format_time(t.root_delay_s, c.utf8))});
    f.push_back({"Root disp", v(format_time(t.root_dispersion_s, c.utf8))});
    std::string upd = "never";
    if (!t.reference_time.is_zero()) {
      upd = format_duration(diff_s(c.now.real, t.reference_time)) + " ago, " + tod(t.reference_time);
    }
    f.push_back({"Updated", v(upd)});
    f.push_back({"Interval", v(t.update_interval_s > 0 ? format_duration(t.update_interval_s) : "-")});
    f.push_back({"RMS offset", v(format_time(t.rms_offset_s, c.utf8))});
    f.push_back({"Clock", v(t.clock_mode.empty() ? "-" : t.clock_mode)});
    f.resize(n);
    return f;
  }

  std::vector<Line> header(size_t ncols, size_t nfields) const {
    std::vector<Field> f = fields(nfields);
    size_t cell = c.cols / ncols;
    std::vector<Line> lines;
    for (size_t i = 0; i < f.size(); i += ncols) {
      Line l;
      for (size_t j = 0; j < ncols && i + j < f.size(); ++j) {
        Line cl;
        cl.push_back({" " + fit(f[i + j].label, 10, false) + " ", Style::Heading});
        append(cl, f[i + j].value);
        append(l, fit_line(std::move(cl), j + 1 == ncols ? c.cols - cell * j : cell));
      }
      lines.push_back(fit_line(std::move(l), c.cols));
    }
    return lines;
  }

  std::vector<Line> alert_lines(const std::vector<Alert>& al, size_t n) const {
    std::vector<Line> lines;
    if (al.empty()) {
      lines.push_back(fit_line({{" Alerts     ", Style::Heading}, {"none", Style::Good}}, c.cols));
      return lines;
    }
    for (size_t i = 0; i < n && i < al.size(); ++i) {
      Style s = al[i].severity == Severity::Critical  ? Style::Bad
                : al[i].severity == Severity::Warning ? Style::Warn
                                                      : Style::Info;
      Line l{{i == 0 ? " Alerts     " : "            ", Style::Heading}};
      std::string more;
      if (i + 1 == n && al.size() > n) {
        more = " (+" + std::to_string(al.size() - n) + " more)";
      }
      std::string mark = al[i].severity == Severity::Critical  ? "!! "
                         : al[i].severity == Severity::Warning ? "!  "
                                                               : "i  ";
      size_t room = c.cols > 12 + display_width(more) ? c.cols - 12 - display_width(more) : 0;
      l.push_back({fit(mark + al[i].text, room, true), s});
      if (!more.empty()) {
        l.push_back({more, Style::Dim});
      }
      lines.push_back(fit_line(std::move(l), c.cols));
    }
    return lines;
  }

  std::vector<Line> history(size_t plot_rows) const {
    std::vector<Line> lines;
    std::string window = format_duration(c.history_window_s);
    auto ends = [&](const char* tail) {
      size_t n = std::strlen(tail);
      return window.size() > n && window.compare(window.size() - n, n, tail) == 0;
    };
    if (ends("m00s") || ends("h00m") || ends("d00h")) {
      window.resize(window.size() - 3);  // "10m00s" -> "10m"
    }
    std::string label = " History    offset, last " + window;
    if (plot_rows == 0) {  // one line: label, range, sparkline
      size_t room = c.cols > 40 ? c.cols - 40 : 0;
      Plot p = plot(m.history().buckets(c.now.mono_ns, room, c.history_window_s), 1, c.utf8);
      std::string range = p.empty ? "no data yet" : format_offset(p.lo, c.utf8) + ".." + format_offset(p.hi, c.utf8);
      Line l{{" History    ", Style::Heading}, {fit(range, 27, true) + " ", Style::Dim}};
      if (room > 0) {
        l.push_back({p.rows[0], Style::Plot});
      }
      lines.push_back(fit_line(std::move(l), c.cols));
      return lines;
    }
    size_t axis = 12;
    size_t room = c.cols > axis + 1 ? c.cols - axis - 1 : 0;
    Plot p = plot(m.history().buckets(c.now.mono_ns, room, c.history_window_s), plot_rows, c.utf8);
    lines.push_back(fit_line({{" History    ", Style::Heading},
                              {"offset over the last " + window + (p.empty ? ": no data yet" : ""), Style::Dim}},
                             c.cols));
    for (size_t r = 0; r < plot_rows; ++r) {
      std::string tick;
      if (p.empty) {
      } else if (p.lo == p.hi) {
        tick = r == plot_rows / 2 ? format_offset(p.lo, c.utf8) : "";
      } else if (r == 0) {
        tick = format_offset(p.hi, c.utf8);
      } else if (r + 1 == plot_rows) {
        tick = format_offset(p.lo, c.utf8);
      }
      lines.push_back(fit_line({{fit_right(tick, axis - 1) + " ", Style::Dim}, {p.rows[r], Style::Plot}}, c.cols));
    }
    return lines;
  }

  // Sources table: heading, column header, rows.
  std::vector<Line> sources(size_t rows, Frame& f) const {
    std::vector<Line> lines;
    bool wide = c.cols >= 120;
    // 80 columns leave 15 for the name: an IPv4 address fits.
    const size_t k_state = 11, k_st = 2, k_poll = 5, k_reach = 8, k_off = 16, k_delay = 7, k_jit = 7, k_last = 7;
    size_t fixed = 2 + 1 + k_state + 1 + k_st + 1 + k_poll + 1 + k_reach + 1 + k_off + 1 + k_delay + 1 + k_jit;
    if (wide) {
      fixed += 1 + k_last;
    }
    // Narrow terminals: drop whole columns, least important first (jitter, delay, reach,
    // poll), rather than cut a number: the name keeps at least 12 columns.
    const size_t k_min_name = 12;
    bool show_jit = true, show_delay = true, show_reach = true, show_poll = true;
    for (bool* col : {&show_jit, &show_delay, &show_reach, &show_poll}) {
      if (c.cols >= fixed + k_min_name) {
        break;
      }
      *col = false;
      fixed -= 1 + (col == &show_jit ? k_jit : col == &show_delay ? k_delay : col == &show_reach ? k_reach : k_poll);
    }
    size_t rest = c.cols > fixed + 4 ? c.cols - fixed : 4;
    size_t name_w = rest, addr_w = 0;
    if (wide) {
      name_w = std::min<size_t>(40, rest / 2);
      addr_w = std::min<size_t>(45, rest - name_w - 1);
    }
    std::vector<ctl::SourceStatus> v;
    std::string heading = " Sources";
    if (snap && snap->sources) {
      v = sorted(*snap->sources, ui.sort);
      heading += ": " + std::to_string(v.size()) + ", " + std::to_string(usable_sources(v)) + " usable";
    } else if (snap) {
      heading += ": " + snap->sources.error().text;
    }
    heading += "   sorted by " + std::string(to_string(ui.sort));
    f.sources_total = v.size();
    size_t body = rows > 2 ? rows - 2 : 0;
    f.sources_shown = std::min(body, v.size());
    f.max_scroll = v.size() > body ? v.size() - body : 0;
    ui.scroll = std::min(ui.scroll, f.max_scroll);
    if (f.max_scroll > 0 && body > 0) {
      heading += "   rows " + std::to_string(ui.scroll + 1) + "-" + std::to_string(ui.scroll + f.sources_shown) +
                 " of " + std::to_string(v.size());
    }
    lines.push_back(fit_line({{heading, Style::Heading}}, c.cols));
    if (rows < 2) {
      lines.resize(rows);
      return lines;
    }
    std::string hdr = "  " + fit(wide ? "Name" : "Name/address", name_w, false) + " ";
    if (wide) {
      hdr += fit("Address", addr_w, false) + " ";
    }
    hdr += fit("State", k_state) + " " + fit_right("St", k_st) + " ";
    if (show_poll) {
      hdr += fit_right("Poll", k_poll) + " ";
    }
    if (show_reach) {
      hdr += fit("Reach", k_reach) + " ";
    }
    hdr += fit_right(c.utf8 ? "Offset \xC2\xB1 error" : "Offset +- err", k_off);
    if (show_delay) {
      hdr += " " + fit_right("Delay", k_delay);
    }
    if (show_jit) {
      hdr += " " + fit_right("Jitter", k_jit);
    }
    if (wide) {
      hdr += " " + fit_right("Last", k_last);
    }
    lines.push_back(fit_line({{hdr, Style::Heading}}, c.cols));
    if (v.empty() && body > 0) {
      lines.push_back(fit_line({{snap && snap->sources ? "  (no sources)" : "  -", Style::Dim}}, c.cols));
    }
    for (size_t i = ui.scroll; i < v.size() && i < ui.scroll + body; ++i) {
      const auto& s = v[i];
      SourceStateView st = source_state(s.state);
      Style ss = value_style(style_of(st.tone));
      Style ns = value_style(Style::Normal);
      bool measured = s.reach != 0 || s.last_rx_ago_s >= 0;
      std::string name = s.name.empty() ? s.address : s.name;
      Line l;
      l.push_back({std::string(1, st.symbol) + " ", ss});
      l.push_back({fit(name, name_w) + " ", ns});
      if (wide) {
        l.push_back({fit(s.address.empty() ? "-" : s.address, addr_w) + " ", ns});
      }
      l.push_back({fit(st.word, k_state) + " ", ss});
      l.push_back({fit_right(s.stratum > 0 ? std::to_string(s.stratum) : "-", k_st) + " " +
                       (show_poll ? fit_right(format_poll(s.poll), k_poll) + " " : std::string()),
                   ns});
      if (show_reach) {
        l.push_back({format_reach(s.reach) + " ", value_style(s.reach == 0 ? Style::Bad : Style::Normal)});
      }
      l.push_back({fit_right(measured ? format_offset_err(s.offset_s, s.error_s, c.utf8) : "-", k_off) +
                       (show_delay ? " " + fit_right(measured ? format_time(s.delay_s, c.utf8) : "-", k_delay)
                                   : std::string()) +
                       (show_jit ? " " + fit_right(measured ? format_time(s.jitter_s, c.utf8) : "-", k_jit)
                                 : std::string()),
                   ns});
      if (wide) {
        l.push_back({" " + fit_right(s.last_rx_ago_s >= 0 ? format_duration(s.last_rx_ago_s) : "-", k_last), ns});
      }
      lines.push_back(fit_line(std::move(l), c.cols));
    }
    return lines;
  }

  // Server panel: column header, the daemon's server, tenants, dropped by reason.
  std::vector<Line> server(size_t tenants_shown) const {
    std::vector<Line> lines;
    bool wide = c.cols >= 120;
    auto row = [&](const std::string& name, const std::optional<ServerCounters>& sc,
                   const std::optional<CounterRates>& r, Style st) {
      std::string t = " " + fit(name, 13) + " ";
      auto rate = [&](double CounterRates::*p) { return r ? format_rate((*r).*p) : std::string("-"); };
      if (!sc) {
        return fit_line({{t, st}}, c.cols);
      }
      t += fit_right(rate(&CounterRates::received_per_s), 9) + " " + fit_right(format_count(sc->received), 10) + " " +
           fit_right(format_count(sc->answered), 10) + " " + fit_right(format_count(sc->dropped), 9) + " " +
           fit_right(format_count(sc->kod_rate + sc->kod_deny), 7) + " " +
           fit_right(sc->clients ? format_count(*sc->clients) : "-", 9);
      if (wide) {
        t += " " + fit_right(rate(&CounterRates::answered_per_s), 9) + " " +
             fit_right(rate(&CounterRates::dropped_per_s), 9) + " " + fit_right(rate(&CounterRates::kod_per_s), 9);
      }
      return fit_line({{t, st}}, c.cols);
    };
    std::string hdr = " " + fit("Server", 13) + " " + fit_right("req/s", 9) + " " + fit_right("received", 10) + " " +
                      fit_right("answered", 10) + " " + fit_right("dropped", 9) + " " + fit_right("KoD", 7) + " " +
                      fit_right("clients", 9);
    if (wide) {
      hdr += " " + fit_right("answ/s", 9) + " " + fit_right("drop/s", 9) + " " + fit_right("KoD/s", 9);
    }
    lines.push_back(fit_line({{hdr, Style::Heading}}, c.cols));
    Style ns = value_style(Style::Normal);
    if (!snap) {
      lines.push_back(fit_line({{" -", Style::Dim}}, c.cols));
    } else if (!snap->server) {
      lines.push_back(fit_line({{" serverstats: " + snap->server.error().text, Style::Warn}}, c.cols));
    } else {
      lines.push_back(row("daemon", *snap->server, m.rates(""), ns));
    }
    if (snap && snap->tenants && *snap->tenants) {
      const auto& tv = **snap->tenants;
      for (size_t i = 0; i < tenants_shown && i < tv.size(); ++i) {
        if (i + 1 == tenants_shown && tv.size() > tenants_shown) {
          lines.push_back(fit_line(
              {{" (+" + std::to_string(tv.size() - tenants_shown + 1) + " more tenants)", Style::Dim}}, c.cols));
          break;
        }
        lines.push_back(row(tv[i].tenant.empty() ? "?" : tv[i].tenant, tv[i], m.rates(tv[i].tenant), ns));
      }
    }
    std::string dropped = " Dropped      ";
    if (snap && snap->server) {
      std::vector<std::pair<uint64_t, std::string>> d;
      for (const auto& [reason, n] : snap->server->dropped_by_reason) {
        if (n > 0) {
          d.emplace_back(n, reason);
        }
      }
      std::stable_sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
      std::string list;
      for (const auto& [n, reason] : d) {
        list += (list.empty() ? "" : ", ") + reason + " " + format_count(n);
      }
      if (snap->server->send_errors > 0) {
        list += (list.empty() ? "" : "; ") + std::string("send errors ") + format_count(snap->server->send_errors);
      }
      if (snap->server->leaked > 0) {
        list += (list.empty() ? "" : "; ") + std::string("answered over the rate limit ") +
                format_count(snap->server->leaked);
      }
      dropped += list.empty() ? "none" : list;
    } else {
      dropped += "-";
    }
    lines.push_back(fit_line({{dropped, ns}}, c.cols));
    return lines;
  }

  Line status() const {
    std::string keys = c.utf8 ? " q quit  ? help  s sort  t UTC/local  p pause  \xE2\x86\x91\xE2\x86\x93 PgUp PgDn"
                              : " q quit  ? help  s sort  t UTC/local  p pause  arrows PgUp PgDn";
    Line right;
    std::string notice = m.notice(c.now);
    if (ui.paused) {
      right.push_back({" PAUSED (p resumes) ", Style::Warn});
    } else if (!notice.empty()) {
      right.push_back({" " + notice + " ", Style::Info});
    } else if (m.link() == Link::Unreachable) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " retrying every %gs ", std::max(c.interval_s, 1.0));
      right.push_back({buf, Style::Bad});
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, " every %gs ", c.interval_s);
      std::string text = buf;
      // The socket path only where the keys leave room for it.
      if (display_width(keys) + display_width(text) + display_width(c.socket) + 2 <= c.cols) {
        text += " " + c.socket + " ";
      }
      right.push_back({text, Style::Title});
    }
    size_t rw = line_width(right);
    if (rw + 10 > c.cols) {
      return fit_line(std::move(right), c.cols, Style::Title);
    }
    size_t left_w = c.cols - rw;
    Line l{{fit(keys, left_w, false), Style::Title}};
    append(l, std::move(right));
    return fit_line(std::move(l), c.cols, Style::Title);
  }

  void help_page(Frame& f) const {
    const char* arrows = c.utf8 ? "\xE2\x86\x91 \xE2\x86\x93" : "Up Down";
    std::vector<std::string> text = {
        " tr7top: the tr7ntpd dashboard",
        "",
        "   q          quit (also Ctrl-C)",
        "   ?  h       this help; any key returns",
        std::string("   s          sort the sources: ") + to_string(next(ui.sort)) + " next (now " +
            to_string(ui.sort) + ")",
        std::string("   t          show times in ") +
            (ui.show_local ? "UTC" : (m.has_zone() ? "the daemon's zone" : "the daemon's zone (unknown)")),
        std::string("   p          ") + (ui.paused ? "resume refreshing" : "pause refreshing"),
        "   " + fit(arrows, 11) + "scroll the sources one row",
        "   PgUp PgDn  scroll the sources one page;  Home End  first, last",
        "",
        " Source states: * selected  + combined  - candidate  ~ jittery  ? unselectable",
        "                x falseticker  K KoD (refused)  ! unreachable  . resolving",
        " Reach: the last 8 polls, oldest left; 1 = answered.",
        " Offset = reference - local: positive means this clock is behind.",
        " Alerts: |offset| > " + format_time(m.thresholds().offset_s, c.utf8) + " (-o), |frequency| > " +
            format_ppm(m.thresholds().drift_ppm).substr(1) + " (-d),",
        "         fewer than " + std::to_string(m.thresholds().min_sources) +
            " usable sources (-n), a held correction, not synchronised,",
        "         the daemon unreachable.",
        "",
        " Daemon: " + (m.version().empty() ? std::string("?") : m.version()) + " on " + c.socket,
    };
    for (const auto& t : text) {
      if (f.lines.size() + 1 >= c.rows) {
        break;
      }
      f.lines.push_back(fit_line({{t, t.empty() || t[1] == ' ' ? Style::Normal : Style::Heading}}, c.cols));
    }
    while (f.lines.size() + 1 < c.rows) {
      f.lines.push_back(fit_line({}, c.cols));
    }
    f.lines.push_back(status());
  }
};

}  // namespace

Frame compose(const Model& m, UiState& ui, const Context& ctx) {
  Frame f;
  if (ctx.rows == 0 || ctx.cols == 0) {
    return f;
  }
  Composer cp{m, ui, ctx};
  cp.snap = m.last() ? &*m.last() : nullptr;
  cp.trk = cp.snap && cp.snap->tracking ? &*cp.snap->tracking : nullptr;
  cp.stale = m.stale() && cp.snap;
  if (ui.help) {
    cp.help_page(f);
    f.lines.resize(std::min(f.lines.size(), ctx.rows));
    return f;
  }
  // Vertical budget.
  const size_t R = ctx.rows;
  // Two columns of header fields need 80: below that one column (no value cut in two).
  size_t ncols = ctx.cols >= 160 ? 4 : ctx.cols >= 120 ? 3 : ctx.cols >= 78 ? 2 : 1;
  size_t nfields = ncols >= 3 ? 12 : 10;
  size_t H = (nfields + ncols - 1) / ncols;
  std::vector<Alert> al = m.alerts(ctx.now);
  size_t A = std::clamp<size_t>(al.size(), 1, R >= 40 ? 4 : R >= 30 ? 2 : 1);
  size_t plot_rows = R >= 40 ? 6 : R >= 30 ? 3 : 0;
  size_t hist = plot_rows ? plot_rows + 1 : 1;
  size_t T = 0;
  if (cp.snap && cp.snap->tenants && *cp.snap->tenants) {
    T = std::min((*cp.snap->tenants)->size(), std::max<size_t>(1, R / 8));
  }
  size_t server = 3 + T;
  auto fixed = [&] { return 1 + H + A + hist + server + 1; };
  // Degrade until the sources table has its heading, column header and a row.
  if (fixed() + 3 > R && plot_rows > 0) {
    plot_rows = 0;
    hist = 1;
  }
  if (fixed() + 3 > R && A > 1) {
    A = 1;
  }
  if (fixed() + 3 > R && T > 0) {
    T = 0;
    server = 3;
  }
  if (fixed() + 3 > R) {
    hist = 0;
  }
  if (fixed() + 3 > R) {
    server = 0;
  }
  // Rows to spare (the sources table needs its heading, header and one row per source):
  // first a line for each alert, then every tenant, then a taller history plot; what is
  // left goes to the sources table.
  size_t nsrc = cp.snap && cp.snap->sources ? cp.snap->sources->size() : 0;
  size_t src_need = 2 + std::max<size_t>(1, nsrc);
  // Alerts come before source rows beyond the first three (they say what is wrong; the
  // table scrolls).
  size_t src_min = 2 + std::min<size_t>(3, std::max<size_t>(1, nsrc));
  if (R > fixed() + src_min && al.size() > A) {
    A += std::min(R - fixed() - src_min, al.size() - A);
  }
  if (R > fixed() + src_need) {
    size_t spare = R - fixed() - src_need;
    size_t more = 0;
    if (server > 0 && cp.snap && cp.snap->tenants && *cp.snap->tenants) {
      size_t total = (*cp.snap->tenants)->size();
      more = std::min(spare, total > T ? total - T : 0);
      T += more;
      server += more;
      spare -= more;
    }
    if (hist > 0 && spare >= 3) {
      size_t grow = plot_rows == 0 ? spare - 1 : spare;
      plot_rows += grow;
      hist = plot_rows + 1;
    }
  }
  size_t src_rows = R > fixed() ? R - fixed() : 0;

  f.lines.push_back(cp.title());
  for (auto& l : cp.header(ncols, nfields)) {
    f.lines.push_back(std::move(l));
  }
  for (auto& l : cp.alert_lines(al, A)) {
    f.lines.push_back(std::move(l));
  }
  if (hist > 0) {
    for (auto& l : cp.history(plot_rows)) {
      f.lines.push_back(std::move(l));
    }
  }
  if (src_rows == 0) {
    ui.scroll = 0;  // no table on screen
  } else {
    auto s = cp.sources(src_rows, f);
    s.resize(src_rows, fit_line({}, ctx.cols));
    for (auto& l : s) {
      f.lines.push_back(std::move(l));
    }
  }
  if (server > 0) {
    for (auto& l : cp.server(T)) {
      f.lines.push_back(std::move(l));
    }
  }
  if (f.lines.size() + 1 > R) {
    f.lines.resize(R - 1);
  }
  while (f.lines.size() + 1 < R) {
    f.lines.push_back(fit_line({}, ctx.cols));
  }
  f.lines.push_back(cp.status());
  return f;
}

bool handle_key(UiState& ui, Key k, const Frame& shown) {
  if (k == Key::Quit) {
    return false;
  }
  if (ui.help) {
    if (k != Key::None) {
      ui.help = false;
    }
    return true;
  }
  size_t page = std::max<size_t>(1, shown.sources_shown > 1 ? shown.sources_shown - 1 : 1);
  switch (k) {
    case Key::Help:
      ui.help = true;
      break;
    case Key::Sort:
      ui.sort = next(ui.sort);
      ui.scroll = 0;
      break;
    case Key::ToggleZone:
      ui.show_local = !ui.show_local;
      break;
    case Key::Pause:
      ui.paused = !ui.paused;
      break;
    case Key::Up:
      ui.scroll = ui.scroll > 0 ? ui.scroll - 1 : 0;
      break;
    case Key::Down:
      ui.scroll = std::min(ui.scroll + 1, shown.max_scroll);
      break;
    case Key::PageUp:
      ui.scroll = ui.scroll > page ? ui.scroll - page : 0;
      break;
    case Key::PageDown:
      ui.scroll = std::min(ui.scroll + page, shown.max_scroll);
      break;
    case Key::Home:
      ui.scroll = 0;
      break;
    case Key::End:
      ui.scroll = shown.max_scroll;
      break;
    case Key::None:
    case Key::Quit:
    case Key::Other:
      break;
  }
  return true;
}

Key key_for_char(int ch) {
  switch (ch) {
    case 'q':
    case 'Q':
      return Key::Quit;
    case '?':
    case 'h':
    case 'H':
      return Key::Help;
    case 's':
    case 'S':
      return Key::Sort;
    case 't':
    case 'T':
      return Key::ToggleZone;
    case 'p':
    case 'P':
    case ' ':
      return Key::Pause;
    case 'k':
      return Key::Up;
    case 'j':
      return Key::Down;
    case 'g':
      return Key::Home;
    case 'G':
      return Key::End;
    default:
      return Key::Other;
  }
}

}  // namespace tr7::top
