// Longest-prefix-match allow list (see allowlist.h).
#include "core/allowlist.h"

#include <algorithm>

namespace tr7::core {

namespace {

bool addr_less(const IpAddr& a, const IpAddr& b) { return a.bytes < b.bytes; }

}  // namespace

bool AllowList::add(const AccessRule& rule) {
  for (const auto& r : m_rules) {
    if (r.prefix == rule.prefix) {
      return false;
    }
  }
  m_rules.push_back(rule);
  rebuild();
  return true;
}

bool AllowList::remove(const Prefix& prefix) {
  auto it = std::find_if(m_rules.begin(), m_rules.end(),
                         [&](const AccessRule& r) { return r.prefix == prefix; });
  if (it == m_rules.end()) {
    return false;
  }
  m_rules.erase(it);
  rebuild();
  return true;
}

void AllowList::rebuild() {
  m_buckets.clear();
  m_allow_count = 0;
  for (const auto& r : m_rules) {
    if (r.action == AccessAction::Allow) {
      ++m_allow_count;
    }
    auto it = std::find_if(m_buckets.begin(), m_buckets.end(), [&](const Bucket& b) {
      return b.family == r.prefix.addr.family && b.len == r.prefix.len;
    });
    if (it == m_buckets.end()) {
      m_buckets.push_back(Bucket{r.prefix.addr.family, r.prefix.len, {}});
      it = m_buckets.end() - 1;
    }
    it->entries.emplace_back(r.prefix.addr, r.action);
  }
  for (auto& b : m_buckets) {
    std::sort(b.entries.begin(), b.entries.end(),
              [](const auto& x, const auto& y) { return addr_less(x.first, y.first); });
  }
  std::sort(m_buckets.begin(), m_buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.len > b.len; });
}

AccessAction AllowList::default_action() const {
  return m_allow_count > 0 || m_loopback_only ? AccessAction::Deny : AccessAction::Allow;
}

AccessVerdict AllowList::check(const IpAddr& a) const {
  for (const auto& b : m_buckets) {
    if (b.family != a.family) {
      continue;
    }
    IpAddr key = mask_addr(a, b.len);
    auto it = std::lower_bound(
        b.entries.begin(), b.entries.end(), key,
        [](const std::pair<IpAddr, AccessAction>& e, const IpAddr& k) { return addr_less(e.first, k); });
    if (it != b.entries.end() && it->first == key) {
      return AccessVerdict{it->second, AccessRule{Prefix{key, b.len}, it->second}};
    }
  }
  if (loopback_only() && a.is_loopback()) {
    return AccessVerdict{AccessAction::Allow, std::nullopt};
  }
  return AccessVerdict{default_action(), std::nullopt};
}

}  // namespace tr7::core
