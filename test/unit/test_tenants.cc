// daemon/tenants: the tenant set with a fake socket source (sockets on loopback, the
// namespace identities set by the test): add (strict and waiting), duplicates, a
// request counted by its tenant only, the namespace check (gone, back, replaced: the
// sockets are opened again and the counters carried over), remove.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "core/strutil.h"
#include "daemon/reference_publisher.h"
#include "daemon/system_clock.h"
#include "daemon/tenants.h"
#include "sys/udp.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::daemon;

namespace {

// Every namespace is this process's own; what differs is the identity the test sets.
struct FakeSockets final : TenantSockets {
  std::map<std::string, uint64_t> ids;        // missing: the namespace does not exist
  std::map<std::string, uint16_t> last_port;  // netns -> port of the last socket opened
  bool broken = false;
  int opened = 0;
  Result<sys::Fd, std::string> open_udp(const std::string& netns, const core::SockAddr& addr) override {
    sys::UdpOptions o;
    o.timestamps = false;
    o.pktinfo = false;
    core::SockAddr a = addr;
    a.port = 0;  // the test's addresses are placeholders: any free port on loopback
    sys::Fd fd = sys::open_udp(a, o);
    last_port[netns] = sys::local_address(fd.get()).port;
    ++opened;
    return fd;
  }
  Result<uint64_t, std::string> netns_id(const std::string& netns) override {
    if (broken) {
      return unexpected(std::string("helper gone"));
    }
    auto it = ids.find(netns);
    return it == ids.end() ? uint64_t{0} : it->second;
  }
};

core::TenantSpec spec(const char* name, const char* netns, const char* extra = "") {
  std::string w = std::string("netns ") + netns + " listen 127.0.0.1:123 " + extra;
  auto s = core::parse_tenant_words(name, core::split_words(w));
  if (!s) {
    fail_msg("%s", s.error().c_str());
  }
  return *s;
}

// One request to 127.0.0.1:port; true if answered.
bool ask(uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  uint8_t req[48] = {};
  req[0] = 0x23;
  req[47] = 1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(0x7F000001);
  sendto(fd, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  uint8_t rep[64];
  ssize_t n = recv(fd, rep, sizeof rep, 0);
  close(fd);
  return n == 48;
}

TenantRow row(const TenantSet& set, const std::string& name, uint64_t min_requests = 0) {
  for (int i = 0; i < 200; ++i) {
    for (const auto& r : set.rows()) {
      if (r.name == name && r.server.received >= min_requests) {
        return r;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fail_msg("no row for %s with %llu requests", name.c_str(), static_cast<unsigned long long>(min_requests));
  return {};
}

}  // namespace

static void test_tenant_set(void**) {
  SystemClock clock{ClockMode::None};
  ReferencePublisher ref{core::local_reference(10, clock.now(), 1e-6)};
  FakeSockets fs;
  TenantSet set(fs, clock, ref, TenantPoolOptions{});
  set.start();

  // A namespace that does not exist: refused when strict, waiting otherwise.
  auto r = set.add(spec("a", "ns-a"), true, true);
  assert_false(r.has_value());
  assert_true(r.error().find("does not exist") != std::string::npos);
  assert_int_equal(set.size(), 0);
  assert_true(set.add(spec("a", "ns-a", "deny 127.0.0.2"), false, false).has_value());
  assert_int_equal(set.size(), 1);
  assert_true(row(set, "a").state.rfind("waiting", 0) == 0);
  assert_int_equal(fs.opened, 0);

  fs.ids["ns-b"] = 100;
  assert_true(set.add(spec("b", "ns-b"), true, true).has_value());
  assert_true(set.is_runtime("b"));
  assert_false(set.is_runtime("a"));
  assert_false(set.add(spec("b", "ns-x"), true, true).has_value());   // name in use
  assert_false(set.add(spec("c", "ns-b"), true, true).has_value());   // same netns and address
  assert_true(set.add(spec("c", "ns-c"), false, false).has_value());  // another namespace: fine
  assert_true(ask(fs.last_port["ns-b"]));
  TenantRow b = row(set, "b", 1);
  assert_int_equal(b.server.received, 1);
  assert_int_equal(b.server.answered, 1);
  assert_int_equal(b.clients, 1);
  assert_string_equal(b.state.c_str(), "serving");
  assert_int_equal(row(set, "a").server.received, 0);

  // a's namespace appears: served at the next check (a first bind, not a rebind).
  fs.ids["ns-a"] = 200;
  set.check();
  TenantRow a = row(set, "a");
  assert_string_equal(a.state.c_str(), "serving");
  assert_int_equal(a.rebinds, 0);
  assert_true(ask(fs.last_port["ns-a"]));

  // b's namespace replaced: new sockets, counters carried over.
  uint16_t old_port = fs.last_port["ns-b"];
  fs.ids["ns-b"] = 101;
  set.check();
  assert_true(fs.last_port["ns-b"] != old_port);
  assert_true(ask(fs.last_port["ns-b"]));
  b = row(set, "b", 2);
  assert_int_equal(b.server.received, 2);
  assert_int_equal(b.rebinds, 1);
  assert_false(ask(old_port));  // the old socket is closed

  // b's namespace gone: waiting, sockets closed; back: served again.
  fs.ids.erase("ns-b");
  set.check();
  assert_true(row(set, "b").state.find("is gone") != std::string::npos);
  assert_false(ask(fs.last_port["ns-b"]));
  fs.ids["ns-b"] = 102;
  set.check();
  assert_string_equal(row(set, "b").state.c_str(), "serving");
  assert_true(ask(fs.last_port["ns-b"]));
  assert_int_equal(row(set, "b", 3).server.received, 3);

  // Unknown identities (the helper cannot answer) change nothing.
  fs.broken = true;
  int opened = fs.opened;
  set.check();
  assert_int_equal(fs.opened, opened);
  assert_string_equal(row(set, "b").state.c_str(), "serving");
  fs.broken = false;

  // New rules without new sockets.
  core::TenantSpec strict = spec("b", "ns-b", "allow 10.0.0.0/8");
  assert_true(set.set_policy("b", strict));
  assert_int_equal(set.find("b")->access.size(), 1);
  assert_false(ask(fs.last_port["ns-b"]));  // 127.0.0.1 is not in 10/8 any more
  assert_int_equal(fs.opened, opened);

  assert_true(set.remove("a"));
  assert_false(set.remove("a"));
  assert_true(set.find("a") == nullptr);
  assert_int_equal(set.names().size(), 2);
  set.stop();
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tenant_set),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
