// Symmetric keys and NTP MACs (see ntp_keys.h). Crypto from Nettle: no hand-written
// primitives.
#include "core/ntp_keys.h"

#include <nettle/cmac.h>
#include <nettle/memops.h>
#include <nettle/nettle-meta.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/strutil.h"

namespace tr7::core {

namespace {

struct TypeInfo {
  KeyType type;
  const char* name;
  const nettle_hash* hash;  // nullptr for the CMAC types
  size_t key_len;           // CMAC: the exact key length; digests: 0 (any)
};

const TypeInfo k_types[] = {
    {KeyType::Md5, "MD5", &nettle_md5, 0},
    {KeyType::Sha1, "SHA1", &nettle_sha1, 0},
    {KeyType::Sha256, "SHA256", &nettle_sha256, 0},
    {KeyType::Sha384, "SHA384", &nettle_sha384, 0},
    {KeyType::Sha512, "SHA512", &nettle_sha512, 0},
    {KeyType::Sha3_224, "SHA3-224", &nettle_sha3_224, 0},
    {KeyType::Sha3_256, "SHA3-256", &nettle_sha3_256, 0},
    {KeyType::Sha3_384, "SHA3-384", &nettle_sha3_384, 0},
    {KeyType::Sha3_512, "SHA3-512", &nettle_sha3_512, 0},
    {KeyType::Aes128, "AES128", nullptr, 16},
    {KeyType::Aes256, "AES256", nullptr, 32},
};

const TypeInfo& info(KeyType t) {
  for (const auto& i : k_types) {
    if (i.type == t) {
      return i;
    }
  }
  return k_types[0];
}

// The largest Nettle hash context used here (SHA3's state and buffer), with room.
constexpr size_t k_hash_ctx_max = 512;

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

uint32_t get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

}  // namespace

struct SymmetricKey::Cmac {
  // Only one of them is used (by the key's type); both are plain structs.
  cmac_aes128_ctx c128;
  cmac_aes256_ctx c256;
};

const char* to_string(KeyType t) { return info(t).name; }

std::optional<KeyType> parse_key_type(std::string_view name) {
  for (const auto& i : k_types) {
    if (name.size() == std::strlen(i.name) && std::equal(name.begin(), name.end(), i.name, [](char a, char b) {
          return std::toupper(static_cast<unsigned char>(a)) == static_cast<unsigned char>(b);
        })) {
      return i.type;
    }
  }
  return std::nullopt;
}

size_t mac_length(KeyType t) {
  const TypeInfo& i = info(t);
  return i.hash ? i.hash->digest_size : 16;  // AES-CMAC: one AES block
}

SymmetricKey::SymmetricKey(uint32_t id, KeyType type, std::vector<uint8_t> secret)
    : m_id(id), m_type(type), m_secret(std::move(secret)) {
  if (type == KeyType::Aes128 || type == KeyType::Aes256) {
    m_cmac = std::make_unique<Cmac>();
    if (type == KeyType::Aes128 && m_secret.size() == 16) {
      cmac_aes128_set_key(&m_cmac->c128, m_secret.data());
    } else if (type == KeyType::Aes256 && m_secret.size() == 32) {
      cmac_aes256_set_key(&m_cmac->c256, m_secret.data());
    }
  }
}

SymmetricKey::~SymmetricKey() {
  // Secrets do not linger in freed memory.
  std::fill(m_secret.begin(), m_secret.end(), uint8_t{0});
  if (m_cmac) {
    std::memset(static_cast<void*>(m_cmac.get()), 0, sizeof(Cmac));
  }
}

size_t SymmetricKey::mac(std::span<const uint8_t> data, std::span<uint8_t> out) const {
  size_t n = mac_length(m_type);
  if (out.size() < n) {
    return 0;
  }
  if (m_type == KeyType::Aes128) {
    cmac_aes128_ctx c = m_cmac->c128;  // a copy: the key is shared between threads
    cmac_aes128_update(&c, data.size(), data.data());
    cmac_aes128_digest(&c, n, out.data());
    std::memset(static_cast<void*>(&c), 0, sizeof c);
    return n;
  }
  if (m_type == KeyType::Aes256) {
    cmac_aes256_ctx c = m_cmac->c256;
    cmac_aes256_update(&c, data.size(), data.data());
    cmac_aes256_digest(&c, n, out.data());
    std::memset(static_cast<void*>(&c), 0, sizeof c);
    return n;
  }
  // RFC 5905 §7.3 (and chrony for the SHA family): digest of the key, then the packet.
  const nettle_hash* h = info(m_type).hash;
  alignas(16) uint8_t ctx[k_hash_ctx_max];
  if (h->context_size > sizeof ctx) {
    return 0;
  }
  h->init(ctx);
  h->update(ctx, m_secret.size(), m_secret.data());
  h->update(ctx, data.size(), data.data());
  h->digest(ctx, n, out.data());
  std::memset(ctx, 0, h->context_size);
  return n;
}

const SymmetricKey* KeySet::find(uint32_t id) const {
  auto it = m_keys.find(id);
  return it == m_keys.end() ? nullptr : it->second.get();
}

std::vector<uint32_t> KeySet::ids() const {
  std::vector<uint32_t> v;
  for (const auto& [id, k] : m_keys) {
    v.push_back(id);
  }
  return v;
}

bool KeySet::add(uint32_t id, KeyType type, std::vector<uint8_t> secret) {
  if (m_keys.count(id)) {
    return false;
  }
  m_keys.emplace(id, std::make_unique<SymmetricKey>(id, type, std::move(secret)));
  return true;
}

Result<KeyFile, std::vector<std::string>> parse_key_file(std::string_view text) {
  KeyFile kf;
  kf.keys = std::make_shared<KeySet>();
  std::vector<std::string> errors;
  std::map<uint32_t, int> first_line;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    auto err = [&](const std::string& m) { errors.push_back("line " + std::to_string(line_no) + ": " + m); };
    if (line.find('\0') != std::string_view::npos) {
      err("NUL byte in line");
      continue;
    }
    size_t c = line.find_first_of("#;!%");
    if (c != std::string_view::npos) {
      line = line.substr(0, c);
    }
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    auto w = split_words(line);
    if (w.empty()) {
      continue;
    }
    if (kf.keys->size() >= k_max_keys) {
      err("too many keys (at most " + std::to_string(k_max_keys) + ")");
      break;
    }
    if (w.size() < 2 || w.size() > 3) {
      err("expected 'ID [TYPE] KEY'");
      continue;
    }
    auto id = parse_int(w[0], 1, 4294967295LL);
    if (!id) {
      err("key id: " + id.error() + " (1 to 4294967295)");
      continue;
    }
    KeyType type = KeyType::Md5;
    if (w.size() == 3) {
      auto t = parse_key_type(w[1]);
      if (!t) {
        err("unknown key type '" + w[1] +
            "' (MD5, SHA1, SHA256, SHA384, SHA512, SHA3-224, SHA3-256, SHA3-384, SHA3-512, AES128, AES256)");
        continue;
      }
      type = *t;
    }
    const std::string& kv = w.back();
    std::vector<uint8_t> secret;
    if (kv.rfind("HEX:", 0) == 0) {
      std::string_view hex = std::string_view(kv).substr(4);
      if (hex.empty() || hex.size() % 2 != 0) {
        err("HEX: key needs an even, non-zero number of hex digits");
        continue;
      }
      bool ok = true;
      for (size_t i = 0; i < hex.size(); i += 2) {
        int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0) {
          ok = false;
          break;
        }
        secret.push_back(static_cast<uint8_t>(hi << 4 | lo));
      }
      if (!ok) {
        err("HEX: key has a character that is not a hex digit");
        continue;
      }
    } else {
      std::string_view a = kv;
      if (kv.rfind("ASCII:", 0) == 0) {
        a.remove_prefix(6);
      }
      secret.assign(a.begin(), a.end());
    }
    if (secret.empty()) {
      err("empty key");
      continue;
    }
    if (secret.size() > k_max_key_bytes) {
      err("key longer than " + std::to_string(k_max_key_bytes) + " bytes");
      continue;
    }
    size_t need = info(type).key_len;
    if (need != 0 && secret.size() != need) {
      err(std::string(to_string(type)) + " key must be " + std::to_string(need * 8) + " bits (" + std::to_string(need) +
          " bytes), not " + std::to_string(secret.size()) + " bytes");
      continue;
    }
    uint32_t kid = static_cast<uint32_t>(*id);
    if (auto f = first_line.find(kid); f != first_line.end()) {
      err("duplicate key id " + std::to_string(kid) + " (first on line " + std::to_string(f->second) + ")");
      continue;
    }
    if (secret.size() < k_min_secure_key) {
      kf.warnings.push_back("line " + std::to_string(line_no) + ": key " + std::to_string(kid) + " is only " +
                            std::to_string(secret.size() * 8) + " bits long (80 or more recommended)");
    }
    first_line.emplace(kid, line_no);
    kf.keys->add(kid, type, std::move(secret));
  }
  if (!errors.empty()) {
    return unexpected(std::move(errors));
  }
  return kf;
}

