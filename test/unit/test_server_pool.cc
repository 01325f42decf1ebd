// The server threads (daemon/server_pool) on loopback: requests from many client
// addresses and ports are answered, each client always by the same thread (address
// steering), statistics add up over the threads, visit() and set_policy() reach every
// thread, and a new reference snapshot is served. Also ReferencePublisher under
// concurrent readers. Loopback only, a second or so.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <map>
#include <set>
#include <thread>

#include "core/ntp_packet.h"
#include "core/random.h"
#include "daemon/reference_publisher.h"
#include "daemon/server_pool.h"
#include "daemon/system_clock.h"
#include "testutil.h"

using namespace tr7;
using namespace tr7::daemon;

namespace {

// A client socket bound to 127.0.0.1 + `host` (any 127/8 address is local on Linux).
int client_socket(uint32_t host) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(0x7F000000u + host);
  assert_int_equal(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// One request, one reply: returns the reply's header, or fails the test.
core::NtpHeader ask(int fd, uint16_t port, uint64_t tx) {
  uint8_t req[48] = {};
  req[0] = 0x23;
  for (int i = 0; i < 8; ++i) {
    req[40 + i] = static_cast<uint8_t>(tx >> (56 - 8 * i));
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(0x7F000001);
  assert_int_equal(sendto(fd, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 48);
  uint8_t rep[64];
  ssize_t n = recv(fd, rep, sizeof rep, 0);
  if (n != 48) {
    fail_msg("no reply (%zd)", n);
  }
  core::NtpHeader h = core::decode_header(std::span<const uint8_t, 48>(rep, 48));
  assert_int_equal(h.origin.raw, tx);
  return h;
}

// The pool's statistics once `received` requests are counted (the threads publish
// after each batch, a moment after the replies left).
ServerPoolStats stats_after(const ServerPool& pool, uint64_t received) {
  ServerPoolStats s = pool.stats();
  for (int i = 0; i < 200 && s.server.received < received; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s = pool.stats();
  }
  return s;
}

struct Pool {
  SystemClock clock{ClockMode::None};
  ReferencePublisher ref{core::local_reference(10, clock.now(), 1e-6)};
  std::unique_ptr<ServerPool> pool;
  uint16_t port = 0;

  explicit Pool(unsigned threads, core::ServerPolicy policy = {}) {
    ServerPoolConfig c;
    c.listen.push_back(core::SockAddr{core::IpAddr::v4(0x7F000001), 0});
    c.threads = threads;
    c.policy = std::move(policy);
    pool = std::make_unique<ServerPool>(std::move(c), clock, ref);
    port = pool->addresses().at(0).port;
    assert_true(port != 0);
  }
};


// Voluntary context switches of this process's server threads (named tr7ntpd-srvN),
// summed; `threads` counts them.
uint64_t server_thread_switches(unsigned& threads) {
  threads = 0;
  uint64_t total = 0;
  DIR* d = opendir("/proc/self/task");
  assert_non_null(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') {
      continue;
    }
    std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind("tr7ntpd-srv", 0) != 0) {
      continue;
    }
    ++threads;
    std::ifstream st(base + "/status");
    std::string line;
    while (std::getline(st, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
        total += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  closedir(d);
  return total;
}

}  // namespace

// An idle server thread sleeps until a request, mail or stop: no timer. With no
// listener at all (a client-only daemon) there is no server thread; with one, 0.6 s
// idle costs no wake-up
// (it used to be one per 50 ms: 12 per thread). Mail and stop still reach it at once.
static void test_idle_threads_sleep(void**) {
  for (bool with_listener : {false, true}) {
    SystemClock clock{ClockMode::None};
    ReferencePublisher ref{core::local_reference(10, clock.now(), 1e-6)};
    ServerPoolConfig c;
    if (with_listener) {
      c.listen.push_back(core::SockAddr{core::IpAddr::v4(0x7F000001), 0});
    }
    c.threads = 2;
    ServerPool pool(std::move(c), clock, ref);
    pool.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the threads settle
    unsigned threads = 0;
    uint64_t before = server_thread_switches(threads);
    if (!with_listener) {
      // Nothing to listen on: no server thread at all (the pool runs mail on the caller).
      assert_int_equal(threads, 0);
      pool.stop();
      continue;
    }
    assert_int_equal(threads, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    uint64_t after = server_thread_switches(threads);
    if (after - before > 1) {
      fail_msg("%s listener: %llu wake-ups of 2 idle server threads in 0.6 s", with_listener ? "one" : "no",
               static_cast<unsigned long long>(after - before));
    }
    auto t0 = std::chrono::steady_clock::now();
    std::atomic<int> visited{0};
    assert_true(pool.visit([&](unsigned, const core::NtpServer&) { ++visited; }));
    assert_int_equal(visited.load(), 2);
    pool.stop();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    assert_true(ms < 40);  // woken, not found by a timer
  }
}

static void test_steered_answers(void**) {
  core::Rng rng(test_seed());
  for (unsigned threads : {1u, 2u, 3u}) {
    Pool p(threads);
    p.pool->start();
    assert_int_equal(p.pool->threads(), threads);
    constexpr int k_clients = 24, k_ports = 4;
    uint64_t sent = 0;
    for (int c = 0; c < k_clients; ++c) {
      for (int port = 0; port < k_ports; ++port) {
        int fd = client_socket(0x010000 + static_cast<uint32_t>(c) * 7);  // 127.1.0.x
        core::NtpHeader h = ask(fd, p.port, rng.next_u64() | 1);
        close(fd);
        assert_int_equal(static_cast<int>(h.mode), static_cast<int>(core::Mode::Server));
        assert_int_equal(h.stratum, 10);
        ++sent;
      }
    }
    ServerPoolStats s = stats_after(*p.pool, sent);
    assert_int_equal(s.server.received, sent);
    assert_int_equal(s.server.answered, sent);
    assert_int_equal(s.listener.steering_misses, 0);
    assert_int_equal(s.received_per_thread.size(), threads);
    // Every client (4 ports each) is in exactly one thread's table.
    assert_int_equal(s.clients, k_clients);
    std::map<std::string, std::set<unsigned>> seen;
    std::atomic<int> visits{0};
    assert_true(p.pool->visit([&](unsigned shard, const core::NtpServer& srv) {
      ++visits;
      srv.clients().for_each([&](const core::ClientRecord& r) {
        seen[r.key.addr().to_string()].insert(shard);
        assert_int_equal(r.requests, k_ports);
      });
    }));
    assert_int_equal(visits.load(), static_cast<int>(threads));
    assert_int_equal(seen.size(), k_clients);
    for (const auto& [addr, shards] : seen) {
      assert_int_equal(shards.size(), 1);
    }
    if (threads > 1) {
      int busy = 0;
      for (uint64_t r : s.received_per_thread) {
        busy += r > 0;
      }
      assert_true(busy >= 2);  // 24 clients over 2-3 threads: not all on one
    }
    p.pool->stop();
  }
}

static void test_policy_and_reference(void**) {
  core::ServerPolicy pol;
  pol.ratelimit.enabled = true;
  pol.ratelimit.interval_s = 60;
  pol.ratelimit.burst = 2;
  pol.ratelimit.leak = 0;
  Pool p(3, pol);
  p.pool->start();
  // A client rotating its source port gets its burst of 2 and no more, on any thread.
  int answered = 0;
  for (int i = 0; i < 6; ++i) {
    int fd = client_socket(0x020001);
    uint8_t req[48] = {0x23};
    req[47] = static_cast<uint8_t>(i + 1);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(p.port);
    to.sin_addr.s_addr = htonl(0x7F000001);
    sendto(fd, req, sizeof req, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    pollfd pf{fd, POLLIN, 0};
    if (poll(&pf, 1, 300) == 1) {
      uint8_t rep[64];
      answered += recv(fd, rep, sizeof rep, 0) == 48;
    }
    close(fd);
  }
  assert_int_equal(answered, 2);
  assert_int_equal(stats_after(*p.pool, 6).server.drop(core::DropReason::RateLimited), 4);

  // Reload: no rate limit any more; reaches every thread.
  core::ServerPolicy open;
  assert_true(p.pool->set_policy(open));
  int fd = client_socket(0x020001);
  ask(fd, p.port, 77);
  close(fd);

  // A new reference snapshot is served from the next batch on.
  core::ReferenceState r;
  r.synchronised = true;
  r.stratum = 3;
  r.refid = 0xC0000201;
  r.reference_time = p.clock.now();
  p.ref.publish(r);
  fd = client_socket(0x020002);
  core::NtpHeader h = ask(fd, p.port, 78);
  close(fd);
  assert_int_equal(h.stratum, 3);
  assert_int_equal(h.refid, 0xC0000201);
  p.pool->stop();
}

static void test_client_table_split(void**) {
  // max_clients is for the whole pool: 3 threads share 100 exactly, however many
  // clients come.
  core::ServerPolicy pol;
  pol.max_clients = 100;
  Pool p(3, pol);
  p.pool->start();
  for (uint32_t i = 0; i < 300; ++i) {
    int fd = client_socket(0x030000 + i);  // 127.3.x.y
    ask(fd, p.port, 1000 + i);
    close(fd);
  }
  ServerPoolStats s = stats_after(*p.pool, 300);
  assert_int_equal(s.clients, 100);
  assert_int_equal(s.evictions, 200);
  size_t capacity = 0;
  assert_true(p.pool->visit([&](unsigned, const core::NtpServer& srv) { capacity += srv.clients().capacity(); }));
  assert_int_equal(capacity, 100);
  p.pool->stop();
}

static void test_publisher_concurrent(void**) {
  core::ReferenceState s;
  s.synchronised = true;
  s.stratum = 1;
  s.root_delay_s = 1;
  ReferencePublisher pub(s);
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      ReferencePublisher::Reader rd(pub);
      uint8_t last = 0;
      while (!stop.load()) {
        const core::ReferenceState& c = rd.current();
        // Published values only ever grow, and root delay mirrors the stratum.
        if (c.stratum < last || c.root_delay_s != c.stratum) {
          ++errors;
        }
        last = c.stratum;
      }
    });
  }
  for (int i = 1; i <= 250; ++i) {
    s.stratum = static_cast<uint8_t>(i);
    s.root_delay_s = i;
    pub.publish(s);
    if (i % 50 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the readers run
    }
  }
  stop = true;
  for (auto& t : readers) {
    t.join();
  }
  assert_int_equal(errors.load(), 0);
  ReferencePublisher::Reader rd(pub);
  assert_int_equal(rd.current().stratum, 250);
  assert_int_equal(pub.snapshot()->stratum, 250);
}

static void test_clock_read_while_corrected(void**) {
  // mode none: the event loop steps the virtual clock while other threads read it; they
  // must only ever see whole corrections (forward steps: never a time going back).
  SystemClock clock(ClockMode::None);
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      int64_t last = 0;
      while (!stop.load()) {
        int64_t now = clock.now().ns;
        if (now < last) {
          ++errors;
        }
        last = now;
      }
    });
  }
  core::Timestamp before = clock.now();
  for (int i = 0; i < 200; ++i) {
    assert_true(clock.control().step(1.0).has_value());
    if (i % 20 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  stop = true;
  for (auto& t : readers) {
    t.join();
  }
  assert_int_equal(errors.load(), 0);
  assert_true(clock.now().ns - before.ns >= 200LL * 1'000'000'000);
}

static void test_served_reference(void**) {
  core::Timestamp t0{1'800'000'000LL * 1'000'000'000};
  core::Timestamp later{t0.ns + 86400LL * 1'000'000'000};
  core::ReferenceState local = core::local_reference(10, t0, 1e-6);
  core::ReferenceState at = core::served_reference(local, later);
  assert_true(at.reference_time == later);
  assert_near(at.root_dispersion_at(later), 1e-6, 1e-12);  // does not grow
  core::ReferenceState synced;
  synced.synchronised = true;
  synced.reference_time = t0;
  synced.root_dispersion_s = 1e-3;
  core::ReferenceState s2 = core::served_reference(synced, later);
  assert_true(s2.reference_time == t0);  // a real reference ages
  assert_near(s2.root_dispersion_at(later), 1e-3 + 86400 * core::k_phi, 1e-9);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_steered_answers),
      cmocka_unit_test(test_policy_and_reference),
      cmocka_unit_test(test_client_table_split),
      cmocka_unit_test(test_publisher_concurrent),
      cmocka_unit_test(test_clock_read_while_corrected),
      cmocka_unit_test(test_served_reference),
      cmocka_unit_test(test_idle_threads_sleep),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
