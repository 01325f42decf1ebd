// tr7top's model without a terminal: formatting of offsets (ns/µs/ms/s), reach, polls,
// durations, refids; state names; alert thresholds; history, trend and plot; request
// rates from counter deltas; reconnect notices; time zones; sorting.
#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "testutil.h"
#include "tools/tr7top/format.h"
#include "tools/tr7top/model.h"

using namespace tr7;
using namespace tr7::top;

#define assert_str(a, b) assert_string_equal(std::string(a).c_str(), b)

static void test_format_offset_units(void**) {
  assert_str(format_offset(0.0), "0ns");
  assert_str(format_offset(1e-9), "+1ns");
  assert_str(format_offset(-123e-9), "-123ns");
  assert_str(format_offset(999.4e-9), "+999ns");
  assert_str(format_offset(999.6e-9), "+1.000\xC2\xB5s");  // rounding moves to the next unit
  assert_str(format_offset(12.3456e-6), "+12.35\xC2\xB5s");
  assert_str(format_offset(12.3456e-6, false), "+12.35us");
  assert_str(format_offset(-999.97e-6), "-1.000ms");
  assert_str(format_offset(1.5e-3), "+1.500ms");
  assert_str(format_offset(9.9996e-3), "+10.00ms");  // crossing a decade drops a decimal
  assert_str(format_offset(-0.1234), "-123.4ms");
  assert_str(format_offset(1.0), "+1.000s");
  assert_str(format_offset(-42.25), "-42.25s");
  assert_str(format_offset(1234.4), "+1234s");
  assert_str(format_offset(3e6), "+3000000s");
  assert_str(format_offset(NAN), "-");
  assert_str(format_offset(HUGE_VAL), "-");
  assert_str(format_time(-1e-3), "1.000ms");
  assert_str(format_time(0.0), "0ns");
  assert_str(format_time(250e-6, false), "250.0us");
  assert_str(format_offset_err(1.5e-3, 56.7e-6),
             "+1.500ms\xC2\xB1"
             "56.70\xC2\xB5s");
  assert_str(format_offset_err(-2e-9, 1e-9, false), "-2ns+-1ns");
}

// Property: four significant digits, a known unit, short; the text reads back to the value.
static void test_format_offset_random(void**) {
  std::mt19937_64 rng(test_seed());
  std::uniform_real_distribution<double> exp10(-10, 4.9);
  for (int i = 0; i < 20000; ++i) {
    double v = std::pow(10.0, exp10(rng)) * (rng() & 1 ? 1 : -1);
    for (bool utf8 : {true, false}) {
      std::string t = format_offset(v, utf8);
      assert_true(t[0] == (v < 0 ? '-' : '+'));
      assert_true(display_width(t) <= 10);
      char* end = nullptr;
      double num = std::strtod(t.c_str(), &end);
      std::string unit = end;
      double scale = unit == "ns" ? 1e-9 : unit == "\xC2\xB5s" || unit == "us" ? 1e-6 : unit == "ms" ? 1e-3 : 1;
      if (!utf8) {
        assert_true(unit != "\xC2\xB5s");
      }
      assert_true(unit == "ns" || unit == "us" || unit == "\xC2\xB5s" || unit == "ms" || unit == "s");
      assert_true(std::fabs(num) < 1000 || unit == "s");
      assert_true(std::fabs(num) >= 1 || (unit == "ns" && std::fabs(v) < 0.5e-9));
      // ns are whole; elsewhere 4 significant digits: relative error <= 5e-4.
      double tol = unit == "ns" ? 0.5e-9 : std::fabs(v) * 5.01e-4;
      assert_near(num * scale, v, tol);
    }
  }
}

