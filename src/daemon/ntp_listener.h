// One NTP server socket: reads requests in batches (recvmmsg) with their kernel receive
// timestamps, lets core::NtpServer decide, stamps the transmit time as late as possible
// and sends the replies in a batch (sendmmsg). Thin: no protocol logic here.
//
// A listener belongs to one server thread (server_pool.h) and is used by that thread
// only: no locks, and no allocation after construction. The reference state comes from
// an immutable snapshot (reference_publisher.h); the clock must be safe to read from
// several threads at once (core/clock.h).
#pragma once

#include <array>
#include <cstdint>

#include "core/clock.h"
#include "core/ntp_server.h"
#include "core/steering.h"
#include "daemon/reference_publisher.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

struct ListenerStats {
  uint64_t send_errors = 0;
  uint64_t no_kernel_timestamp = 0;
  uint64_t batches = 0;          // receive calls that returned datagrams
  uint64_t steering_misses = 0;  // datagrams whose client belongs to another thread
  uint64_t seal_failures = 0;    // authenticated replies that could not be finished (not sent)
};

struct ListenerOptions {
  unsigned shard = 0;   // this thread's index in the pool
  unsigned shards = 1;  // threads in the pool
  core::SteerKey steer;
  // Transmit timestamps of a batch: one sendmmsg sends the replies one after the
  // other, the k-th about k per-reply send times after the call began. With `spread`
  // reply k carries t0 + (k + 1/2) * c, c being the measured per-reply cost of recent
  // sends, i.e. when it really leaves; without it all carry t0 (the clock read just
  // before the call), which is earlier than the truth for all but the first.
  bool spread_tx = true;
};

class NtpListener {
 public:
  // `fd` is a bound UDP socket (sys::open_udp); IP_PKTINFO is needed only when it is
  // bound to a wildcard address.
  NtpListener(sys::Fd fd, core::NtpServer& server, const core::Clock& clock, const ReferencePublisher& reference,
              ListenerOptions opt = {});
  NtpListener(const NtpListener&) = delete;
  NtpListener& operator=(const NtpListener&) = delete;

  int fd() const { return m_fd.get(); }
  const core::SockAddr& address() const { return m_addr; }
  const ListenerStats& stats() const { return m_stats; }

  // Reads and answers what is queued: batches of up to k_batch datagrams, at most
  // k_batches_per_call of them. With `wait` (on a blocking socket) the first read waits
  // for a datagram, up to the socket's receive timeout. Returns the datagrams read.
  size_t serve(bool wait);
  // Kernel receive time (system clock, ns) of the first datagram of the last serve()
  // that read any; 0 when it had none.
  int64_t first_rx_ns() const { return m_first_rx_ns; }

  static constexpr size_t k_batch = 32;
  static constexpr int k_batches_per_call = 8;
  static constexpr size_t k_min_cost_batch = 4;       // sends that teach the per-reply cost
  static constexpr int64_t k_max_tx_cost_ns = 20000;  // bound of the per-reply cost used

 private:
  sys::Fd m_fd;
  core::SockAddr m_addr;
  bool m_wildcard;  // bound to 0.0.0.0 / [::]: the destination comes from IP_PKTINFO
  core::NtpServer& m_server;
  const core::Clock& m_clock;
  ReferencePublisher::Reader m_reference;
  ListenerOptions m_opt;
  sys::UdpBatch m_rx;
  sys::UdpBatch m_tx;
  std::array<core::ReplySeal, k_batch> m_seal;  // per reply slot: what seal_reply() finishes
  int64_t m_tx_cost_ns = 0;  // per reply in sendmmsg, moving average (spread_tx)
  int64_t m_first_rx_ns = 0;
  ListenerStats m_stats;
};

}  // namespace tr7::daemon
