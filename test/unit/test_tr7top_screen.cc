// tr7top's screen without a terminal: what is where at 80x24 and 200x50, that no line
// ever leaves the terminal whatever its size, scrolling, the keys, the help page,
// ASCII-only output, the unreachable state.
#include <random>
#include <string>

#include "testutil.h"
#include "tools/tr7top/format.h"
#include "tools/tr7top/screen.h"

using namespace tr7;
using namespace tr7::top;

namespace {

Now at(double s) {
  Now n;
  n.mono_ns = static_cast<int64_t>(s * 1e9) + 1000 * core::k_ns_per_s;
  // 2026-11-26T06:34:28Z + s
  n.real = core::Timestamp::from_ns((core::days_from_civil(2026, 11, 26) * 86400 + 6 * 3600 + 34 * 60 + 28) *
                                        core::k_ns_per_s +
                                    static_cast<int64_t>(s * 1e9));
  return n;
}

ctl::SourceStatus src(int i) {
  ctl::SourceStatus s;
  s.name = "ntp" + std::to_string(i) + ".example.net";
  s.address = "192.0.2." + std::to_string(i);
  static const char* states[] = {"selected", "combined", "candidate", "falseticker", "unreachable", "jittery"};
  s.state = states[i % 6];
  s.stratum = 1 + i % 3;
  s.poll = 6 + i % 4;
  s.reach = s.state == std::string("unreachable") ? 0 : 0377;
  s.last_rx_ago_s = s.reach ? 10 + i : -1;
  s.offset_s = (i % 2 ? -1 : 1) * 1e-5 * (i + 1);
  s.error_s = 2e-5;
  s.delay_s = 0.01 + i * 1e-3;
  s.jitter_s = 1e-4;
  return s;
}

Snapshot local_snapshot() {
  Snapshot s;
  ctl::TrackingStatus t;
  t.state = "local";
  t.synchronised = true;
  t.stratum = 10;
  t.ref_id = 0x7F7F0101;
  t.ref_name = "LOCAL";
  t.reference_time = at(-2).real;
  t.root_dispersion_s = 3e-8;
  t.clock_mode = "none";
  s.tracking = t;
  s.sources = std::vector<ctl::SourceStatus>{};
  ServerCounters c;
  c.received = 1234;
  c.answered = 1200;
  c.dropped = 34;
  c.dropped_by_reason = {{"rate_limited", 30}, {"denied", 4}, {"too_short", 0}};
  c.clients = 7;
  s.server = c;
  s.zone = ZoneInfo{"Europe/Istanbul", "<+03>-3", 10800, "+03"};
  return s;
}

Context ctx(size_t rows, size_t cols, Now now, bool utf8 = true) {
  Context c;
  c.rows = rows;
  c.cols = cols;
  c.now = now;
  c.host = "testhost";
  c.socket = "/run/tr7ntp/tr7ntpd.sock";
  c.utf8 = utf8;
  return c;
}

void check_geometry(const Frame& f, size_t rows, size_t cols) {
  assert_int_equal(f.lines.size(), rows);
  for (const auto& l : f.lines) {
    if (line_width(l) != cols) {
      fail_msg("line of %zu columns, want %zu: '%s'", line_width(l), cols, frame_text({{l}}).c_str());
    }
    for (const auto& s : l) {
      for (unsigned char ch : s.text) {
        assert_true(ch >= 0x20 && ch != 0x7F);  // nothing that moves the cursor
      }
    }
  }
}

bool contains_quiet(const std::string& text, const char* what) { return text.find(what) != std::string::npos; }
bool contains(const std::string& text, const char* what) {
  if (text.find(what) != std::string::npos) {
    return true;
  }
  std::printf("# not found: '%s' in\n%s", what, text.c_str());
  return false;
}

}  // namespace