static void test_format_misc(void**) {
  assert_str(format_ppm(12.3456), "+12.346ppm");
  assert_str(format_ppm(-150.26), "-150.3ppm");
  assert_str(format_ppm(0.0), "0.000ppm");
  assert_str(format_ppm(2500000.4), "+2500000ppm");  // no e-notation, however large
  assert_str(format_ppm(NAN), "-");
  assert_str(format_poll(6), "64s");
  assert_str(format_poll(10), "1024s");
  assert_str(format_poll(0), "1s");
  assert_str(format_poll(-2), "0.25s");
  assert_str(format_poll(99), "-");
  assert_str(format_duration(0.5), "0.5s");
  assert_str(format_duration(42.9), "42s");
  assert_str(format_duration(303), "5m03s");
  assert_str(format_duration(7800), "2h10m");
  assert_str(format_duration(3 * 86400 + 4 * 3600 + 59), "3d04h");
  assert_str(format_duration(-1), "-");
  assert_str(format_duration(NAN), "-");
  assert_str(format_rate(0), "0/s");
  assert_str(format_rate(0.25), "0.25/s");
  assert_str(format_rate(12.34), "12.3/s");
  assert_str(format_rate(1234), "1234/s");
  assert_str(format_rate(12345), "12.3k/s");
  assert_str(format_rate(-1), "-");
  assert_str(format_count(999999), "999999");
  assert_str(format_count(1234567), "1.23M");
  assert_str(format_count(12345678901ULL), "12.35G");
  assert_str(format_refid("0x7F7F0101"), "127.127.1.1 (7F7F0101)");
  assert_str(format_refid("0x47505300"), "GPS (47505300)");
  assert_str(format_refid("4C4F434C"), "LOCL (4C4F434C)");
  assert_str(format_refid("0xC0000210"), "192.0.2.16 (C0000210)");
  assert_str(format_refid("0x00000000"), "-");
  assert_str(format_refid("0x47005300"), "71.0.83.0 (47005300)");  // NUL inside: not a name
  assert_str(format_refid("zz"), "zz");
  core::Timestamp t = core::Timestamp::from_ns(
      (core::days_from_civil(2026, 11, 26) * 86400 + 6 * 3600 + 34 * 60 + 28) * core::k_ns_per_s + 999999999);
  assert_str(format_civil(t, 10800), "2026-11-26 09:34:28");
  assert_str(format_civil(t, -19800, true), "01:04:28");
  assert_str(format_utc_offset(10800), "+03:00");
  assert_str(format_utc_offset(-19800), "-05:30");
  assert_str(format_utc_offset(0, true), "Z");
  assert_str(format_utc_offset(0), "+00:00");
}

static void test_reach(void**) {
  assert_str(format_reach(0377), "11111111");
  assert_str(format_reach(0376), "11111110");  // the latest poll (bit 0, right) was lost
  assert_str(format_reach(1), "00000001");
  assert_str(format_reach(0200), "10000000");
  assert_str(format_reach(0), "00000000");
  assert_int_equal(parse_reach("377"), 255);
  assert_int_equal(parse_reach("0"), 0);
  assert_int_equal(parse_reach("17"), 15);
  assert_int_equal(parse_reach("400"), -1);
  assert_int_equal(parse_reach("8"), -1);
  assert_int_equal(parse_reach(""), -1);
  assert_int_equal(parse_reach("0377"), -1);
  assert_int_equal(parse_reach("-1"), -1);
  for (int r = 0; r < 256; ++r) {
    char oct[8];
    std::snprintf(oct, sizeof oct, "%o", r);
    assert_int_equal(parse_reach(oct), r);
    std::string bits = format_reach(static_cast<uint8_t>(r));
    assert_int_equal(std::stoi(bits, nullptr, 2), r);
  }
}

static void test_text_fitting(void**) {
  assert_int_equal(display_width("\xC2\xB5s"), 2);
  assert_str(fit("abcdef", 4), "abc~");
  assert_str(fit("abcdef", 4, false), "abcd");
  assert_str(fit("ab", 4), "ab  ");
  assert_str(fit("\xC2\xB5\xC2\xB5\xC2\xB5", 2), "\xC2\xB5~");
  assert_str(fit("x", 0), "");
  assert_str(fit_right("ab", 4), "  ab");
  assert_str(fit_right("abcdef", 3), "ab~");
  assert_str(clean("a\x1b[2Jb\n"), "a?[2Jb?");
  assert_str(clean("caf\xC3\xA9"), "caf\xC3\xA9");
  assert_str(clean("bad\xFF"), "bad?");
  assert_str(clean("\xC3\xA9\xC3\xA9", 3), "\xC3\xA9");  // never cut inside a character
}

