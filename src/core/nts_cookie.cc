// NTS server cookies and their keys (see nts_cookie.h).
#include "core/nts_cookie.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/strutil.h"

namespace tr7::core {

namespace {

void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

bool unhex(std::string_view s, std::span<uint8_t> out) {
  if (s.size() != out.size() * 2) {
    return false;
  }
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = v(s[2 * i]), lo = v(s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

constexpr const char* k_magic = "tr7ntp-nts-cookie-keys 1";

}  // namespace

CookieKeys::CookieKeys(std::vector<CookieKey> keys) : m_keys(std::move(keys)) {
  for (const auto& k : m_keys) {
    m_ctx.push_back(std::make_unique<SivContext>(k.key));
  }
}

CookieKeys::~CookieKeys() {
  for (auto& k : m_keys) {
    k.key.fill(0);
  }
}

bool CookieKeys::make_cookie(const NtsKeys& keys, std::span<const uint8_t, k_cookie_nonce_len> nonce,
                             std::span<uint8_t> out) const {
  if (m_keys.empty() || out.size() < k_cookie_len) {
    return false;
  }
  uint8_t plain[2 * k_aead_key_len];
  std::memcpy(plain, keys.c2s.data(), k_aead_key_len);
  std::memcpy(plain + k_aead_key_len, keys.s2c.data(), k_aead_key_len);
  uint8_t* p = out.data();
  put32(p, m_keys.back().id);
  std::memcpy(p + 4, nonce.data(), k_cookie_nonce_len);
  bool ok = m_ctx.back()->encrypt(nonce, {}, plain,
                                  std::span<uint8_t>(p + 4 + k_cookie_nonce_len, k_aead_tag_len + sizeof plain));
  std::memset(plain, 0, sizeof plain);
  return ok;
}

std::optional<NtsKeys> CookieKeys::open_cookie(std::span<const uint8_t> cookie) const {
  if (cookie.size() != k_cookie_len) {
    return std::nullopt;
  }
  uint32_t id = get32(cookie.data());
  for (size_t i = 0; i < m_keys.size(); ++i) {
    if (m_keys[i].id != id) {
      continue;
    }
    uint8_t plain[2 * k_aead_key_len];
    bool ok =
        m_ctx[i]->decrypt(cookie.subspan(4, k_cookie_nonce_len), {}, cookie.subspan(4 + k_cookie_nonce_len), plain);
    std::optional<NtsKeys> r;
    if (ok) {
      r.emplace();
      std::memcpy(r->c2s.data(), plain, k_aead_key_len);
      std::memcpy(r->s2c.data(), plain + k_aead_key_len, k_aead_key_len);
    }
    std::memset(plain, 0, sizeof plain);
    return r;
  }
  return std::nullopt;
}

CookieKey new_cookie_key(SecureRandom& rng, int64_t now_s, const std::vector<CookieKey>& existing) {
  CookieKey k;
  k.created_s = now_s;
  rng.fill(k.key);
  // A distinct, non-zero id (a handful of tries: 2^-32 each to collide).
  for (int i = 0; i < 16; ++i) {
    uint8_t b[4];
    rng.fill(b);
    k.id = get32(b);
    bool taken = k.id == 0;
    for (const auto& e : existing) {
      taken = taken || e.id == k.id;
    }
    if (!taken) {
      break;
    }
  }
  return k;
}

bool rotate_cookie_keys(std::vector<CookieKey>& keys, int64_t now_s, double interval_s, SecureRandom& rng) {
  if (!keys.empty()) {
    double age = static_cast<double>(now_s - keys.back().created_s);
    if (age < interval_s && age > -interval_s) {
      return false;
    }
  }
  keys.push_back(new_cookie_key(rng, now_s, keys));
  while (keys.size() > k_kept_cookie_keys) {
    keys.front().key.fill(0);
    keys.erase(keys.begin());
  }
  return true;
}

int64_t next_rotation_s(const std::vector<CookieKey>& keys, double interval_s) {
  if (keys.empty()) {
    return 0;
  }
  return keys.back().created_s + static_cast<int64_t>(interval_s);
}

std::string encode_cookie_keys(const std::vector<CookieKey>& keys) {
  std::string s = std::string(k_magic) + "\n";
  for (const auto& k : keys) {
    char id[16];
    std::snprintf(id, sizeof id, "%08x", k.id);
    s += std::string(id) + " " + hex(k.key) + " " + std::to_string(k.created_s) + "\n";
  }
  return s;
}

Result<std::vector<CookieKey>> parse_cookie_keys(std::string_view text) {
  std::vector<CookieKey> keys;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    auto bad = [&](const char* what) { return unexpected("line " + std::to_string(line_no) + ": " + what); };
    if (line_no == 1) {
      if (line != k_magic) {
        return bad("not a tr7ntp NTS cookie key file");
      }
      continue;
    }
    auto w = split_words(line);
    if (w.empty()) {
      continue;
    }
    if (w.size() != 3 || keys.size() >= 16) {
      return bad("expected 'ID KEY CREATED'");
    }
    CookieKey k;
    uint8_t id[4];
    if (!unhex(w[0], id) || !unhex(w[1], k.key)) {
      return bad("bad hex");
    }
    k.id = get32(id);
    auto c = parse_int(w[2], 0, INT64_MAX);
    if (!c || k.id == 0) {
      return bad("bad id or creation time");
    }
    k.created_s = *c;
    for (const auto& o : keys) {
      if (o.id == k.id) {
        return bad("duplicate id");
      }
    }
    keys.push_back(k);
  }
  if (line_no == 0) {
    return unexpected(std::string("empty file"));
  }
  // In the file's order (newest last, as written), at most k_kept_cookie_keys.
  while (keys.size() > k_kept_cookie_keys) {
    keys.erase(keys.begin());
  }
  return keys;
}

}  // namespace tr7::core
