// Steering of an SO_REUSEPORT socket group by client address (see core/steering.h):
// a classic BPF program, which any process may attach to its own sockets (no
// capability), makes the kernel pick socket number core::shard_of(source address) of
// the group for every datagram. Thin: the hash is defined in core/steering.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "core/steering.h"

namespace tr7::sys {

// The program for a group of `shards` sockets of `family` (AF_INET or AF_INET6; a
// group is one family, the sockets being IPV6_V6ONLY). It reads the source address
// from the IP header and returns shard_of(address).
std::vector<sock_filter> steering_program(int family, const core::SteerKey& key, unsigned shards);

// Attaches the program to the group of `fd` (SO_ATTACH_REUSEPORT_CBPF). The sockets of
// the group are numbered in the order they were bound, so bind socket i for thread i.
// Throws std::system_error.
void attach_steering(int fd, int family, const core::SteerKey& key, unsigned shards);

}  // namespace tr7::sys