static void test_80x24_local(void**) {
  Model m;
  m.on_connected("tr7ntpd/0.1.0", at(0));
  for (int i = 0; i < 5; ++i) {
    m.on_snapshot(local_snapshot(), at(i));
  }
  UiState ui;
  Frame f = compose(m, ui, ctx(24, 80, at(4)));
  check_geometry(f, 24, 80);
  std::string t = frame_text(f);
  std::printf("%s", t.c_str());
  assert_true(contains(t, " tr7top  testhost  tr7ntpd/0.1.0"));
  assert_true(contains(t, "09:34:32 +03 Europe/Istanbul  06:34:32 UTC"));  // zone first, then UTC
  assert_true(contains(t, "State      local"));
  assert_true(contains(t, "Reference  LOCAL (7F7F0101)"));
  assert_true(contains(t, "Stratum    10"));
  assert_true(contains(t, "Offset     0ns"));
  assert_true(contains(t, "Updated    6.0s ago, 09:34:26"));
  assert_true(contains(t, "Alerts     i  no NTP sources: serving the local clock"));
  assert_true(contains(t, "History"));
  assert_true(contains(t, "(no sources)"));
  assert_true(contains(t, " daemon "));
  assert_true(contains(t, "Dropped      rate_limited 30, denied 4"));
  assert_true(contains(t, "q quit"));
  assert_true(f.lines[0][0].style == Style::Title);
  // t: times in UTC.
  ui.show_local = false;
  t = frame_text(compose(m, ui, ctx(24, 80, at(4))));
  assert_true(contains(t, "06:34:32 UTC  09:34:32 +03 Europe/Istanbul"));
  assert_true(contains(t, "Updated    6.0s ago, 06:34:26"));
}

static void test_200x50_sources_and_scroll(void**) {
  Model m;
  m.on_connected("tr7ntpd/0.1.0", at(0));
  Snapshot s = local_snapshot();
  s.tracking->state = "synchronised";
  s.tracking->ref_name = "192.0.2.0";
  s.tracking->stratum = 2;
  s.tracking->offset_s = -1.234e-3;
  s.tracking->freq_ppm = -12.5;
  std::vector<ctl::SourceStatus> v;
  for (int i = 0; i < 60; ++i) {
    v.push_back(src(i));
  }
  s.sources = v;
  s.tenants = std::vector<ServerCounters>{ServerCounters{.tenant = "acme", .received = 10}};
  for (int i = 0; i < 30; ++i) {
    s.tracking->offset_s = -1.234e-3 + i * 1e-5;
    m.on_snapshot(s, at(i));
  }
  UiState ui;
  Frame f = compose(m, ui, ctx(50, 200, at(29)));
  check_geometry(f, 50, 200);
  std::string t = frame_text(f);
  std::printf("%s", t.c_str());
  assert_true(contains(t, "State      synchronised"));
  assert_true(contains(t, "Stratum    2"));
  assert_true(contains(t, "Offset     -944.0\xC2\xB5s  \xE2\x86\x91+600.0\xC2\xB5s/min"));
  assert_true(contains(t, "Frequency  -12.500ppm"));
  assert_true(contains(t, "RMS offset"));  // the wide header has more fields
  assert_true(contains(t, "* ntp0.example.net"));
  assert_true(contains(t, "192.0.2.0 "));  // an address column
  assert_true(contains(t, "11111111"));
  assert_true(contains(t, "00000000"));
  assert_true(contains(t,
                       "+10.00\xC2\xB5s\xC2\xB1"
                       "20.00\xC2\xB5s"));
  assert_true(contains(t, " acme "));  // a tenant row
  assert_true(contains(t, "unreachable: ntp4.example.net"));
  assert_true(f.sources_total == 60);
  assert_true(f.sources_shown > 10 && f.sources_shown < 60);
  assert_int_equal(f.max_scroll, 60 - f.sources_shown);
  assert_true(contains(t, "rows 1-"));
  // Scrolling.
  assert_true(handle_key(ui, Key::Down, f));
  assert_int_equal(ui.scroll, 1);
  assert_true(handle_key(ui, Key::PageDown, f));
  assert_int_equal(ui.scroll, f.sources_shown);
  assert_true(handle_key(ui, Key::End, f));
  assert_int_equal(ui.scroll, f.max_scroll);
  assert_true(handle_key(ui, Key::Down, f));
  assert_int_equal(ui.scroll, f.max_scroll);  // not past the end
  Frame g = compose(m, ui, ctx(50, 200, at(29)));
  assert_true(contains(frame_text(g), "ntp59.example.net"));
  assert_false(frame_text(g).find("* ntp0.example.net") != std::string::npos);
  assert_true(handle_key(ui, Key::PageUp, g));
  assert_true(handle_key(ui, Key::Home, g));
  assert_int_equal(ui.scroll, 0);
  assert_true(handle_key(ui, Key::Up, g));
  assert_int_equal(ui.scroll, 0);
  // A smaller terminal clamps the scroll position.
  ui.scroll = 1000;
  Frame small = compose(m, ui, ctx(24, 80, at(29)));
  check_geometry(small, 24, 80);
  assert_int_equal(ui.scroll, small.max_scroll);
  // Sorting by state puts the selected source first; the order is named.
  ui.scroll = 0;
  assert_true(handle_key(ui, Key::Sort, g));
  assert_true(ui.sort == SortKey::State);
  std::string st = frame_text(compose(m, ui, ctx(50, 200, at(29))));
  assert_true(contains(st, "sorted by state"));
}

