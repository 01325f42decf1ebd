// Symmetric keys for NTP packets (RFC 5905 §7.3 MACs, RFC 8573 AES-CMAC) in chrony's key
// file format, and the MACs they make.
//
// No I/O: the daemon reads the file (as root, before the privileges drop) and hands the
// text in. Key file format, as chrony's `keyfile` (one key per line):
//
//     ID [TYPE] KEY
//
//  * ID: 1..4294967295 (0 is reserved: a crypto-NAK carries key id 0);
//  * TYPE: MD5 (the default), SHA1, SHA256, SHA384, SHA512, SHA3-224, SHA3-256,
//    SHA3-384, SHA3-512, AES128, AES256 (case-insensitive);
//  * KEY: `HEX:` and an even number of hex digits, `ASCII:` and text, or plain text
//    (ASCII). AES128 and AES256 keys must be exactly 16 and 32 bytes.
//  * blank lines and comments (from `#`, `;`, `!` or `%` to the end of the line) are
//    ignored.
// A file with any bad line is refused whole (each error "line N: what"), as the
// configuration is; duplicate IDs are errors. Keys shorter than 80 bits are accepted
// with a warning (chrony's limit).
//
// MACs: for the digest types MAC = H(key || packet) (RFC 5905's MD5 and chrony's SHA
// family); for AES128/AES256, MAC = AES-CMAC(key, packet) (RFC 8573). In NTPv4 packets
// MACs longer than 20 bytes are truncated to 20 (RFC 7822: a trailer longer than 24
// bytes would be an extension field), as chrony does; NTPv1-3 carry up to 64 bytes.
// Checking compares in constant time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tr7::core {

enum class KeyType : uint8_t {
  Md5,
  Sha1,
  Sha256,
  Sha384,
  Sha512,
  Sha3_224,
  Sha3_256,
  Sha3_384,
  Sha3_512,
  Aes128,
  Aes256,
};
const char* to_string(KeyType t);  // "MD5", "SHA256", "AES128", ... (as in the file)
std::optional<KeyType> parse_key_type(std::string_view name);
// The full MAC length of a key type, bytes (before any truncation).
size_t mac_length(KeyType t);

inline constexpr size_t k_max_mac_len = 64;     // SHA512
inline constexpr size_t k_max_key_bytes = 512;  // longer secrets are refused
inline constexpr size_t k_min_secure_key = 10;  // 80 bits: below this, a warning
inline constexpr size_t k_max_keys = 65536;     // more lines than this: refused

class SymmetricKey {
 public:
  SymmetricKey(uint32_t id, KeyType type, std::vector<uint8_t> secret);
  ~SymmetricKey();
  SymmetricKey(const SymmetricKey&) = delete;
  SymmetricKey& operator=(const SymmetricKey&) = delete;

  uint32_t id() const { return m_id; }
  KeyType type() const { return m_type; }
  size_t bits() const { return m_secret.size() * 8; }

  // Writes the full MAC of `data` to `out` (at least mac_length(type()) bytes); returns
  // its length.
  size_t mac(std::span<const uint8_t> data, std::span<uint8_t> out) const;

 private:
  uint32_t m_id;
  KeyType m_type;
  std::vector<uint8_t> m_secret;
  struct Cmac;  // AES keys: the expanded key schedule, made once
  std::unique_ptr<Cmac> m_cmac;
};

// An immutable set of keys (shared between threads through shared_ptr<const KeySet>).
class KeySet {
 public:
  const SymmetricKey* find(uint32_t id) const;
  size_t size() const { return m_keys.size(); }
  std::vector<uint32_t> ids() const;
  // Adds a key; false if the id is taken.
  bool add(uint32_t id, KeyType type, std::vector<uint8_t> secret);

 private:
  std::map<uint32_t, std::unique_ptr<SymmetricKey>> m_keys;
};

struct KeyFile {
  std::shared_ptr<KeySet> keys;
  std::vector<std::string> warnings;  // "line N: ..."
};
// Parses a key file's text (format above). Errors: "line N: what is wrong".
Result<KeyFile, std::vector<std::string>> parse_key_file(std::string_view text);

// The MAC length a packet of `version` carries for a key of `type` (truncated to 20
// bytes in NTPv4, to 64 before).
size_t packet_mac_length(KeyType type, uint8_t version);

// Appends key id and MAC over data[0, len) to `buf` (which holds the packet at its
// start); returns the new length, or 0 when `buf` is too small.
size_t append_mac(std::span<uint8_t> buf, size_t len, const SymmetricKey& key, uint8_t version);

enum class MacCheck : uint8_t { Ok, UnknownKey, Bad };
// Checks a packet's MAC trailer: `mac_start` is where its 4-byte key id begins (the
// packet's length minus the trailer), `version` the packet's. A MAC of the wrong length
// for its key (including an untruncated one in NTPv4) is Bad.
MacCheck check_mac(std::span<const uint8_t> packet, size_t mac_start, uint8_t version, const KeySet& keys,
                   const SymmetricKey** key = nullptr);

// Constant-time comparison (no early exit).
bool equal_ct(std::span<const uint8_t> a, std::span<const uint8_t> b);

}  // namespace tr7::core
