#include "daemon/server_pool.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <stdexcept>
#include <system_error>

#include "core/busy_poll.h"
#include "daemon/log.h"
#include "sys/clock.h"
#include "sys/reuseport.h"
#include "sys/udp.h"

namespace tr7::daemon {

namespace {

// Receive buffer per server socket (the kernel doubles it, and caps it at rmem_max): about
// 1000 queued requests, a few milliseconds of work, to ride out bursts and scheduling gaps.
constexpr int k_server_rcvbuf = 1 << 19;

bool is_wildcard(const core::SockAddr& a) { return a.ip.bytes == std::array<uint8_t, 16>{}; }

// Published counters: written by the shard thread only (relaxed stores), read by anyone.
enum Counter : unsigned {
  c_received,
  c_answered,
  c_kod_rate,
  c_kod_deny,
  c_leaked,
  c_auth_mac,
  c_auth_nts,
  c_nak_crypto,
  c_nak_nts,
  c_dropped0,
  c_send_errors = c_dropped0 + core::k_drop_reasons,
  c_no_kernel_timestamp,
  c_batches,
  c_steering_misses,
  c_clients,
  c_evictions,
  c_count
};

}  // namespace

struct ServerPool::Shard {
  unsigned index = 0;
  std::unique_ptr<core::NtpServer> server;
  std::vector<std::unique_ptr<NtpListener>> listeners;
  std::array<std::atomic<uint64_t>, c_count> published{};
  std::mutex mail_mutex;
  std::vector<std::function<void()>> mail;
  std::atomic<bool> has_mail{false};
  // Wakes the thread from its poll (mail, stop): an idle thread sleeps until a request
  // or this, never on a timer.
  sys::Fd wake;
};

namespace {

void wake_shard(int fd) noexcept {
  uint64_t one = 1;
  // EAGAIN only when the counter is near 2^64: a wake-up is pending anyway.
  (void)!write(fd, &one, sizeof one);
}

}  // namespace

unsigned available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    return n > 0 ? static_cast<unsigned>(n) : 1;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<unsigned>(n) : 1;
}

std::vector<sys::Fd> open_server_sockets(const core::SockAddr& addr, unsigned threads, const core::SteerKey& key) {
  if (threads < 1) {
    threads = 1;
  }
  sys::UdpOptions opt;
  opt.reuse_port = threads > 1;
  opt.pktinfo = is_wildcard(addr);
  opt.rcvbuf = k_server_rcvbuf;
  // A listen address that is not on this host yet (the floating VIP of an HA standby) is
  // bound anyway and served once it arrives, instead of stopping the start.
  bool absent = false;
  opt.freebind_if_absent = true;
  opt.freebound = &absent;
  std::vector<sys::Fd> fds;
  core::SockAddr bind_to = addr;
  if (threads > 1 && addr.port != 0) {
    // SO_REUSEPORT would let us join a group that another process of our user holds
    // (a second daemon started by mistake), silently splitting the traffic. A plain
    // bind first fails with EADDRINUSE in that case, as it would with one thread.
    sys::UdpOptions plain;
    plain.timestamps = false;
    plain.pktinfo = false;
    plain.freebind_if_absent = true;
    sys::open_udp(addr, plain);  // closed again at once
  }
  for (unsigned i = 0; i < threads; ++i) {
    fds.push_back(sys::open_udp(bind_to, opt));
    if (i == 0 && bind_to.port == 0) {
      bind_to.port = sys::local_address(fds[0].get()).port;  // the others join its port
    }
  }
  if (threads > 1) {
    sys::attach_steering(fds[0].get(), addr.ip.is_v6() ? AF_INET6 : AF_INET, key, threads);
  }
  if (absent) {
    log_warn("listen address %s is not on this host (yet): bound with IP_FREEBIND, served once it is",
             addr.to_string().c_str());
  }
  return fds;
}

