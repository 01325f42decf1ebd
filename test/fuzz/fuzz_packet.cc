// libFuzzer target: the NTP packet decoder and the server's decision logic.
//
// Properties checked on every input, beyond "no crash, no UB, no leak":
//  * decode() accepts only 48..1068 bytes, versions 1-4, and a layout whose extension
//    fields and MAC exactly cover the packet;
//  * re-encoding a decoded header gives back the first 48 bytes;
//  * the server never answers with more bytes than it was sent, and only answers
//    client requests.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "core/ntp_packet.h"
#include "core/ntp_server.h"

using namespace tr7::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto d = decode(in);
  if (d) {
    if (size < k_header_len || size > k_max_packet_len) {
      std::abort();
    }
    if (d->header.version < 1 || d->header.version > 4) {
      std::abort();
    }
    if (k_header_len + d->extension_bytes + d->mac_len != size) {
      std::abort();
    }
    uint8_t again[k_header_len];
    encode_header(d->header, std::span<uint8_t, k_header_len>(again, k_header_len));
    if (std::memcmp(again, data, k_header_len) != 0) {
      std::abort();
    }
  }
  static NtpServer server(ServerPolicy{}, SipKey{1, 2}, 3, -20);
  uint8_t out[k_header_len];
  SockAddr from{IpAddr::v4(0xC0000201u), 12345};
  Verdict v = server.handle(in, from, IpAddr{}, Timestamp{1'800'000'000LL * k_ns_per_s}, 0,
                            local_reference(2, Timestamp{1'800'000'000LL * k_ns_per_s}, 1e-6),
                            std::span<uint8_t, k_header_len>(out, k_header_len));
  if (v != Verdict::Drop) {
    if (size < k_header_len || !d) {
      std::abort();
    }
    Mode m = d->header.mode;
    if (!(m == Mode::Client || (m == Mode::Reserved && d->header.version == 1))) {
      std::abort();
    }
    // Origin must echo the request's transmit timestamp.
    if (std::memcmp(out + k_off_origin, data + k_off_transmit, 8) != 0) {
      std::abort();
    }
  }
  return 0;
}
