// AEAD_AES_SIV_CMAC_256 through Nettle (see nts_aead.h).
#include "core/nts_aead.h"

#include <cstring>

namespace tr7::core {

NtsKeys::~NtsKeys() {
  c2s.fill(0);
  s2c.fill(0);
}

SivContext::~SivContext() { std::memset(static_cast<void*>(&m_ctx), 0, sizeof m_ctx); }

void SivContext::set_key(const AeadKey& key) { siv_cmac_aes128_set_key(&m_ctx, key.data()); }

bool SivContext::encrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> ad,
                         std::span<const uint8_t> plaintext, std::span<uint8_t> out) const {
  if (nonce.size() < SIV_MIN_NONCE_SIZE || out.size() != plaintext.size() + SIV_DIGEST_SIZE) {
    return false;
  }
  siv_cmac_aes128_encrypt_message(&m_ctx, nonce.size(), nonce.data(), ad.size(), ad.data(), out.size(), out.data(),
                                  plaintext.data());
  return true;
}

bool SivContext::decrypt(std::span<const uint8_t> nonce, std::span<const uint8_t> ad,
                         std::span<const uint8_t> ciphertext, std::span<uint8_t> out) const {
  if (nonce.size() < SIV_MIN_NONCE_SIZE || ciphertext.size() < SIV_DIGEST_SIZE ||
      out.size() != ciphertext.size() - SIV_DIGEST_SIZE) {
    return false;
  }
  return siv_cmac_aes128_decrypt_message(&m_ctx, nonce.size(), nonce.data(), ad.size(), ad.data(), out.size(),
                                         out.data(), ciphertext.data()) != 0;
}

}  // namespace tr7::core
