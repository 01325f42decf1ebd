// The NTP client as the control protocol shows it (daemon/client_provider.h): state
// names, selectdata reasons, sign conventions, tracking states, the `source add`
// grammar. Pure mapping functions, no event loop.
#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/random.h"
#include "daemon/client_provider.h"
// cmocka's macros last: they clash with the standard library's names.
#include "testutil.h"

using namespace tr7;
using namespace tr7::daemon;

namespace {

const core::Timestamp k_now{1'795'000'000LL * core::k_ns_per_s};

core::SockAddr addr(const char* ip, uint16_t port = 123) { return core::SockAddr{*core::parse_ip(ip), port}; }

// A reachable, usable source with a sample, in the last selection.
SourceView usable(const char* ip, core::SourceId id) {
  SourceView v;
  v.name = ip;
  v.address = addr(ip);
  v.state.id = id;
  v.state.reach = 0377;
  v.state.poll = 4;
  v.state.usability = core::Usability::Usable;
  v.state.in_selection = true;
  v.state.filter_samples = 8;
  core::Sample s;
  s.time = core::add_s(k_now, -3.0);
  s.offset_s = 0.0021;
  s.delay_s = 0.004;
  s.dispersion_s = 1e-6;
  s.stratum = 2;
  s.refid = 0xC0000201;
  s.version = 4;
  s.poll = 4;
  s.precision = -20;
  s.reference_time = core::add_s(k_now, -10.0);
  s.response_time_s = 0.00002;
  s.root_delay_s = 0.01;
  s.root_dispersion_s = 0.002;
  v.state.last = s;
  v.state.offset_s = 0.002;  // filtered, now
  v.state.offset_sd_s = 0.0001;
  v.state.jitter_s = 0.0003;
  v.state.distance_s = 0.009;
  v.state.freq_ppm = 12.5;
  v.state.freq_var = 4e-14;  // 0.2 ppm
  v.state.span_s = 120;
  return v;
}

core::TrackingSnapshot synced(core::SourceId ref) {
  core::TrackingSnapshot t;
  t.synchronised = true;
  t.ever_synchronised = true;
  t.reference.synchronised = true;
  t.reference.stratum = 3;
  t.reference.refid = 0xC0000201;
  t.reference.reference_time = core::add_s(k_now, -2.0);
  t.reference.root_delay_s = 0.014;
  t.reference.root_dispersion_s = 0.003;
  t.selection = core::SelectStatus::Ok;
  t.current_selection = core::SelectStatus::Ok;
  t.truechimers = 3;
  t.current_offset_s = -0.0015;
  t.last_offset_s = 0.0007;
  t.frequency_ppm = 10.0;
  t.residual_freq_ppm = 0.25;
  t.skew_ppm = 0.05;
  t.rms_offset_s = 0.0002;
  t.update_interval_s = 16;
  t.ref_source = ref;
  return t;
}

const std::set<std::string> k_states = {"selected",     "combined",    "candidate", "falseticker", "jittery",
                                        "unselectable", "unreachable", "resolving", "kod"};

}  // namespace

static void test_state_names(void**) {
  core::TrackingSnapshot t = synced(1);
  struct Case {
    const char* what;
    std::function<void(SourceView&, core::TrackingSnapshot&)> set;
    const char* state;
    const char* reasons;
  } cases[] = {
      {"best",
       [](SourceView& v, core::TrackingSnapshot&) { v.state.best = v.state.survivor = v.state.truechimer = true; },
       "selected", ""},
      {"survivor", [](SourceView& v, core::TrackingSnapshot&) { v.state.survivor = v.state.truechimer = true; },
       "combined", "combined"},
      {"clustered out", [](SourceView& v, core::TrackingSnapshot&) { v.state.truechimer = true; }, "candidate",
       "clustered_out"},
      {"too few agree",
       [](SourceView& v, core::TrackingSnapshot& tt) {
         v.state.truechimer = true;
         tt.selection = core::SelectStatus::TooFew;
       },
       "candidate", "too_few"},
      {"outside the intersection", [](SourceView&, core::TrackingSnapshot&) {}, "falseticker", "falseticker"},
      {"no intersection at all",
       [](SourceView&, core::TrackingSnapshot& tt) {
         tt.selection = core::SelectStatus::NoMajority;
         tt.truechimers = 0;
       },
       "unselectable", "no_majority"},
      {"new, not selected yet", [](SourceView& v, core::TrackingSnapshot&) { v.state.in_selection = false; },
       "unselectable", "not_yet_selected"},
      {"no samples", [](SourceView& v, core::TrackingSnapshot&) { v.state.usability = core::Usability::NoSamples; },
       "unselectable", "no_samples"},
      {"distance", [](SourceView& v, core::TrackingSnapshot&) { v.state.usability = core::Usability::Distance; },
       "unselectable", "distance"},
      {"jitter", [](SourceView& v, core::TrackingSnapshot&) { v.state.usability = core::Usability::Jitter; }, "jittery",
       "jitter"},
      {"unreachable", [](SourceView& v, core::TrackingSnapshot&) { v.state.reach = 0; }, "unreachable", "unreachable"},
      {"KoD DENY", [](SourceView& v, core::TrackingSnapshot&) { v.state.retired = true; }, "kod", "kod"},
      {"resolving", [](SourceView& v, core::TrackingSnapshot&) { v.resolving = true; }, "resolving", "resolving"},
      {"DNS failed",
       [](SourceView& v, core::TrackingSnapshot&) {
         v.resolving = true;
         v.dns_error = "nodename nor servname provided";
       },
       "resolving", "resolving,dns_failed"},
  };
  for (auto& c : cases) {
    SourceView v = usable("192.0.2.1", 1);
    core::TrackingSnapshot tt = t;
    c.set(v, tt);
    std::string st = source_state(v, tt);
    std::string rs = select_reasons(v, tt);
    if (st != c.state || rs != c.reasons) {
      fail_msg("%s: state '%s' reasons '%s', expected '%s' / '%s'", c.what, st.c_str(), rs.c_str(), c.state, c.reasons);
    }
    assert_true(k_states.count(st) == 1);
    ctl::SelectStatus sel = map_select(v, tt);
    assert_string_equal(sel.state.c_str(), c.state);
    assert_string_equal(sel.reasons.c_str(), c.reasons);
  }
}

// Random flags: the state is always a known word, and the reasons are empty exactly
// for the selected source.
static void test_states_random(void**) {
  core::Rng rng(test_seed());
  for (int i = 0; i < 20000; ++i) {
    SourceView v = usable("192.0.2.7", 7);
    auto bit = [&] { return rng.next_u64() % 2 == 0; };
    v.resolving = rng.next_u64() % 10 == 0;
    v.state.retired = rng.next_u64() % 10 == 0;
    v.state.reach = bit() ? 0 : static_cast<uint8_t>(rng.next_u64());
    v.state.truechimer = bit();
    v.state.survivor = v.state.truechimer && bit();
    v.state.best = v.state.survivor && bit();
    v.state.in_selection = bit();
    v.state.usability = static_cast<core::Usability>(rng.next_u64() % 6);
    core::TrackingSnapshot t = synced(7);
    t.selection = static_cast<core::SelectStatus>(rng.next_u64() % 4);
    t.truechimers = rng.next_u64() % 3;
    std::string st = source_state(v, t);
    std::string rs = select_reasons(v, t);
    if (k_states.count(st) != 1) {
      fail_msg("unknown state '%s'", st.c_str());
    }
    assert_true((st == "selected") == rs.empty());
    assert_true(rs.find(' ') == std::string::npos);
  }
}

static void test_source_signs(void**) {
  core::TrackingSnapshot t = synced(1);
  SourceView v = usable("192.0.2.1", 1);
  v.pool = true;
  v.name = "pool.example";
  ctl::SourceStatus s = map_source(v, t, k_now);
  assert_string_equal(s.name.c_str(), "pool.example");
  assert_string_equal(s.address.c_str(), "192.0.2.1");
  assert_string_equal(s.mode.c_str(), "pool");
  // offset_s = source - our clock, positive when we are behind: the filtered estimate.
  assert_near(s.offset_s, 0.002, 1e-12);
  assert_near(s.error_s, 0.0001, 1e-12);
  assert_near(s.delay_s, 0.004, 1e-12);
  assert_near(s.jitter_s, 0.0003, 1e-12);
  assert_near(s.last_rx_ago_s, 3.0, 1e-9);
  assert_int_equal(s.stratum, 2);
  assert_int_equal(s.poll, 4);
  assert_int_equal(s.reach, 0377);
  // No filtered estimate yet: the last sample's offset and its error bound.
  v.state.filter_samples = 0;
  s = map_source(v, t, k_now);
  assert_near(s.offset_s, 0.0021, 1e-12);
  assert_near(s.error_s, 0.002 + 1e-6, 1e-12);
  // Never answered: no last reception.
  v.state.last.reset();
  v.state.reach = 0;
  s = map_source(v, t, k_now);
  assert_near(s.last_rx_ago_s, -1, 0);
  assert_string_equal(s.state.c_str(), "unreachable");
  // Resolving: no address.
  v.resolving = true;
  s = map_source(v, t, k_now);
  assert_string_equal(s.address.c_str(), "");
  assert_string_equal(s.state.c_str(), "resolving");

  // sourcestats: the frequency relative to the one applied (positive: our clock must
  // run faster to match the source), skew from the filter's variance.
  SourceView w = usable("192.0.2.2", 2);
  ctl::SourceStats st = map_source_stats(w, 10.0);
  assert_near(st.freq_ppm, 2.5, 1e-9);
  assert_near(st.freq_skew_ppm, 0.2, 1e-9);
  assert_int_equal(st.samples, 8);
  assert_near(st.span_s, 120, 0);
  assert_near(st.offset_s, 0.002, 1e-12);
  assert_near(st.std_dev_s, 0.0003, 1e-12);

  // selectdata: the correctness interval around the offset.
  ctl::SelectStatus se = map_select(w, t);
  assert_near(se.lower_s, 0.002 - 0.009, 1e-12);
  assert_near(se.upper_s, 0.002 + 0.009, 1e-12);
  assert_near(se.root_distance_s, 0.009, 1e-12);
  assert_int_equal(se.stratum, 2);
  assert_string_equal(se.leap.c_str(), "none");
}

static void test_tracking_states(void**) {
  std::vector<SourceView> srcs = {usable("192.0.2.1", 1), usable("192.0.2.2", 2)};
  // Never synchronised, no local stratum: as without a client.
  core::TrackingSnapshot none;
  none.reference = core::unsynchronised_reference();
  ctl::TrackingStatus r = map_tracking(none, core::unsynchronised_reference(), {}, k_now, "none");
  assert_string_equal(r.state.c_str(), "unsynchronised");
  assert_false(r.synchronised);
  assert_int_equal(r.stratum, 0);
  assert_string_equal(r.leap.c_str(), "unsynchronised");
  assert_string_equal(r.clock_mode.c_str(), "none");
  assert_false(r.held.has_value());
  // ... with local_stratum: local.
  r = map_tracking(none, core::local_reference(10, k_now, 1e-6), {}, k_now, "kernel");
  assert_string_equal(r.state.c_str(), "local");
  assert_int_equal(r.stratum, 10);
  assert_string_equal(r.ref_name.c_str(), "LOCAL");
  assert_int_equal(r.ref_id, core::k_refid_local);

  // Synchronised: the system peer's address, the current offset (sign as offset_s).
  core::TrackingSnapshot t = synced(2);
  r = map_tracking(t, t.reference, srcs, k_now, "none");
  assert_string_equal(r.state.c_str(), "synchronised");
  assert_true(r.synchronised);
  assert_int_equal(r.stratum, 3);
  assert_string_equal(r.ref_name.c_str(), "192.0.2.2");
  assert_int_equal(r.ref_id, 0xC0000201);
  assert_near(r.offset_s, -0.0015, 1e-12);
  assert_near(r.last_offset_s, 0.0007, 1e-12);
  assert_near(r.freq_ppm, 10.0, 1e-12);
  assert_near(r.residual_freq_ppm, 0.25, 1e-12);
  assert_near(r.skew_ppm, 0.05, 1e-12);
  assert_near(r.rms_offset_s, 0.0002, 1e-12);
  assert_near(r.update_interval_s, 16, 1e-12);
  assert_near(r.root_delay_s, 0.014, 1e-12);
  assert_true(r.root_dispersion_s >= 0.003);  // grows from the reference time
  assert_true(r.reference_time == t.reference.reference_time);
  assert_string_equal(r.leap.c_str(), "none");
  // The system peer was deleted since: its refid, dotted.
  t.ref_source = 99;
  r = map_tracking(t, t.reference, srcs, k_now, "none");
  assert_string_equal(r.ref_name.c_str(), "192.0.2.1");
  // No selection now (all lost, or no majority), still within the holdover bound.
  t.current_selection = core::SelectStatus::NoMajority;
  r = map_tracking(t, t.reference, srcs, k_now, "none");
  assert_string_equal(r.state.c_str(), "holdover");
  assert_true(r.synchronised);
  // Held: id, offset, since.
  t.held = true;
  t.held_id = 1795000123;
  t.held_offset_s = 10.25;
  t.held_since = core::add_s(k_now, -60);
  r = map_tracking(t, t.reference, srcs, k_now, "none");
  assert_true(r.held.has_value());
  assert_int_equal(r.held->id, 1795000123);
  assert_near(r.held->offset_s, 10.25, 0);
  assert_true(r.held->since == t.held_since);
  ctl::Record rec = ctl::to_record(r);
  bool id_field = false;
  for (const auto& [k, val] : rec) {
    id_field = id_field || (k == "held_id" && val == "1795000123");
  }
  assert_true(id_field);
  // Past the holdover bound: the served reference decides (local stratum here).
  t.synchronised = false;
  r = map_tracking(t, core::local_reference(12, k_now, 1e-6), srcs, k_now, "none");
  assert_string_equal(r.state.c_str(), "local");
  assert_int_equal(r.stratum, 12);
  assert_near(r.freq_ppm, 10.0, 1e-12);  // the discipline's frequency is still known
  assert_true(r.held.has_value());
}

static void test_activity_and_ntpdata(void**) {
  std::vector<SourceView> v = {usable("192.0.2.1", 1), usable("192.0.2.2", 2), usable("192.0.2.3", 3),
                               usable("192.0.2.4", 4)};
  v[1].state.in_burst = true;
  v[2].state.retired = true;
  v[3].resolving = true;
  ctl::ActivityStatus a = map_activity(v);
  assert_int_equal(a.online, 1);
  assert_int_equal(a.burst_online, 1);
  assert_int_equal(a.offline, 1);
  assert_int_equal(a.unresolved, 1);
  assert_int_equal(a.burst_offline, 0);

  SourceView s = usable("192.0.2.9", 9);
  s.address.port = 1123;
  s.state.stats.sent = 10;
  s.state.stats.received = 9;
  s.state.stats.accepted = 7;
  s.state.stats.reject(core::Reject::KodRate) = 1;
  s.state.stats.reject(core::Reject::KodOther) = 1;
  ctl::NtpDataStatus d = map_ntp_data(s, "192.0.2.100");
  assert_string_equal(d.address.c_str(), "192.0.2.9");
  assert_int_equal(d.remote_port, 1123);
  assert_string_equal(d.local_address.c_str(), "192.0.2.100");
  assert_int_equal(d.version, 4);
  assert_int_equal(d.mode, 4);
  assert_int_equal(d.stratum, 2);
  assert_int_equal(d.poll, 4);
  assert_int_equal(d.precision, -20);
  assert_int_equal(d.ref_id, 0xC0000201);
  assert_true(d.reference_time == core::add_s(k_now, -10.0));
  assert_near(d.offset_s, 0.0021, 1e-12);  // the raw sample, not the filtered one
  assert_near(d.delay_s, 0.004, 1e-12);
  assert_near(d.response_time_s, 0.00002, 1e-12);
  assert_near(d.root_delay_s, 0.01, 1e-12);
  assert_int_equal(d.tx, 10);
  assert_int_equal(d.rx, 9);
  assert_int_equal(d.valid_rx, 7);
  assert_int_equal(d.kod_rx, 2);
  // Never answered: the counters only.
  s.state.last.reset();
  d = map_ntp_data(s, "");
  assert_int_equal(d.version, 0);
  assert_int_equal(d.tx, 10);
}

static void test_source_command(void**) {
  std::vector<std::string> o = {"iburst", "minpoll", "-2", "maxpoll", "0", "port", "1123", "burst_interval", "0.25"};
  auto sc = parse_source_command("ntp.example", o);
  assert_true(sc.has_value());
  assert_true(sc->kind == SourceConfig::Kind::Server);
  assert_string_equal(sc->host.c_str(), "ntp.example");
  assert_true(sc->iburst);
  assert_int_equal(sc->minpoll, -2);
  assert_int_equal(sc->maxpoll, 0);
  assert_int_equal(sc->port, 1123);
  assert_near(*sc->burst_interval_s, 0.25, 0);
  // `pool` anywhere makes it a pool line (maxsources allowed).
  std::vector<std::string> p = {"maxsources", "2", "pool"};
  assert_false(parse_source_command("pool.example", std::vector<std::string>{"maxsources", "2"}).has_value());
  sc = parse_source_command("pool.example", p);
  assert_true(sc.has_value());
  assert_true(sc->kind == SourceConfig::Kind::Pool);
  assert_int_equal(sc->maxsources, 2);
  // The configuration's checks, word for word.
  struct Bad {
    std::vector<std::string> opts;
    const char* msg;
  } bad[] = {
      {{"minpoll", "5", "maxpoll", "4"}, "minpoll 5 is above maxpoll 4"},
      {{"frobnicate"}, "unknown option 'frobnicate'"},
      {{"minpoll"}, "'minpoll' needs a value"},
      {{"iburst", "iburst"}, "'iburst' given twice"},
      {{"pool", "pool"}, "'pool' given twice"},
      {{"port", "0"}, "port:"},
      {{"minpoll", "18"}, "minpoll:"},
  };
  for (const auto& b : bad) {
    auto r = parse_source_command("ntp.example", b.opts);
    assert_false(r.has_value());
    if (r.error().find(b.msg) == std::string::npos) {
      fail_msg("'%s' does not say '%s'", r.error().c_str(), b.msg);
    }
  }
  assert_false(parse_source_command("-bad-", {}).has_value());
}

// systemd's STATUS= line follows the served state.
static void test_status_line(void**) {
  ctl::TrackingStatus t;
  assert_string_equal(status_line(t).c_str(), "unsynchronised");
  t.state = "local";
  t.stratum = 7;
  assert_string_equal(status_line(t).c_str(), "local stratum 7, no source");
  t.state = "synchronised";
  t.stratum = 3;
  t.ref_name = "192.0.2.1";
  t.offset_s = -1.2e-5;
  assert_string_equal(status_line(t).c_str(), "synchronised to 192.0.2.1, stratum 3, offset -0.000012 s");
  t.state = "holdover";
  assert_string_equal(status_line(t).c_str(), "holdover on 192.0.2.1, stratum 3, offset -0.000012 s");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_state_names),          cmocka_unit_test(test_states_random),
      cmocka_unit_test(test_source_signs),         cmocka_unit_test(test_tracking_states),
      cmocka_unit_test(test_activity_and_ntpdata), cmocka_unit_test(test_source_command),
      cmocka_unit_test(test_status_line),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
