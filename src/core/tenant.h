// Tenants: one NTP service per network namespace, each with its own listen addresses
// (VIPs inside that namespace), allow list, rate limit and client table. This module is
// the pure part: names, the settings of one tenant and their text form (the words of a
// `tenant add` command, also what the runtime state file keeps), and the glob patterns
// that say which namespaces and addresses runtime tenants may use. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/allowlist.h"
#include "core/client_table.h"
#include "core/netaddr.h"
#include "core/result.h"

namespace tr7::core {

// Tenant and namespace names: [A-Za-z0-9_.-]{1,64}, not "." or "..". "default" is the
// daemon's own server ([server]) and cannot be a tenant.
bool valid_tenant_name(std::string_view name);
inline constexpr const char* k_default_tenant = "default";
inline constexpr size_t k_tenant_default_max_clients = 4096;
inline constexpr size_t k_max_tenant_listen = 8;  // listen addresses of one tenant

struct TenantSpec {
  std::string name;
  std::string netns;             // a name under /run/netns
  std::vector<SockAddr> listen;  // addresses inside that namespace, port != 0
  AllowList access;              // empty: everyone in the namespace may ask
  RateLimitParams ratelimit;     // enabled only when given
  bool deny_kod = false;
  size_t max_clients = k_tenant_default_max_clients;
};

// `ratelimit` values: "interval SECONDS burst N [kod yes|no] [leak N]" as words.
Result<RateLimitParams> parse_ratelimit(std::span<const std::string> words);

// The settings after the name in `tenant add NAME ...`, as words:
//   netns NS listen ADDR:PORT[,ADDR:PORT...] [allow PREFIX[,PREFIX...]]... [deny PREFIX...]...
//   [max_clients N] [deny_kod yes|no] [ratelimit interval S burst N [kod yes|no] [leak N]]
// netns and listen are required; listen, allow and deny may repeat. Errors name the word.
Result<TenantSpec> parse_tenant_words(std::string_view name, std::span<const std::string> words);
// The inverse: parse_tenant_words(name, tenant_words(s)) gives s back.
std::vector<std::string> tenant_words(const TenantSpec& s);
// "10.0.0.1:123,10.0.0.2:123"
std::string listen_text(const std::vector<SockAddr>& listen);

// A shell-style pattern with '*' (any run of characters) and '?' (one character); no
// classes, no escapes. Iterative, linear in practice, never recursive.
bool glob_match(std::string_view pattern, std::string_view text);

// Which (namespace, address, port) a tenant added at run time may bind: a namespace name
// pattern, an address prefix and a port (0: any port above 0). Fixed by the
// configuration ([tenants] runtime = ...); the privileged helper checks them too.
struct RuntimeBindRule {
  std::string netns_glob;
  Prefix prefix;
  uint16_t port = 0;
  friend bool operator==(const RuntimeBindRule& a, const RuntimeBindRule& b) {
    return a.netns_glob == b.netns_glob && a.prefix == b.prefix && a.port == b.port;
  }
};
// "NETNS_GLOB PREFIX [port N]"
Result<RuntimeBindRule> parse_runtime_bind_rule(std::string_view text);
std::string to_string(const RuntimeBindRule& r);
// True when some rule admits `addr` (port != 0) in namespace `netns`.
bool runtime_bind_allowed(std::span<const RuntimeBindRule> rules, std::string_view netns, const SockAddr& addr);

}  // namespace tr7::core