static void test_unreachable_screen(void**) {
  Model m;
  m.on_failure("cannot connect to /run/tr7ntp/tr7ntpd.sock: No such file or directory", at(0));
  UiState ui;
  std::string t = frame_text(compose(m, ui, ctx(24, 80, at(3))));
  std::printf("%s", t.c_str());
  assert_true(contains(t, "State      daemon unreachable"));
  assert_true(contains(t, "!! daemon unreachable for 3.0s: cannot connect"));
  assert_true(contains(t, "retrying every 1s"));
  // With data from before: shown, dimmed.
  m.on_connected("tr7ntpd/0.1.0", at(4));
  m.on_snapshot(local_snapshot(), at(4));
  m.on_failure("no reply within 2s", at(6));
  Frame f = compose(m, ui, ctx(24, 80, at(7)));
  t = frame_text(f);
  assert_true(contains(t, "daemon unreachable for 1.0s: no reply within 2s"));
  assert_true(contains(t, "Stratum    10"));
  bool dim = false;
  for (const auto& s : f.lines[2]) {
    dim |= s.text.find("10") != std::string::npos && s.style == Style::Dim;
  }
  assert_true(dim);
  // Recovery: the notice.
  m.on_connected("tr7ntpd/0.1.0", at(9));
  t = frame_text(compose(m, ui, ctx(24, 120, at(9))));
  assert_true(contains(t, "reconnected to tr7ntpd/0.1.0 after 3.0s unreachable"));
}

static void test_keys_and_help(void**) {
  Model m;
  UiState ui;
  Frame f = compose(m, ui, ctx(24, 80, at(0)));
  assert_false(handle_key(ui, Key::Quit, f));
  assert_true(handle_key(ui, Key::ToggleZone, f));
  assert_false(ui.show_local);
  assert_true(handle_key(ui, Key::Pause, f));
  assert_true(ui.paused);
  assert_true(contains(frame_text(compose(m, ui, ctx(24, 80, at(0)))), "PAUSED"));
  assert_true(handle_key(ui, Key::Pause, f));
  assert_false(ui.paused);
  assert_true(handle_key(ui, Key::Help, f));
  assert_true(ui.help);
  Frame h = compose(m, ui, ctx(24, 80, at(0)));
  check_geometry(h, 24, 80);
  std::string t = frame_text(h);
  std::printf("%s", t.c_str());
  assert_true(contains(t, "q          quit"));
  assert_true(contains(t, "Source states"));
  assert_true(handle_key(ui, Key::Sort, h));  // any key closes help, and does nothing else
  assert_false(ui.help);
  assert_true(ui.sort == SortKey::Daemon);
  ui.help = true;
  assert_false(handle_key(ui, Key::Quit, h));  // but q still quits
  assert_true(key_for_char('q') == Key::Quit);
  assert_true(key_for_char('?') == Key::Help);
  assert_true(key_for_char('s') == Key::Sort);
  assert_true(key_for_char('t') == Key::ToggleZone);
  assert_true(key_for_char('p') == Key::Pause);
  assert_true(key_for_char('x') == Key::Other);
}

static void test_ascii(void**) {
  Model m;
  m.on_connected("tr7ntpd/0.1.0", at(0));
  Snapshot s = local_snapshot();
  std::vector<ctl::SourceStatus> v;
  for (int i = 0; i < 8; ++i) {
    v.push_back(src(i));
  }
  s.sources = v;
  for (int i = 0; i < 20; ++i) {
    s.tracking->offset_s = 1e-6 * (i % 5);
    m.on_snapshot(s, at(i));
  }
  UiState ui;
  for (size_t rows : {24, 50}) {
    std::string t = frame_text(compose(m, ui, ctx(rows, 100, at(19), false)));
    for (unsigned char ch : t) {
      assert_true(ch < 0x80);
    }
    assert_true(contains(t, "us+-"));
  }
}

