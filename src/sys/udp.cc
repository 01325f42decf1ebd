#include "sys/udp.h"

#include <fcntl.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace tr7::sys {

namespace {

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

void set_int(int fd, int level, int opt, int v, const char* name) {
  if (setsockopt(fd, level, opt, &v, sizeof v) < 0) {
    throw_errno(std::string("setsockopt ") + name);
  }
}

}  // namespace

void configure_udp(int fd, int family, const UdpOptions& opt) {
  if (opt.timestamps) {
    set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
  }
  if (opt.pktinfo) {
    if (family == AF_INET) {
      set_int(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
    } else {
      set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
    }
  }
  if (opt.rcvbuf > 0) {
    set_int(fd, SOL_SOCKET, SO_RCVBUF, opt.rcvbuf, "SO_RCVBUF");
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
    throw_errno("fcntl O_NONBLOCK");
  }
}

Fd udp_socket(int family) {
  Fd fd(socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.valid() || errno != EINVAL) {
    return fd;
  }
  fd.reset(socket(family, SOCK_DGRAM, 0));
  if (!fd.valid()) {
    return fd;
  }
  int fl = fcntl(fd.get(), F_GETFL);
  if (fl < 0 || fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0) {
    int e = errno;
    fd.reset();
    errno = e;
  }
  return fd;
}

Fd open_udp(const core::SockAddr& local, const UdpOptions& opt) {
  int family = local.ip.is_v6() ? AF_INET6 : AF_INET;
  Fd fd = udp_socket(family);
  if (!fd.valid()) {
    throw_errno("socket");
  }
  if (family == AF_INET6) {
    set_int(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
  }
  if (opt.reuse_port) {
    set_int(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
  }
  configure_udp(fd.get(), family, opt);
  sockaddr_storage ss{};
  unsigned len = local.to_sockaddr(ss);
  int rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
  if (rc < 0 && errno == EADDRNOTAVAIL && opt.freebind_if_absent) {
    // IP_FREEBIND at the IP level covers IPv6 sockets too (as chronyd sets it).
    set_int(fd.get(), IPPROTO_IP, IP_FREEBIND, 1, "IP_FREEBIND");
    rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len);
    if (rc == 0 && opt.freebound) {
      *opt.freebound = true;
    }
  }
  if (rc < 0) {
    throw_errno("bind " + local.to_string());
  }
  return fd;
}

void set_blocking(int fd, int timeout_ms) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
    throw_errno("fcntl ~O_NONBLOCK");
  }
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
    throw_errno("setsockopt SO_RCVTIMEO");
  }
}

core::SockAddr local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    throw_errno("getsockname");
  }
  auto a = core::SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  if (!a) {
    throw std::runtime_error("getsockname: not an IP socket");
  }
  return *a;
}

std::optional<core::IpAddr> source_address_for(int fd, const core::SockAddr& peer) {
  sockaddr_storage ss{};
  unsigned len = peer.to_sockaddr(ss);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    return std::nullopt;
  }
  sockaddr_storage me{};
  socklen_t ml = sizeof me;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&me), &ml) != 0) {
    return std::nullopt;
  }
  auto a = core::SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&me), static_cast<unsigned>(ml));
  if (!a) {
    return std::nullopt;
  }
  return a->ip;
}

UdpBatch::UdpBatch(size_t slots, size_t buf_size)
    : m_buf_size(buf_size),
      m_buffers(slots * buf_size),
      m_dgrams(slots),
      m_hdrs(slots),
      m_iov(slots),
      m_addrs(slots),
      m_control(slots * k_control_len) {
  for (size_t i = 0; i < slots; ++i) {
    m_dgrams[i].data = m_buffers.data() + i * buf_size;
  }
}

