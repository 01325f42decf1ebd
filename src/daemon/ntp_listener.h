// One NTP server socket on the event loop: reads requests in batches with their kernel
// receive timestamps, lets core::NtpServer decide, stamps the transmit time as late as
// possible and sends the replies in a batch. Thin: no protocol logic here.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/ntp_server.h"
#include "core/reference.h"
#include "sys/event.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

struct ListenerStats {
  uint64_t send_errors = 0;
  uint64_t no_kernel_timestamp = 0;
};

class NtpListener {
 public:
  using ReferenceFn = std::function<core::ReferenceState(core::Timestamp now)>;

  NtpListener(event_base* base, sys::Fd fd, core::NtpServer& server, const core::Clock& clock, ReferenceFn reference);
  NtpListener(const NtpListener&) = delete;
  NtpListener& operator=(const NtpListener&) = delete;

  const core::SockAddr& address() const { return m_addr; }
  const ListenerStats& stats() const { return m_stats; }

 private:
  void on_readable();

  sys::Fd m_fd;
  core::SockAddr m_addr;
  core::NtpServer& m_server;
  const core::Clock& m_clock;
  ReferenceFn m_reference;
  sys::UdpBatch m_rx;
  sys::UdpBatch m_tx;
  ListenerStats m_stats;
  sys::Callback m_event;
};

}  // namespace tr7::daemon
