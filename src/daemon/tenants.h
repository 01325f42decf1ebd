// Tenants at run time: one server pool per tenant (tenant.h has the pure part).
//
// Each tenant has its own sockets, opened inside its network namespace (by the
// privileged helper under privilege separation, in-process with setns otherwise), its own
// server thread, allow list, rate limiter, client table and counters. Nothing is shared
// on the data path: the kernel keeps a receive queue per socket and each tenant's thread
// drains only its own, so a flood towards one tenant fills that tenant's queue and costs
// the others CPU time at most, never their packets (a packet is "tagged" with its tenant
// by the socket it arrived on).
//
// Namespaces come and go: check() (every [tenants] check_interval) compares the identity
// (inode) of /run/netns/NAME with the one the tenant's sockets were opened in. Gone: the
// sockets are closed (so the old namespace can be freed) and the tenant waits; replaced
// or back: the sockets are opened again in the new one. A VIP removed inside a namespace
// that stays needs nothing: the bound socket serves again once the address is back.
//
// Everything here runs on the worker's event loop thread; the counters are read from the
// pools lock-free (ServerPool::stats()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ntp_server.h"
#include "core/result.h"
#include "core/tenant.h"
#include "daemon/reference_publisher.h"
#include "daemon/server_pool.h"
#include "sys/fd.h"

namespace tr7::daemon {

class HelperClient;

// Where the tenants' sockets come from.
class TenantSockets {
 public:
  virtual ~TenantSockets() = default;
  // A UDP socket bound to `addr` inside namespace `netns` (no NTP options set yet).
  virtual Result<sys::Fd, std::string> open_udp(const std::string& netns, const core::SockAddr& addr) = 0;
  // The identity of /run/netns/NAME (its inode number); 0 when it does not exist.
  virtual Result<uint64_t, std::string> netns_id(const std::string& netns) = 0;
};

// In this process: setns there and back (needs CAP_SYS_ADMIN; the -d mode as root).
class LocalTenantSockets final : public TenantSockets {
 public:
  // Opens /proc/self/ns/net (the way back). Throws std::system_error.
  LocalTenantSockets();
  Result<sys::Fd, std::string> open_udp(const std::string& netns, const core::SockAddr& addr) override;
  Result<uint64_t, std::string> netns_id(const std::string& netns) override;

 private:
  sys::Fd m_self;
};

// Through the privileged helper (OpenUdp, NetnsId): it admits the configured tenants'
// addresses and, for tenants added at run time, what [tenants] runtime rules allow.
class HelperTenantSockets final : public TenantSockets {
 public:
  explicit HelperTenantSockets(HelperClient& c) : m_client(c) {}
  Result<sys::Fd, std::string> open_udp(const std::string& netns, const core::SockAddr& addr) override;
  Result<uint64_t, std::string> netns_id(const std::string& netns) override;

 private:
  HelperClient& m_client;
};

// One row of `tenants` / `tenant list`.
struct TenantRow {
  std::string name;
  std::string netns;
  std::vector<core::SockAddr> listen;
  bool runtime = false;  // added by `tenant add` (else from the configuration)
  std::string state;     // "serving", "waiting: ..."
  core::ServerStats server;
  uint64_t send_errors = 0;
  uint64_t clients = 0;
  uint64_t client_capacity = 0;
  uint64_t rebinds = 0;  // sockets opened again after a namespace change
};

struct TenantPoolOptions {
  int8_t precision = -20;
  bool spread_tx = true;
};

class TenantSet {
 public:
  TenantSet(TenantSockets& sockets, const core::Clock& clock, const ReferencePublisher& reference,
            TenantPoolOptions opt);
  ~TenantSet();

  // Adds a tenant and opens its sockets. A name in use is an error. `strict`: a failure
  // to open is an error and nothing is added (`tenant add`); otherwise the tenant is kept,
  // waiting for its namespace (start-up, reload), and the failure is logged.
  Result<void, std::string> add(const core::TenantSpec& spec, bool runtime, bool strict);
  // Stops serving and forgets the tenant; false if there is none of that name.
  bool remove(const std::string& name);
  // A new allow list / rate limit / client capacity for a tenant that keeps its sockets.
  bool set_policy(const std::string& name, const core::TenantSpec& spec);
  const core::TenantSpec* find(const std::string& name) const;
  bool is_runtime(const std::string& name) const;
  std::vector<std::string> names() const;
  size_t size() const { return m_tenants.size(); }

  // Starts the server threads (after any fork and sandbox); later additions start at once.
  void start();
  void stop();
  // Namespaces gone, replaced or back (see above).
  void check();

  std::vector<TenantRow> rows() const;
  // f(tenant name, its pool) for every tenant that has its sockets now.
  void for_each_pool(const std::function<void(const std::string&, ServerPool&)>& f);

  static core::ServerPolicy policy_of(const core::TenantSpec& s);

 private:
  struct Tenant;
  // Opens the sockets and builds the pool; on failure the tenant has no pool.
  Result<void, std::string> bind(Tenant& t);
  void unbind(Tenant& t);

  TenantSockets& m_sockets;
  const core::Clock& m_clock;
  const ReferencePublisher& m_reference;
  TenantPoolOptions m_opt;
  std::vector<std::unique_ptr<Tenant>> m_tenants;
  bool m_running = false;
};

}  // namespace tr7::daemon
