// Access control for the NTP server: allow/deny prefixes, longest prefix wins.
//
// No I/O. Semantics (documented in tr7ntpd.conf(5)):
//  * Each rule is a prefix with an action (allow or deny). The rule with the longest
//    prefix containing the address decides; an allow and a deny for the same prefix
//    cannot both exist (the config refuses that).
//  * When no rule matches: if any allow rule exists the default is deny (an allow list
//    is a list of who may ask), otherwise the default is allow (a server with only deny
//    rules, or none, serves everyone else) -- unless the list is "loopback only"
//    (set_loopback_only: a server listening beyond loopback with no allow rule, issue 19
//    item 12): then loopback clients are allowed and everyone else is denied.
//  * IPv4-mapped IPv6 clients are matched as IPv4 (IpAddr normalises them).
// Lookups cost one binary search per distinct prefix length present, longest first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/netaddr.h"

namespace tr7::core {

enum class AccessAction : uint8_t { Allow, Deny };

struct AccessRule {
  Prefix prefix;
  AccessAction action = AccessAction::Allow;
};

struct AccessVerdict {
  AccessAction action;
  std::optional<AccessRule> rule;  // the rule that decided, or none for the default
};

class AllowList {
 public:
  // Returns false (and changes nothing) when the same prefix already has a rule.
  bool add(const AccessRule& rule);
  bool remove(const Prefix& prefix);
  AccessVerdict check(const IpAddr& a) const;
  bool allowed(const IpAddr& a) const { return check(a).action == AccessAction::Allow; }
  AccessAction default_action() const;
  // With no allow rule, allow loopback clients only (see above). Kept by copies.
  void set_loopback_only(bool on) { m_loopback_only = on; }
  // True when the loopback-only default applies now (the flag, and no allow rule).
  bool loopback_only() const { return m_loopback_only && m_allow_count == 0; }
  const std::vector<AccessRule>& rules() const { return m_rules; }
  size_t size() const { return m_rules.size(); }

 private:
  struct Bucket {  // all rules of one family and prefix length, sorted by address
    IpAddr::Family family;
    uint8_t len;
    std::vector<std::pair<IpAddr, AccessAction>> entries;
  };
  void rebuild();

  std::vector<AccessRule> m_rules;  // insertion order, for listing
  std::vector<Bucket> m_buckets;    // longest prefix first
  size_t m_allow_count = 0;
  bool m_loopback_only = false;
};

}  // namespace tr7::core
