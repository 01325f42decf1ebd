// The privileged helper with fake backends: bad requests apply nothing, good ones apply
// exactly what was asked; and the whole channel (HelperClient <-> HelperService over a
// real SOCK_SEQPACKET socketpair, descriptors passed with SCM_RIGHTS), including a lying
// or dead helper.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "daemon/audit_file.h"
#include "daemon/helper.h"
#include "daemon/helper_client.h"
#include "daemon/log.h"
#include "sys/seqpacket.h"
#include "sys/udp.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::core;
using namespace tr7::daemon;
namespace ps = tr7::core::privsep;

namespace {

const Timestamp k_now{1'800'000'000LL * k_ns_per_s};

struct FakeClock final : ClockControl {
  std::vector<std::string> calls;
  double freq = 7.5;
  bool fail = false;
  Result<void> record(const std::string& c) {
    calls.push_back(c);
    if (fail) {
      return unexpected(std::string("fake failure"));
    }
    return {};
  }
  Result<void> step(double d) override { return record("step " + std::to_string(d)); }
  Result<void> slew(double d) override { return record("slew " + std::to_string(d)); }
  Result<void> set_frequency(double p) override {
    auto r = record("freq " + std::to_string(p));
    if (r) {
      freq = p;
    }
    return r;
  }
  double frequency() const override { return freq; }
  Result<void> set_leap(Leap l) override { return record("leap " + std::to_string(static_cast<int>(l))); }
  Result<void> set_sync_status(bool s, double est, double max) override {
    char buf[80];
    std::snprintf(buf, sizeof buf, "sync %d %.6f %.6f", s ? 1 : 0, est, max);
    return record(buf);
  }
};

struct FakeRtc final : Rtc {
  std::optional<Timestamp> time = Timestamp{k_now.ns - 5 * k_ns_per_s};
  int read_errno = 0;
  std::vector<Timestamp> writes;
  Result<Timestamp, int> read() override {
    if (read_errno != 0) {
      return unexpected(read_errno);
    }
    return *time;
  }
  Result<void, int> write(Timestamp t) override {
    writes.push_back(t);
    return {};
  }
};

struct Rig {
  FakeClock clock;
  FakeRtc rtc;
  int64_t mono = 1'000'000'000;
  int udp_opened = 0;
  std::unique_ptr<HelperService> svc;

  explicit Rig(bool clock_control = true) {
    ps::Policy p;
    p.clock_control = clock_control;
    p.rtc = true;
    p.max_step_s = 1000.0;
    p.floor = Timestamp{k_now.ns - 86400 * k_ns_per_s};
    p.ceiling = Timestamp{k_now.ns + 86400 * k_ns_per_s};
    p.bind_targets.push_back(ps::BindTarget{"", SockAddr{*parse_ip("127.0.0.1"), 0}});
    p.bind_targets.push_back(ps::BindTarget{"", SockAddr{*parse_ip("127.0.0.1"), 1}});
    HelperDeps d;
    d.clock = &clock;
    d.rtc = &rtc;
    d.now = [] { return k_now; };
    d.mono_ns = [this] { return mono; };
    d.open_udp = [this](const ps::BindTarget& t) {
      ++udp_opened;
      sys::UdpOptions o;
      o.timestamps = false;
      o.pktinfo = false;
      return sys::open_udp(t.addr, o);  // 127.0.0.1:1 fails: EACCES as non-root, or fine as root
    };
    d.open_config = [] {
      sys::Fd fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
      return fd;
    };
    p.runtime_rules.push_back(*tr7::core::parse_runtime_bind_rule("t-* 10.99.0.0/16 port 123"));
    d.netns_id = [](const std::string& name) -> uint64_t {
      if (name == "t-gone") {
        throw std::system_error(ENOENT, std::generic_category(), "open /run/netns/t-gone");
      }
      return 4026532000ULL + name.size();
    };
    svc = std::make_unique<HelperService>(p, std::move(d));
  }
  HelperService::Reply handle(const ps::Request& r, bool fds = false) { return svc->handle(ps::as_bytes(r), fds); }
};

}  // namespace

static void test_bad_requests_apply_nothing(void**) {
  Rig rig;
  std::vector<std::vector<uint8_t>> bad;
  auto add = [&](const ps::Request& r) {
    auto b = ps::as_bytes(r);
    bad.emplace_back(b.begin(), b.end());
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  for (ps::Op op : {ps::Op::Slew, ps::Op::SetFreq, ps::Op::Step}) {
    add(ps::make_request(op, 1, nan));
    add(ps::make_request(op, 1, inf));
    add(ps::make_request(op, 1, -inf));
    add(ps::make_request(op, 1, 1e300));
  }
  add(ps::make_request(ps::Op::Step, 1, 1000.5));  // over max_step
  ps::Request wrong_version = ps::make_request(ps::Op::Step, 1, 0.5);
  wrong_version.version = 2;
  add(wrong_version);
  ps::Request junk = ps::make_request(ps::Op::Slew, 1, 0.5);
  junk.reserved = 9;
  add(junk);
  ps::Request leap = ps::make_set_leap(1, Leap::Insert);
  leap.leap = 3;
  add(leap);
  ps::Request ns = *ps::make_open_udp(1, "", SockAddr{*parse_ip("127.0.0.1"), 0});
  std::memcpy(ns.netns, "../x", 4);
  add(ns);
  add(*ps::make_open_udp(1, "elsewhere", SockAddr{*parse_ip("127.0.0.1"), 0}));
  add(*ps::make_open_udp(1, "", SockAddr{*parse_ip("127.0.0.2"), 0}));
  const ps::Request slew = ps::make_request(ps::Op::Slew, 1, 0.5);
  std::vector<uint8_t> good(ps::as_bytes(slew).begin(), ps::as_bytes(slew).end());
  bad.emplace_back(good.begin(), good.end() - 1);  // short
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  bad.push_back(longer);  // long
  bad.emplace_back();     // empty
  for (const auto& m : bad) {
    auto r = rig.svc->handle(m, false);
    assert_true(r.resp.status < 0);
    assert_false(r.fd.valid());
  }
  // A valid request with a descriptor attached is refused too.
  auto r = rig.handle(ps::make_request(ps::Op::Slew, 1, 0.5), true);
  assert_true(r.resp.status == -static_cast<int32_t>(ps::Refusal::NotCanonical));
  assert_int_equal(rig.clock.calls.size(), 0);
  assert_int_equal(rig.rtc.writes.size(), 0);
  assert_int_equal(rig.udp_opened, 0);
  assert_int_equal(rig.svc->stats().refused, bad.size() + 1);
  assert_int_equal(rig.svc->stats().applied, 0);
  assert_true(rig.svc->stats().refused_by[static_cast<size_t>(ps::Refusal::NotFinite)] == 9);
}

static void test_good_requests_applied(void**) {
  Rig rig;
  auto r = rig.handle(ps::make_request(ps::Op::Slew, 5, -0.25));
  assert_int_equal(r.resp.status, 0);
  assert_int_equal(r.resp.seq, 5);
  r = rig.handle(ps::make_request(ps::Op::SetFreq, 6, -12.5));
  assert_int_equal(r.resp.status, 0);
  r = rig.handle(ps::make_set_leap(7, Leap::Delete));
  assert_int_equal(r.resp.status, 0);
  r = rig.handle(ps::make_request(ps::Op::Query, 8));
  assert_near(r.resp.value, -12.5, 1e-12);
  r = rig.handle(ps::make_request(ps::Op::Step, 9, 2.5));
  assert_int_equal(r.resp.status, 0);
  assert_int_equal(rig.clock.calls.size(), 4);
  assert_string_equal(rig.clock.calls[0].c_str(), "slew -0.250000");
  assert_string_equal(rig.clock.calls[1].c_str(), "freq -12.500000");
  assert_string_equal(rig.clock.calls[2].c_str(), "leap 2");
  assert_string_equal(rig.clock.calls[3].c_str(), "step 2.500000");
  // The RTC is written after a step, from the helper's own clock.
  assert_int_equal(rig.rtc.writes.size(), 1);
  assert_true(rig.rtc.writes[0] == k_now);
  r = rig.handle(ps::make_request(ps::Op::ReadRtc, 10));
  assert_int_equal(r.resp.status, 0);
  assert_true(r.resp.time_ns == k_now.ns - 5 * k_ns_per_s);
  rig.rtc.read_errno = EIO;
  r = rig.handle(ps::make_request(ps::Op::ReadRtc, 11));
  assert_int_equal(r.resp.status, EIO);
  r = rig.handle(ps::make_request(ps::Op::WriteRtc, 12));
  assert_int_equal(r.resp.status, 0);
  assert_int_equal(rig.rtc.writes.size(), 2);
  r = rig.handle(ps::make_request(ps::Op::OpenConfig, 13));
  assert_int_equal(r.resp.status, 0);
  assert_int_equal(r.resp.has_fd, 1);
  assert_true(r.fd.valid());
  // The kernel's sync status: flag, estimated and maximum error, as sent.
  r = rig.handle(ps::make_set_sync(15, true, 1.5e-4, 2.5e-3));
  assert_int_equal(r.resp.status, 0);
  r = rig.handle(ps::make_set_sync(16, false, 0, 0));
  assert_int_equal(r.resp.status, 0);
  assert_string_equal(rig.clock.calls[4].c_str(), "sync 1 0.000150 0.002500");
  assert_string_equal(rig.clock.calls[5].c_str(), "sync 0 0.000000 0.000000");
  // A backend failure is reported as an errno and counted as failed, not refused.
  rig.clock.fail = true;
  r = rig.handle(ps::make_request(ps::Op::Slew, 14, 0.1));
  assert_int_equal(r.resp.status, EIO);
  assert_int_equal(rig.svc->stats().failed, 2);
  assert_int_equal(rig.svc->stats().refused, 0);
}

static void test_step_rate_limit(void**) {
  Rig rig;
  for (unsigned i = 0; i < ps::k_step_burst; ++i) {
    assert_int_equal(rig.handle(ps::make_request(ps::Op::Step, i, 0.5)).resp.status, 0);
  }
  auto r = rig.handle(ps::make_request(ps::Op::Step, 99, 0.5));
  assert_int_equal(r.resp.status, -static_cast<int32_t>(ps::Refusal::RateLimited));
  assert_int_equal(rig.clock.calls.size(), ps::k_step_burst);
  rig.mono += static_cast<int64_t>(ps::k_step_refill_s * 1e9);
  assert_int_equal(rig.handle(ps::make_request(ps::Op::Step, 100, 0.5)).resp.status, 0);
}

// Issue 19 item 4: the clock budget holds across helper restarts in one boot (it used to
// be renewed by a restart), steps past the daily budget are refused, and the frequency
// bound follows max_slew_ppm.
static void test_budget_across_restart(void**) {
  std::string saved;
  auto make = [&saved](Rig& rig, double per_day, double max_freq) {
    ps::Policy p = rig.svc->policy();
    p.max_per_day_s = per_day;
    p.max_freq_ppm = max_freq;
    HelperDeps d;
    d.clock = &rig.clock;
    d.now = [] { return k_now; };
    d.mono_ns = [&rig] { return rig.mono; };
    d.boot_id = "boot-1";
    d.load_budget = [&saved]() -> std::optional<std::string> {
      return saved.empty() ? std::nullopt : std::optional<std::string>(saved);
    };
    d.save_budget = [&saved](const std::string& t) { saved = t; };
    rig.svc = std::make_unique<HelperService>(p, std::move(d));
  };
  Rig a;
  make(a, 10.0, 1500.0);
  assert_int_equal(a.handle(ps::make_request(ps::Op::Step, 1, 500.0)).resp.status, 0);  // the boot's first
  assert_int_equal(a.handle(ps::make_request(ps::Op::Step, 2, 6.0)).resp.status, 0);
  assert_int_equal(a.handle(ps::make_request(ps::Op::Step, 3, 5.0)).resp.status,
                   -static_cast<int32_t>(ps::Refusal::BudgetSpent));
  assert_int_equal(a.handle(ps::make_request(ps::Op::SetFreq, 4, 1600.0)).resp.status,
                   -static_cast<int32_t>(ps::Refusal::OutOfRange));  // 500 + max_slew_ppm 1000
  assert_false(saved.empty());
  // The helper restarts (the worker crashed, the service restarted): still spent.
  Rig b;
  b.mono = a.mono + 5 * k_ns_per_s;
  make(b, 10.0, 1500.0);
  assert_int_equal(b.handle(ps::make_request(ps::Op::Step, 1, 5.0)).resp.status,
                   -static_cast<int32_t>(ps::Refusal::BudgetSpent));
  assert_int_equal(b.handle(ps::make_request(ps::Op::Step, 2, 3.0)).resp.status, 0);  // 9 of 10
  // A frequency beyond the base that spends the rest is brought back by tick().
  assert_int_equal(b.handle(ps::make_request(ps::Op::SetFreq, 3, 1500.0)).resp.status, 0);
  b.mono += 1001 * k_ns_per_s;  // 1000 ppm beyond the base: 1 s in 1000 s
  size_t calls = b.clock.calls.size();
  b.svc->tick();
  assert_int_equal(b.clock.calls.size(), calls + 1);
  assert_string_equal(b.clock.calls.back().c_str(), "freq 500.000000");
  // Unreadable state: cautious (nothing but the base frequency).
  saved = "garbage";
  Rig c;
  make(c, 10.0, 1500.0);
  assert_int_equal(c.handle(ps::make_request(ps::Op::Slew, 1, 0.1)).resp.status,
                   -static_cast<int32_t>(ps::Refusal::BudgetSpent));
  assert_int_equal(c.handle(ps::make_request(ps::Op::SetFreq, 2, 400.0)).resp.status, 0);
}

static void test_clock_none_policy(void**) {
  Rig rig(false);
  for (const ps::Request& q : {ps::make_request(ps::Op::Slew, 1, 0.1), ps::make_request(ps::Op::Step, 1, 0.1),
                               ps::make_request(ps::Op::SetFreq, 1, 1.0), ps::make_set_leap(1, Leap::Insert),
                               ps::make_request(ps::Op::WriteRtc, 1), ps::make_set_sync(1, true, 1e-4, 1e-3)}) {
    assert_int_equal(rig.handle(q).resp.status, -static_cast<int32_t>(ps::Refusal::Disabled));
  }
  assert_int_equal(rig.clock.calls.size(), 0);
  assert_int_equal(rig.rtc.writes.size(), 0);
}

namespace {

// A HelperService answering on one end of a socketpair, in a thread, until EOF.
struct Channel {
  Rig rig;
  sys::Fd helper_end;
  std::unique_ptr<HelperClient> client;
  std::thread thread;
  Channel() {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    helper_end.reset(sv[0]);
    client = std::make_unique<HelperClient>(sys::Fd(sv[1]), 2000);
    thread = std::thread([this] {
      while (rig.svc->serve_one(helper_end.get())) {
      }
    });
  }
  ~Channel() {
    client.reset();  // EOF ends the serving thread
    thread.join();
  }
};

}  // namespace

static void test_channel_round_trips(void**) {
  Channel ch;
  HelperClockControl control(*ch.client);
  assert_near(control.frequency(), 7.5, 1e-12);  // from Query
  assert_true(control.slew(0.125).has_value());
  assert_true(control.set_frequency(-3.0).has_value());
  assert_near(control.frequency(), -3.0, 1e-12);
  assert_true(control.set_leap(Leap::Insert).has_value());
  assert_false(control.set_leap(Leap::Unsynchronised).has_value());
  assert_true(control.step(-1.5).has_value());
  auto bad = control.set_frequency(100000.5);
  assert_false(bad.has_value());
  assert_true(bad.error().find("value out of range") != std::string::npos);
  assert_near(control.frequency(), -3.0, 1e-12);  // unchanged after a refusal
  assert_false(control.step(std::numeric_limits<double>::quiet_NaN()).has_value());
  auto t = ch.client->read_rtc();
  assert_true(t && *t == Timestamp{k_now.ns - 5 * k_ns_per_s});
  assert_true(ch.client->write_rtc().has_value());
  auto cfg = ch.client->open_config();
  assert_true(cfg.has_value() && cfg->valid());
  assert_true(fcntl(cfg->get(), F_GETFD) & FD_CLOEXEC);  // MSG_CMSG_CLOEXEC
  // A UDP socket on an ephemeral port (port 0 is configured), checked by the client.
  auto sock = ch.client->open_udp("", SockAddr{*parse_ip("127.0.0.1"), 0});
  assert_true(sock.has_value());
  SockAddr bound = sys::local_address(sock->get());
  assert_true(bound.ip == *parse_ip("127.0.0.1") && bound.port != 0);
  assert_true(fcntl(sock->get(), F_GETFD) & FD_CLOEXEC);
  auto refused = ch.client->open_udp("", SockAddr{*parse_ip("127.0.0.3"), 0});
  assert_false(refused.has_value());
  assert_true(refused.error().find("address not configured") != std::string::npos);
  assert_false(ch.client->open_udp("a/b", SockAddr{*parse_ip("127.0.0.1"), 0}).has_value());
  // Namespace identities: a runtime rule's namespace, one that is gone, one not allowed.
  auto id = ch.client->netns_id("t-a");
  assert_true(id.has_value() && *id == 4026532003ULL);
  auto gone = ch.client->netns_id("t-gone");
  assert_true(gone.has_value() && *gone == 0);
  auto other = ch.client->netns_id("other");
  assert_false(other.has_value());
  assert_true(other.error().find("address not configured") != std::string::npos);
  assert_false(ch.client->netns_id("..").has_value());
  assert_false(ch.client->broken());
  assert_int_equal(ch.rig.clock.calls.size(), 4);
  assert_string_equal(ch.rig.clock.calls[3].c_str(), "step -1.500000");
}

namespace {

// A helper that answers every request with `reply(request)` plus optionally fds.
struct LyingHelper {
  sys::Fd end;
  std::unique_ptr<HelperClient> client;
  std::thread thread;
  template <class F>
  explicit LyingHelper(F reply) {
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    end.reset(sv[0]);
    client = std::make_unique<HelperClient>(sys::Fd(sv[1]), 1000);
    thread = std::thread([this, reply] {
      uint8_t buf[sizeof(ps::Request)];
      sys::Message m;
      while (sys::receive_message(end.get(), std::span<uint8_t>(buf, sizeof buf), m) == 0 && !m.eof) {
        ps::Request req;
        std::memcpy(&req, buf, sizeof req);
        reply(end.get(), req);
      }
    });
  }
  ~LyingHelper() {
    client.reset();
    thread.join();
  }
};

void send_resp(int fd, const ps::Response& r, int attach = -1) { sys::send_message(fd, ps::as_bytes(r), attach); }

}  // namespace

static void test_lying_helper(void**) {
  {  // wrong seq
    LyingHelper h([](int fd, const ps::Request& q) { send_resp(fd, ps::make_response(q.op, q.seq + 1, 0)); });
    assert_false(h.client->query_frequency().has_value());
    assert_true(h.client->broken());
    assert_false(h.client->query_frequency().has_value());  // broken for good
  }
  {  // short reply
    LyingHelper h([](int fd, const ps::Request&) {
      uint8_t b[3] = {1, 2, 3};
      sys::send_message(fd, std::span<const uint8_t>(b, 3));
    });
    assert_false(h.client->read_rtc().has_value());
    assert_true(h.client->broken());
  }
  {  // an unannounced descriptor
    LyingHelper h([](int fd, const ps::Request& q) { send_resp(fd, ps::make_response(q.op, q.seq, 0), 0); });
    assert_false(h.client->write_rtc().has_value());
    assert_true(h.client->broken());
  }
  {  // a TCP socket instead of a UDP one
    LyingHelper h([](int fd, const ps::Request& q) {
      sys::Fd tcp(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      ps::Response r = ps::make_response(q.op, q.seq, 0);
      r.has_fd = 1;
      send_resp(fd, r, tcp.get());
    });
    auto s = h.client->open_udp("", SockAddr{*parse_ip("127.0.0.1"), 0});
    assert_false(s.has_value());
    assert_true(s.error().find("not a datagram socket") != std::string::npos);
  }
  {  // a UDP socket bound somewhere else
    LyingHelper h([](int fd, const ps::Request& q) {
      sys::UdpOptions o;
      o.timestamps = false;
      o.pktinfo = false;
      sys::Fd u = sys::open_udp(SockAddr{*parse_ip("127.0.0.1"), 0}, o);
      ps::Response r = ps::make_response(q.op, q.seq, 0);
      r.has_fd = 1;
      send_resp(fd, r, u.get());
    });
    auto s = h.client->open_udp("", SockAddr{*parse_ip("127.0.0.1"), 1});
    assert_false(s.has_value());
    assert_true(s.error().find("bound to") != std::string::npos);
  }
  {  // silence: the client times out
    LyingHelper h([](int, const ps::Request&) {});
    assert_false(h.client->query_frequency().has_value());
    assert_true(h.client->broken());
  }
}

// Out of descriptors when a reply brings one (MSG_CTRUNC): that call fails, the channel
// stays usable (issue 19 item 1: it used to be broken for good).
static void test_descriptor_lost_is_not_fatal(void**) {
  LyingHelper h([](int fd, const ps::Request& q) {
    ps::Response r = ps::make_response(q.op, q.seq, 0);
    r.has_fd = 1;
    send_resp(fd, r, fd);  // any descriptor will do: its own end
  });
  rlimit old{};
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  int probe = dup(0);  // the lowest free descriptor: none is free below it
  assert_true(probe > 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(probe);
  close(probe);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
  auto lost = h.client->open_config();
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
  assert_false(lost.has_value());
  assert_true(lost.error().find("descriptor in the reply was lost") != std::string::npos);
  assert_false(h.client->broken());
  auto again = h.client->open_config();
  assert_true(again.has_value() && again->valid());
  assert_false(h.client->broken());
}

// Issue 19 item 7: the worker's records reach the audit log through the helper, which
// rotates it by size; malformed records are refused and the channel stays.
static void test_audit_through_helper(void**) {
  char tmpl[] = "/tmp/tr7-test-audit.XXXXXX";
  assert_non_null(mkdtemp(tmpl));
  std::string path(tmpl);
  sys::Fd dir(open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  assert_true(dir.valid());
  auto file = std::make_unique<AuditFile>(sys::Fd(dup(dir.get())), 400, 2);
  assert_true(file->open().has_value());
  ps::Policy p;
  HelperDeps d;
  d.now = [] { return k_now; };
  d.mono_ns = [] { return int64_t{1}; };
  d.audit_append = [&file](std::string_view line) {
    auto r = file->append(line);
    return r ? 0 : EIO;
  };
  HelperService svc(p, std::move(d));
  assert_true(svc.policy().audit);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  sys::Fd helper_end(sv[0]);
  auto client = std::make_unique<HelperClient>(sys::Fd(sv[1]), 2000);
  std::thread t([&] {
    while (svc.serve_one(helper_end.get())) {
    }
  });
  for (int i = 0; i < 40; ++i) {
    std::string rec = "{\"command\":\"allow add 10." + std::to_string(i) + ".0.0/16\",\"result\":\"ok\"}";
    assert_true(client->audit_append(rec).has_value());
  }
  assert_false(client->audit_append("{\"a\":\"two\nlines\"}").has_value());  // refused by the encoder
  auto bad = client->audit_append("{not json}");                             // by the helper
  assert_false(bad.has_value());
  assert_false(client->broken());
  // A record of 128 KiB minus a little: one message still.
  std::string big = "{\"after\":\"" + std::string(ps::k_max_audit_record - 20, 'x') + "\"}";
  assert_true(client->audit_append(big).has_value());
  client.reset();
  t.join();
  assert_true(file->rotations() > 0);
  // audit.log, .1 and .2 only; whole lines; the last small record before the big one
  // is in .1 (the big one, over the limit on its own, went to a fresh file).
  struct stat st {};
  assert_int_equal(stat((path + "/audit.log.3").c_str(), &st), -1);
  for (const char* f : {"audit.log", "audit.log.1", "audit.log.2"}) {
    FILE* in = std::fopen((path + "/" + f).c_str(), "r");
    assert_non_null(in);
    std::string text;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
      text.append(buf, n);
    }
    std::fclose(in);
    assert_true(!text.empty() && text.back() == '\n');
    if (std::string(f) != "audit.log") {
      assert_true(text.size() <= 400);
    }
  }
  std::string cmd = "rm -rf '" + path + "'";
  assert_int_equal(std::system(cmd.c_str()), 0);
}

static void test_dead_helper(void**) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  HelperClient client(sys::Fd(sv[1]), 1000);
  close(sv[0]);
  auto r = client.query_frequency();
  assert_false(r.has_value());
  assert_true(client.broken());
  // The helper side: a closed worker end ends serve_one.
  assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
  Rig rig;
  close(sv[1]);
  assert_false(rig.svc->serve_one(sv[0]));
  close(sv[0]);
}

int main() {
  log_init(true, LogLevel::Error, "test_helper");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_requests_apply_nothing),
      cmocka_unit_test(test_good_requests_applied),
      cmocka_unit_test(test_step_rate_limit),
      cmocka_unit_test(test_budget_across_restart),
      cmocka_unit_test(test_clock_none_policy),
      cmocka_unit_test(test_channel_round_trips),
      cmocka_unit_test(test_lying_helper),
      cmocka_unit_test(test_descriptor_lost_is_not_fatal),
      cmocka_unit_test(test_audit_through_helper),
      cmocka_unit_test(test_dead_helper),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
