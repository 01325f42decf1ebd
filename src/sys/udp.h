// UDP sockets with kernel receive timestamps and destination addresses, read and written
// in batches (recvmmsg/sendmmsg). Thin wrapper: no protocol logic here.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/netaddr.h"
#include "core/time.h"
#include "sys/fd.h"

namespace tr7::sys {

struct UdpOptions {
  bool reuse_port = false;  // SO_REUSEPORT (several worker threads)
  bool timestamps = true;   // SO_TIMESTAMPNS: kernel receive time
  bool pktinfo = true;      // IP_PKTINFO / IPV6_RECVPKTINFO: reply from the address asked
  int rcvbuf = 0;           // SO_RCVBUF if > 0
  // An address not (yet) on this host is bound anyway with IP_FREEBIND (a floating VIP
  // of an HA pair: the standby serves once the address moves to it). `freebound` (if
  // set) tells the caller it happened.
  bool freebind_if_absent = false;
  bool* freebound = nullptr;
};

// A non-blocking, close-on-exec UDP socket (unbound), or an invalid Fd with errno set.
// Where socket() refuses the flags in the type (EINVAL: kernels before 2.6.27, and
// clknetsim, which the clock tests run under), the socket is opened without them and the
// flags are set with fcntl, as chronyd does.
Fd udp_socket(int family);
// Opens a non-blocking, close-on-exec UDP socket bound to `local`. IPv6 sockets are
// IPV6_V6ONLY: listen on 0.0.0.0 and [::] separately. Throws std::system_error.
Fd open_udp(const core::SockAddr& local, const UdpOptions& opt);
// Sets the options (timestamps, pktinfo, ...) on an already bound socket (one handed
// over by the privileged helper).
void configure_udp(int fd, int family, const UdpOptions& opt);
core::SockAddr local_address(int fd);
// The local address the kernel picks to reach `peer`: the UDP socket `fd` is connected to
// it (which sends nothing; from then on it receives from `peer` only) and asked. nullopt
// when there is no route. The caller's socket: the sandboxed worker may not open one.
std::optional<core::IpAddr> source_address_for(int fd, const core::SockAddr& peer);
// Makes `fd` blocking, with a receive timeout (a thread that blocks in recvmmsg still
// looks at its control flags every `timeout_ms`). Throws std::system_error.
void set_blocking(int fd, int timeout_ms);

struct Datagram {
  core::SockAddr peer;
  core::IpAddr local;  // destination address of a received datagram
  int ifindex = 0;
  core::Timestamp kernel_rx;  // zero when the kernel gave none
  size_t len = 0;
  bool truncated = false;  // longer than the buffer
  uint8_t* data = nullptr;
};

// A batch of receive (or send) slots with their own buffers, allocated once.
class UdpBatch {
 public:
  UdpBatch(size_t slots, size_t buf_size);

  // recvmmsg into all slots; returns the datagrams received (possibly none). With
  // `wait` (MSG_WAITFORONE) a blocking socket waits for the first datagram, then takes
  // what else is queued without waiting.
  std::span<Datagram> receive(int fd, bool wait = false);

  // Slots for sending: fill data/len/peer/local/ifindex of the first n, then send().
  Datagram& slot(size_t i) { return m_dgrams[i]; }
  size_t capacity() const { return m_dgrams.size(); }
  // sendmmsg of the first n slots; returns how many were sent (the rest count as errors).
  size_t send(int fd, size_t n);

 private:
  size_t m_buf_size;
  std::vector<uint8_t> m_buffers;
  std::vector<Datagram> m_dgrams;
  std::vector<mmsghdr> m_hdrs;
  std::vector<iovec> m_iov;
  std::vector<sockaddr_storage> m_addrs;
  std::vector<uint8_t> m_control;
  static constexpr size_t k_control_len = 256;
};

}  // namespace tr7::sys
