// Bounded client table and GCRA rate limiting (see client_table.h).
#include "core/client_table.h"

#include <cmath>
#include <cstring>

namespace tr7::core {

ClientKey ClientKey::from(const IpAddr& a) {
  ClientKey k;
  k.family = a.family;
  if (a.is_v6()) {
    std::memcpy(k.bytes.data(), a.bytes.data(), 8);  // the /64
  } else {
    std::memcpy(k.bytes.data(), a.bytes.data(), 4);
  }
  return k;
}

IpAddr ClientKey::addr() const {
  IpAddr a;
  a.family = family;
  a.bytes = bytes;
  return a;
}

ClientTable::ClientTable(size_t capacity, SipKey key) : m_capacity(capacity < 1 ? 1 : capacity), m_key(key) {
  size_t slots = 16;
  while (slots < 2 * m_capacity) {
    slots <<= 1;
  }
  m_mask = slots - 1;
  m_slots.assign(slots, 0);
  m_entries.reserve(m_capacity);
}

size_t ClientTable::memory_bytes() const {
  return m_slots.capacity() * sizeof(uint32_t) + m_entries.capacity() * sizeof(ClientRecord);
}

size_t ClientTable::slot_of(const ClientKey& k) const {
  uint8_t buf[17];
  buf[0] = static_cast<uint8_t>(k.family);
  std::memcpy(buf + 1, k.bytes.data(), 16);
  return static_cast<size_t>(siphash24(m_key, buf, sizeof buf)) & m_mask;
}

uint32_t ClientTable::lookup(const ClientKey& k) const {
  for (size_t s = slot_of(k);; s = (s + 1) & m_mask) {
    uint32_t idx = m_slots[s];
    if (idx == 0) {
      return 0;
    }
    if (m_entries[idx - 1].key == k) {
      return idx;
    }
  }
}

const ClientRecord* ClientTable::find(const IpAddr& a) const {
  uint32_t idx = lookup(ClientKey::from(a));
  return idx ? &m_entries[idx - 1] : nullptr;
}

void ClientTable::unlink(uint32_t idx) {
  ClientRecord& e = m_entries[idx - 1];
  if (e.prev) {
    m_entries[e.prev - 1].next = e.next;
  } else {
    m_head = e.next;
  }
  if (e.next) {
    m_entries[e.next - 1].prev = e.prev;
  } else {
    m_tail = e.prev;
  }
  e.prev = e.next = 0;
}

void ClientTable::push_front(uint32_t idx) {
  ClientRecord& e = m_entries[idx - 1];
  e.prev = 0;
  e.next = m_head;
  if (m_head) {
    m_entries[m_head - 1].prev = idx;
  }
  m_head = idx;
  if (!m_tail) {
    m_tail = idx;
  }
}

// Linear probing deletion by backward shift: no tombstones, so probe lengths stay short
// however many evictions happen.
void ClientTable::erase_slot(size_t slot) {
  size_t hole = slot;
  for (size_t s = (slot + 1) & m_mask;; s = (s + 1) & m_mask) {
    uint32_t idx = m_slots[s];
    if (idx == 0) {
      break;
    }
    size_t home = slot_of(m_entries[idx - 1].key);
    // Move the entry into the hole if its home is not cyclically in (hole, s].
    bool in_range = hole <= s ? (home > hole && home <= s) : (home > hole || home <= s);
    if (!in_range) {
      m_slots[hole] = idx;
      hole = s;
    }
  }
  m_slots[hole] = 0;
}

ClientRecord& ClientTable::touch(const IpAddr& a, int64_t now_ns) {
  ClientKey k = ClientKey::from(a);
  size_t s = slot_of(k);
  for (;; s = (s + 1) & m_mask) {
    uint32_t idx = m_slots[s];
    if (idx == 0) {
      break;
    }
    if (m_entries[idx - 1].key == k) {
      if (m_head != idx) {
        unlink(idx);
        push_front(idx);
      }
      ClientRecord& e = m_entries[idx - 1];
      e.last_seen_ns = now_ns;
      ++e.requests;
      return e;
    }
  }
  uint32_t idx;
  if (m_used < m_capacity) {
    m_entries.emplace_back();
    idx = static_cast<uint32_t>(m_entries.size());
    ++m_used;
  } else {
    // Evict the least recently seen client and reuse its entry.
    idx = m_tail;
    unlink(idx);
    const ClientKey old = m_entries[idx - 1].key;
    for (size_t t = slot_of(old);; t = (t + 1) & m_mask) {
      if (m_slots[t] == idx) {
        erase_slot(t);
        break;
      }
    }
    ++m_evictions;
    // The erase may have moved entries; find the free slot for the new key again.
    for (s = slot_of(k); m_slots[s] != 0; s = (s + 1) & m_mask) {
    }
  }
  m_slots[s] = idx;
  ClientRecord& e = m_entries[idx - 1];
  e = ClientRecord{};
  e.key = k;
  e.first_seen_ns = e.last_seen_ns = now_ns;
  e.tat_ns = now_ns;
  e.requests = 1;
  push_front(idx);
  return e;
}

bool kod_allowed(const ClientRecord& c, int64_t now_ns, int64_t interval_ns) {
  return c.kod == 0 || now_ns - c.last_kod_ns >= interval_ns;
}

RateDecision rate_decide(ClientRecord& c, int64_t now_ns, const RateLimitParams& p, uint32_t random) {
  if (!p.enabled) {
    return RateDecision::Pass;
  }
  auto interval_ns = static_cast<int64_t>(std::llround(p.interval_s * 1e9));
  if (interval_ns < 1) {
    interval_ns = 1;
  }
  int64_t burst = p.burst < 1 ? 1 : p.burst;
  // GCRA: a request conforms when the bucket's theoretical arrival time is no more than
  // (burst - 1) intervals in the future.
  int64_t tat = c.tat_ns < now_ns ? now_ns : c.tat_ns;
  if (tat - now_ns <= (burst - 1) * interval_ns) {
    c.tat_ns = tat + interval_ns;
    return RateDecision::Pass;
  }
  uint32_t leak = p.leak > 16 ? 16 : p.leak;
  if (leak > 0 && (random & ((1u << leak) - 1)) == 0) {
    return RateDecision::Leak;
  }
  if (p.kod && kod_allowed(c, now_ns, interval_ns)) {
    c.last_kod_ns = now_ns;
    ++c.kod;
    return RateDecision::Kod;
  }
  return RateDecision::Drop;
}

}  // namespace tr7::core
