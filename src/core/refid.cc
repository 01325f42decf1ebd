// Reference identifiers of addresses (see refid.h).
#include "core/refid.h"

#include "core/digest.h"

namespace tr7::core {

uint32_t refid_of(const IpAddr& a) {
  if (a.is_v4()) {
    return a.v4_host_order();
  }
  if (!a.is_v6()) {
    return 0;
  }
  // RFC 5905 §7.3: "the first four octets of the MD5 hash of the IPv6 address".
  Md5Digest d = md5(a.bytes);
  return static_cast<uint32_t>(d[0]) << 24 | static_cast<uint32_t>(d[1]) << 16 | static_cast<uint32_t>(d[2]) << 8 |
         static_cast<uint32_t>(d[3]);
}

}  // namespace tr7::core
