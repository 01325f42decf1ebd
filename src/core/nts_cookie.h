// The NTS server's cookies (RFC 8915 §6) and the keys that seal them.
//
// No I/O. A cookie is opaque to clients; ours is
//
//     key id (4) | nonce (16) | AES-SIV-CMAC-256(cookie key, nonce, no AD, C2S || S2C)
//
// 4 + 16 + 16 + 64 = 100 bytes (chrony's layout and size, so a client's placeholders for
// either server are the same length). The cookie key is named by its id: a cookie sealed
// with a key we no longer have (rotated out), or one that does not decrypt (forged,
// altered), is refused: the caller answers an NTS NAK. A captured cookie can be replayed
// while its key lives (RFC 8915 §6: the server keeps no per-cookie state); replies are
// never larger than the request, so a replay gains an attacker nothing.
//
// Cookie keys rotate: a new key every `interval`, the previous ones kept for cookies
// issued under them (k_kept_cookie_keys in all, the newest one current). They are kept in
// the state directory (a restart does not invalidate clients' cookies) in a small text
// format (encode_cookie_keys / parse_cookie_keys), written by the daemon with mode 0600.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/nts_aead.h"
#include "core/result.h"
#include "core/secure_random.h"

namespace tr7::core {

inline constexpr size_t k_cookie_nonce_len = 16;
inline constexpr size_t k_cookie_len = 4 + k_cookie_nonce_len + k_aead_tag_len + 2 * k_aead_key_len;  // 100
inline constexpr size_t k_kept_cookie_keys = 3;
inline constexpr double k_default_cookie_rotation_s = 7 * 86400.0;  // chrony's ntsrotate

struct CookieKey {
  uint32_t id = 0;
  AeadKey key{};
  int64_t created_s = 0;  // Unix seconds
};

// An immutable set of cookie keys, newest last (the current one). Shared by the server
// threads through shared_ptr<const CookieKeys>.
class CookieKeys {
 public:
  explicit CookieKeys(std::vector<CookieKey> keys);
  ~CookieKeys();
  CookieKeys(const CookieKeys&) = delete;
  CookieKeys& operator=(const CookieKeys&) = delete;

  bool empty() const { return m_keys.empty(); }
  const std::vector<CookieKey>& keys() const { return m_keys; }
  uint32_t current_id() const { return m_keys.empty() ? 0 : m_keys.back().id; }

  // Seals `keys` into out (k_cookie_len bytes) with the current key and `nonce`.
  // False when there is no key or `out` is too small.
  bool make_cookie(const NtsKeys& keys, std::span<const uint8_t, k_cookie_nonce_len> nonce,
                   std::span<uint8_t> out) const;
  // Opens a cookie: nullopt when its length is not ours, its key id unknown or it does not
  // decrypt.
  std::optional<NtsKeys> open_cookie(std::span<const uint8_t> cookie) const;

 private:
  std::vector<CookieKey> m_keys;
  std::vector<std::unique_ptr<SivContext>> m_ctx;  // one per key, same order
};

// A new random key (a random id, distinct from those in `existing`).
CookieKey new_cookie_key(SecureRandom& rng, int64_t now_s, const std::vector<CookieKey>& existing);
// The rotation: when `keys` is empty or its newest key is `interval_s` old (or from the
// future by more than that: the clock was wrong), a new key is added and the oldest
// beyond k_kept_cookie_keys dropped. Returns true when it changed `keys`.
bool rotate_cookie_keys(std::vector<CookieKey>& keys, int64_t now_s, double interval_s, SecureRandom& rng);
// When the next rotation is due (Unix seconds).
int64_t next_rotation_s(const std::vector<CookieKey>& keys, double interval_s);

// File format: a first line "tr7ntp-nts-cookie-keys 1", then one line per key, oldest
// first: "ID_HEX KEY_HEX CREATED_UNIX_S". Errors: "line N: ...".
std::string encode_cookie_keys(const std::vector<CookieKey>& keys);
Result<std::vector<CookieKey>> parse_cookie_keys(std::string_view text);

}  // namespace tr7::core
