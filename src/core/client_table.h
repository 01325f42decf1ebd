// Bounded table of NTP clients seen by the server, with per-client rate limiting.
//
// No I/O, no allocation after construction beyond the first touch of each slot.
//  * Clients are keyed by IPv4 address or by IPv6 /64 (one host usually owns a /64, so
//    rotating addresses inside it must not evade the limit); the source port is not part
//    of the key (rotating ports must not evade it either).
//  * The table holds at most `capacity` clients; when full, the least recently seen one
//    is evicted. Memory is therefore flat whatever the number of distinct sources.
//  * The hash is SipHash with a random key from the caller, so addresses cannot be
//    chosen to collide.
//  * Rate limiting is a GCRA token bucket: one request per `interval_s` sustained, bursts
//    of `burst`. A limited request is still answered with probability 2^-leak ("leak"),
//    so a flood spoofing a victim's address cannot lock the victim out. With `kod`, a
//    limited request gets a KoD RATE, at most one per interval per client.
// Times are monotonic nanoseconds supplied by the caller.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/netaddr.h"
#include "core/siphash.h"

namespace tr7::core {

struct RateLimitParams {
  bool enabled = false;
  double interval_s = 2.0;
  uint32_t burst = 8;
  uint32_t leak = 2;  // 1..16: a limited request is answered with probability 2^-leak
  bool kod = false;
};

enum class RateDecision : uint8_t { Pass, Leak, Drop, Kod };

struct ClientKey {
  IpAddr::Family family = IpAddr::Family::None;
  std::array<uint8_t, 16> bytes{};
  static ClientKey from(const IpAddr& a);  // IPv6 masked to /64
  IpAddr addr() const;                     // the key as an address (the /64 base for IPv6)
  friend bool operator==(const ClientKey&, const ClientKey&) = default;
};

struct ClientRecord {
  ClientKey key;
  int64_t first_seen_ns = 0;
  int64_t last_seen_ns = 0;
  int64_t tat_ns = 0;       // GCRA theoretical arrival time
  int64_t last_kod_ns = 0;  // meaningful once kod > 0
  uint64_t requests = 0;
  uint64_t answered = 0;
  uint64_t limited = 0;  // dropped or answered with KoD by the rate limit
  uint64_t kod = 0;
  uint64_t denied = 0;
  uint32_t prev = 0, next = 0;  // LRU list, 1-based indices, 0 = none
};

class ClientTable {
 public:
  ClientTable(size_t capacity, SipKey key);

  // Finds the client or inserts it (evicting the least recently seen when full), marks
  // it most recently seen and counts the request.
  ClientRecord& touch(const IpAddr& a, int64_t now_ns);
  const ClientRecord* find(const IpAddr& a) const;

  size_t size() const { return m_used; }
  size_t capacity() const { return m_capacity; }
  uint64_t evictions() const { return m_evictions; }
  // Bytes held, for reports (fixed at construction).
  size_t memory_bytes() const;

  // Visits clients from most to least recently seen; stops after `limit`.
  template <class F>
  void for_each(F&& f, size_t limit = SIZE_MAX) const {
    size_t n = 0;
    for (uint32_t i = m_head; i != 0 && n < limit; i = m_entries[i - 1].next, ++n) {
      f(m_entries[i - 1]);
    }
  }

 private:
  size_t slot_of(const ClientKey& k) const;
  uint32_t lookup(const ClientKey& k) const;  // 1-based entry index or 0
  void unlink(uint32_t idx);
  void push_front(uint32_t idx);
  void erase_slot(size_t slot);

  size_t m_capacity;
  size_t m_mask;                  // slot count - 1 (power of two, >= 2 * capacity)
  SipKey m_key;
  std::vector<uint32_t> m_slots;  // 1-based entry index, 0 = empty (linear probing)
  std::vector<ClientRecord> m_entries;
  size_t m_used = 0;
  uint32_t m_head = 0, m_tail = 0;
  uint64_t m_evictions = 0;
};

// True when no KoD went to c in the last interval (KoDs are throttled per client).
bool kod_allowed(const ClientRecord& c, int64_t now_ns, int64_t interval_ns);

// The rate-limit decision for one request of client c at now_ns, updating c's bucket.
// `random` is a uniformly random 32-bit value (for the leak). A Kod decision has
// already been counted in c.kod.
RateDecision rate_decide(ClientRecord& c, int64_t now_ns, const RateLimitParams& p, uint32_t random);

}  // namespace tr7::core
