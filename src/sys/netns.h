// Network namespaces by name (iproute2's /run/netns/NAME) and sockets opened inside them.
// Thin wrapper: the name must have been validated (core::privsep::valid_netns_name).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "core/netaddr.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::sys {

inline constexpr const char* k_netns_dir = "/run/netns";

// Thrown when the process cannot return to its own namespace after working in another:
// it must exit, it is no longer where it thinks it is.
struct NetnsStuck : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// openat(/run/netns, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) on a directory opened with
// O_DIRECTORY | O_NOFOLLOW. Throws std::system_error.
Fd open_netns(std::string_view name);

// The identity of namespace `name`: the inode number of /run/netns/NAME (which is the
// namespace's own inode while it is mounted there). Throws std::system_error (ENOENT
// when there is no such namespace).
uint64_t netns_inode(std::string_view name);

// Opens a UDP socket (non-blocking, close-on-exec, IPV6_V6ONLY for IPv6) bound to `addr`
// inside network namespace `name` ("" = the current one): setns(2) there, socket, bind,
// setns back through `self`, a descriptor of the caller's own namespace
// (/proc/self/ns/net opened at start-up). Sockets stay in the namespace they were created
// in. Throws std::system_error, or NetnsStuck if the way back fails.
Fd open_udp_in_netns(std::string_view name, const core::SockAddr& addr, int self);

}  // namespace tr7::sys
