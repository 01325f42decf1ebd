// Steering of clients to server threads (core/steering, sys/reuseport): one client
// address, one thread, whatever its port; an even spread; and the kernel's classic BPF
// program computes exactly core::shard_of() (checked with a small cBPF interpreter).
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <vector>

#include "core/random.h"
#include "core/steering.h"
#include "sys/reuseport.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

IpAddr random_v4(Rng& r) {
  IpAddr a = IpAddr::v4(r.next_u32());
  return a;
}

IpAddr random_v6(Rng& r) {
  std::array<uint8_t, 16> b{};
  for (auto& x : b) {
    x = static_cast<uint8_t>(r.next_u32());
  }
  b[0] = 0x20;  // never ::ffff:0:0/96 (that would be IPv4)
  return IpAddr::v6(b);
}

// Runs a classic BPF program the way the kernel runs a reuseport program: the packet is
// the IP header (SKF_NET_OFF loads) followed by nothing we read. Supports the
// instructions steering_program() may use; anything else fails the test.
uint32_t run_cbpf(const std::vector<sock_filter>& prog, const std::vector<uint8_t>& ip_header) {
  uint32_t a = 0, x = 0;
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS: {
        int32_t k = static_cast<int32_t>(f.k);
        assert_true(k >= SKF_NET_OFF && k < SKF_NET_OFF + 0x1000);
        size_t off = static_cast<size_t>(k - SKF_NET_OFF);
        assert_true(off + 4 <= ip_header.size());
        a = (static_cast<uint32_t>(ip_header[off]) << 24) | (static_cast<uint32_t>(ip_header[off + 1]) << 16) |
            (static_cast<uint32_t>(ip_header[off + 2]) << 8) | ip_header[off + 3];
        break;
      }
      case BPF_ALU | BPF_XOR | BPF_K:
        a ^= f.k;
        break;
      case BPF_ALU | BPF_XOR | BPF_X:
        a ^= x;
        break;
      case BPF_ALU | BPF_MUL | BPF_K:
        a *= f.k;
        break;
      case BPF_ALU | BPF_RSH | BPF_K:
        a >>= f.k;
        break;
      case BPF_ALU | BPF_MOD | BPF_K:
        assert_true(f.k != 0);
        a %= f.k;
        break;
      case BPF_MISC | BPF_TAX:
        x = a;
        break;
      case BPF_RET | BPF_A:
        return a;
      default:
        fail_msg("unexpected cBPF instruction 0x%04x at %zu", f.code, pc);
    }
  }
  fail_msg("cBPF program without return");
  return 0;
}

std::vector<uint8_t> ip_header_from(const IpAddr& src) {
  if (src.is_v4()) {
    std::vector<uint8_t> h(20, 0);
    h[0] = 0x45;
    for (int i = 0; i < 4; ++i) {
      h[12 + i] = src.bytes[i];
    }
    return h;
  }
  std::vector<uint8_t> h(40, 0);
  h[0] = 0x60;
  for (int i = 0; i < 16; ++i) {
    h[8 + i] = src.bytes[i];
  }
  return h;
}

}  // namespace

static void test_one_client_one_shard(void**) {
  Rng r(test_seed());
  SteerKey k = SteerKey::from_random(r.next_u64(), r.next_u64());
  assert_true((k.k1 & 1) && (k.k2 & 1));
  for (int i = 0; i < 2000; ++i) {
    IpAddr a = random_v4(r);
    for (unsigned n : {1u, 2u, 3u, 4u, 7u, 64u}) {
      unsigned s = shard_of(a, k, n);
      assert_true(s < n);
      assert_int_equal(s, shard_of(a, k, n));
    }
    // IPv6: the whole /64 is one client (as in the client table).
    IpAddr b = random_v6(r);
    IpAddr c = b;
    for (int j = 8; j < 16; ++j) {
      c.bytes[j] = static_cast<uint8_t>(r.next_u32());
    }
    assert_int_equal(steer_hash(b, k), steer_hash(c, k));
  }
  assert_int_equal(shard_of(IpAddr::v4(0x7F000001), k, 1), 0);
  assert_int_equal(shard_of(IpAddr::v4(0x7F000001), k, 0), 0);
}

static void test_even_spread(void**) {
  Rng r(test_seed() + 1);
  SteerKey k = SteerKey::from_random(r.next_u64(), r.next_u64());
  constexpr int n_addr = 200000;
  for (unsigned n : {2u, 3u, 4u, 8u}) {
    // Random addresses, and consecutive ones (a subnet of clients, or the benchmark's).
    for (int pattern = 0; pattern < 3; ++pattern) {
      std::vector<int> count(n, 0);
      for (int i = 0; i < n_addr; ++i) {
        IpAddr a = pattern == 0   ? random_v4(r)
                   : pattern == 1 ? IpAddr::v4(0x0A000000u + static_cast<uint32_t>(i))
                                  : random_v6(r);
        ++count[shard_of(a, k, n)];
      }
      double expect = static_cast<double>(n_addr) / n;
      for (unsigned s = 0; s < n; ++s) {
        if (std::fabs(count[s] - expect) > 0.03 * expect) {
          fail_msg("pattern %d, %u shards: shard %u has %d of %d", pattern, n, s, count[s], n_addr);
        }
      }
    }
  }
}

static void test_key_matters(void**) {
  Rng r(test_seed() + 2);
  SteerKey k1 = SteerKey::from_random(r.next_u64(), r.next_u64());
  SteerKey k2 = SteerKey::from_random(r.next_u64(), r.next_u64());
  int same = 0;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) {
    IpAddr a = IpAddr::v4(0xC0A80000u + static_cast<uint32_t>(i));
    same += shard_of(a, k1, 4) == shard_of(a, k2, 4);
  }
  // Independent keys agree about 1 in 4 times.
  assert_true(same > n / 4 - n / 20 && same < n / 4 + n / 20);
}

static void test_bpf_program_matches(void**) {
  Rng r(test_seed() + 3);
  for (int round = 0; round < 20; ++round) {
    SteerKey k = SteerKey::from_random(r.next_u64(), r.next_u64());
    unsigned n = 1 + r.next_u32() % 16;
    auto p4 = tr7::sys::steering_program(AF_INET, k, n);
    auto p6 = tr7::sys::steering_program(AF_INET6, k, n);
    for (int i = 0; i < 2000; ++i) {
      IpAddr a = random_v4(r);
      uint32_t got = run_cbpf(p4, ip_header_from(a));
      if (got != shard_of(a, k, n)) {
        fail_msg("IPv4 %s, %u shards: BPF says %u, shard_of %u", a.to_string().c_str(), n, got, shard_of(a, k, n));
      }
      IpAddr b = random_v6(r);
      got = run_cbpf(p6, ip_header_from(b));
      if (got != shard_of(b, k, n)) {
        fail_msg("IPv6 %s, %u shards: BPF says %u, shard_of %u", b.to_string().c_str(), n, got, shard_of(b, k, n));
      }
    }
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_client_one_shard),
      cmocka_unit_test(test_even_spread),
      cmocka_unit_test(test_key_matters),
      cmocka_unit_test(test_bpf_program_matches),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
