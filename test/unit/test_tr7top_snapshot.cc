// tr7top's side of the control protocol without a socket: the refresh's commands, the
// greeting, replies in any chunking, errors per reply, an unknown `tenants`, junk.
#include <random>
#include <string>

#include "ctl/status.h"
#include "testutil.h"
#include "tools/tr7top/snapshot.h"

using namespace tr7;
using namespace tr7::top;

#define assert_str(a, b) assert_string_equal(std::string(a).c_str(), b)

namespace {

const char* k_greeting = "TR7CTL 1 tr7ntpd/0.1.0\n";

std::string tracking_body() {
  ctl::TrackingStatus t;
  t.state = "synchronised";
  t.synchronised = true;
  t.stratum = 3;
  t.ref_id = 0xC0000210;
  t.ref_name = "192.0.2.16";
  t.reference_time = core::Timestamp::from_ns(1'800'000'000'123456789LL);
  t.offset_s = -1.25e-5;
  t.freq_ppm = 12.31;
  t.skew_ppm = 0.02;
  t.root_delay_s = 0.0123;
  t.root_dispersion_s = 0.0011;
  t.update_interval_s = 64;
  t.leap = "none";
  t.clock_mode = "none";
  return ctl::encode_record(ctl::to_record(t)) + "\n";
}

std::string sources_body() {
  ctl::SourceStatus a;
  a.name = "ntp1.example.net";
  a.address = "192.0.2.16";
  a.state = "selected";
  a.stratum = 2;
  a.poll = 6;
  a.reach = 0377;
  a.last_rx_ago_s = 12;
  a.offset_s = -1.2e-5;
  a.delay_s = 0.0123;
  a.jitter_s = 1e-4;
  a.error_s = 3e-5;
  ctl::SourceStatus b = a;
  b.name = "bad\x1b[2Jname";  // escaped on the wire, cleaned for the screen
  b.address = "";
  b.state = "unreachable";
  b.reach = 0;
  b.last_rx_ago_s = -1;
  return ctl::encode_record(ctl::to_record(a)) + "\n" + ctl::encode_record(ctl::to_record(b)) + "\n";
}

const char* k_serverstats =
    "received=100 answered=90 kod_rate=3 kod_deny=1 leaked=2 dropped=6 dropped_too_short=1 dropped_denied=0 "
    "dropped_rate_limited=5 send_errors=0 clients=12 client_capacity=65536\n";
const char* k_zone =
    "zone=Europe/Istanbul origin=config utc_offset_s=10800 abbreviation=+03 dst=no "
    "local_time=2026-11-26T09:34:28.409160612+03:00 utc_time=2026-11-26T06:34:28.409160612Z rule=<+03>-3\n";

std::string reply(int seq, const std::string& body, const std::string& end = "OK") {
  return "BEGIN " + std::to_string(seq) + "\n" + body + "END " + std::to_string(seq) + " " + end + "\n";
}

std::string help_body(bool tenants) {
  std::string b =
      "command=help args= access=any reply=table help=x\n"
      "command=tracking args= access=read reply=keyvalue help=x\n";
  if (tenants) {
    b += "command=tenants args= access=read reply=table help=per%20tenant\n";
  }
  return b;
}

// A daemon's answer to one refresh (tracking, sources, serverstats, timezone), then
// `tail` (the tenants reply, if asked).
std::string full_answer(int first_seq, const std::string& tail) {
  return reply(first_seq, tracking_body()) + reply(first_seq + 1, sources_body()) +
         reply(first_seq + 2, k_serverstats) + reply(first_seq + 3, k_zone) + tail;
}
// The greeting and the first refresh's `help`.
std::string hello(bool tenants) { return std::string(k_greeting) + reply(1, help_body(tenants)); }

}  // namespace

