// One datagram on a SOCK_SEQPACKET (or datagram) Unix socket, with at most one descriptor
// attached (SCM_RIGHTS). Thin wrapper: what the bytes mean is core/privsep.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <vector>

#include "sys/fd.h"

namespace tr7::sys {

// Sends `data` as one message, with `fd` attached when fd >= 0 (MSG_NOSIGNAL, retried on
// EINTR). Returns 0 or an errno.
int send_message(int sock, std::span<const uint8_t> data, int fd = -1);

struct Message {
  size_t len = 0;          // bytes received (at most the buffer's size)
  bool truncated = false;  // MSG_TRUNC: the message was longer than the buffer
  bool ctrunc = false;     // MSG_CTRUNC: descriptors or control data were lost
  bool eof = false;        // the peer closed its end (0 bytes and no message)
  std::vector<Fd> fds;     // every descriptor that came with it (close-on-exec)
};

// Receives one message into `buf` with MSG_CMSG_CLOEXEC (plus `flags`, e.g.
// MSG_DONTWAIT), retried on EINTR. Every descriptor attached is returned in fds, so none
// can leak even when the message is refused. Returns 0 or an errno (EAGAIN included).
int receive_message(int sock, std::span<uint8_t> buf, Message& out, int flags = 0);

// Waits up to timeout_ms for `sock` to be readable (poll). Returns > 0 readable, 0 on
// timeout, < 0 on error.
int wait_readable(int sock, int timeout_ms);

}  // namespace tr7::sys
