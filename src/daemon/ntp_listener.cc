#include "daemon/ntp_listener.h"

#include "core/ntp_packet.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {
constexpr size_t k_batch = 32;
// One more than the largest request we read, rounded: a longer datagram is truncated
// (MSG_TRUNC) and dropped as too long without being looked at.
constexpr size_t k_rx_buf = 1072;
// Batches handled per wake-up before yielding to the rest of the loop.
constexpr int k_batches_per_wakeup = 8;
static_assert(k_rx_buf > core::k_max_packet_len);
}  // namespace

NtpListener::NtpListener(event_base* base, sys::Fd fd, core::NtpServer& server, const core::Clock& clock,
                         ReferenceFn reference)
    : m_fd(std::move(fd)),
      m_addr(sys::local_address(m_fd.get())),
      m_server(server),
      m_clock(clock),
      m_reference(std::move(reference)),
      m_rx(k_batch, k_rx_buf),
      m_tx(k_batch, core::k_header_len),
      m_event(base, m_fd.get(), EV_READ | EV_PERSIST, [this](evutil_socket_t, short) { on_readable(); }) {
  m_event.add();
}

void NtpListener::on_readable() {
  for (int round = 0; round < k_batches_per_wakeup; ++round) {
    auto batch = m_rx.receive(m_fd.get());
    if (batch.empty()) {
      return;
    }
    int64_t mono = sys::monotonic_ns();
    core::ReferenceState ref = m_reference(m_clock.now());
    size_t n_tx = 0;
    for (auto& d : batch) {
      core::Timestamp rx;
      if (!d.kernel_rx.is_zero()) {
        rx = m_clock.cook(d.kernel_rx);
      } else {
        ++m_stats.no_kernel_timestamp;
        rx = m_clock.now();
      }
      // A truncated datagram fills the whole buffer, which is longer than any request
      // we accept, so the codec drops it as too long.
      sys::Datagram& out = m_tx.slot(n_tx);
      core::Verdict v = m_server.handle(std::span<const uint8_t>(d.data, d.len), d.peer, d.local, rx, mono, ref,
                                        std::span<uint8_t, core::k_header_len>(out.data, core::k_header_len));
      if (v == core::Verdict::Drop) {
        continue;
      }
      out.len = core::k_header_len;
      out.peer = d.peer;
      out.local = d.local;
      out.ifindex = d.ifindex;
      ++n_tx;
    }
    if (n_tx == 0) {
      continue;
    }
    // RFC 5905 §9.2: the transmit timestamp as late as possible, just before the send.
    core::NtpTimestamp tx = core::to_ntp(m_clock.now());
    for (size_t i = 0; i < n_tx; ++i) {
      core::encode_transmit(std::span<uint8_t, core::k_header_len>(m_tx.slot(i).data, core::k_header_len), tx);
    }
    size_t sent = m_tx.send(m_fd.get(), n_tx);
    m_stats.send_errors += n_tx - sent;
  }
}

}  // namespace tr7::daemon