// Property: any terminal size, any model state: exactly `rows` lines of exactly `cols`
// columns, no control characters.
// The whole screen is used: one line per alert, tables and the plot grow with the
// height, and at narrow widths whole columns go (never a number cut in two).
static void test_screen_use(void**) {
  Model m;
  m.on_connected("tr7ntpd/0.1.0", at(0));
  Snapshot s = local_snapshot();
  std::vector<ctl::SourceStatus> v;
  for (int i = 0; i < 6; ++i) {
    v.push_back(src(i));
  }
  s.sources = v;
  s.tracking->held = ctl::HeldCorrection{3, 2.0, at(-10).real};
  for (int i = 0; i < 5; ++i) {
    m.on_snapshot(s, at(i));
  }
  std::vector<Alert> al = m.alerts(at(4));
  assert_true(al.size() >= 2);
  for (auto [rows, cols] : {std::pair<size_t, size_t>{24, 80}, {24, 60}, {50, 200}}) {
    UiState ui;
    Frame f = compose(m, ui, ctx(rows, cols, at(4)));
    check_geometry(f, rows, cols);
    std::string t = frame_text(f);
    std::printf("%zux%zu:\n%s", cols, rows, t.c_str());
    // Every alert on a line of its own (its first words at least, at 60 columns).
    for (const auto& a : al) {
      std::string head = a.text.substr(0, std::min<size_t>(a.text.size(), cols >= 80 ? 30 : 15));
      assert_true(contains(t, head.c_str()));
    }
    assert_false(contains_quiet(t, "more)"));
    // The header's values whole (at 60 columns in one column of fields).
    assert_true(contains(t, "Reference  LOCAL (7F7F0101)"));
    assert_true(contains(t, "Frequency  0.000ppm  skew 0.000ppm"));
    // The rows shown (at least three; the table scrolls) with each offset whole.
    assert_true(f.sources_shown >= 3);
    for (size_t i = 0; i < f.sources_shown; ++i) {
      const auto& x = v[i];
      if (x.reach != 0) {
        std::string off = format_offset_err(x.offset_s, x.error_s, true);
        assert_true(contains(t, off.c_str()));
      }
    }
    // Not a screen of blank rows below the sources (the plot's empty rows are its data).
    size_t blank = 0;
    bool below = false;
    for (const auto& l : f.lines) {
      std::string x = frame_text({{l}});
      below = below || x.find(" Sources:") == 0;
      blank += below && x.find_first_not_of(" \n") == std::string::npos;
    }
    if (blank > 3) {
      fail_msg("%zux%zu: %zu blank rows", cols, rows, blank);
    }
  }
}

static void test_any_size(void**) {
  std::mt19937_64 rng(test_seed());
  Model full;
  full.on_connected("tr7ntpd/0.1.0", at(0));
  Snapshot s = local_snapshot();
  std::vector<ctl::SourceStatus> v;
  for (int i = 0; i < 25; ++i) {
    v.push_back(src(i));
  }
  s.sources = v;
  std::vector<ServerCounters> tenants;
  for (int i = 0; i < 12; ++i) {
    tenants.push_back(ServerCounters{.tenant = "tenant" + std::to_string(i), .received = 5});
  }
  s.tenants = tenants;
  s.tracking->held = ctl::HeldCorrection{3, 2.0, at(-10).real};
  for (int i = 0; i < 10; ++i) {
    full.on_snapshot(s, at(i));
  }
  Model down;
  down.on_failure("cannot connect", at(0));
  Model empty;
  const Model* models[] = {&full, &down, &empty};
  for (int i = 0; i < 3000; ++i) {
    size_t rows = 1 + rng() % 70, cols = 1 + rng() % 260;
    UiState ui;
    ui.scroll = rng() % 40;
    ui.help = rng() % 10 == 0;
    ui.show_local = rng() & 1;
    ui.sort = static_cast<SortKey>(rng() % 6);
    const Model& m = *models[rng() % 3];
    Frame f = compose(m, ui, ctx(rows, cols, at(10), rng() & 1));
    check_geometry(f, rows, cols);
    if (!ui.help) {
      assert_true(ui.scroll <= f.max_scroll);
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_80x24_local),
      cmocka_unit_test(test_200x50_sources_and_scroll),
      cmocka_unit_test(test_unreachable_screen),
      cmocka_unit_test(test_keys_and_help),
      cmocka_unit_test(test_ascii),
      cmocka_unit_test(test_screen_use),
      cmocka_unit_test(test_any_size),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
