// Steering of NTP clients to server threads by their address.
//
// No I/O. Several server threads share each listen address (SO_REUSEPORT); the kernel
// would spread datagrams by their 4-tuple, so a client that rotates its source port
// would meet a different thread, with a different client table, each time, and its
// rate limit would be multiplied by the number of threads. Instead a classic BPF
// program on the socket group (sys/reuseport.h) picks the thread by a keyed hash of the
// client's address alone, the same key as the client table (IPv4 address, IPv6 /64):
// every request of a client lands on one thread, whose table then sees all of them.
//
// shard_of() is that hash in C++, bit for bit: the daemon uses it to check the kernel's
// choice, the unit test to check the BPF program. The hash is keyed with random values
// so addresses cannot be picked to land on one thread, but it is not a cryptographic
// hash: steering balances load, it is not a security boundary.
#pragma once

#include <cstdint>

#include "core/netaddr.h"

namespace tr7::core {

struct SteerKey {
  uint32_t k0 = 0;
  uint32_t k1 = 1;  // odd
  uint32_t k2 = 1;  // odd
  // A key from 64 random bits (k1 and k2 forced odd, so the multiplications are
  // bijective and no input bit is lost).
  static SteerKey from_random(uint64_t r0, uint64_t r1);
};

// 32-bit hash of the client key (IPv4 address, or the /64 of an IPv6 address):
//   h = (w0 ^ k0) * k1;  h ^= h >> 15;  h ^= w1;  h *= k2;  h ^= h >> 13
// where w0, w1 are the first and second 32-bit words of the key in network byte order
// (w1 = 0 for IPv4), arithmetic modulo 2^32.
uint32_t steer_hash(const IpAddr& a, const SteerKey& k);

// The shard (0..shards-1) a client is steered to: steer_hash() % shards.
unsigned shard_of(const IpAddr& a, const SteerKey& k, unsigned shards);

}  // namespace tr7::core