static void test_cycle_and_snapshot(void**) {
  Conversation c;
  assert_false(c.busy());
  std::string sent = c.start_cycle();
  assert_str(sent, "help\ntracking\nsources\nserverstats\ntimezone get\n");  // help: once
  assert_true(c.busy());
  std::string wire = hello(false) + full_answer(2, "");
  auto ev = c.feed(wire);
  assert_int_equal(ev.size(), 2);
  assert_true(ev[0].kind == Conversation::Event::Kind::Greeting);
  assert_str(ev[0].text, "tr7ntpd/0.1.0");
  assert_true(ev[1].kind == Conversation::Event::Kind::Snapshot);
  assert_false(c.busy());
  assert_false(c.asks_tenants());  // this daemon has no `tenants`
  const Snapshot& s = ev[1].snapshot;
  assert_true(s.tracking.has_value());
  assert_str(s.tracking->state, "synchronised");
  assert_int_equal(s.tracking->stratum, 3);
  assert_int_equal(s.tracking->ref_id, 0xC0000210);
  assert_str(s.tracking->ref_name, "192.0.2.16");
  assert_near(s.tracking->offset_s, -1.25e-5, 0);
  assert_near(s.tracking->freq_ppm, 12.31, 0);
  assert_near(s.tracking->root_delay_s, 0.0123, 0);
  assert_true(s.tracking->reference_time.ns == 1'800'000'000'123456789LL);
  assert_false(s.tracking->held.has_value());
  assert_true(s.sources.has_value());
  assert_int_equal(s.sources->size(), 2);
  assert_str((*s.sources)[0].name, "ntp1.example.net");
  assert_int_equal((*s.sources)[0].reach, 0377);
  assert_int_equal((*s.sources)[0].poll, 6);
  assert_near((*s.sources)[0].last_rx_ago_s, 12, 0);
  assert_str((*s.sources)[1].name, "bad?[2Jname");
  assert_near((*s.sources)[1].last_rx_ago_s, -1, 0);  // empty: never
  assert_true(s.server.has_value());
  assert_int_equal(s.server->received, 100);
  assert_int_equal(s.server->kod_rate + s.server->kod_deny, 4);
  assert_int_equal(s.server->dropped_by_reason.at("rate_limited"), 5);
  assert_int_equal(s.server->dropped_by_reason.at("too_short"), 1);
  assert_int_equal(s.server->dropped_by_reason.size(), 3);
  assert_int_equal(*s.server->clients, 12);
  assert_false(s.tenants.has_value());
  assert_true(s.zone.has_value());
  assert_str(s.zone->zone, "Europe/Istanbul");
  assert_str(s.zone->rule, "<+03>-3");
  assert_int_equal(s.zone->utc_offset_s, 10800);

  // The next refresh: no help, no tenants.
  assert_str(c.start_cycle(), "tracking\nsources\nserverstats\ntimezone get\n");
  ev = c.feed(reply(6, tracking_body()) + reply(7, "", "ERR 13 permission denied: monitor_group required") +
              reply(8, k_serverstats) + reply(9, "", "ERR 13 permission denied"));
  assert_int_equal(ev.size(), 1);
  assert_true(ev[0].snapshot.tracking.has_value());
  assert_false(ev[0].snapshot.sources.has_value());
  assert_int_equal(static_cast<int>(ev[0].snapshot.sources.error().code), 13);
  assert_str(ev[0].snapshot.sources.error().text, "permission denied: monitor_group required");
  assert_false(ev[0].snapshot.zone.has_value());
}

static void test_tenants(void**) {
  Conversation c;
  (void)c.start_cycle();
  auto ev = c.feed(hello(true) + full_answer(2, ""));
  assert_int_equal(ev.size(), 2);
  assert_false(ev[1].snapshot.tenants.has_value());  // not asked before help said so
  assert_true(c.asks_tenants());
  assert_str(c.start_cycle(), "tracking\nsources\nserverstats\ntimezone get\ntenants\n");
  std::string tenants =
      "name=acme received=10 answered=9 dropped=1 dropped_denied=1 clients=3\n"
      "tenant=beta received=0 answered=0\n";
  ev = c.feed(full_answer(6, reply(10, tenants)));
  assert_int_equal(ev.size(), 1);
  const Snapshot& s = ev[0].snapshot;
  assert_true(s.tenants.has_value() && s.tenants->has_value());
  assert_int_equal((*s.tenants)->size(), 2);
  assert_str((**s.tenants)[0].tenant, "acme");
  assert_int_equal((**s.tenants)[0].received, 10);
  assert_int_equal(*(**s.tenants)[0].clients, 3);
  assert_str((**s.tenants)[1].tenant, "beta");
  assert_false((**s.tenants)[1].clients.has_value());
  assert_true(c.asks_tenants());
  // A tenants reply with an error other than "unknown command" is shown, and asked again.
  (void)c.start_cycle();
  ev = c.feed(full_answer(11, reply(15, "", "ERR 13 permission denied")));
  assert_int_equal(ev.size(), 1);
  assert_true(ev[0].snapshot.tenants.has_value());
  assert_false(ev[0].snapshot.tenants->has_value());
  assert_true(c.asks_tenants());
  // "unknown command" after all: not asked again.
  (void)c.start_cycle();
  ev = c.feed(full_answer(16, reply(20, "", "ERR 38 unknown command 'tenants'")));
  assert_int_equal(ev.size(), 1);
  assert_false(ev[0].snapshot.tenants.has_value());
  assert_false(c.asks_tenants());
  // A help that failed: no tenants, and the refresh still completes.
  Conversation d;
  (void)d.start_cycle();
  ev = d.feed(std::string(k_greeting) + reply(1, "", "ERR 13 permission denied") + full_answer(2, ""));
  assert_int_equal(ev.size(), 2);
  assert_false(d.asks_tenants());
}

