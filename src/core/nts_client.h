// An NTS source's state on the client side (RFC 8915 §5.7): the keys from the last
// NTS-KE, the cookies, and the unique identifier of the request outstanding.
//
// No I/O (the daemon runs the NTS-KE and keeps the state file). Each request spends one
// cookie (never used twice: RFC 8915 §5.7, unlinkability) and asks for enough
// placeholders to be back at k_nts_max_cookies after the reply; only a reply with the
// last request's unique identifier and a valid authenticator counts, and its cookies
// are the new ones. An NTS NAK with that identifier, or no cookie left, means a new
// NTS-KE (needs_ke()).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/netaddr.h"
#include "core/ntp_packet.h"
#include "core/nts_aead.h"
#include "core/nts_ntp.h"
#include "core/result.h"
#include "core/secure_random.h"

namespace tr7::core {

class NtsCookieJar {
 public:
  // After an NTS-KE: new keys and cookies (earlier ones are dropped).
  void reset(const NtsKeys& keys, std::vector<std::vector<uint8_t>> cookies);
  // Forgets keys and cookies (an NTS NAK).
  void clear();

  bool has_keys() const { return m_has_keys; }
  size_t cookies() const { return m_cookies.size(); }
  size_t cookie_len() const { return m_cookies.empty() ? m_last_cookie_len : m_cookies.front().size(); }
  bool needs_ke() const { return !m_has_keys || m_cookies.empty(); }
  const NtsKeys& keys() const { return m_keys; }

  // Builds an NTS request from the 48-byte header into `out`, spending a cookie. Returns
  // its length; 0 when there is no cookie (or it does not fit).
  size_t wrap(std::span<const uint8_t, k_header_len> header, std::span<uint8_t> out, SecureRandom& rng);
  // Checks a reply to the last request (see nts_ntp.h). Ok: its cookies are kept (up to
  // k_nts_max_cookies). Nak: keys and cookies are forgotten.
  NtsReply check(std::span<const uint8_t> reply);

  // The state file: keys, cookies, and where they are for (the NTP server's address).
  // Format: "tr7ntp-nts-client 1", then "server ADDR:PORT", "aead N", "c2s HEX",
  // "s2c HEX", and one "cookie HEX" per cookie.
  std::string encode(const SockAddr& ntp_server) const;
  // Parses a state file; the NTP server address it names goes to `ntp_server`.
  static Result<NtsCookieJar> decode(std::string_view text, SockAddr& ntp_server);

 private:
  bool m_has_keys = false;
  NtsKeys m_keys;
  std::deque<std::vector<uint8_t>> m_cookies;
  size_t m_last_cookie_len = 0;
  std::array<uint8_t, k_nts_uid_len> m_uid{};
  bool m_outstanding = false;
};

}  // namespace tr7::core
