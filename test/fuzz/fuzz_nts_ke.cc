// libFuzzer target: NTS-KE messages (RFC 8915 §4), as a server and as a client read them.
//
// Properties checked on every input, beyond "no crash, no UB, no leak":
//  * a parsed message never reaches past its input, has at most k_max_ke_records records,
//    each record's body inside the message, and ends with its End of Message;
//  * the server's decision always gives a response that parses again as one whole
//    message, is bounded (eight 100-byte cookies and a few records), and carries an error
//    record exactly when the decision has one;
//  * a response the client accepts has NTPv4, AES-SIV-CMAC-256, 1..8 cookies of at most
//    256 bytes.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "core/nts_aead.h"
#include "core/nts_ke.h"

using namespace tr7::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto m = parse_ke_message(in);
  if (!m || !m->has_value()) {
    return 0;
  }
  const KeMessage& msg = **m;
  if (msg.length > size || msg.length > k_max_ke_message || msg.records.size() > k_max_ke_records) {
    std::abort();
  }
  for (const auto& r : msg.records) {
    if (r.body.data() < data || r.body.data() + r.body.size() > data + msg.length) {
      std::abort();
    }
  }
  KeServerDecision d = ke_server_decide(msg);
  KeServerOffer offer;
  offer.port = 1234;
  offer.server = "ntp.example";
  std::vector<std::vector<uint8_t>> cookies(k_ke_cookies, std::vector<uint8_t>(100, 0x5A));
  std::vector<uint8_t> resp = ke_build_response(d, offer, cookies);
  if (resp.size() > 2048) {
    std::abort();  // never an amplifier beyond a fixed bound
  }
  auto rm = parse_ke_message(resp);
  if (!rm || !rm->has_value() || (*rm)->length != resp.size()) {
    std::abort();
  }
  auto cr = ke_parse_response(**rm);
  if (cr.has_value() != (!d.error && d.ntpv4 && d.aead.has_value())) {
    std::abort();
  }
  // The input as a server's response, as our client reads it.
  auto r = ke_parse_response(msg);
  if (r) {
    if (r->aead != k_aead_aes_siv_cmac_256 || r->cookies.empty() || r->cookies.size() > k_ke_cookies) {
      std::abort();
    }
    for (const auto& c : r->cookies) {
      if (c.empty() || c.size() > 256) {
        std::abort();
      }
    }
  }
  return 0;
}
