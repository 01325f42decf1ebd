// NTP packet codec: RFC 5905 header, RFC 7822 extension fields, MAC trailers.
//
// No I/O, no allocation. decode() never reads past the span it is given; the extension
// walk is bounded by the packet length (each field is at least 16 bytes) and by
// k_max_extensions. Everything a peer sends is untrusted: decode() classifies, the
// server and client logic decide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/result.h"
#include "core/time.h"

namespace tr7::core {

enum class Leap : uint8_t { None = 0, Insert = 1, Delete = 2, Unsynchronised = 3 };

enum class Mode : uint8_t {
  Reserved = 0,  // also NTPv1, which had no mode field
  SymmetricActive = 1,
  SymmetricPassive = 2,
  Client = 3,
  Server = 4,
  Broadcast = 5,
  Control = 6,   // ntpq: never answered
  Private = 7,   // ntpdc/monlist: never answered
};

inline constexpr size_t k_header_len = 48;
// Largest request we look at. RFC 7822 fields, NTS cookies and a MAC fit easily; longer
// datagrams are dropped unread.
inline constexpr size_t k_max_packet_len = 1068;
// RFC 7822 §7.5: a MAC in NTPv4 is at most 24 bytes (key id + 160-bit digest); longer
// trailers must be extension fields. NTPv3 allowed digests up to 64 bytes.
inline constexpr size_t k_max_v4_mac_len = 24;
inline constexpr size_t k_max_v3_mac_len = 4 + 64;
inline constexpr size_t k_min_ext_len = 16;
inline constexpr size_t k_max_extensions = 64;

// "RATE", "DENY", ... as a refid value (RFC 5905 §7.4 kiss codes).
constexpr uint32_t kiss_code(const char (&s)[5]) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(s[3]));
}

// The 48-byte header, fields in host order; root delay/dispersion and refid raw.
struct NtpHeader {
  Leap leap = Leap::None;
  uint8_t version = 4;
  Mode mode = Mode::Client;
  uint8_t stratum = 0;
  int8_t poll = 0;
  int8_t precision = 0;
  uint32_t root_delay = 0;       // NtpShort, seconds 16.16
  uint32_t root_dispersion = 0;  // NtpShort, seconds 16.16
  uint32_t refid = 0;            // IPv4 address, hash of IPv6, or ASCII code
  NtpTimestamp reference;
  NtpTimestamp origin;
  NtpTimestamp receive;
  NtpTimestamp transmit;
};

enum class DecodeError : uint8_t {
  TooShort,      // < 48 bytes
  TooLong,       // > k_max_packet_len
  BadVersion,    // 0 or > 4
  BadExtension,  // extension field or MAC layout impossible
};
const char* to_string(DecodeError e);

enum class Auth : uint8_t { None, CryptoNak, Mac };

struct DecodedPacket {
  NtpHeader header;
  size_t length = 0;
  uint16_t extension_count = 0;
  size_t extension_bytes = 0;
  Auth auth = Auth::None;
  size_t mac_len = 0;  // including the 4-byte key id
  uint32_t key_id = 0;
};

// Header fields only; never fails on >= 48 bytes (for logging and fuzz comparisons).
NtpHeader decode_header(std::span<const uint8_t, k_header_len> data);

// Full validation of a datagram: length, version 1..4, then RFC 7822 layout:
// NTPv4: zero or more extension fields (type 16 bits, length 16 bits, length >= 16,
// multiple of 4, within the packet), then nothing or a MAC of 4..24 bytes; NTPv1-3:
// nothing or a MAC of 4..68 bytes. A 4-byte trailer is a crypto-NAK (key id only).
Result<DecodedPacket, DecodeError> decode(std::span<const uint8_t> data);

// Writes the 48-byte header.
void encode_header(const NtpHeader& h, std::span<uint8_t, k_header_len> out);

// Overwrites only the transmit timestamp of an encoded header: the server stamps it as
// late as possible, after everything else is built.
void encode_transmit(std::span<uint8_t, k_header_len> out, NtpTimestamp tx);

// Byte offsets of the timestamps in the header.
inline constexpr size_t k_off_reference = 16;
inline constexpr size_t k_off_origin = 24;
inline constexpr size_t k_off_receive = 32;
inline constexpr size_t k_off_transmit = 40;

}  // namespace tr7::core
