// NTS extension fields of NTP packets (RFC 8915 §5), both ends.
//
// No I/O, no allocation on the server's path (fixed buffers on the stack). Every length
// in a packet is untrusted: the walk over the fields is bounded by the packet (each field
// at least 16 bytes, a multiple of 4, inside the packet) and by k_max_extensions.
//
// Fields: Unique Identifier (0x0104), NTS Cookie (0x0204), NTS Cookie Placeholder
// (0x0304), NTS Authenticator and Encrypted Extension Fields (0x0404). The authenticator
// body is nonce length (16 bits), ciphertext length (16 bits), the nonce and the
// ciphertext each padded to a multiple of 4, then padding; the associated data is the
// packet from its first byte to the start of the authenticator field, which must be the
// last field.
//
// Server (RFC 8915 §5.7): a request is NTS if it carries any NTS field; it must then have
// exactly one unique identifier (at least 32 bytes), exactly one cookie, placeholders of
// the cookie's length, and the authenticator last. A cookie we cannot open, or an
// authenticator that does not verify under the cookie's C2S key: NTS NAK (a KoD "NTSN"
// with the unique identifier, nothing else). Otherwise the reply carries the unique
// identifier and an authenticator whose encrypted part holds one fresh cookie per cookie
// and placeholder of the request (at most 8), padded so that the reply is exactly as long
// as the request; when even that is impossible (a client nonce shorter than ours), fewer
// cookies. Never longer than the request.
//
// Client: requests carry a 32-byte random unique identifier, one cookie, placeholders to
// ask for more, and an authenticator over the whole packet with an empty plaintext. A
// reply is accepted only with the same unique identifier and an authenticator that
// verifies under S2C; its new cookies come from the encrypted part only. An NTS NAK is
// believed only with the right unique identifier (and the caller's origin check).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/ntp_packet.h"
#include "core/nts_aead.h"
#include "core/nts_cookie.h"
#include "core/result.h"
#include "core/secure_random.h"

namespace tr7::core {

inline constexpr uint16_t k_ef_unique_id = 0x0104;
inline constexpr uint16_t k_ef_cookie = 0x0204;
inline constexpr uint16_t k_ef_cookie_placeholder = 0x0304;
inline constexpr uint16_t k_ef_nts_auth = 0x0404;

inline constexpr size_t k_nts_uid_len = 32;          // what we send; the least we accept
inline constexpr size_t k_nts_max_uid_len = 64;      // the most we echo back
inline constexpr size_t k_nts_nonce_len = 16;        // what we send
inline constexpr size_t k_nts_max_cookies = 8;       // RFC 8915: what a client keeps
inline constexpr size_t k_nts_max_cookie_len = 256;  // the largest cookie a client keeps (chrony's bound)

// One extension field as found in a packet.
struct ExtField {
  uint16_t type;
  size_t offset;  // of the field's 4-byte header in the packet
  size_t length;  // the whole field
  std::span<const uint8_t> body;
};

// Only f[0, n) is meaningful (left uninitialised beyond: filled per packet on the
// server's path).
struct ExtFields {
  std::array<ExtField, k_max_extensions> f;
  size_t n = 0;
};

// Walks the extension fields of an NTPv4 packet from byte 48 to its end, strictly: every
// byte belongs to a field (no MAC trailer), each field 16 bytes or more, a multiple of 4.
// False when the packet is not laid out that way.
bool walk_fields(std::span<const uint8_t> packet, ExtFields& out);

// --- server side ------------------------------------------------------------------
struct NtsRequest {
  std::span<const uint8_t> uid;
  std::span<const uint8_t> cookie;
  size_t cookies_wanted = 0;  // the cookie, its placeholders, the encrypted placeholders
  size_t auth_offset = 0;     // where the authenticator field starts (the end of the AD)
  std::span<const uint8_t> nonce;
  std::span<const uint8_t> ciphertext;
};

enum class NtsParse : uint8_t {
  NotNts,     // no NTS field: an ordinary request
  Malformed,  // NTS fields, but not a valid set (drop: no NAK, RFC 8915 §5.7)
};
Result<NtsRequest, NtsParse> parse_nts_request(std::span<const uint8_t> packet);

enum class NtsCheck : uint8_t { Ok, Nak, Drop };
// Opens the cookie (Nak when it cannot be opened), verifies the authenticator under the
// cookie's C2S key (Nak when it does not verify) and counts the encrypted placeholders
// (Drop when the plaintext holds malformed fields or placeholders of the wrong length).
// On Ok, `keys` holds the association's keys.
NtsCheck check_nts_request(std::span<const uint8_t> packet, NtsRequest& req, const CookieKeys& cookie_keys,
                           NtsKeys& keys);

// What is left to do once the reply's transmit timestamp is written: encrypt the cookies
// in place under S2C, with the whole packet before the authenticator as associated data.
struct NtsSeal {
  AeadKey s2c{};
  size_t auth_offset = 0;  // the authenticator field
  size_t plain_len = 0;    // cookies to encrypt, already in place after the tag's room
  size_t length = 0;       // the reply's length
};

// Appends the unique identifier and the authenticator (nonce, room for the tag, the new
// cookies in clear) to `out`, whose first 48 bytes are the reply header. Returns the
// reply's length, or 0 on failure (`out` too small, no cookie key).
size_t build_nts_reply(std::span<uint8_t> out, const NtsRequest& req, const NtsKeys& keys,
                       const CookieKeys& cookie_keys, SecureRandom& rng, size_t request_len, NtsSeal& seal);
// Encrypts in place (call after the last change to the header). False on failure.
bool seal_nts_reply(std::span<uint8_t> out, const NtsSeal& seal);
// An NTS NAK's fields: the request's unique identifier after the 48-byte KoD header.
// Returns the length (0 if `out` is too small).
size_t build_nts_nak(std::span<uint8_t> out, const NtsRequest& req);

// --- client side ------------------------------------------------------------------
// Appends the NTS fields to the request whose header is out[0, 48): unique identifier,
// cookie, `placeholders` placeholders of the cookie's length, authenticator (nonce, no
// plaintext). Returns the length, 0 when it does not fit.
size_t build_nts_request(std::span<uint8_t> out, std::span<const uint8_t> uid, std::span<const uint8_t> cookie,
                         size_t placeholders, const NtsKeys& keys, std::span<const uint8_t> nonce);

enum class NtsReply : uint8_t {
  Ok,   // authenticated; new cookies appended
  Nak,  // an NTS NAK with our unique identifier
  Bad,  // not authenticated (or not for this request): ignore it
};
// `cookies`: new cookies from the encrypted part are appended (each 1..k_nts_max_cookie_len
// bytes, at most k_nts_max_cookies per reply).
NtsReply check_nts_reply(std::span<const uint8_t> packet, std::span<const uint8_t> uid, const NtsKeys& keys,
                         std::vector<std::vector<uint8_t>>& cookies);

}  // namespace tr7::core
