// Message digests through Nettle (see digest.h).
#include "core/digest.h"

#include <nettle/hmac.h>
#include <nettle/md5.h>
#include <nettle/sha2.h>

namespace tr7::core {

namespace {

const uint8_t* bytes(std::string_view s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

Md5Digest md5(std::span<const uint8_t> data) {
  md5_ctx ctx;
  md5_init(&ctx);
  md5_update(&ctx, data.size(), data.data());
  Md5Digest d{};
  md5_digest(&ctx, d.size(), d.data());
  return d;
}

Sha256Digest sha256(std::string_view data) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), bytes(data));
  Sha256Digest d{};
  sha256_digest(&ctx, d.size(), d.data());
  return d;
}

Sha256Digest hmac_sha256(std::string_view key, std::string_view data) {
  hmac_sha256_ctx ctx;
  hmac_sha256_set_key(&ctx, key.size(), bytes(key));
  hmac_sha256_update(&ctx, data.size(), bytes(data));
  Sha256Digest d{};
  hmac_sha256_digest(&ctx, d.size(), d.data());
  return d;
}

std::string to_hex(std::span<const uint8_t> b) {
  static const char k_digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(b.size() * 2);
  for (uint8_t x : b) {
    s += k_digits[x >> 4];
    s += k_digits[x & 15];
  }
  return s;
}

std::string sha256_hex(std::string_view data) { return to_hex(sha256(data)); }

}  // namespace tr7::core
