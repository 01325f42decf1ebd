// An NTS source's client state (see nts_client.h).
#include "core/nts_client.h"

#include <algorithm>
#include <cstring>

#include "core/strutil.h"

namespace tr7::core {

namespace {

std::string hex(std::span<const uint8_t> b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

bool unhex(std::string_view s, std::vector<uint8_t>& out) {
  if (s.size() % 2 != 0) {
    return false;
  }
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  out.clear();
  for (size_t i = 0; i < s.size(); i += 2) {
    int hi = v(s[i]), lo = v(s[i + 1]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return true;
}

// A cookie we can send: a non-empty multiple of 4 (an extension field body), at most
// k_nts_max_cookie_len.
bool usable_cookie(const std::vector<uint8_t>& c) {
  return c.size() >= 12 && c.size() % 4 == 0 && c.size() <= k_nts_max_cookie_len;
}

}  // namespace

void NtsCookieJar::reset(const NtsKeys& keys, std::vector<std::vector<uint8_t>> cookies) {
  clear();
  m_keys = keys;
  m_has_keys = true;
  for (auto& c : cookies) {
    if (usable_cookie(c) && m_cookies.size() < k_nts_max_cookies) {
      m_cookies.push_back(std::move(c));
    }
  }
}

void NtsCookieJar::clear() {
  m_has_keys = false;
  m_keys = NtsKeys{};
  m_cookies.clear();
  m_outstanding = false;
}

size_t NtsCookieJar::wrap(std::span<const uint8_t, k_header_len> header, std::span<uint8_t> out, SecureRandom& rng) {
  if (needs_ke() || out.size() < k_header_len) {
    return 0;
  }
  std::vector<uint8_t> cookie = std::move(m_cookies.front());
  m_cookies.pop_front();
  m_last_cookie_len = cookie.size();
  // Enough placeholders to hold k_nts_max_cookies again, as far as the packet allows.
  size_t want = k_nts_max_cookies - 1 - m_cookies.size();
  size_t fixed = k_header_len + 4 + k_nts_uid_len + 4 + k_nts_nonce_len + k_aead_tag_len + 4;
  size_t field = 4 + cookie.size();
  size_t room = k_max_packet_len > fixed + field ? (k_max_packet_len - fixed - field) / field : 0;
  size_t placeholders = std::min(want, room);
  std::memcpy(out.data(), header.data(), k_header_len);
  uint8_t nonce[k_nts_nonce_len];
  rng.fill(m_uid);
  rng.fill(nonce);
  size_t len = build_nts_request(out, m_uid, cookie, placeholders, m_keys, nonce);
  m_outstanding = len != 0;
  return len;
}

NtsReply NtsCookieJar::check(std::span<const uint8_t> reply) {
  if (!m_outstanding || !m_has_keys) {
    return NtsReply::Bad;
  }
  std::vector<std::vector<uint8_t>> fresh;
  NtsReply r = check_nts_reply(reply, m_uid, m_keys, fresh);
  if (r == NtsReply::Nak) {
    clear();
    return r;
  }
  if (r == NtsReply::Ok) {
    m_outstanding = false;  // one reply per request
    for (auto& c : fresh) {
      if (usable_cookie(c) && m_cookies.size() < k_nts_max_cookies) {
        m_cookies.push_back(std::move(c));
      }
    }
  }
  return r;
}

std::string NtsCookieJar::encode(const SockAddr& ntp_server) const {
  std::string s = "tr7ntp-nts-client 1\n";
  s += "server " + ntp_server.to_string() + "\n";
  s += "aead " + std::to_string(m_keys.aead) + "\n";
  s += "c2s " + hex(m_keys.c2s) + "\n";
  s += "s2c " + hex(m_keys.s2c) + "\n";
  for (const auto& c : m_cookies) {
    s += "cookie " + hex(c) + "\n";
  }
  return s;
}

Result<NtsCookieJar> NtsCookieJar::decode(std::string_view text, SockAddr& ntp_server) {
  NtsCookieJar j;
  size_t pos = 0;
  int line_no = 0;
  bool have_server = false, have_c2s = false, have_s2c = false;
  NtsKeys keys;
  std::vector<std::vector<uint8_t>> cookies;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    auto bad = [&](const char* what) { return unexpected("line " + std::to_string(line_no) + ": " + what); };
    if (line_no == 1) {
      if (line != "tr7ntp-nts-client 1") {
        return bad("not a tr7ntp NTS client state file");
      }
      continue;
    }
    auto w = split_words(line);
    if (w.empty()) {
      continue;
    }
    if (w.size() != 2) {
      return bad("expected 'KEY VALUE'");
    }
    std::vector<uint8_t> b;
    if (w[0] == "server") {
      auto a = parse_sockaddr(w[1]);
      if (!a) {
        return bad("bad server address");
      }
      ntp_server = *a;
      have_server = true;
    } else if (w[0] == "aead") {
      if (w[1] != std::to_string(k_aead_aes_siv_cmac_256)) {
        return bad("unsupported AEAD algorithm");
      }
    } else if (w[0] == "c2s" || w[0] == "s2c") {
      if (!unhex(w[1], b) || b.size() != k_aead_key_len) {
        return bad("bad key");
      }
      std::memcpy((w[0] == "c2s" ? keys.c2s : keys.s2c).data(), b.data(), k_aead_key_len);
      (w[0] == "c2s" ? have_c2s : have_s2c) = true;
    } else if (w[0] == "cookie") {
      if (!unhex(w[1], b) || !usable_cookie(b) || cookies.size() >= k_nts_max_cookies) {
        return bad("bad cookie");
      }
      cookies.push_back(std::move(b));
    } else {
      return bad("unknown key");
    }
  }
  if (!have_server || !have_c2s || !have_s2c) {
    return unexpected(std::string("incomplete state"));
  }
  j.reset(keys, std::move(cookies));
  return j;
}

}  // namespace tr7::core
