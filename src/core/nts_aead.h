// AEAD_AES_SIV_CMAC_256 (RFC 5297; IANA AEAD id 15), the algorithm of NTS (RFC 8915 §5.1)
// for the NTS extension fields and for our own cookies. Nettle's siv_cmac_aes128 (a 256-bit
// key: two AES-128 keys); no hand-written crypto.
//
// No I/O. Keys are plain arrays; NtsKeys wipes itself when destroyed.
#pragma once

#include <nettle/siv-cmac.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tr7::core {

inline constexpr uint16_t k_aead_aes_siv_cmac_256 = 15;
inline constexpr size_t k_aead_key_len = 32;  // AES-SIV-CMAC-256
inline constexpr size_t k_aead_tag_len = 16;  // the synthetic IV, first in the ciphertext
using AeadKey = std::array<uint8_t, k_aead_key_len>;

// The two keys of one NTS association (RFC 8915 §5.1: C2S protects requests, S2C replies).
struct NtsKeys {
  uint16_t aead = k_aead_aes_siv_cmac_256;
  AeadKey c2s{};
  AeadKey s2c{};
  NtsKeys() = default;
  NtsKeys(const NtsKeys&) = default;
  NtsKeys& operator=(const NtsKeys&) = default;
  ~NtsKeys();
};

// A key with its AES key schedules expanded once; read-only afterwards, so one context
// may be used by several threads at once.
class SivContext {
 public:
  SivContext() = default;
  explicit SivContext(const AeadKey& key) { set_key(key); }
  ~SivContext();
  void set_key(const AeadKey& key);

  // ciphertext = tag (16 bytes) || encrypted plaintext: out.size() must be
  // plaintext.size() + 16. `out` must not overlap `plaintext`. Returns false on a bad size.
  bool encrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> ad, std::span<const uint8_t> plaintext,
               std::span<uint8_t> out) const;
  // The reverse; out.size() must be ciphertext.size() - 16. False when the tag does not
  // match (nothing of `out` is then meaningful) or on a bad size.
  bool decrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> ad, std::span<const uint8_t> ciphertext,
               std::span<uint8_t> out) const;

 private:
  siv_cmac_aes128_ctx m_ctx{};
};

}  // namespace tr7::core
