// NTS extension fields (see nts_ntp.h; RFC 8915 §5).
#include "core/nts_ntp.h"

#include <algorithm>
#include <cstring>

#include "core/ntp_keys.h"

namespace tr7::core {

namespace {

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void put16(uint8_t* p, size_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

size_t padded(size_t n) { return (n + 3) & ~size_t{3}; }

// Fields inside the authenticator's plaintext: a field of at least 4 bytes (its header),
// a multiple of 4, inside the plaintext. Calls f(type, body) for each; false when the
// layout is broken or there are more than k_max_extensions.
template <class F>
bool walk_plain(std::span<const uint8_t> plain, F f) {
  size_t pos = 0;
  size_t n = 0;
  while (pos < plain.size()) {
    if (plain.size() - pos < 4 || ++n > k_max_extensions) {
      return false;
    }
    size_t len = get16(plain.data() + pos + 2);
    if (len < 4 || len % 4 != 0 || len > plain.size() - pos) {
      return false;
    }
    if (!f(get16(plain.data() + pos), plain.subspan(pos + 4, len - 4))) {
      return false;
    }
    pos += len;
  }
  return true;
}

// The authenticator's body: nonce and ciphertext spans. False when its lengths do not fit
// the body, or leave less room for the nonce than RFC 8915 asks (16 bytes, padding
// included: chrony's check).
bool parse_auth_body(std::span<const uint8_t> body, std::span<const uint8_t>& nonce,
                     std::span<const uint8_t>& ciphertext) {
  if (body.size() < 4) {
    return false;
  }
  size_t nonce_len = get16(body.data());
  size_t ct_len = get16(body.data() + 2);
  if (nonce_len < 1 || ct_len < k_aead_tag_len || padded(nonce_len) + padded(ct_len) > body.size() - 4 ||
      k_nts_nonce_len + padded(ct_len) > body.size() - 4) {
    return false;
  }
  nonce = body.subspan(4, nonce_len);
  ciphertext = body.subspan(4 + padded(nonce_len), ct_len);
  return true;
}

size_t auth_field_len(size_t cookies) {
  return 4 + 4 + k_nts_nonce_len + k_aead_tag_len + cookies * (4 + k_cookie_len);
}

}  // namespace

bool walk_fields(std::span<const uint8_t> packet, ExtFields& out) {
  out.n = 0;
  if (packet.size() < k_header_len || packet.size() > k_max_packet_len) {
    return false;
  }
  size_t pos = k_header_len;
  while (pos < packet.size()) {
    size_t rest = packet.size() - pos;
    if (rest < k_min_ext_len || out.n >= k_max_extensions) {
      return false;
    }
    size_t len = get16(packet.data() + pos + 2);
    if (len < k_min_ext_len || len % 4 != 0 || len > rest) {
      return false;
    }
    ExtField& f = out.f[out.n++];
    f.type = get16(packet.data() + pos);
    f.offset = pos;
    f.length = len;
    f.body = packet.subspan(pos + 4, len - 4);
    pos += len;
  }
  return true;
}

Result<NtsRequest, NtsParse> parse_nts_request(std::span<const uint8_t> packet) {
  ExtFields ef;
  if (!walk_fields(packet, ef)) {
    return unexpected(NtsParse::NotNts);
  }
  NtsRequest r;
  size_t uids = 0, cookies = 0, auths = 0, placeholders = 0;
  size_t placeholder_len = 0;
  bool placeholder_mixed = false;
  bool auth_last = false;
  for (size_t i = 0; i < ef.n; ++i) {
    const ExtField& f = ef.f[i];
    switch (f.type) {
      case k_ef_unique_id:
        ++uids;
        r.uid = f.body;
        break;
      case k_ef_cookie:
        ++cookies;
        r.cookie = f.body;
        break;
      case k_ef_cookie_placeholder:
        if (placeholders > 0 && f.body.size() != placeholder_len) {
          placeholder_mixed = true;
        }
        placeholder_len = f.body.size();
        ++placeholders;
        break;
      case k_ef_nts_auth:
        ++auths;
        auth_last = i + 1 == ef.n;
        r.auth_offset = f.offset;
        if (!parse_auth_body(f.body, r.nonce, r.ciphertext)) {
          return unexpected(NtsParse::Malformed);
        }
        break;
      default:
        break;  // other fields are not ours to judge
    }
  }
  if (uids + cookies + auths + placeholders == 0) {
    return unexpected(NtsParse::NotNts);
  }
  if (uids != 1 || cookies != 1 || auths != 1 || !auth_last || r.uid.size() < k_nts_uid_len || placeholder_mixed ||
      (placeholders > 0 && placeholder_len != r.cookie.size())) {
    return unexpected(NtsParse::Malformed);
  }
  r.cookies_wanted = 1 + placeholders;
  return r;
}

NtsCheck check_nts_request(std::span<const uint8_t> packet, NtsRequest& req, const CookieKeys& cookie_keys,
                           NtsKeys& keys) {
  auto opened = cookie_keys.open_cookie(req.cookie);
  if (!opened) {
    return NtsCheck::Nak;
  }
  keys = *opened;
  uint8_t plain[k_max_packet_len];
  size_t plain_len = req.ciphertext.size() - k_aead_tag_len;
  if (plain_len > sizeof plain) {
    return NtsCheck::Drop;
  }
  SivContext c2s(keys.c2s);
  if (!c2s.decrypt(req.nonce, packet.first(req.auth_offset), req.ciphertext, std::span<uint8_t>(plain, plain_len))) {
    return NtsCheck::Nak;
  }
  size_t extra = 0;
  size_t cookie_len = req.cookie.size();
  bool ok = walk_plain(std::span<const uint8_t>(plain, plain_len), [&](uint16_t type, std::span<const uint8_t> body) {
    if (type == k_ef_cookie_placeholder) {
      if (body.size() != cookie_len) {
        return false;
      }
      ++extra;
    }
    return true;
  });
  std::memset(plain, 0, plain_len);
  if (!ok) {
    return NtsCheck::Drop;
  }
  req.cookies_wanted += extra;
  return NtsCheck::Ok;
}

size_t build_nts_reply(std::span<uint8_t> out, const NtsRequest& req, const NtsKeys& keys,
                       const CookieKeys& cookie_keys, SecureRandom& rng, size_t request_len, NtsSeal& seal) {
  if (cookie_keys.empty()) {
    return 0;
  }
  size_t pos = k_header_len;
  size_t uid_field = 4 + req.uid.size();  // a field body: a multiple of 4 already
  size_t limit = std::min(request_len, out.size());
  size_t n = std::min(req.cookies_wanted, k_nts_max_cookies);
  while (n > 0 && pos + uid_field + auth_field_len(n) > limit) {
    --n;
  }
  if (pos + uid_field + auth_field_len(n) > limit) {
    return 0;
  }
  uint8_t* p = out.data();
  put16(p + pos, k_ef_unique_id);
  put16(p + pos + 2, uid_field);
  std::memcpy(p + pos + 4, req.uid.data(), req.uid.size());
  pos += uid_field;

  // Exactly the request's length: the rest of it is padding inside the authenticator.
  size_t auth_len = auth_field_len(n);
  size_t padding = request_len <= out.size() ? request_len - pos - auth_len : 0;
  padding &= ~size_t{3};
  size_t field_len = auth_len + padding;
  if (field_len > 0xFFFF) {
    return 0;
  }
  uint8_t* a = p + pos;
  put16(a, k_ef_nts_auth);
  put16(a + 2, field_len);
  put16(a + 4, k_nts_nonce_len);
  put16(a + 6, k_aead_tag_len + n * (4 + k_cookie_len));
  // One draw for the reply nonce and every cookie's nonce.
  uint8_t rnd[k_nts_nonce_len + k_nts_max_cookies * k_cookie_nonce_len];
  rng.fill(std::span<uint8_t>(rnd, k_nts_nonce_len + n * k_cookie_nonce_len));
  std::memcpy(a + 8, rnd, k_nts_nonce_len);
  uint8_t* plain = a + 8 + k_nts_nonce_len + k_aead_tag_len;
  std::memset(a + 8 + k_nts_nonce_len, 0, k_aead_tag_len);
  for (size_t i = 0; i < n; ++i) {
    uint8_t* c = plain + i * (4 + k_cookie_len);
    put16(c, k_ef_cookie);
    put16(c + 2, 4 + k_cookie_len);
    std::span<const uint8_t, k_cookie_nonce_len> nonce(rnd + k_nts_nonce_len + i * k_cookie_nonce_len,
                                                       k_cookie_nonce_len);
    if (!cookie_keys.make_cookie(keys, nonce, std::span<uint8_t>(c + 4, k_cookie_len))) {
      return 0;
    }
  }
  std::memset(a + auth_len, 0, padding);
  seal.s2c = keys.s2c;
  seal.auth_offset = pos;
  seal.plain_len = n * (4 + k_cookie_len);
  seal.length = pos + field_len;
  return seal.length;
}

bool seal_nts_reply(std::span<uint8_t> out, const NtsSeal& seal) {
  if (seal.length > out.size() || seal.auth_offset + auth_field_len(0) + seal.plain_len > seal.length) {
    return false;
  }
  uint8_t* a = out.data() + seal.auth_offset;
  uint8_t plain[k_nts_max_cookies * (4 + k_cookie_len)];
  if (seal.plain_len > sizeof plain) {
    return false;
  }
  std::memcpy(plain, a + 8 + k_nts_nonce_len + k_aead_tag_len, seal.plain_len);
  SivContext s2c(seal.s2c);
  bool ok = s2c.encrypt(std::span<const uint8_t>(a + 8, k_nts_nonce_len), out.first(seal.auth_offset),
                        std::span<const uint8_t>(plain, seal.plain_len),
                        std::span<uint8_t>(a + 8 + k_nts_nonce_len, k_aead_tag_len + seal.plain_len));
  std::memset(plain, 0, seal.plain_len);
  return ok;
}

size_t build_nts_nak(std::span<uint8_t> out, const NtsRequest& req) {
  size_t len = k_header_len + 4 + req.uid.size();
  if (out.size() < len) {
    return 0;
  }
  put16(out.data() + k_header_len, k_ef_unique_id);
  put16(out.data() + k_header_len + 2, 4 + req.uid.size());
  std::memcpy(out.data() + k_header_len + 4, req.uid.data(), req.uid.size());
  return len;
}

size_t build_nts_request(std::span<uint8_t> out, std::span<const uint8_t> uid, std::span<const uint8_t> cookie,
                         size_t placeholders, const NtsKeys& keys, std::span<const uint8_t> nonce) {
  if (uid.size() % 4 != 0 || cookie.empty() || cookie.size() % 4 != 0 || nonce.empty()) {
    return 0;
  }
  size_t uid_field = std::max<size_t>(4 + uid.size(), k_min_ext_len);
  size_t cookie_field = std::max<size_t>(4 + cookie.size(), k_min_ext_len);
  // RFC 8915 §5.6: the ciphertext right after the (padded) nonce; a nonce shorter than 16
  // bytes leaves that much padding after the ciphertext instead.
  size_t nonce_room = padded(nonce.size());
  size_t extra = nonce_room < k_nts_nonce_len ? k_nts_nonce_len - nonce_room : 0;
  size_t auth_len = 4 + 4 + nonce_room + k_aead_tag_len + extra;
  size_t len = k_header_len + uid_field + cookie_field * (1 + placeholders) + auth_len;
  if (len > out.size() || len > k_max_packet_len || uid.size() + 4 > uid_field) {
    return 0;
  }
  uint8_t* p = out.data();
  size_t pos = k_header_len;
  std::memset(p + pos, 0, len - pos);
  put16(p + pos, k_ef_unique_id);
  put16(p + pos + 2, uid_field);
  std::memcpy(p + pos + 4, uid.data(), uid.size());
  pos += uid_field;
  put16(p + pos, k_ef_cookie);
  put16(p + pos + 2, cookie_field);
  std::memcpy(p + pos + 4, cookie.data(), cookie.size());
  pos += cookie_field;
  for (size_t i = 0; i < placeholders; ++i) {
    put16(p + pos, k_ef_cookie_placeholder);
    put16(p + pos + 2, cookie_field);
    pos += cookie_field;
  }
  size_t auth_at = pos;
  put16(p + pos, k_ef_nts_auth);
  put16(p + pos + 2, auth_len);
  put16(p + pos + 4, nonce.size());
  put16(p + pos + 6, k_aead_tag_len);
  std::memcpy(p + pos + 8, nonce.data(), nonce.size());
  size_t ct_at = pos + 8 + nonce_room;
  SivContext c2s(keys.c2s);
  if (!c2s.encrypt(nonce, out.first(auth_at), {}, out.subspan(ct_at, k_aead_tag_len))) {
    return 0;
  }
  return len;
}

NtsReply check_nts_reply(std::span<const uint8_t> packet, std::span<const uint8_t> uid, const NtsKeys& keys,
                         std::vector<std::vector<uint8_t>>& cookies) {
  ExtFields ef;
  if (!walk_fields(packet, ef)) {
    return NtsReply::Bad;
  }
  const ExtField* uid_f = nullptr;
  const ExtField* auth_f = nullptr;
  for (size_t i = 0; i < ef.n; ++i) {
    const ExtField& f = ef.f[i];
    if (f.type == k_ef_unique_id) {
      if (uid_f != nullptr) {
        return NtsReply::Bad;
      }
      uid_f = &f;
    } else if (f.type == k_ef_nts_auth) {
      if (auth_f != nullptr || i + 1 != ef.n) {
        return NtsReply::Bad;
      }
      auth_f = &f;
    }
  }
  if (uid_f == nullptr || !equal_ct(uid_f->body, uid)) {
    return NtsReply::Bad;
  }
  NtpHeader h = decode_header(packet.first<k_header_len>());
  if (h.stratum == 0 && h.refid == kiss_code("NTSN")) {
    return NtsReply::Nak;
  }
  if (auth_f == nullptr) {
    return NtsReply::Bad;
  }
  std::span<const uint8_t> nonce, ct;
  if (!parse_auth_body(auth_f->body, nonce, ct)) {
    return NtsReply::Bad;
  }
  uint8_t plain[k_max_packet_len];
  size_t plain_len = ct.size() - k_aead_tag_len;
  SivContext s2c(keys.s2c);
  if (!s2c.decrypt(nonce, packet.first(auth_f->offset), ct, std::span<uint8_t>(plain, plain_len))) {
    return NtsReply::Bad;
  }
  std::vector<std::vector<uint8_t>> fresh;
  bool ok = walk_plain(std::span<const uint8_t>(plain, plain_len), [&](uint16_t type, std::span<const uint8_t> body) {
    if (type == k_ef_cookie && fresh.size() < k_nts_max_cookies && !body.empty() &&
        body.size() <= k_nts_max_cookie_len) {
      fresh.emplace_back(body.begin(), body.end());
    }
    return true;
  });
  if (!ok) {
    return NtsReply::Bad;
  }
  for (auto& c : fresh) {
    cookies.push_back(std::move(c));
  }
  return NtsReply::Ok;
}

}  // namespace tr7::core