size_t packet_mac_length(KeyType type, uint8_t version) {
  // RFC 7822 §7.5 / chrony: at most 20 bytes of digest in NTPv4, 64 before.
  size_t cap = version >= 4 ? 20 : 64;
  return std::min(mac_length(type), cap);
}

size_t append_mac(std::span<uint8_t> buf, size_t len, const SymmetricKey& key, uint8_t version) {
  size_t n = packet_mac_length(key.type(), version);
  if (len > buf.size() || buf.size() - len < 4 + n) {
    return 0;
  }
  uint8_t full[k_max_mac_len];
  size_t got = key.mac(buf.first(len), full);
  if (got < n) {
    return 0;
  }
  uint8_t* p = buf.data() + len;
  p[0] = static_cast<uint8_t>(key.id() >> 24);
  p[1] = static_cast<uint8_t>(key.id() >> 16);
  p[2] = static_cast<uint8_t>(key.id() >> 8);
  p[3] = static_cast<uint8_t>(key.id());
  std::memcpy(p + 4, full, n);
  std::memset(full, 0, sizeof full);
  return len + 4 + n;
}

MacCheck check_mac(std::span<const uint8_t> packet, size_t mac_start, uint8_t version, const KeySet& keys,
                   const SymmetricKey** key) {
  if (mac_start + 4 > packet.size()) {
    return MacCheck::Bad;
  }
  uint32_t id = get32(packet.data() + mac_start);
  const SymmetricKey* k = keys.find(id);
  if (key != nullptr) {
    *key = k;
  }
  if (k == nullptr) {
    return MacCheck::UnknownKey;
  }
  size_t got_len = packet.size() - mac_start - 4;
  if (got_len != packet_mac_length(k->type(), version)) {
    return MacCheck::Bad;
  }
  uint8_t full[k_max_mac_len];
  size_t n = k->mac(packet.first(mac_start), full);
  bool ok = n >= got_len && equal_ct(std::span<const uint8_t>(full, got_len), packet.subspan(mac_start + 4, got_len));
  std::memset(full, 0, sizeof full);
  return ok ? MacCheck::Ok : MacCheck::Bad;
}

bool equal_ct(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) {
    return false;
  }
  return memeql_sec(a.data(), b.data(), a.size()) != 0;
}

}  // namespace tr7::core