ServerPool::ServerPool(ServerPoolConfig cfg, const core::Clock& clock, const ReferencePublisher& reference)
    : m_cfg(std::move(cfg)), m_policy(m_cfg.policy) {
  if (m_cfg.threads < 1) {
    m_cfg.threads = 1;
  }
  core::SteerKey key = core::SteerKey::from_random(sys::random_u64(), sys::random_u64());
  std::vector<std::vector<sys::Fd>> fds;
  for (const auto& addr : m_cfg.listen) {
    try {
      fds.push_back(open_server_sockets(addr, m_cfg.threads, key));
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot listen on " + addr.to_string() + ": " + e.what());
    }
  }
  build(std::move(fds), key, clock, reference);
}

ServerPool::ServerPool(ServerPoolConfig cfg, std::vector<std::vector<sys::Fd>> fds, const core::SteerKey& key,
                       const core::Clock& clock, const ReferencePublisher& reference)
    : m_cfg(std::move(cfg)), m_policy(m_cfg.policy) {
  if (m_cfg.threads < 1) {
    m_cfg.threads = 1;
  }
  if (fds.size() != m_cfg.listen.size()) {
    throw std::runtime_error("server pool: one socket group per listen address expected");
  }
  for (const auto& g : fds) {
    if (g.size() != m_cfg.threads) {
      throw std::runtime_error("server pool: one socket per thread expected");
    }
  }
  build(std::move(fds), key, clock, reference);
}

void ServerPool::build(std::vector<std::vector<sys::Fd>> fds, const core::SteerKey& key, const core::Clock& clock,
                       const ReferencePublisher& reference) {
  for (unsigned t = 0; t < m_cfg.threads; ++t) {
    auto s = std::make_unique<Shard>();
    s->index = t;
    s->wake.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!s->wake.valid()) {
      throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    core::SipKey sip{sys::random_u64(), sys::random_u64()};
    s->server = std::make_unique<core::NtpServer>(shard_policy(m_policy, t), sip, sys::random_u64(), m_cfg.precision);
    ListenerOptions lo;
    lo.shard = t;
    lo.shards = m_cfg.threads;
    lo.steer = key;
    lo.spread_tx = m_cfg.spread_tx;
    for (auto& group : fds) {
      s->listeners.push_back(std::make_unique<NtpListener>(std::move(group[t]), *s->server, clock, reference, lo));
    }
    m_shards.push_back(std::move(s));
  }
}

ServerPool::~ServerPool() { stop(); }

core::ServerPolicy ServerPool::shard_policy(const core::ServerPolicy& p, unsigned shard) const {
  // max_clients split exactly: the shares add up to the configured total.
  core::ServerPolicy s = p;
  size_t n = m_cfg.threads;
  s.max_clients = p.max_clients / n + (shard < p.max_clients % n ? 1 : 0);
  if (s.max_clients < 1) {
    s.max_clients = 1;
  }
  return s;
}

std::vector<core::SockAddr> ServerPool::addresses() const {
  std::vector<core::SockAddr> a;
  if (!m_shards.empty()) {
    for (const auto& l : m_shards[0]->listeners) {
      a.push_back(l->address());
    }
  }
  return a;
}

