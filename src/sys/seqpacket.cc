#include "sys/seqpacket.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace tr7::sys {

namespace {
// Room for a few descriptors: a peer that sends more than one gets them all closed
// instead of MSG_CTRUNC hiding how many there were.
constexpr size_t k_max_fds = 4;
}  // namespace

int send_message(int sock, std::span<const uint8_t> data, int fd) {
  iovec iov{const_cast<uint8_t*>(data.data()), data.size()};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(ctl, 0, sizeof ctl);
    h.msg_control = ctl;
    h.msg_controllen = sizeof ctl;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &h, MSG_NOSIGNAL);
    if (n >= 0) {
      return static_cast<size_t>(n) == data.size() ? 0 : EMSGSIZE;
    }
    if (errno != EINTR) {
      return errno;
    }
  }
}

int receive_message(int sock, std::span<uint8_t> buf, Message& out, int flags) {
  out = Message{};
  iovec iov{buf.data(), buf.size()};
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * k_max_fds)];
  h.msg_control = ctl;
  h.msg_controllen = sizeof ctl;
  ssize_t n;
  do {
    n = recvmsg(sock, &h, MSG_CMSG_CLOEXEC | flags);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errno;
  }
  // Collect every descriptor first, whatever else is wrong with the message.
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0)) {
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        out.fds.emplace_back(fd);
      }
    }
  }
  out.len = static_cast<size_t>(n);
  out.truncated = (h.msg_flags & MSG_TRUNC) != 0;
  out.ctrunc = (h.msg_flags & MSG_CTRUNC) != 0;
  out.eof = n == 0 && out.fds.empty() && !out.truncated;
  return 0;
}

int wait_readable(int sock, int timeout_ms) {
  pollfd p{sock, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace tr7::sys
