// The NTP server's data path: N server threads ("shards"), each with its own socket per
// listen address, its own core::NtpServer (client table, rate limits, statistics) and
// its own buffers. Nothing is shared on the data path, so nothing is locked per packet.
//
//  * With N > 1 the sockets of one address form an SO_REUSEPORT group whose classic BPF
//    program (sys/reuseport.h) steers each datagram by its source address alone (IPv4
//    address, IPv6 /64) to the shard core::shard_of() names, the same shard on every
//    address of the pool. A client therefore always meets the same client table: its
//    rate limit holds however it rotates its source port. (Plain SO_REUSEPORT hashes the
//    4-tuple: rotating ports would spread a client over all threads and multiply its
//    limit by N; a shared table would need a lock or atomics per packet.)
//  * The client table capacity (max_clients) is split evenly over the shards (the
//    shares add up to it exactly): memory stays bounded by the configured total.
//  * A shard thread sleeps in poll(2), with no timeout, on its sockets and an eventfd;
//    then reads the ready sockets in batches (recvmmsg, non-blocking). The eventfd is
//    written only for mail and stop: an idle thread, or one with no socket at all, never
//    wakes. With busy_poll_us (one socket) it first polls the socket for an adaptive
//    window (at most busy_poll_us) while requests keep arriving that densely: an idle
//    server's wake-up latency then stays out of T3-T2, at the price of CPU time (see
//    tr7ntpd.conf(5)).
//  * Statistics: each shard publishes its counters (relaxed atomic stores) after every
//    batch; stats() sums them from any thread, without stopping anyone.
//  * Everything else that needs a shard's own state (a new policy on reload, reading the
//    client table) goes through the shard's mailbox and runs on its thread between two
//    batches, woken at once by the eventfd; the caller waits for it.
//
// One pool serves one server configuration (policy, listen addresses); several tenants
// would each get a pool. The threads start with start(), which must come after any
// fork (daemonising, privilege separation). System calls of the shard threads (for a
// seccomp allow list): poll (or ppoll), read (eventfd), recvmmsg, sendmmsg,
// clock_gettime (normally vDSO), futex (mailbox), madvise/munmap/exit (thread end);
// creating a pool: eventfd2; waking a thread: write;
// creating them: clone3 or clone, mmap, mprotect, rt_sigprocmask, set_robust_list,
// rseq, prctl(PR_SET_NAME); opening the sockets: socket, setsockopt(SO_REUSEPORT,
// SO_TIMESTAMPNS, IP_PKTINFO, SO_RCVBUF, SO_RCVTIMEO, SO_ATTACH_REUSEPORT_CBPF), bind,
// fcntl, getsockname; sched_getaffinity for `threads = auto`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/ntp_server.h"
#include "core/steering.h"
#include "daemon/ntp_listener.h"
#include "daemon/reference_publisher.h"
#include "sys/fd.h"

namespace tr7::daemon {

struct ServerPoolConfig {
  std::vector<core::SockAddr> listen;
  unsigned threads = 1;       // >= 1
  core::ServerPolicy policy;  // max_clients: for the whole pool
  int8_t precision = -20;     // log2 s, served in every reply
  bool spread_tx = true;      // see ListenerOptions
  unsigned busy_poll_us = 0;  // most a thread polls before sleeping (0: never polls)
};

struct ServerPoolStats {
  core::ServerStats server;  // summed over the shards
  ListenerStats listener;    // summed over every socket
  uint64_t clients = 0;      // clients in the tables now
  uint64_t evictions = 0;
  std::vector<uint64_t> received_per_thread;
};

// Opens `threads` sockets bound to `addr` for one pool: SO_REUSEPORT and the steering
// program when threads > 1, IP_PKTINFO only on a wildcard address, a larger receive
// buffer. Socket i is for shard i. Port 0 binds one ephemeral port for all of them.
// An address already in use (by anyone, also by another SO_REUSEPORT group of the same
// user) is refused with EADDRINUSE. Throws std::system_error.
std::vector<sys::Fd> open_server_sockets(const core::SockAddr& addr, unsigned threads, const core::SteerKey& key);

// The number of CPUs this process may run on (sched_getaffinity), at least 1: the
// default number of server threads.
unsigned available_cpus();

class ServerPool {
 public:
  // Opens the sockets (one per listen address and thread); throws std::runtime_error
  // naming the address that failed.
  ServerPool(ServerPoolConfig cfg, const core::Clock& clock, const ReferencePublisher& reference);
  // Takes sockets opened elsewhere (a privileged helper): fds[a] are the cfg.threads
  // sockets of cfg.listen[a] from open_server_sockets() with the same `key`.
  ServerPool(ServerPoolConfig cfg, std::vector<std::vector<sys::Fd>> fds, const core::SteerKey& key,
             const core::Clock& clock, const ReferencePublisher& reference);
  ~ServerPool();
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  // Starts the shard threads (all signals blocked in them). Throws std::system_error.
  void start();
  // Stops and joins them (also done by the destructor).
  void stop();
  // Tells the threads to stop without waiting (stop() joins them): many pools stop
  // together instead of one after the other.
  void request_stop();
  bool running() const { return !m_threads.empty(); }

  unsigned threads() const { return static_cast<unsigned>(m_shards.size()); }
  std::vector<core::SockAddr> addresses() const;  // one per listen address
  const core::ServerPolicy& policy() const { return m_policy; }

  // Counters summed over all shards (any thread, lock-free; at most one batch old).
  ServerPoolStats stats() const;

  // Runs f(shard index, server) on each shard's own thread (inline when the threads do
  // not run), one shard at a time in no particular order, and waits until all have run. Returns false when a shard
  // did not answer within k_visit_timeout_ms (then f may still run later: it must own
  // what it uses). For reading client tables and the like.
  bool visit(std::function<void(unsigned, const core::NtpServer&)> f);
  // Copies of the client records of every shard (each shard's `limit` most recently
  // seen), through visit() with storage that outlives a late shard. `complete`: false
  // when a shard did not answer in time (its records are missing).
  std::vector<core::ClientRecord> client_records(size_t limit, bool* complete = nullptr);

  // Replaces the allow list and rate limits of every shard (a reload). Client tables are
  // kept unless max_clients changed. Returns false as visit() does.
  bool set_policy(const core::ServerPolicy& policy);

  static constexpr int k_visit_timeout_ms = 2000;

 private:
  struct Shard;
  void build(std::vector<std::vector<sys::Fd>> fds, const core::SteerKey& key, const core::Clock& clock,
             const ReferencePublisher& reference);
  core::ServerPolicy shard_policy(const core::ServerPolicy& p, unsigned shard) const;
  void thread_main(Shard& s);
  void publish(Shard& s);
  void run_mail(Shard& s);
  bool run_on_all(std::function<void(Shard&)> f);

  ServerPoolConfig m_cfg;
  core::ServerPolicy m_policy;
  std::vector<std::unique_ptr<Shard>> m_shards;
  std::vector<std::thread> m_threads;
  std::atomic<bool> m_stop{false};
};

}  // namespace tr7::daemon
