// Strict IP address and prefix parsing (see netaddr.h for the rules and why).
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace tr7::core {

namespace {

// inet_pton(AF_INET) is strict in glibc (no octal, hex or short forms), but it is
// documented loosely elsewhere; check the shape ourselves as well.
bool strict_dotted_quad(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      ++j;
    }
    size_t n = j - i;
    if (n == 0 || n > 3 || (n > 1 && s[i] == '0')) {
      return false;
    }
    int v = 0;
    for (size_t k = i; k < j; ++k) {
      v = v * 10 + (s[k] - '0');
    }
    if (v > 255) {
      return false;
    }
    ++parts;
    if (j == s.size()) {
      break;
    }
    if (s[j] != '.') {
      return false;
    }
    i = j + 1;
  }
  return parts == 4;
}

bool parse_u16_strict(std::string_view s, uint16_t& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) {
    return false;
  }
  uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v > 65535) {
    return false;
  }
  out = static_cast<uint16_t>(v);
  return true;
}

}  // namespace

IpAddr IpAddr::v4(uint32_t host_order) {
  IpAddr a;
  a.family = Family::V4;
  a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddr IpAddr::v6(const std::array<uint8_t, 16>& b) {
  static constexpr uint8_t k_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  IpAddr a;
  if (std::memcmp(b.data(), k_mapped, sizeof k_mapped) == 0) {
    a.family = Family::V4;
    std::memcpy(a.bytes.data(), b.data() + 12, 4);
    return a;
  }
  a.family = Family::V6;
  a.bytes = b;
  return a;
}

uint32_t IpAddr::v4_host_order() const {
  return (static_cast<uint32_t>(bytes[0]) << 24) | (static_cast<uint32_t>(bytes[1]) << 16) |
         (static_cast<uint32_t>(bytes[2]) << 8) | bytes[3];
}

bool IpAddr::is_bad_source() const {
  if (is_v4()) {
    uint32_t v = v4_host_order();
    return (v >> 24) == 0 ||           // 0.0.0.0/8 "this network"
           (v >> 28) == 0xE ||         // 224.0.0.0/4 multicast
           v == 0xFFFFFFFFu;           // limited broadcast
  }
  if (is_v6()) {
    if (bytes[0] == 0xFF) {  // ff00::/8 multicast
      return true;
    }
    for (uint8_t b : bytes) {
      if (b != 0) {
        return false;
      }
    }
    return true;  // ::
  }
  return true;
}

bool IpAddr::is_loopback() const {
  if (is_v4()) {
    return bytes[0] == 127;
  }
  if (is_v6()) {
    for (int i = 0; i < 15; ++i) {
      if (bytes[i] != 0) {
        return false;
      }
    }
    return bytes[15] == 1;
  }
  return false;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) {
    inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  } else if (is_v6()) {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  } else {
    return "-";
  }
  return buf;
}

std::optional<IpAddr> parse_ip(std::string_view s) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) {
    return std::nullopt;
  }
  char buf[INET6_ADDRSTRLEN] = {};
  std::memcpy(buf, s.data(), s.size());
  if (s.find(':') == std::string_view::npos) {
    if (!strict_dotted_quad(s)) {
      return std::nullopt;
    }
    IpAddr a;
    a.family = IpAddr::Family::V4;
    if (inet_pton(AF_INET, buf, a.bytes.data()) != 1) {
      return std::nullopt;
    }
    return a;
  }
  if (s.find('%') != std::string_view::npos) {
    return std::nullopt;  // zone ids are not supported
  }
  std::array<uint8_t, 16> b{};
  if (inet_pton(AF_INET6, buf, b.data()) != 1) {
    return std::nullopt;
  }
  return IpAddr::v6(b);
}

std::string SockAddr::to_string() const {
  if (ip.is_v6()) {
    return "[" + ip.to_string() + "]:" + std::to_string(port);
  }
  return ip.to_string() + ":" + std::to_string(port);
}

