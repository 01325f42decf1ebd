// The NTP server's decision logic: request in, reply (or a counted drop) out.
//
// No I/O: the caller supplies the datagram, the client address, the kernel receive time
// (already on the served clock's time scale), a monotonic time for rate limiting and the
// reference state, and sends what comes back. What is answered (RFC 5905 §9, and
// THREATS.md "Amplification"):
//  * mode 3 (client) of versions 1-4 gets mode 4 (server), version and poll echoed;
//  * an NTPv1 request with mode 0 (NTPv1 had no mode field) gets version 1, mode 0;
//  * nothing else is ever answered: modes 1, 2, 4-7 and anything malformed are dropped
//    and counted. Symmetric mode (1) is refused on purpose: it would let anyone create
//    an association with us.
//  * replies are always exactly 48 bytes, requests at least 48: never an amplifier.
// Until the reference state is synchronised (a source, or local_stratum) replies carry
// LI=3 and stratum 0, which every real client refuses.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/allowlist.h"
#include "core/client_table.h"
#include "core/netaddr.h"
#include "core/ntp_packet.h"
#include "core/random.h"
#include "core/reference.h"

namespace tr7::core {

enum class DropReason : uint8_t {
  TooShort,     // < 48 bytes
  TooLong,      // > k_max_packet_len
  BadVersion,   // version 0 or 5-7
  BadFormat,    // impossible extension field / MAC layout
  BadMode,      // not a client request
  BadSource,    // port 0, multicast, broadcast, unspecified, or a loopback source
                // arriving on a non-loopback address (spoofed, CVE-2014-9751)
  Denied,       // refused by the allow list (silence)
  RateLimited,  // over the rate limit (silence)
  Count
};
inline constexpr size_t k_drop_reasons = static_cast<size_t>(DropReason::Count);
const char* to_string(DropReason r);  // "too_short", ... (stable: used in reports)

struct ServerStats {
  uint64_t received = 0;
  uint64_t answered = 0;  // normal replies (including leaked ones)
  uint64_t kod_rate = 0;
  uint64_t kod_deny = 0;
  uint64_t leaked = 0;    // over the limit but answered (the rate limiter's leak)
  std::array<uint64_t, k_drop_reasons> dropped{};

  uint64_t dropped_total() const;
  uint64_t& drop(DropReason r) { return dropped[static_cast<size_t>(r)]; }
  void add(const ServerStats& o);
};

struct ServerPolicy {
  AllowList access;
  RateLimitParams ratelimit;
  bool deny_kod = false;  // answer denied clients with KoD DENY (throttled) instead of silence
  size_t max_clients = 65536;
};

enum class Verdict : uint8_t { Drop, Reply, KodRate, KodDeny };

class NtpServer {
 public:
  NtpServer(ServerPolicy policy, SipKey hash_key, uint64_t rng_seed, int8_t precision);

  // Decides about one datagram from `from` sent to our address `to` (Family::None when
  // unknown). On anything but Drop, `out` holds the whole
  // 48-byte reply except the transmit timestamp, which the caller writes with
  // encode_transmit() just before sending. `rx` is the receive time on the served time
  // scale, `mono_ns` a monotonic clock for rate limiting.
  Verdict handle(std::span<const uint8_t> request, const SockAddr& from, const IpAddr& to, Timestamp rx,
                 int64_t mono_ns,
                 const ReferenceState& ref, std::span<uint8_t, k_header_len> out);

  // Replaces the allow list and rate limits (a reload); the client table is kept unless
  // max_clients changed.
  void set_policy(ServerPolicy policy);
  const ServerPolicy& policy() const { return m_policy; }
  const ServerStats& stats() const { return m_stats; }
  const ClientTable& clients() const { return m_clients; }
  int8_t precision() const { return m_precision; }

 private:
  void build_reply(const NtpHeader& req, Timestamp rx, const ReferenceState& ref,
                   std::span<uint8_t, k_header_len> out) const;
  void build_kod(const NtpHeader& req, Timestamp rx, uint32_t code, std::span<uint8_t, k_header_len> out) const;

  ServerPolicy m_policy;
  SipKey m_hash_key;
  ClientTable m_clients;
  Rng m_rng;
  int8_t m_precision;
  ServerStats m_stats;
};

}  // namespace tr7::core