static void test_daemon_alerts(void**) {
  Conversation c;
  (void)c.start_cycle();
  std::string help = help_body(false) + "command=alerts args= access=read reply=table help=x\n";
  auto ev = c.feed(std::string(k_greeting) + reply(1, help) + full_answer(2, ""));
  assert_int_equal(ev.size(), 2);
  assert_false(ev[1].snapshot.alerts.has_value());  // not asked before help said so
  assert_true(c.asks_alerts());
  assert_str(c.start_cycle(), "tracking\nsources\nserverstats\ntimezone get\nalerts\n");
  std::string alerts =
      "alert=no_source subject= state=firing severity=critical value=0 threshold=1 unit= "
      "fired_utc=2026-11-26T06:09:27.000000000Z resolved_utc= message=none%20answered\n"
      "alert=offset subject= state=resolved severity=warning value=0.2 threshold=0.1 unit=s "
      "fired_utc=2026-11-26T06:00:00Z resolved_utc=2026-11-26T06:05:00Z message=x\n";
  ev = c.feed(full_answer(6, reply(10, alerts)));
  assert_int_equal(ev.size(), 1);
  const Snapshot& s = ev[0].snapshot;
  assert_true(s.alerts.has_value() && s.alerts->has_value());
  assert_int_equal((*s.alerts)->size(), 2);
  assert_str((**s.alerts)[0].alert, "no_source");
  assert_true((**s.alerts)[0].firing);
  assert_str((**s.alerts)[0].message, "none answered");
  assert_true((**s.alerts)[0].fired.ns > 0);
  assert_false((**s.alerts)[1].firing);
  // A bad record makes the reply an error; "unknown command" stops asking.
  (void)c.start_cycle();
  ev = c.feed(full_answer(11, reply(15, "alert=x state=maybe\n")));
  assert_true(ev[0].snapshot.alerts.has_value() && !ev[0].snapshot.alerts->has_value());
  (void)c.start_cycle();
  ev = c.feed(full_answer(16, reply(20, "", "ERR 38 unknown command 'alerts'")));
  assert_false(c.asks_alerts());
}

static void test_random_chunks(void**) {
  std::mt19937_64 rng(test_seed());
  std::string wire = hello(true) + full_answer(2, "");
  for (int i = 0; i < 300; ++i) {
    Conversation c;
    (void)c.start_cycle();
    std::vector<Conversation::Event> all;
    size_t pos = 0;
    while (pos < wire.size()) {
      size_t n = 1 + rng() % 40;
      for (auto& e : c.feed(std::string_view(wire).substr(pos, n))) {
        all.push_back(std::move(e));
      }
      pos += n;
    }
    assert_int_equal(all.size(), 2);
    assert_true(all[1].kind == Conversation::Event::Kind::Snapshot);
    assert_int_equal(all[1].snapshot.tracking->stratum, 3);
  }
  // CRLF line ends are accepted too.
  Conversation c;
  (void)c.start_cycle();
  std::string crlf;
  for (char ch : wire) {
    if (ch == '\n') {
      crlf += '\r';
    }
    crlf += ch;
  }
  assert_int_equal(c.feed(crlf).size(), 2);
}