unsigned SockAddr::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (ip.is_v4()) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<SockAddr> SockAddr::from_sockaddr(const sockaddr* sa, unsigned len) {
  if (sa == nullptr) {
    return std::nullopt;
  }
  SockAddr r;
  if (sa->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof sin);
    r.ip.family = IpAddr::Family::V4;
    std::memcpy(r.ip.bytes.data(), &sin.sin_addr, 4);
    r.port = ntohs(sin.sin_port);
    return r;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof sin6);
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), &sin6.sin6_addr, 16);
    r.ip = IpAddr::v6(b);
    r.port = ntohs(sin6.sin6_port);
    return r;
  }
  return std::nullopt;
}

Result<SockAddr> parse_sockaddr(std::string_view s) {
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return unexpected(std::string("expected [IPv6]:PORT"));
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    if (host.find(':') == std::string_view::npos) {
      return unexpected(std::string("brackets are only for IPv6 addresses"));
    }
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) {
      return unexpected(std::string("expected ADDRESS:PORT"));
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return unexpected(std::string("IPv6 addresses need brackets: [ADDRESS]:PORT"));
    }
  }
  SockAddr r;
  auto ip = parse_ip(host);
  if (!ip) {
    return unexpected("invalid IP address '" + std::string(host) + "'");
  }
  r.ip = *ip;
  if (!parse_u16_strict(port, r.port) || r.port == 0) {
    return unexpected("invalid port '" + std::string(port) + "' (1-65535)");
  }
  return r;
}

IpAddr mask_addr(const IpAddr& a, int len) {
  IpAddr m = a;
  int bits = a.bits();
  for (int i = 0; i < 16; ++i) {
    int lo = i * 8;
    if (lo >= bits) {
      m.bytes[i] = 0;
    } else if (lo + 8 <= len) {
      // keep
    } else if (lo >= len) {
      m.bytes[i] = 0;
    } else {
      m.bytes[i] &= static_cast<uint8_t>(0xFF00u >> (len - lo));
    }
  }
  return m;
}

bool Prefix::contains(const IpAddr& a) const {
  return a.family == addr.family && mask_addr(a, len) == addr;
}

std::string Prefix::to_string() const { return addr.to_string() + "/" + std::to_string(len); }

Result<Prefix> parse_prefix(std::string_view s) {
  size_t slash = s.find('/');
  std::string_view host = s.substr(0, slash);
  auto ip = parse_ip(host);
  if (!ip) {
    return unexpected("invalid IP address '" + std::string(host) + "'");
  }
  Prefix p;
  p.addr = *ip;
  if (slash == std::string_view::npos) {
    p.len = static_cast<uint8_t>(ip->bits());
    return p;
  }
  std::string_view lens = s.substr(slash + 1);
  // A mapped address written as ::ffff:a.b.c.d/n: the prefix counts the v6 bits.
  bool mapped = ip->is_v4() && host.find(':') != std::string_view::npos;
  int max_len = mapped ? 128 : ip->bits();
  uint16_t len = 0;
  if (!parse_u16_strict(lens, len) || len > max_len) {
    return unexpected("invalid prefix length '/" + std::string(lens) + "' (0-" +
                      std::to_string(max_len) + ", no leading zero)");
  }
  if (mapped) {
    if (len < 96) {
      return unexpected(std::string("prefix of an IPv4-mapped address must be /96 or longer"));
    }
    len = static_cast<uint16_t>(len - 96);
  }
  p.len = static_cast<uint8_t>(len);
  IpAddr masked = mask_addr(*ip, len);
  if (!(masked == *ip)) {
    return unexpected("host bits set in '" + std::string(s) + "' (did you mean " +
                      masked.to_string() + "/" + std::to_string(mapped ? len + 96 : len) + "?)");
  }
  return p;
}

}  // namespace tr7::core