static void test_state_names(void**) {
  ctl::TrackingStatus t;
  t.state = "synchronised";
  t.synchronised = true;
  assert_str(sync_view(t).words, "synchronised");
  assert_int_equal(static_cast<int>(sync_view(t).tone), static_cast<int>(Tone::Good));
  t.state = "local";
  assert_str(sync_view(t).words, "local");
  t.state = "holdover";
  assert_str(sync_view(t).words, "holdover");
  assert_int_equal(static_cast<int>(sync_view(t).tone), static_cast<int>(Tone::Warn));
  t.state = "unsynchronised";
  t.synchronised = false;
  assert_str(sync_view(t).words, "unsynchronised");
  assert_int_equal(static_cast<int>(sync_view(t).tone), static_cast<int>(Tone::Bad));
  t.state = "synchronised";
  t.held = ctl::HeldCorrection{7, 2.5, {}};
  assert_str(sync_view(t).words, "correction held");  // overrides the state
  t.held.reset();
  t.state = "sleepy\x1b";
  t.synchronised = true;
  assert_str(sync_view(t).words, "sleepy?");

  struct {
    const char* state;
    char symbol;
    bool usable;
    Tone tone;
  } cases[] = {
      {"selected", '*', true, Tone::Good},      {"combined", '+', true, Tone::Good},
      {"candidate", '-', true, Tone::Normal},   {"jittery", '~', false, Tone::Warn},
      {"unselectable", '?', false, Tone::Warn}, {"falseticker", 'x', false, Tone::Bad},
      {"kod", 'K', false, Tone::Bad},           {"unreachable", '!', false, Tone::Bad},
      {"resolving", '.', false, Tone::Dim},
  };
  int last_rank = -1;
  for (const auto& c : cases) {
    SourceStateView v = source_state(c.state);
    assert_int_equal(v.symbol, c.symbol);
    assert_str(v.word, c.state);
    assert_int_equal(v.usable, c.usable);
    assert_int_equal(static_cast<int>(v.tone), static_cast<int>(c.tone));
    assert_true(v.rank > last_rank);  // listed best first
    last_rank = v.rank;
  }
  assert_str(source_state("weird").word, "unknown(weird)");
  assert_false(source_state("").usable);
}

