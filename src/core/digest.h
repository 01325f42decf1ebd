// Message digests for the core: MD5 (the refid of an IPv6 reference, RFC 5905 §7.3),
// SHA-256 (the audit trail's hash chain) and HMAC-SHA256 (the alert webhook's signature).
//
// Pure functions over bytes, computed by Nettle (the crypto library under GnuTLS); no
// state, no I/O. Nothing here is hand-written cryptography.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tr7::core {

using Md5Digest = std::array<uint8_t, 16>;
using Sha256Digest = std::array<uint8_t, 32>;

Md5Digest md5(std::span<const uint8_t> data);
Sha256Digest sha256(std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view data);

// Lower-case hexadecimal of any bytes.
std::string to_hex(std::span<const uint8_t> bytes);
// The 64 hex digits of a SHA-256 digest of `data` (what the audit chain stores).
std::string sha256_hex(std::string_view data);

}  // namespace tr7::core