std::span<Datagram> UdpBatch::receive(int fd, bool wait) {
  size_t n = m_dgrams.size();
  for (size_t i = 0; i < n; ++i) {
    m_iov[i] = iovec{m_dgrams[i].data, m_buf_size};
    msghdr& h = m_hdrs[i].msg_hdr;
    h.msg_name = &m_addrs[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &m_iov[i];
    h.msg_iovlen = 1;
    h.msg_control = m_control.data() + i * k_control_len;
    h.msg_controllen = k_control_len;
    h.msg_flags = 0;
    m_hdrs[i].msg_len = 0;
  }
  int got = recvmmsg(fd, m_hdrs.data(), static_cast<unsigned>(n), wait ? MSG_WAITFORONE : MSG_DONTWAIT, nullptr);
  if (got <= 0) {
    return {};
  }
  for (int i = 0; i < got; ++i) {
    msghdr& h = m_hdrs[i].msg_hdr;
    Datagram& d = m_dgrams[i];
    d.len = m_hdrs[i].msg_len;
    d.truncated = (h.msg_flags & MSG_TRUNC) != 0;
    d.kernel_rx = core::Timestamp{};
    d.local = core::IpAddr{};
    d.ifindex = 0;
    auto peer = core::SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&m_addrs[i]), h.msg_namelen);
    d.peer = peer ? *peer : core::SockAddr{};
    if (h.msg_flags & MSG_CTRUNC) {
      continue;  // control data incomplete: no timestamp, no destination
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        d.kernel_rx = core::Timestamp::from_timespec(ts);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
                 c->cmsg_len >= CMSG_LEN(sizeof(in_pktinfo))) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        d.local.family = core::IpAddr::Family::V4;
        std::memcpy(d.local.bytes.data(), &pi.ipi_addr, 4);
        d.ifindex = pi.ipi_ifindex;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                 c->cmsg_len >= CMSG_LEN(sizeof(in6_pktinfo))) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        std::array<uint8_t, 16> b{};
        std::memcpy(b.data(), &pi.ipi6_addr, 16);
        d.local = core::IpAddr::v6(b);
        d.ifindex = static_cast<int>(pi.ipi6_ifindex);
      }
    }
  }
  return std::span<Datagram>(m_dgrams.data(), static_cast<size_t>(got));
}

size_t UdpBatch::send(int fd, size_t n) {
  if (n == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; ++i) {
    Datagram& d = m_dgrams[i];
    m_iov[i] = iovec{d.data, d.len};
    msghdr& h = m_hdrs[i].msg_hdr;
    std::memset(&h, 0, sizeof h);
    h.msg_name = &m_addrs[i];
    h.msg_namelen = d.peer.to_sockaddr(m_addrs[i]);
    h.msg_iov = &m_iov[i];
    h.msg_iovlen = 1;
    // Reply from the address the request was sent to (wildcard listeners).
    uint8_t* ctl = m_control.data() + i * k_control_len;
    if (d.local.is_v4() && d.peer.ip.is_v4()) {
      h.msg_control = ctl;
      h.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
      std::memset(ctl, 0, h.msg_controllen);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi{};
      std::memcpy(&pi.ipi_spec_dst, d.local.bytes.data(), 4);
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    } else if (d.local.is_v6() && d.peer.ip.is_v6()) {
      h.msg_control = ctl;
      h.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
      std::memset(ctl, 0, h.msg_controllen);
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      in6_pktinfo pi{};
      std::memcpy(&pi.ipi6_addr, d.local.bytes.data(), 16);
      pi.ipi6_ifindex = static_cast<unsigned>(d.ifindex);
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
  }
  size_t pos = 0;
  size_t ok = 0;
  while (pos < n) {
    int r = sendmmsg(fd, m_hdrs.data() + pos, static_cast<unsigned>(n - pos), MSG_DONTWAIT);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) {
        continue;
      }
      // One bad destination must not cost the rest of the batch: skip it.
      ++pos;
      continue;
    }
    pos += static_cast<size_t>(r);
    ok += static_cast<size_t>(r);
  }
  return ok;
}

}  // namespace tr7::sys