void ServerPool::start() {
  if (running()) {
    return;
  }
  // Nothing to serve (a client only daemon): no threads. run_on_all() then runs on the
  // caller, as before start().
  if (m_shards.empty() || m_shards[0]->listeners.empty()) {
    return;
  }
  m_stop.store(false);
  // The threads inherit a full signal mask: signals go to the main thread's loop.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  try {
    for (auto& s : m_shards) {
      Shard* sp = s.get();
      m_threads.emplace_back([this, sp] { thread_main(*sp); });
    }
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    stop();
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void ServerPool::request_stop() {
  m_stop.store(true);
  for (auto& s : m_shards) {
    wake_shard(s->wake.get());
  }
}

void ServerPool::stop() {
  request_stop();
  for (auto& t : m_threads) {
    if (t.joinable()) {
      t.join();
    }
  }
  m_threads.clear();
  for (auto& s : m_shards) {
    run_mail(*s);  // anything posted while stopping
    publish(*s);
  }
}

void ServerPool::thread_main(Shard& s) {
  std::string name = "tr7ntpd-srv" + std::to_string(s.index);
  pthread_setname_np(pthread_self(), name.c_str());
  // The sockets and the wake-up eventfd (last), all non-blocking. The thread sleeps in
  // poll with no timeout: with no request and no mail it never wakes (a daemon with no
  // listener has idle threads that cost nothing). The reference needs no wake-up: each
  // batch reads the newest snapshot (reference_publisher.h).
  std::vector<pollfd> pfds;
  for (const auto& l : s.listeners) {
    pfds.push_back(pollfd{l->fd(), POLLIN, 0});
  }
  pfds.push_back(pollfd{s.wake.get(), POLLIN, 0});
  const size_t n_listeners = s.listeners.size();
  core::BusyPollWindow bp(static_cast<int64_t>(m_cfg.busy_poll_us) * 1000);
  while (!m_stop.load(std::memory_order_relaxed)) {
    size_t n = 0;
    if (n_listeners == 1 && bp.window_ns() > 0) {
      // Busy polling: look again and again for a while before going to sleep.
      NtpListener& l = *s.listeners[0];
      int64_t until = sys::monotonic_ns() + bp.window_ns();
      do {
        n = l.serve(false);
      } while (n == 0 && sys::monotonic_ns() < until && !m_stop.load(std::memory_order_relaxed));
      if (n > 0) {
        bp.on_batch(false, l.first_rx_ns(), sys::realtime_now().ns);
      }
    }
    if (n == 0) {
      int r = poll(pfds.data(), pfds.size(), -1);
      if (r < 0 && errno != EINTR) {
        break;  // EFAULT/EINVAL/ENOMEM: nothing sensible to retry
      }
      if (r > 0) {
        if (pfds.back().revents != 0) {
          uint64_t v;
          (void)!read(s.wake.get(), &v, sizeof v);
        }
        for (size_t i = 0; i < n_listeners; ++i) {
          if (pfds[i].revents != 0) {
            size_t got = s.listeners[i]->serve(false);
            if (got > 0 && n_listeners == 1) {
              bp.on_batch(true, s.listeners[i]->first_rx_ns(), sys::realtime_now().ns);
            }
          }
        }
      }
    }
    if (s.has_mail.load(std::memory_order_acquire)) {
      run_mail(s);
    }
    publish(s);
  }
  publish(s);
}

void ServerPool::publish(Shard& s) {
  auto put = [&](unsigned i, uint64_t v) { s.published[i].store(v, std::memory_order_relaxed); };
  const core::ServerStats& st = s.server->stats();
  put(c_received, st.received);
  put(c_answered, st.answered);
  put(c_kod_rate, st.kod_rate);
  put(c_kod_deny, st.kod_deny);
  put(c_leaked, st.leaked);
  put(c_auth_mac, st.auth_mac);
  put(c_auth_nts, st.auth_nts);
  put(c_nak_crypto, st.nak_crypto);
  put(c_nak_nts, st.nak_nts);
  for (size_t i = 0; i < core::k_drop_reasons; ++i) {
    put(c_dropped0 + static_cast<unsigned>(i), st.dropped[i]);
  }
  ListenerStats ls;
  for (const auto& l : s.listeners) {
    ls.send_errors += l->stats().send_errors;
    ls.no_kernel_timestamp += l->stats().no_kernel_timestamp;
    ls.batches += l->stats().batches;
    ls.steering_misses += l->stats().steering_misses;
  }
  put(c_send_errors, ls.send_errors);
  put(c_no_kernel_timestamp, ls.no_kernel_timestamp);
  put(c_batches, ls.batches);
  put(c_steering_misses, ls.steering_misses);
  put(c_clients, s.server->clients().size());
  put(c_evictions, s.server->clients().evictions());
}

ServerPoolStats ServerPool::stats() const {
  ServerPoolStats r;
  for (const auto& s : m_shards) {
    auto get = [&](unsigned i) { return s->published[i].load(std::memory_order_relaxed); };
    core::ServerStats st;
    st.received = get(c_received);
    st.answered = get(c_answered);
    st.kod_rate = get(c_kod_rate);
    st.kod_deny = get(c_kod_deny);
    st.leaked = get(c_leaked);
    st.auth_mac = get(c_auth_mac);
    st.auth_nts = get(c_auth_nts);
    st.nak_crypto = get(c_nak_crypto);
    st.nak_nts = get(c_nak_nts);
    for (size_t i = 0; i < core::k_drop_reasons; ++i) {
      st.dropped[i] = get(c_dropped0 + static_cast<unsigned>(i));
    }
    r.server.add(st);
    r.listener.send_errors += get(c_send_errors);
    r.listener.no_kernel_timestamp += get(c_no_kernel_timestamp);
    r.listener.batches += get(c_batches);
    r.listener.steering_misses += get(c_steering_misses);
    r.clients += get(c_clients);
    r.evictions += get(c_evictions);
    r.received_per_thread.push_back(st.received);
  }
  return r;
}

void ServerPool::run_mail(Shard& s) {
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard<std::mutex> lock(s.mail_mutex);
    todo.swap(s.mail);
    s.has_mail.store(false, std::memory_order_relaxed);
  }
  for (auto& f : todo) {
    f();
  }
}

