// IP addresses, socket addresses and prefixes: strict parsing, formatting, matching.
//
// No I/O. Parsing is strict on purpose (config files are refused whole on any doubt):
// IPv4 must be a dotted quad of decimal numbers without leading zeros ("010.1.1.1",
// "1.2.3" and "0x7f.1" are errors), IPv6 zone ids ("fe80::1%eth0") are refused, and
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are normalised to IPv4 everywhere, so a
// dual-stack socket and an IPv4 rule see the same client.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

struct sockaddr;
struct sockaddr_storage;

namespace tr7::core {

struct IpAddr {
  enum class Family : uint8_t { None = 0, V4 = 4, V6 = 6 };
  Family family = Family::None;
  std::array<uint8_t, 16> bytes{};  // IPv4 in bytes[0..3], network order

  static IpAddr v4(uint32_t host_order);
  static IpAddr v6(const std::array<uint8_t, 16>& b);  // maps ::ffff:0:0/96 to IPv4
  bool is_v4() const { return family == Family::V4; }
  bool is_v6() const { return family == Family::V6; }
  int bits() const { return is_v4() ? 32 : 128; }
  uint32_t v4_host_order() const;
  // Multicast, broadcast (255.255.255.255), unspecified or "this network" (0.0.0.0/8):
  // never a legitimate source of a unicast NTP request.
  bool is_bad_source() const;
  bool is_loopback() const;
  std::string to_string() const;

  friend bool operator==(const IpAddr& a, const IpAddr& b) = default;
};

std::optional<IpAddr> parse_ip(std::string_view s);

struct SockAddr {
  IpAddr ip;
  uint16_t port = 0;

  std::string to_string() const;  // "1.2.3.4:123" or "[::1]:123"
  // Fill a sockaddr_in/sockaddr_in6; returns the length used.
  unsigned to_sockaddr(sockaddr_storage& out) const;
  static std::optional<SockAddr> from_sockaddr(const sockaddr* sa, unsigned len);
  friend bool operator==(const SockAddr& a, const SockAddr& b) = default;
};

// "ADDR:PORT" or "[ADDR6]:PORT"; port 1..65535.
Result<SockAddr> parse_sockaddr(std::string_view s);

struct Prefix {
  IpAddr addr;  // host bits are zero
  uint8_t len = 0;

  bool contains(const IpAddr& a) const;
  std::string to_string() const;
  friend bool operator==(const Prefix& a, const Prefix& b) = default;
};

// "ADDR/LEN" or a bare address (a host prefix). Refuses host bits set, a length out of
// range or with a leading zero or sign ("/08", "/-1", "/33").
Result<Prefix> parse_prefix(std::string_view s);

// addr with all but the first len bits cleared.
IpAddr mask_addr(const IpAddr& a, int len);

}  // namespace tr7::core
