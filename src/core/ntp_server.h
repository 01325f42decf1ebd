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
//  * replies are never longer than their request: 48 bytes for a plain request, the
//    request's own length for an authenticated one: never an amplifier.
// Authentication (see ntp_auth.h, nts_ntp.h):
//  * a request with a MAC whose key is in the policy's key set and whose MAC verifies is
//    answered with a MAC of the same key; any other MAC (unknown key, wrong MAC, wrong
//    length) gets a crypto-NAK: a KoD "CRYP" (LI=3, stratum 0) with a 4-byte zero key id
//    and no time a client could use. Never an unauthenticated reply to a MAC'd request;
//  * an NTS request (RFC 8915) gets an NTS reply (cookies for its placeholders) when the
//    policy has cookie keys and it verifies, an NTS NAK (KoD "NTSN" with its unique
//    identifier) when its cookie cannot be opened or its authenticator does not verify,
//    and nothing when it is malformed or NTS is off (counted as auth_failed);
//  * authentication is checked after the access and rate decisions (the cheap refusals
//    first); a KoD RATE to an authenticated request is authenticated too.
// An authenticated reply is finished by seal_reply() once its transmit timestamp is
// known: the MAC or the NTS authenticator covers it.
// Until the reference state is synchronised (a source, or local_stratum) replies carry
// LI=3 and stratum 0, which every real client refuses.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "core/allowlist.h"
#include "core/client_table.h"
#include "core/netaddr.h"
#include "core/ntp_keys.h"
#include "core/ntp_packet.h"
#include "core/nts_cookie.h"
#include "core/nts_ntp.h"
#include "core/random.h"
#include "core/reference.h"
#include "core/secure_random.h"

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
  AuthFailed,   // NTS request malformed or NTS not served here (silence)
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
  uint64_t auth_mac = 0;  // replies with a MAC (symmetric key), KoDs included
  uint64_t auth_nts = 0;  // NTS-authenticated replies, KoDs included
  uint64_t nak_crypto = 0;  // crypto-NAKs: unknown key or bad MAC
  uint64_t nak_nts = 0;     // NTS NAKs: cookie not opened or authenticator not verified
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
  // Symmetric keys ([daemon] keyfile); null: every MAC'd request gets a crypto-NAK.
  std::shared_ptr<const KeySet> keys;
  // NTS cookie keys ([nts]); null: NTS requests are dropped. `random` must be set then.
  std::shared_ptr<const CookieKeys> nts;
  std::shared_ptr<SecureRandom> random;
};

enum class Verdict : uint8_t { Drop, Reply, KodRate, KodDeny, Nak };

// What is left of an authenticated reply once its transmit timestamp is written.
struct ReplySeal {
  enum class Kind : uint8_t { None, Mac, Nts };
  Kind kind = Kind::None;
  uint8_t version = 4;                // Mac: the request's version (the MAC's truncation)
  const SymmetricKey* key = nullptr;  // Mac: owned by the policy's key set
  NtsSeal nts;                        // Nts
};

// Writes the transmit timestamp into the reply `out[0, len)` and finishes it (MAC, NTS
// authenticator). Returns the final length, 0 when it could not be done (do not send).
size_t seal_reply(std::span<uint8_t> out, size_t len, const ReplySeal& seal, NtpTimestamp tx);

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
  // The same for any request: `out` (at least request.size() and 48 bytes) receives the
  // reply, `out_len` its length before sealing; `seal` what seal_reply() must do. The
  // 48-byte form above is this one with authentication finished at once (transmit = rx).
  Verdict handle(std::span<const uint8_t> request, const SockAddr& from, const IpAddr& to, Timestamp rx,
                 int64_t mono_ns, const ReferenceState& ref, std::span<uint8_t> out, size_t& out_len, ReplySeal& seal);

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
  Verdict drop(DropReason r) {
    ++m_stats.drop(r);
    return Verdict::Drop;
  }

  ServerPolicy m_policy;
  SipKey m_hash_key;
  ClientTable m_clients;
  Rng m_rng;
  int8_t m_precision;
  ServerStats m_stats;
};

}  // namespace tr7::core