namespace {

Now at(double s) {
  Now n;
  n.mono_ns = static_cast<int64_t>(s * 1e9) + 1000 * core::k_ns_per_s;
  n.real = core::Timestamp::from_ns(static_cast<int64_t>(s * 1e9) + 1'800'000'000LL * core::k_ns_per_s);
  return n;
}

ctl::SourceStatus src(const std::string& name, const std::string& state, double offset = 0, double delay = 0.01,
                      int stratum = 2) {
  ctl::SourceStatus s;
  s.name = name;
  s.address = name;
  s.state = state;
  s.offset_s = offset;
  s.delay_s = delay;
  s.stratum = stratum;
  s.reach = state == "unreachable" ? 0 : 0377;
  return s;
}

Snapshot synced(double offset_s, double freq_ppm, std::vector<ctl::SourceStatus> sources) {
  Snapshot s;
  ctl::TrackingStatus t;
  t.state = "synchronised";
  t.synchronised = true;
  t.stratum = 3;
  t.offset_s = offset_s;
  t.freq_ppm = freq_ppm;
  s.tracking = t;
  s.sources = std::move(sources);
  return s;
}

bool has_alert(const std::vector<Alert>& a, Severity sev, const char* text) {
  for (const auto& x : a) {
    if (x.severity == sev && x.text.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

void print_alerts(const std::vector<Alert>& a) {
  for (const auto& x : a) {
    std::printf("#   %s: %s\n", to_string(x.severity), x.text.c_str());
  }
}

}  // namespace

static void test_alert_thresholds(void**) {
  Thresholds th;
  th.offset_s = 0.010;
  th.drift_ppm = 50;
  th.min_sources = 2;
  auto two = std::vector<ctl::SourceStatus>{src("a", "selected"), src("b", "combined")};
  struct {
    double offset, freq;
    bool offset_alert, drift_alert;
  } cases[] = {
      {0.005, 10, false, false}, {0.010, 50, false, false},  // at the threshold: no alert
      {0.0101, 0, true, false},  {-0.02, 0, true, false},   {0, 50.5, false, true},
      {0, -60, false, true},     {-1, -900, true, true},    {NAN, 0, true, false},
  };
  for (const auto& c : cases) {
    Model m(th);
    m.on_connected("tr7ntpd/0.1.0", at(0));
    m.on_snapshot(synced(c.offset, c.freq, two), at(0));
    auto a = m.alerts(at(0));
    print_alerts(a);
    bool off = false, drift = false;
    for (const auto& x : a) {
      off |= x.text.find("offset") == 0;
      drift |= x.text.find("frequency") == 0;
      assert_true(x.severity != Severity::Critical);
    }
    assert_int_equal(off, c.offset_alert);
    assert_int_equal(drift, c.drift_alert);
  }
  Model m(th);
  m.on_snapshot(synced(0.02, 0, two), at(0));
  assert_true(has_alert(m.alerts(at(0)), Severity::Warning, "offset +20.00ms beyond 10.00ms threshold"));
}

// With the daemon's alerts, those are shown and tr7top's own thresholds stay quiet.
static void test_daemon_alerts(void**) {
  Thresholds th;
  th.offset_s = 0.010;
  th.min_sources = 3;
  Model m(th);
  m.on_connected("tr7ntpd/0.1.0", at(0));
  Snapshot s = synced(0.02, 0, {src("a", "selected")});
  DaemonAlert na;
  na.alert = "no_source";
  na.firing = true;
  na.severity = "critical";
  na.message = "none of 1 source(s) answered its last polls";
  DaemonAlert pd;
  pd.alert = "peer_disagreement";
  pd.subject = "10.0.0.2";
  pd.firing = true;
  pd.severity = "warning";
  pd.message = "peer offset +0.05 s beyond 0.02 s";
  DaemonAlert old = na;
  old.firing = false;
  old.alert = "offset";
  s.alerts = std::vector<DaemonAlert>{na, pd, old};
  m.on_snapshot(s, at(1));
  auto a = m.alerts(at(1));
  print_alerts(a);
  assert_true(has_alert(a, Severity::Critical, "no_source: none of 1 source(s)"));
  assert_true(has_alert(a, Severity::Warning, "peer_disagreement (10.0.0.2): peer offset"));
  assert_false(has_alert(a, Severity::Warning, "beyond 10.00ms threshold"));  // the daemon's thresholds rule
  assert_false(has_alert(a, Severity::Warning, "too few sources"));
  assert_int_equal(a.size(), 2);  // the resolved one is not shown
  // A daemon without `alerts` (or an error): tr7top's thresholds again.
  s.alerts.reset();
  m.on_snapshot(s, at(2));
  assert_true(has_alert(m.alerts(at(2)), Severity::Warning, "beyond 10.00ms threshold"));
}

static void test_alert_sources(void**) {
  Thresholds th;
  th.min_sources = 2;
  Model m(th);
  m.on_connected("v", at(0));
  m.on_snapshot(synced(0, 0, {src("a", "selected"), src("b", "unreachable"), src("c", "falseticker")}), at(0));
  auto a = m.alerts(at(0));
  print_alerts(a);
  assert_true(has_alert(a, Severity::Warning, "too few sources: 1 of 3 usable, 2 wanted"));
  assert_true(has_alert(a, Severity::Warning, "unreachable: b"));
  assert_true(has_alert(a, Severity::Warning, "falseticker: c"));

  m.on_snapshot(synced(0, 0, {src("a", "selected"), src("b", "candidate")}), at(1));
  assert_true(m.alerts(at(1)).empty());

  // No sources: a warning, unless the daemon serves its local clock on purpose.
  m.on_snapshot(synced(0, 0, {}), at(2));
  assert_true(has_alert(m.alerts(at(2)), Severity::Warning, "no NTP sources"));
  Snapshot local = synced(0, 0, {});
  local.tracking->state = "local";
  m.on_snapshot(local, at(3));
  auto la = m.alerts(at(3));
  assert_int_equal(la.size(), 1);
  assert_true(has_alert(la, Severity::Info, "serving the local clock"));

  // Many unreachable sources are summarised.
  std::vector<ctl::SourceStatus> many;
  for (int i = 0; i < 6; ++i) {
    many.push_back(src("s" + std::to_string(i), "unreachable"));
  }
  m.on_snapshot(synced(0, 0, many), at(4));
  assert_true(has_alert(m.alerts(at(4)), Severity::Warning, "unreachable: s0, s1, s2 and 3 more"));

  Snapshot err = synced(0, 0, {});
  err.sources = unexpected(ReplyError{ctl::ErrCode::PermissionDenied, "permission denied"});
  m.on_snapshot(err, at(5));
  assert_true(has_alert(m.alerts(at(5)), Severity::Warning, "sources: permission denied"));
}

static void test_alert_states(void**) {
  Model m;
  m.on_connected("v", at(0));
  Snapshot s = synced(0, 0, {src("a", "selected")});
  s.tracking->held = ctl::HeldCorrection{42, -3.5, at(-300).real};
  s.tracking->leap = "insert";
  m.on_snapshot(s, at(0));
  auto a = m.alerts(at(0));
  print_alerts(a);
  assert_true(a.front().severity == Severity::Critical);
  assert_true(has_alert(a, Severity::Critical, "correction of -3.500s held for 5m00s"));
  assert_true(has_alert(a, Severity::Critical, "tr7ntpc approve 42"));
  assert_true(has_alert(a, Severity::Info, "leap second announced: insert"));
  assert_true(a.back().severity == Severity::Info);  // most severe first

  Snapshot u = synced(0, 0, {src("a", "candidate")});
  u.tracking->state = "unsynchronised";
  u.tracking->synchronised = false;
  m.on_snapshot(u, at(1));
  assert_true(has_alert(m.alerts(at(1)), Severity::Critical, "not synchronised"));

  Snapshot h = synced(0, 0, {src("a", "unreachable")});
  h.tracking->state = "holdover";
  h.tracking->synchronised = false;
  m.on_snapshot(h, at(2));
  auto ha = m.alerts(at(2));
  assert_true(has_alert(ha, Severity::Warning, "holdover"));
  assert_false(has_alert(ha, Severity::Critical, "not synchronised"));

  Snapshot d = synced(0, 0, {});
  d.tracking = unexpected(ReplyError{ctl::ErrCode::PermissionDenied, "permission denied: monitor_group required"});
  m.on_snapshot(d, at(3));
  assert_true(has_alert(m.alerts(at(3)), Severity::Critical, "tracking: permission denied"));
}

static void test_unreachable_and_reconnect(void**) {
  Model m;
  assert_true(m.link() == Link::Connecting);
  assert_true(has_alert(m.alerts(at(0)), Severity::Info, "connecting"));
  m.on_failure("cannot connect to /x: No such file or directory", at(0));
  assert_true(m.link() == Link::Unreachable);
  m.on_failure("cannot connect to /x: Connection refused", at(3));  // keeps the start
  auto a = m.alerts(at(5));
  assert_true(
      has_alert(a, Severity::Critical, "daemon unreachable for 5.0s: cannot connect to /x: Connection refused"));
  m.on_connected("tr7ntpd/0.1.0", at(7));
  assert_true(m.link() == Link::Connected);
  assert_str(m.notice(at(8)), "reconnected to tr7ntpd/0.1.0 after 7.0s unreachable");
  assert_str(m.notice(at(30)), "");  // transient
  assert_true(m.alerts(at(8)).empty() || !has_alert(m.alerts(at(8)), Severity::Critical, "unreachable"));

  // Data survives an outage (shown stale) and a new version is reported.
  m.on_snapshot(synced(0.001, 1, {src("a", "selected")}), at(9));
  m.on_failure("no reply within 2s", at(10));
  assert_true(m.stale());
  assert_true(m.last().has_value());
  m.on_connected("tr7ntpd/0.2.0", at(12));
  assert_str(m.notice(at(12)), "reconnected after 2.0s: now tr7ntpd/0.2.0 (was tr7ntpd/0.1.0)");
  assert_false(m.stale());

  // A connection the daemon closed between refreshes, reopened at once.
  m.on_connected("tr7ntpd/0.2.0", at(20), true);
  assert_true(m.notice(at(20)).find("reconnected to tr7ntpd/0.2.0") == 0);
}

static void test_history_and_trend(void**) {
  History h(600);
  std::mt19937_64 rng(test_seed());
  std::normal_distribution<double> noise(0, 1e-7);
  // offset = 1 ms + 2 µs/s * t, sampled every second for two minutes.
  for (int i = 0; i <= 120; ++i) {
    h.add(at(i).mono_ns, 1e-3 + 2e-6 * i + noise(rng));
  }
  auto tr = h.trend(at(120).mono_ns, 60);
  assert_true(tr.has_value());
  assert_near(*tr, 2e-6, 2e-8);
  assert_false(h.trend(at(120).mono_ns, 1).has_value());  // too few samples
  assert_false(History().trend(0, 60).has_value());

  auto b = h.buckets(at(120).mono_ns, 12, 120);  // 10 s per bucket
  assert_int_equal(b.size(), 12);
  for (size_t i = 0; i < b.size(); ++i) {
    assert_true(b[i].has_value());
    // the largest magnitude in the slice: its last sample, as the offset grows
    double end_t = i == 11 ? 120.0 : 10.0 * static_cast<double>(i + 1) - 1;  // "now" is in the last
    assert_near(*b[i], 1e-3 + 2e-6 * end_t, 1e-6);
  }
  auto wide = h.buckets(at(120).mono_ns, 10, 600);  // the first 8 minutes are empty
  assert_false(wide[0].has_value());
  assert_true(wide[9].has_value());

  // Spikes stay visible: the extreme of a slice, whatever its sign.
  History s;
  s.add(at(0).mono_ns, 1e-3);
  s.add(at(1).mono_ns, -5e-3);
  s.add(at(2).mono_ns, 2e-3);
  auto one = s.buckets(at(2).mono_ns, 1, 10);
  assert_near(*one[0], -5e-3, 1e-12);

  // Pruning: keep_s and max_samples.
  History k(10, 5);
  for (int i = 0; i < 20; ++i) {
    k.add(at(i).mono_ns, i);
  }
  assert_int_equal(k.size(), 5);
  History t(10);
  for (int i = 0; i < 20; ++i) {
    t.add(at(i).mono_ns, i);
  }
  assert_int_equal(t.size(), 11);
  t.add(at(5).mono_ns, 1);  // time going back is ignored
  assert_int_equal(t.size(), 11);
  t.add(at(21).mono_ns, NAN);
  assert_int_equal(t.size(), 11);

  assert_str(format_trend(2e-6, 1e-3, true), "\xE2\x86\x91+120.0\xC2\xB5s/min");
  assert_str(format_trend(-2e-6, 1e-3, false), "v-120.0us/min");
  assert_str(format_trend(1e-12, 1e-3, false), "=0ns/min");
  assert_str(format_trend(std::nullopt, 0, true), "");
}

static void test_plot(void**) {
  std::vector<std::optional<double>> b = {0.0, 1.0, std::nullopt, 0.5, 1.0};
  Plot p = plot(b, 1, true);
  assert_false(p.empty);
  assert_near(p.lo, 0, 0);
  assert_near(p.hi, 1, 0);
  assert_int_equal(p.rows.size(), 1);
  assert_int_equal(display_width(p.rows[0]), 5);
  assert_true(p.rows[0].compare(0, 3, "\xE2\x96\x81") == 0);  // lowest block for lo
  assert_true(p.rows[0].compare(3, 3, "\xE2\x96\x88") == 0);  // full block for hi
  assert_true(p.rows[0][6] == ' ');                           // no data: blank
  Plot a = plot(b, 2, false);
  assert_int_equal(a.rows.size(), 2);
  assert_str(a.rows[0], " # _#");  // top row: 0.5 is level 5 of 8
  assert_str(a.rows[1], "_# ##");
  Plot flat = plot({2e-3, 2e-3}, 3, false);
  assert_str(flat.rows[0], "  ");
  assert_str(flat.rows[1], "==");  // the middle
  assert_str(flat.rows[2], "##");
  Plot none = plot({std::nullopt, std::nullopt}, 1, true);
  assert_true(none.empty);
  assert_str(none.rows[0], "  ");
  // Random data: every column is one glyph in every row.
  std::mt19937_64 rng(test_seed());
  for (int i = 0; i < 200; ++i) {
    std::vector<std::optional<double>> r(rng() % 100);
    for (auto& x : r) {
      if (rng() % 4) {
        x = std::ldexp(static_cast<double>(rng() % 2001) - 1000, -static_cast<int>(rng() % 40));
      }
    }
    size_t height = 1 + rng() % 8;
    for (bool utf8 : {true, false}) {
      Plot q = plot(r, height, utf8);
      assert_int_equal(q.rows.size(), height);
      for (const auto& row : q.rows) {
        assert_int_equal(display_width(row), r.size());
      }
    }
  }
}

static void test_rates(void**) {
  RateMeter m(5);
  ServerCounters c;
  assert_false(m.rates().has_value());
  for (int i = 0; i <= 10; ++i) {
    c.received = 1000 + 100 * static_cast<uint64_t>(i);
    c.answered = 1000 + 90 * static_cast<uint64_t>(i);
    c.dropped = 10 * static_cast<uint64_t>(i);
    c.kod_rate = static_cast<uint64_t>(i);
    m.add(at(i).mono_ns, c);
    if (i == 0) {
      assert_false(m.rates().has_value());
    }
  }
  auto r = m.rates();
  assert_true(r.has_value());
  assert_near(r->received_per_s, 100, 1e-9);
  assert_near(r->answered_per_s, 90, 1e-9);
  assert_near(r->dropped_per_s, 10, 1e-9);
  assert_near(r->kod_per_s, 1, 1e-9);
  // The daemon restarted: counters went back; no rate until two new samples.
  c.received = 5;
  m.add(at(11).mono_ns, c);
  assert_false(m.rates().has_value());
  c.received = 25;
  m.add(at(13).mono_ns, c);
  assert_near(m.rates()->received_per_s, 10, 1e-9);
  // The rate follows a change within the window.
  RateMeter w(5);
  for (int i = 0; i <= 30; ++i) {
    c = ServerCounters{};
    c.received = i <= 20 ? 10 * static_cast<uint64_t>(i) : 200 + 1000 * static_cast<uint64_t>(i - 20);
    w.add(at(i).mono_ns, c);
  }
  assert_near(w.rates()->received_per_s, 1000, 1e-9);

  // Per tenant, through the model.
  Model m2;
  for (int i = 0; i <= 3; ++i) {
    Snapshot s = synced(0, 0, {});
    ServerCounters own;
    own.received = 10 * static_cast<uint64_t>(i);
    s.server = own;
    ServerCounters acme;
    acme.tenant = "acme";
    acme.received = 50 * static_cast<uint64_t>(i);
    s.tenants = std::vector<ServerCounters>{acme};
    m2.on_snapshot(s, at(i));
  }
  assert_near(m2.rates("")->received_per_s, 10, 1e-9);
  assert_near(m2.rates("acme")->received_per_s, 50, 1e-9);
  assert_false(m2.rates("other").has_value());
}

static void test_zone(void**) {
  Model m;
  assert_false(m.has_zone());
  assert_int_equal(m.zone_offset(at(0).real), 0);
  assert_str(m.zone_label(at(0).real), "");
  Snapshot s = synced(0, 0, {});
  s.zone = ZoneInfo{"Europe/Istanbul", "<+03>-3", 10800, "+03"};
  m.on_snapshot(s, at(0));
  assert_int_equal(m.zone_offset(at(0).real), 10800);
  assert_str(m.zone_label(at(0).real), "+03 Europe/Istanbul");
  // A zone with DST: the rule decides for the time shown, not the reply's offset.
  s.zone = ZoneInfo{"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3", 3600, "CET"};
  m.on_snapshot(s, at(1));
  core::Timestamp july = core::Timestamp::from_ns(core::days_from_civil(2026, 7, 1) * 86400 * core::k_ns_per_s);
  core::Timestamp jan = core::Timestamp::from_ns(core::days_from_civil(2026, 1, 1) * 86400 * core::k_ns_per_s);
  assert_int_equal(m.zone_offset(july), 7200);
  assert_str(m.zone_label(july), "CEST Europe/Berlin");
  assert_int_equal(m.zone_offset(jan), 3600);
  // A snapshot without zone (timezone get failed) keeps the last one.
  s.zone.reset();
  m.on_snapshot(s, at(2));
  assert_int_equal(m.zone_offset(jan), 3600);
  // A rule we cannot parse: the reply's offset.
  s.zone = ZoneInfo{"Mars/Olympus", "not a rule", -3600, ""};
  m.on_snapshot(s, at(3));
  assert_int_equal(m.zone_offset(july), -3600);
  assert_str(m.zone_label(july), "-01:00 Mars/Olympus");
}

static void test_sorting(void**) {
  std::vector<ctl::SourceStatus> v = {src("d", "unreachable", 0, 0, 0), src("b", "candidate", -0.003, 0.020, 2),
                                      src("a", "selected", 0.001, 0.030, 3), src("c", "falseticker", 0.5, 0.010, 1),
                                      src("e", "combined", NAN, 0.001, 2)};
  auto names = [](const std::vector<ctl::SourceStatus>& x) {
    std::string s;
    for (const auto& e : x) {
      s += e.name;
    }
    return s;
  };
  assert_str(names(sorted(v, SortKey::Daemon)), "dbace");
  assert_str(names(sorted(v, SortKey::State)), "aebcd");
  assert_str(names(sorted(v, SortKey::Name)), "abcde");
  assert_str(names(sorted(v, SortKey::Stratum)), "cebad");  // unknown stratum (0) last
  assert_str(names(sorted(v, SortKey::Offset)), "abced");   // NaN and unreachable last
  assert_str(names(sorted(v, SortKey::Delay)), "ecbad");
  SortKey k = SortKey::Daemon;
  std::string cycle;
  for (int i = 0; i < 6; ++i) {
    cycle += std::string(to_string(k)) + ";";
    k = next(k);
  }
  assert_true(k == SortKey::Daemon);
  assert_str(cycle, "daemon order;state;name;stratum;|offset|;delay;");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_format_offset_units),
      cmocka_unit_test(test_format_offset_random),
      cmocka_unit_test(test_format_misc),
      cmocka_unit_test(test_reach),
      cmocka_unit_test(test_text_fitting),
      cmocka_unit_test(test_state_names),
      cmocka_unit_test(test_alert_thresholds),
      cmocka_unit_test(test_alert_sources),
      cmocka_unit_test(test_alert_states),
      cmocka_unit_test(test_daemon_alerts),
      cmocka_unit_test(test_unreachable_and_reconnect),
      cmocka_unit_test(test_history_and_trend),
      cmocka_unit_test(test_plot),
      cmocka_unit_test(test_rates),
      cmocka_unit_test(test_zone),
      cmocka_unit_test(test_sorting),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
