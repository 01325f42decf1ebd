// Tenants at run time (see tenants.h).
#include "daemon/tenants.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "daemon/helper_client.h"
#include "daemon/log.h"
#include "sys/netns.h"
#include "sys/udp.h"

namespace tr7::daemon {

namespace {

// Receive buffer of a tenant's socket: a few hundred queued requests.
constexpr int k_tenant_rcvbuf = 1 << 18;

}  // namespace

LocalTenantSockets::LocalTenantSockets() : m_self(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
  if (!m_self.valid()) {
    throw std::system_error(errno, std::generic_category(), "open /proc/self/ns/net");
  }
}

Result<sys::Fd, std::string> LocalTenantSockets::open_udp(const std::string& netns, const core::SockAddr& addr) {
  try {
    return sys::open_udp_in_netns(netns, addr, m_self.get());
  } catch (const sys::NetnsStuck&) {
    throw;  // this process is no longer where it thinks it is: it must stop
  } catch (const std::exception& e) {
    return unexpected(std::string(e.what()));
  }
}

Result<uint64_t, std::string> LocalTenantSockets::netns_id(const std::string& netns) {
  try {
    return sys::netns_inode(netns);
  } catch (const std::system_error& e) {
    if (e.code().value() == ENOENT) {
      return uint64_t{0};
    }
    return unexpected(std::string(e.what()));
  }
}

Result<sys::Fd, std::string> HelperTenantSockets::open_udp(const std::string& netns, const core::SockAddr& addr) {
  return m_client.open_udp(netns, addr);
}

Result<uint64_t, std::string> HelperTenantSockets::netns_id(const std::string& netns) {
  return m_client.netns_id(netns);
}

struct TenantSet::Tenant {
  core::TenantSpec spec;
  bool runtime = false;
  std::unique_ptr<ServerPool> pool;  // nullptr while waiting
  uint64_t netns_ino = 0;            // of the namespace the pool's sockets live in
  std::string state = "waiting";
  ServerPoolStats carried;  // counters of pools closed earlier (rebinds)
  uint64_t rebinds = 0;
  bool ever_bound = false;
  std::string check_error;  // the last failure to check the namespace (logged once)
};

TenantSet::TenantSet(TenantSockets& sockets, const core::Clock& clock, const ReferencePublisher& reference,
                     TenantPoolOptions opt)
    : m_sockets(sockets), m_clock(clock), m_reference(reference), m_opt(opt) {}

TenantSet::~TenantSet() { stop(); }

core::ServerPolicy TenantSet::policy_of(const core::TenantSpec& s) {
  core::ServerPolicy p;
  p.access = s.access;
  p.ratelimit = s.ratelimit;
  p.deny_kod = s.deny_kod;
  p.max_clients = s.max_clients;
  return p;
}

Result<void, std::string> TenantSet::bind(Tenant& t) {
  auto id = m_sockets.netns_id(t.spec.netns);
  if (!id) {
    return unexpected(id.error());
  }
  if (*id == 0) {
    return unexpected("network namespace " + t.spec.netns + " does not exist (/run/netns/" + t.spec.netns + ")");
  }
  std::vector<std::vector<sys::Fd>> fds;
  for (const auto& a : t.spec.listen) {
    auto fd = m_sockets.open_udp(t.spec.netns, a);
    if (!fd) {
      return unexpected("cannot listen on " + a.to_string() + " in netns " + t.spec.netns + ": " + fd.error());
    }
    sys::UdpOptions opt;
    opt.pktinfo = a.ip.bytes == std::array<uint8_t, 16>{};  // only a wildcard socket needs it
    opt.rcvbuf = k_tenant_rcvbuf;
    try {
      sys::configure_udp(fd->get(), a.ip.is_v4() ? AF_INET : AF_INET6, opt);
    } catch (const std::exception& e) {
      return unexpected("cannot configure the socket on " + a.to_string() + ": " + e.what());
    }
    fds.emplace_back();
    fds.back().push_back(std::move(*fd));
  }
  ServerPoolConfig pc;
  pc.listen = t.spec.listen;
  pc.threads = 1;
  pc.policy = policy_of(t.spec);
  pc.precision = m_opt.precision;
  pc.spread_tx = m_opt.spread_tx;
  auto pool = std::make_unique<ServerPool>(std::move(pc), std::move(fds), core::SteerKey{}, m_clock, m_reference);
  if (m_running) {
    pool->start();
  }
  t.pool = std::move(pool);
  t.netns_ino = *id;
  t.state = "serving";
  if (t.ever_bound) {
    ++t.rebinds;
  }
  t.ever_bound = true;
  return {};
}

void TenantSet::unbind(Tenant& t) {
  if (!t.pool) {
    return;
  }
  t.pool->stop();
  ServerPoolStats s = t.pool->stats();
  t.carried.server.add(s.server);
  t.carried.listener.send_errors += s.listener.send_errors;
  t.pool.reset();
  t.netns_ino = 0;
}

Result<void, std::string> TenantSet::add(const core::TenantSpec& spec, bool runtime, bool strict) {
  if (find(spec.name) != nullptr) {
    return unexpected("tenant " + spec.name + " exists");
  }
  for (const auto& o : m_tenants) {
    if (o->spec.netns != spec.netns) {
      continue;
    }
    for (const auto& a : spec.listen) {
      if (std::find(o->spec.listen.begin(), o->spec.listen.end(), a) != o->spec.listen.end()) {
        return unexpected("tenant " + o->spec.name + " already listens on " + a.to_string() + " in netns " +
                          spec.netns);
      }
    }
  }
  auto t = std::make_unique<Tenant>();
  t->spec = spec;
  t->runtime = runtime;
  auto b = bind(*t);
  if (!b) {
    if (strict) {
      return unexpected(b.error());
    }
    log_warn("tenant %s: %s: waiting for it (checked every few seconds)", spec.name.c_str(), b.error().c_str());
    t->state = "waiting: " + b.error();
  } else {
    log_info("tenant %s: serving on %s in netns %s", spec.name.c_str(), core::listen_text(spec.listen).c_str(),
             spec.netns.c_str());
  }
  m_tenants.push_back(std::move(t));
  return {};
}

bool TenantSet::remove(const std::string& name) {
  for (auto it = m_tenants.begin(); it != m_tenants.end(); ++it) {
    if ((*it)->spec.name == name) {
      unbind(**it);
      m_tenants.erase(it);
      log_info("tenant %s: removed", name.c_str());
      return true;
    }
  }
  return false;
}

bool TenantSet::set_policy(const std::string& name, const core::TenantSpec& spec) {
  for (auto& t : m_tenants) {
    if (t->spec.name == name) {
      t->spec.access = spec.access;
      t->spec.ratelimit = spec.ratelimit;
      t->spec.deny_kod = spec.deny_kod;
      t->spec.max_clients = spec.max_clients;
      if (t->pool && !t->pool->set_policy(policy_of(t->spec))) {
        log_warn("tenant %s: the server thread did not take the new policy in time", name.c_str());
      }
      return true;
    }
  }
  return false;
}

const core::TenantSpec* TenantSet::find(const std::string& name) const {
  for (const auto& t : m_tenants) {
    if (t->spec.name == name) {
      return &t->spec;
    }
  }
  return nullptr;
}

bool TenantSet::is_runtime(const std::string& name) const {
  for (const auto& t : m_tenants) {
    if (t->spec.name == name) {
      return t->runtime;
    }
  }
  return false;
}

std::vector<std::string> TenantSet::names() const {
  std::vector<std::string> n;
  for (const auto& t : m_tenants) {
    n.push_back(t->spec.name);
  }
  return n;
}

void TenantSet::start() {
  m_running = true;
  for (auto& t : m_tenants) {
    if (t->pool) {
      t->pool->start();
    }
  }
}

void TenantSet::stop() {
  m_running = false;
  for (auto& t : m_tenants) {
    if (t->pool) {
      t->pool->request_stop();
    }
  }
  for (auto& t : m_tenants) {
    if (t->pool) {
      t->pool->stop();
    }
  }
}

void TenantSet::check() {
  for (auto& tp : m_tenants) {
    Tenant& t = *tp;
    auto id = m_sockets.netns_id(t.spec.netns);
    if (!id) {
      if (t.check_error != id.error()) {
        log_warn("tenant %s: cannot check its namespace: %s", t.spec.name.c_str(), id.error().c_str());
        t.check_error = id.error();
      }
      continue;  // cannot tell: leave it as it is
    }
    t.check_error.clear();
    if (t.pool && *id == t.netns_ino) {
      continue;  // the namespace its sockets live in is still the one under that name
    }
    if (t.pool) {
      log_warn("tenant %s: network namespace %s %s: closing its sockets", t.spec.name.c_str(), t.spec.netns.c_str(),
               *id == 0 ? "is gone" : "was replaced");
      unbind(t);
      t.state = "waiting: network namespace " + t.spec.netns + (*id == 0 ? " is gone" : " was replaced");
    }
    if (*id == 0) {
      continue;
    }
    auto b = bind(t);
    if (b) {
      log_info("tenant %s: serving again on %s in netns %s", t.spec.name.c_str(),
               core::listen_text(t.spec.listen).c_str(), t.spec.netns.c_str());
    } else if (t.state != "waiting: " + b.error()) {
      log_warn("tenant %s: %s", t.spec.name.c_str(), b.error().c_str());
      t.state = "waiting: " + b.error();
    }
  }
}

void TenantSet::for_each_pool(const std::function<void(const std::string&, ServerPool&)>& f) {
  for (auto& t : m_tenants) {
    if (t->pool) {
      f(t->spec.name, *t->pool);
    }
  }
}

std::vector<TenantRow> TenantSet::rows() const {
  std::vector<TenantRow> out;
  for (const auto& t : m_tenants) {
    TenantRow r;
    r.name = t->spec.name;
    r.netns = t->spec.netns;
    r.listen = t->spec.listen;
    r.runtime = t->runtime;
    r.state = t->state;
    r.server = t->carried.server;
    r.send_errors = t->carried.listener.send_errors;
    r.client_capacity = t->spec.max_clients;
    r.rebinds = t->rebinds;
    if (t->pool) {
      ServerPoolStats s = t->pool->stats();
      r.server.add(s.server);
      r.send_errors += s.listener.send_errors;
      r.clients = s.clients;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace tr7::daemon
