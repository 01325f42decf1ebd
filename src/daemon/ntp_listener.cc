#include "daemon/ntp_listener.h"

#include "core/ntp_packet.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {
// One more than the largest request we read, rounded: a longer datagram is truncated
// (MSG_TRUNC) and dropped as too long without being looked at.
constexpr size_t k_rx_buf = 1072;
static_assert(k_rx_buf > core::k_max_packet_len);
}  // namespace

NtpListener::NtpListener(sys::Fd fd, core::NtpServer& server, const core::Clock& clock,
                         const ReferencePublisher& reference, ListenerOptions opt)
    : m_fd(std::move(fd)),
      m_addr(sys::local_address(m_fd.get())),
      m_wildcard(m_addr.ip.bytes == std::array<uint8_t, 16>{}),
      m_server(server),
      m_clock(clock),
      m_reference(reference),
      m_opt(opt),
      m_rx(k_batch, k_rx_buf),
      m_tx(k_batch, k_rx_buf) {}

size_t NtpListener::serve(bool wait) {
  size_t total = 0;
  for (int round = 0; round < k_batches_per_call; ++round) {
    auto batch = m_rx.receive(m_fd.get(), wait && round == 0);
    if (batch.empty()) {
      break;
    }
    ++m_stats.batches;
    if (total == 0) {
      m_first_rx_ns = batch[0].kernel_rx.ns;
    }
    total += batch.size();
    int64_t mono = sys::monotonic_ns();
    core::Timestamp now = m_clock.now();
    core::ReferenceState ref = core::served_reference(m_reference.current(), now);
    size_t n_tx = 0;
    for (auto& d : batch) {
      core::Timestamp rx;
      if (!d.kernel_rx.is_zero()) {
        rx = m_clock.cook(d.kernel_rx);
      } else {
        ++m_stats.no_kernel_timestamp;
        rx = now;
      }
      if (!m_wildcard) {
        d.local = m_addr.ip;  // no IP_PKTINFO needed: the socket's own address
      }
      if (m_opt.shards > 1 && core::shard_of(d.peer.ip, m_opt.steer, m_opt.shards) != m_opt.shard) {
        ++m_stats.steering_misses;  // answered all the same; counted to show steering works
      }
      // A truncated datagram fills the whole buffer, which is longer than any request
      // we accept, so the codec drops it as too long.
      sys::Datagram& out = m_tx.slot(n_tx);
      size_t out_len = 0;
      core::Verdict v = m_server.handle(std::span<const uint8_t>(d.data, d.len), d.peer, d.local, rx, mono, ref,
                                        std::span<uint8_t>(out.data, k_rx_buf), out_len, m_seal[n_tx]);
      if (v == core::Verdict::Drop) {
        continue;
      }
      out.len = out_len;
      out.peer = d.peer;
      // A socket bound to one address replies from it anyway: no IP_PKTINFO to send.
      out.local = m_wildcard ? d.local : core::IpAddr{};
      out.ifindex = d.ifindex;
      ++n_tx;
    }
    if (n_tx > 0) {
      // RFC 5905 §9.2: the transmit timestamp as late as possible, just before the
      // send, and for reply k of the batch when it leaves (see ListenerOptions).
      // An authenticated reply is stamped with a fresh reading just before its MAC or
      // NTS authenticator is computed (which must cover the timestamp); it leaves a
      // little later than that, by the crypto of the replies after it in the batch.
      core::Timestamp t0 = m_clock.now();
      for (size_t i = 0; i < n_tx;) {
        sys::Datagram& out = m_tx.slot(i);
        if (m_seal[i].kind == core::ReplySeal::Kind::None) {
          int64_t late_ns = m_opt.spread_tx ? (2 * static_cast<int64_t>(i) + 1) * m_tx_cost_ns / 2 : 0;
          core::encode_transmit(std::span<uint8_t, core::k_header_len>(out.data, core::k_header_len),
                                core::to_ntp(core::Timestamp{t0.ns + late_ns}));
          ++i;
          continue;
        }
        size_t len =
            core::seal_reply(std::span<uint8_t>(out.data, k_rx_buf), out.len, m_seal[i], core::to_ntp(m_clock.now()));
        if (len != 0) {
          out.len = len;
          ++i;
          continue;
        }
        // Could not be finished (never expected): not sent; the last reply takes its place.
        ++m_stats.seal_failures;
        --n_tx;
        if (i != n_tx) {
          std::swap(m_tx.slot(i), m_tx.slot(n_tx));
          std::swap(m_seal[i], m_seal[n_tx]);
        }
      }
      int64_t start_ns = sys::monotonic_ns();
      size_t sent = m_tx.send(m_fd.get(), n_tx);
      m_stats.send_errors += n_tx - sent;
      if (m_opt.spread_tx && sent >= k_min_cost_batch && sent == n_tx) {
        // Only batches long enough that the call's own entry and exit hardly count.
        int64_t per = (sys::monotonic_ns() - start_ns) / static_cast<int64_t>(sent);
        per = per < 0 ? 0 : per > k_max_tx_cost_ns ? k_max_tx_cost_ns : per;
        m_tx_cost_ns += (per - m_tx_cost_ns) / 8;
      }
    }
    if (batch.size() < k_batch) {
      break;  // the queue was empty a moment ago: do not spend a call to learn it again
    }
  }
  return total;
}

}  // namespace tr7::daemon