static void test_bad_values(void**) {
  ctl::Record r;
  r = {{"state", "synchronised"}, {"stratum", "abc"}};
  auto t = parse_tracking(r);
  assert_false(t.has_value());
  assert_true(t.error().find("bad value for stratum") != std::string::npos);
  assert_false(parse_tracking({{"stratum", "300"}}).has_value());
  assert_false(parse_tracking({{"offset_s", "1.5x"}}).has_value());
  assert_false(parse_tracking({{"ref_id", "0xGG"}}).has_value());
  assert_false(parse_tracking({{"reference_time_utc", "yesterday"}}).has_value());
  assert_true(std::isnan(parse_tracking({{"offset_s", "nan"}})->offset_s));
  assert_true(parse_tracking({{"offset_s", ""}})->offset_s == 0);  // empty: unknown, default
  assert_true(parse_tracking({})->state == "unsynchronised");      // missing fields: defaults
  auto held = parse_tracking({{"held_id", "7"}, {"held_offset_s", "-2.5"}, {"held_since_utc", ""}});
  assert_true(held->held.has_value());
  assert_int_equal(held->held->id, 7);
  assert_near(held->held->offset_s, -2.5, 0);
  assert_false(parse_source({{"reach", "999"}}).has_value());
  assert_false(parse_source({{"poll", "99"}}).has_value());
  assert_false(parse_server_counters({{"received", "-1"}}).has_value());
  assert_false(parse_server_counters({{"received", "007"}}).has_value());
  assert_false(parse_server_counters({{"received", "99999999999999999999999"}}).has_value());
  assert_false(parse_server_counters({{"dropped_denied", "x"}}).has_value());
  assert_false(parse_zone({{"utc_offset_s", "0"}}).has_value());  // no zone name

  // A malformed reply spoils only its own part.
  Conversation c;
  (void)c.start_cycle();
  auto ev = c.feed(hello(false) + reply(2, "state=local stratum=-1\n") + reply(3, "") + reply(4, "not a record\n") +
                   reply(5, "zone=UTC utc_offset_s=0\n"));
  assert_int_equal(ev.size(), 2);
  const Snapshot& s = ev[1].snapshot;
  assert_false(s.tracking.has_value());
  assert_true(s.tracking.error().text.find("bad reply: bad value for stratum") == 0);
  assert_true(s.sources.has_value() && s.sources->empty());
  assert_false(s.server.has_value());
  assert_true(s.zone.has_value());
}

static void test_fatal(void**) {
  struct {
    std::string wire;
    const char* text;
  } cases[] = {
      {"SSH-2.0-OpenSSH\n", "not a tr7ntpd control socket"},
      {"TR7CTL 2 tr7ntpd/9\n", "protocol version 2"},
      {std::string(k_greeting) + "hello\n", "protocol error: expected BEGIN"},
      {std::string(k_greeting) + "BEGIN 1\nEND 2 OK\n", "protocol error: END does not match"},
      {std::string(k_greeting) + std::string(ctl::k_max_reply_line + 10, 'x'), "longer than the protocol allows"},
  };
  for (const auto& c : cases) {
    Conversation conv;
    (void)conv.start_cycle();
    auto ev = conv.feed(c.wire);
    assert_false(ev.empty());
    assert_true(ev.back().kind == Conversation::Event::Kind::Fatal);
    std::printf("# fatal: %s\n", ev.back().text.c_str());
    assert_true(ev.back().text.find(c.text) != std::string::npos);
    assert_true(conv.feed(hello(true) + full_answer(2, "")).empty());  // poisoned
  }
  // "busy": the daemon refuses the connection with an unsolicited reply.
  Conversation busy;
  auto ev = busy.feed(std::string(k_greeting) + reply(1, "", "ERR 11 too many connections, try later"));
  assert_true(ev.back().kind == Conversation::Event::Kind::Fatal);
  assert_str(ev.back().text, "daemon: too many connections, try later");
}

// Property: random bytes after a greeting never crash, and at most one Fatal comes out.
static void test_junk(void**) {
  std::mt19937_64 rng(test_seed());
  const char* pieces[] = {"BEGIN 1\n", "END 1 OK\n", "END 1 ERR 13 x\n", "a=b\n",    "%zz=1\n",     "\n",
                          "\r\n",      "BEGIN x\n",  "stratum=1\n",      "\x00\xFF", "END 9 ERR\n", "TR7CTL 1\n"};
  for (int i = 0; i < 2000; ++i) {
    Conversation c;
    (void)c.start_cycle();
    std::string wire = k_greeting;
    int n = static_cast<int>(rng() % 20);
    for (int j = 0; j < n; ++j) {
      if (rng() % 3 == 0) {
        wire += static_cast<char>(rng() & 0xFF);
      } else {
        wire += pieces[rng() % (sizeof pieces / sizeof pieces[0])];
      }
    }
    int fatal = 0;
    for (const auto& e : c.feed(wire)) {
      fatal += e.kind == Conversation::Event::Kind::Fatal;
    }
    assert_true(fatal <= 1);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cycle_and_snapshot),
      cmocka_unit_test(test_tenants),
      cmocka_unit_test(test_random_chunks),
      cmocka_unit_test(test_daemon_alerts),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_fatal),
      cmocka_unit_test(test_junk),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
