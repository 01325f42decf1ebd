// The reference identifier of an address (RFC 5905 §7.3): how a server names its
// reference in replies, and what a client compares with its own address to see that a
// server is synchronised to it (a timing loop).
//
// IPv4: the address itself. IPv6: the first four octets of the MD5 digest of the
// 16-byte address, as RFC 5905 defines it and chronyd computes it (UTI_IPToRefid), so
// that chronyd's loop test works against us over IPv6 as it does over IPv4.
// Pure (digest.h).
#pragma once

#include <cstdint>

#include "core/netaddr.h"

namespace tr7::core {

// Host byte order (the value in the refid field read as a big-endian number). 0 for an
// address of no family.
uint32_t refid_of(const IpAddr& a);

// Whether a reply names us as its reference: a server of stratum 2 or more whose refid
// is the refid of the local address we reach it from (chronyd's test D). Stratum 0 and
// 1 carry kiss codes and reference names, never addresses.
// Inline: the client core uses it without linking the digests.
inline bool is_sync_loop(uint8_t stratum, uint32_t server_refid, uint32_t local_refid) {
  return stratum > 1 && local_refid != 0 && server_refid == local_refid;
}

}  // namespace tr7::core
