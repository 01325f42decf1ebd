#include "sys/reuseport.h"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

namespace tr7::sys {

namespace {
constexpr uint32_t net_off(int off) { return static_cast<uint32_t>(SKF_NET_OFF + off); }
}  // namespace

std::vector<sock_filter> steering_program(int family, const core::SteerKey& key, unsigned shards) {
  // Classic BPF loads are big-endian, as core::steer_hash() reads the address words.
  // The IPv4 source address is at byte 12 of the IP header, the IPv6 one at byte 8.
  int src = family == AF_INET6 ? 8 : 12;
  std::vector<sock_filter> p = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net_off(src)),  // A = w0
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_K, key.k0),
      BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, key.k1),
      BPF_STMT(BPF_MISC | BPF_TAX, 0),  // X = h
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 15),
      BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),  // h ^= h >> 15
  };
  if (family == AF_INET6) {
    p.push_back(BPF_STMT(BPF_MISC | BPF_TAX, 0));                       // X = h
    p.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, net_off(src + 4)));  // A = w1
    p.push_back(BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0));                // h ^= w1
  }
  p.push_back(BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, key.k2));
  p.push_back(BPF_STMT(BPF_MISC | BPF_TAX, 0));
  p.push_back(BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 13));
  p.push_back(BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0));  // h ^= h >> 13
  p.push_back(BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, shards < 1 ? 1 : shards));
  p.push_back(BPF_STMT(BPF_RET | BPF_A, 0));
  return p;
}

void attach_steering(int fd, int family, const core::SteerKey& key, unsigned shards) {
  std::vector<sock_filter> p = steering_program(family, key, shards);
  sock_fprog prog{static_cast<unsigned short>(p.size()), p.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) < 0) {
    throw std::system_error(errno, std::generic_category(), "setsockopt SO_ATTACH_REUSEPORT_CBPF");
  }
}

}  // namespace tr7::sys