bool ServerPool::run_on_all(std::function<void(Shard&)> f) {
  if (!running()) {
    for (auto& s : m_shards) {
      f(*s);
      publish(*s);
    }
    return true;
  }
  struct Done {
    std::mutex m;
    std::condition_variable cv;
    size_t remaining;
  };
  auto done = std::make_shared<Done>();
  done->remaining = m_shards.size();
  auto fn = std::make_shared<std::function<void(Shard&)>>(std::move(f));
  for (auto& s : m_shards) {
    Shard* sp = s.get();
    std::lock_guard<std::mutex> lock(sp->mail_mutex);
    sp->mail.push_back([done, fn, sp] {
      (*fn)(*sp);
      std::lock_guard<std::mutex> l(done->m);
      if (--done->remaining == 0) {
        done->cv.notify_all();
      }
    });
    sp->has_mail.store(true, std::memory_order_release);
    wake_shard(sp->wake.get());
  }
  std::unique_lock<std::mutex> lock(done->m);
  return done->cv.wait_for(lock, std::chrono::milliseconds(k_visit_timeout_ms), [&] { return done->remaining == 0; });
}

bool ServerPool::visit(std::function<void(unsigned, const core::NtpServer&)> f) {
  auto fn = std::make_shared<std::function<void(unsigned, const core::NtpServer&)>>(std::move(f));
  // One shard after the other would serialise the waits; all at once, f runs
  // concurrently on the shard threads: serialise f itself instead.
  auto order = std::make_shared<std::mutex>();
  return run_on_all([fn, order](Shard& s) {
    std::lock_guard<std::mutex> lock(*order);
    (*fn)(s.index, *s.server);
  });
}

std::vector<core::ClientRecord> ServerPool::client_records(size_t limit, bool* complete) {
  struct Shared {
    std::mutex m;
    std::vector<core::ClientRecord> all;
  };
  auto sh = std::make_shared<Shared>();
  bool ok = visit([sh, limit](unsigned, const core::NtpServer& srv) {
    std::vector<core::ClientRecord> mine;
    srv.clients().for_each([&mine](const core::ClientRecord& r) { mine.push_back(r); }, limit);
    std::lock_guard<std::mutex> lock(sh->m);
    sh->all.insert(sh->all.end(), mine.begin(), mine.end());
  });
  if (complete) {
    *complete = ok;
  }
  std::lock_guard<std::mutex> lock(sh->m);
  return sh->all;
}

bool ServerPool::set_policy(const core::ServerPolicy& policy) {
  m_policy = policy;
  auto shares = std::make_shared<std::vector<core::ServerPolicy>>();
  for (unsigned t = 0; t < m_cfg.threads; ++t) {
    shares->push_back(shard_policy(policy, t));
  }
  return run_on_all([shares](Shard& s) { s.server->set_policy((*shares)[s.index]); });
}

}  // namespace tr7::daemon
