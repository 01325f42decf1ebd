// The NTP client's I/O (see client_service.h).
#include "daemon/client_service.h"

#include <event2/util.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "autoconfig.h"
#include "core/leap.h"
#include "core/refid.h"
#include "daemon/drift_file.h"
#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

constexpr size_t k_rx_buf = 1072;  // > core::k_max_packet_len: longer replies are dropped
constexpr double k_resolve_max_backoff_s = 3600;
constexpr double k_ban_s = 3600;  // a dead pool address stays out this long

const char* refid_text(uint32_t refid, char (&buf)[16]) {
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", refid >> 24, (refid >> 16) & 255, (refid >> 8) & 255, refid & 255);
  return buf;
}

}  // namespace

double ClientService::mono_now() { return static_cast<double>(sys::monotonic_ns()) / 1e9; }

struct ClientService::ResolveToken {
  ClientService* owner;
  uint64_t serial;
  std::shared_ptr<bool> alive;
};

ClientService::ClientService(event_base* base, SystemClock& clock, const Config& cfg, int8_t precision,
                             const StateDir& state, ClientAuth auth)
    : m_base(base),
      m_clock(clock),
      m_cfg(cfg),
      m_precision(precision),
      m_state(state),
      m_alive(std::make_shared<bool>(true)),
      m_rx(4, k_rx_buf),
      m_timer(base, -1, 0, [this](evutil_socket_t, short) { on_timer(); }),
      m_drift_timer(base, -1, EV_PERSIST, [this](evutil_socket_t, short) { save_drift(); }),
      m_keys(std::move(auth.keys)),
      m_nts_ke(std::move(auth.nts_ke)),
      m_random(auth.random) {
  m_drift_name = cfg.discipline.drift_name();
  // The resolver now, while /etc/resolv.conf and /etc/hosts can be read (before any
  // chroot): names may come later with `source add`. DISABLE_WHEN_INACTIVE: it does not
  // keep the loop busy while idle.
  m_dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  if (m_dns == nullptr) {
    // No resolv.conf: still usable for names in /etc/hosts and for addresses.
    m_dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (m_dns != nullptr) {
      evdns_base_load_hosts(m_dns, nullptr);
    }
    bool names = false;
    for (const auto& sc : cfg.sources.sources) {
      names = names || !core::parse_ip(sc.host);
    }
    if (names) {
      log_warn("DNS: no name servers configured; only /etc/hosts names resolve");
    } else {
      log_debug("DNS: no name servers configured; only /etc/hosts names resolve");
    }
  }
  if (cfg.sources.sources.empty()) {
    return;  // nothing until a source is added
  }
  start_client();
  for (const auto& sc : cfg.sources.sources) {
    new_endpoint(sc);
  }
  // Fast start: every source's first request goes out at once.
  for (auto& ep : m_endpoints) {
    start_endpoint(*ep);
  }
  housekeeping(mono_now());
  on_timer();
}

void ClientService::start_client() {
  if (m_client) {
    return;
  }
  core::ClientOptions o;
  o.min_sources = m_cfg.sources.min_sources;
  o.discipline.makestep_threshold_s = m_cfg.discipline.makestep_threshold_s;
  o.discipline.makestep_limit = m_cfg.discipline.makestep_limit;
  o.discipline.max_slew_ppm = m_cfg.discipline.max_slew_ppm;
  o.discipline.offset_tolerance_s = m_cfg.discipline.offset_tolerance_s;
  o.holdover_max_distance_s = m_cfg.discipline.max_distance_s;
  o.precision = m_precision;
  if (!m_drift_name.empty()) {
    std::string warning;
    o.drift_ppm = read_drift_file(m_state, m_drift_name, warning);
    if (!warning.empty()) {
      log_warn("drift file %s/%s", m_state.path().c_str(), warning.c_str());
    } else if (o.drift_ppm) {
      log_info("drift file %s/%s: %.3f ppm", m_state.path().c_str(), m_drift_name.c_str(), *o.drift_ppm);
    }
  }
  m_client = std::make_unique<core::NtpClient>(o, m_clock.control(), m_clock.now(), mono_now(), sys::random_u64());
  double drift_interval = m_cfg.discipline.drift_interval_s;
#ifdef TR7_TEST_HOOKS
  // Test builds: TR7_TEST_DRIFT_INTERVAL=S writes the drift file every S seconds, also
  // before the first synchronisation (the fault-injection suite kills the daemon while
  // the file is being written).
  if (const char* e = std::getenv("TR7_TEST_DRIFT_INTERVAL")) {
    drift_interval = std::atof(e);
    m_drift_always = true;
  }
#endif
  m_drift_timer.add(drift_interval);
}

ClientService::Endpoint& ClientService::new_endpoint(const SourceConfig& sc) {
  auto ep = std::make_unique<Endpoint>();
  ep->cfg = sc;
  ep->serial = m_next_serial++;
  m_endpoints.push_back(std::move(ep));
  return *m_endpoints.back();
}

void ClientService::start_endpoint(Endpoint& ep) {
  if (ep.cfg.nts) {
    start_nts(ep);
    return;
  }
  if (auto ip = core::parse_ip(ep.cfg.host)) {
    add_member(ep, core::SockAddr{*ip, ep.cfg.port});
  } else {
    start_resolve(ep);
  }
}

ClientService::Endpoint* ClientService::endpoint_by_serial(uint64_t serial) {
  for (auto& ep : m_endpoints) {
    if (ep->serial == serial) {
      return ep.get();
    }
  }
  return nullptr;
}

void ClientService::remove_endpoint(size_t i) {
  Endpoint& ep = *m_endpoints[i];
  if (ep.pending != nullptr) {
    // The callback still comes (with EVUTIL_EAI_CANCEL, maybe later): it finds no
    // endpoint with this serial any more.
    evdns_getaddrinfo_cancel(ep.pending);
    ep.pending = nullptr;
  }
  while (!ep.members.empty()) {
    remove_member(ep, ep.members.size() - 1);
  }
  m_endpoints.erase(m_endpoints.begin() + static_cast<long>(i));
}

ClientService::~ClientService() {
  save_drift();
  save_nts();
  *m_alive = false;
  for (auto& ep : m_endpoints) {
    if (ep->pending != nullptr) {
      evdns_getaddrinfo_cancel(ep->pending);  // calls back with EVUTIL_EAI_CANCEL (maybe later)
      ep->pending = nullptr;
    }
  }
  if (m_dns != nullptr) {
    evdns_base_free(m_dns, 0);
  }
}

core::SourceOptions ClientService::source_options(const SourceConfig& c) const {
  core::SourceOptions so;
  so.minpoll = c.minpoll;
  so.maxpoll = c.maxpoll;
  so.iburst = c.iburst;
  so.min_interval_s = c.min_interval_s();
  so.precision = m_precision;
  return so;
}

uint32_t ClientService::refid_of(const core::SockAddr& a) const { return core::refid_of(a.ip); }

void ClientService::start_resolve(Endpoint& ep) {
  if (m_dns == nullptr || ep.pending != nullptr) {
    return;
  }
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = ep.cfg.nts ? SOCK_STREAM : SOCK_DGRAM;
  hints.ai_protocol = ep.cfg.nts ? IPPROTO_TCP : IPPROTO_UDP;
  std::string port = std::to_string(ep.cfg.nts ? ep.cfg.nts_port : ep.cfg.port);
  ep.next_resolve_mono = mono_now() + ep.resolve_backoff_s;
  ep.resolve_backoff_s = std::min(ep.resolve_backoff_s * 2, k_resolve_max_backoff_s);
  // The callback may run before evdns_getaddrinfo returns (hosts file, literals): it
  // clears `pending` itself, so only keep a request that is still outstanding. It may
  // also run after the endpoint (or this service) is gone: the token names the
  // endpoint by serial and knows whether the service is alive.
  ep.pending = reinterpret_cast<evdns_getaddrinfo_request*>(1);
  auto* token = new ResolveToken{this, ep.serial, m_alive};
  evdns_getaddrinfo_request* req =
      evdns_getaddrinfo(m_dns, ep.cfg.host.c_str(), port.c_str(), &hints, &on_resolved, token);
  if (ep.pending != nullptr) {
    ep.pending = req;
  }
}

void ClientService::on_resolved(int err, evutil_addrinfo* res, void* arg) {
  std::unique_ptr<ResolveToken> token(static_cast<ResolveToken*>(arg));
  Endpoint* ep = *token->alive ? token->owner->endpoint_by_serial(token->serial) : nullptr;
  if (ep != nullptr) {
    ep->pending = nullptr;
  }
  if (err != EVUTIL_EAI_CANCEL && ep != nullptr) {
    try {
      token->owner->resolved(*ep, err, res);
    } catch (const std::exception& e) {
      log_err("DNS callback: %s", e.what());
    }
  }
  if (res != nullptr) {
    evutil_freeaddrinfo(res);
  }
}

void ClientService::resolved(Endpoint& ep, int err, evutil_addrinfo* res) {
  if (ep.nts) {
    ep.nts->resolving = false;
  }
  if (err != 0 || res == nullptr) {
    ++m_stats.dns_failures;
    ep.dns_error = evutil_gai_strerror(err);
    log_warn("cannot resolve %s: %s (retry in %.0f s)", ep.cfg.host.c_str(), evutil_gai_strerror(err),
             ep.next_resolve_mono - mono_now());
    schedule();
    return;
  }
  ep.dns_error.clear();
  double mono = mono_now();
  ep.banned.erase(std::remove_if(ep.banned.begin(), ep.banned.end(), [&](const auto& b) { return b.second < mono; }),
                  ep.banned.end());
  std::vector<core::SockAddr> found;
  for (evutil_addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    auto a = core::SockAddr::from_sockaddr(ai->ai_addr, static_cast<unsigned>(ai->ai_addrlen));
    if (a && !a->ip.is_bad_source() && std::find(found.begin(), found.end(), *a) == found.end()) {
      found.push_back(*a);
    }
  }
  if (ep.nts) {
    ke_resolved(ep, found);
    return;
  }
  size_t want = ep.cfg.kind == SourceConfig::Kind::Pool ? ep.cfg.maxsources : 1;
  if (ep.cfg.kind == SourceConfig::Kind::Server && !ep.members.empty() && !found.empty() &&
      std::find(found.begin(), found.end(), ep.members[0]->addr) == found.end()) {
    log_info("%s now resolves to %s: replacing %s", ep.cfg.host.c_str(), found[0].to_string().c_str(),
             ep.members[0]->addr.to_string().c_str());
    remove_member(ep, 0);
  }
  for (const auto& a : found) {
    if (ep.members.size() >= want) {
      break;
    }
    bool used = false;
    for (const auto& m : ep.members) {
      used = used || m->addr == a;
    }
    for (const auto& b : ep.banned) {
      used = used || b.first == a;
    }
    if (!used) {
      add_member(ep, a);
    }
  }
  if (ep.members.size() >= want) {
    ep.resolve_backoff_s = 2;
  }
  on_timer();
}

void ClientService::add_member(Endpoint& ep, const core::SockAddr& addr) {
  start_client();
  auto m = std::make_unique<Member>();
  m->addr = addr;
  m->netns = ep.cfg.netns;
  m->ep = &ep;
  m->id = m_client->add_source(source_options(ep.cfg), refid_of(addr), mono_now());
  log_info("source %s%s%s added", addr.to_string().c_str(), ep.cfg.host == addr.ip.to_string() ? "" : " from ",
           ep.cfg.host == addr.ip.to_string() ? "" : ep.cfg.host.c_str());
  ep.members.push_back(std::move(m));
}

void ClientService::remove_member(Endpoint& ep, size_t i) {
  m_client->remove_source(ep.members[i]->id);
  ep.members.erase(ep.members.begin() + static_cast<long>(i));
}

void ClientService::reset_after_clock_jump() {
  if (!m_client) {
    return;
  }
  double mono = mono_now();
  size_t n = 0;
  for (auto& ep : m_endpoints) {
    for (auto& m : ep->members) {
      m_client->remove_source(m->id);
      m->id = m_client->add_source(source_options(ep->cfg), refid_of(m->addr), mono);
      ++n;
    }
  }
  if (n > 0) {
    m_client->burst(mono);
  }
  log_events();
  on_timer();
}

void ClientService::housekeeping(double mono) {
  if (!m_client) {
    return;
  }
  for (auto& ep : m_endpoints) {
    if (ep->nts) {
      // NTS: a new NTS-KE when the cookies ran out or a NAK came (and the last attempt
      // is far enough back); the source itself stays.
      if (ep->nts->jar.needs_ke() && !ep->nts->ke && !ep->nts->resolving && mono >= ep->nts->next_ke_mono) {
        begin_ke(*ep, mono);
      }
      continue;
    }
    bool is_name = !core::parse_ip(ep->cfg.host);
    // Dead members: unreachable for k_dead_polls polls, or retired by a KoD.
    for (size_t i = 0; i < ep->members.size();) {
      const core::NtpSource* s = m_client->source(ep->members[i]->id);
      bool dead = s != nullptr && (s->retired() || s->unanswered() >= k_dead_polls);
      if (dead && is_name) {
        log_warn("source %s (%s) %s: replacing it", ep->members[i]->addr.to_string().c_str(), ep->cfg.host.c_str(),
                 s->retired() ? "refused us (KoD)" : "unreachable");
        if (ep->cfg.kind == SourceConfig::Kind::Pool || s->retired()) {
          ep->banned.emplace_back(ep->members[i]->addr, mono + k_ban_s);
        }
        remove_member(*ep, i);
        continue;
      }
      ++i;
    }
    size_t want = ep->cfg.kind == SourceConfig::Kind::Pool ? ep->cfg.maxsources : 1;
    if (is_name && ep->members.size() < want && ep->pending == nullptr && mono >= ep->next_resolve_mono) {
      start_resolve(*ep);
    }
  }
}

void ClientService::send_request(Member& m, double mono) {
  // A fresh socket for every request: a new random source port (RFC 9109), and a late
  // reply to an earlier request cannot arrive any more.
  m.ev.reset();
  m.fd.reset();
  int family = m.addr.ip.is_v6() ? AF_INET6 : AF_INET;
  sys::Fd fd;
  if (auto s = open_client_socket(family, m.netns)) {
    fd = std::move(*s);
  } else {
    log_debug("client socket%s%s: %s", m.netns.empty() ? "" : " in netns ", m.netns.c_str(), s.error().c_str());
  }
  auto req = m_client->make_request(m.id, mono);
  if (!fd.valid()) {
    ++m_stats.send_errors;
    return;
  }
  // Loop test: the refid of the address this source sees us from (it may change with the
  // routes; in another namespace the kernel of this one cannot tell, and it stays unknown).
  // The request's own socket is connected to the source for it (it receives from the
  // source only, as it should).
  bool connected = false;
  if (m.netns.empty()) {
    auto me = sys::source_address_for(fd.get(), m.addr);
    m_client->set_local_refid(m.id, me ? core::refid_of(*me) : 0);
    connected = me.has_value();
  }
  try {
    sys::UdpOptions uo;
    uo.pktinfo = false;
    sys::configure_udp(fd.get(), family, uo);
  } catch (const std::exception& e) {
    log_debug("client socket: %s", e.what());
  }
  sockaddr_storage ss{};
  unsigned len = m.addr.to_sockaddr(ss);
  // Authentication (key or NTS): the request as sent; nothing at all when it cannot be
  // authenticated (no cookie, missing key): never an unauthenticated request instead.
  uint8_t wire[core::k_max_packet_len];
  size_t wire_len = wrap_request(m, req, wire);
  if (wire_len == 0) {
    ++m.not_sent;
    return;
  }
  // T1 as late as possible, just before the send.
  core::Timestamp t1 = m_clock.now();
  // A connected socket sends without an address (some stacks, clknetsim's among them,
  // refuse one: EISCONN).
  ssize_t sent = connected ? send(fd.get(), wire, wire_len, 0)
                           : sendto(fd.get(), wire, wire_len, 0, reinterpret_cast<sockaddr*>(&ss), len);
  if (sent != static_cast<ssize_t>(wire_len)) {
    ++m_stats.send_errors;
    log_debug("send to %s: %s", m.addr.to_string().c_str(), std::strerror(errno));
    return;
  }
  m_client->request_sent(m.id, t1);
  m.fd = std::move(fd);
  Member* mp = &m;
  m.ev = std::make_unique<sys::Callback>(m_base, m.fd.get(), EV_READ | EV_PERSIST,
                                         [this, mp](evutil_socket_t, short) { on_readable(*mp); });
  m.ev->add();
}

Result<sys::Fd, std::string> ClientService::open_client_socket(int family, const std::string& netns) {
  core::SockAddr wildcard;
  wildcard.ip.family = family == AF_INET6 ? core::IpAddr::Family::V6 : core::IpAddr::Family::V4;
  const NetnsSocketFn& from = netns.empty() ? m_default_sockets : m_netns_sockets;
  if (from) {
    return from(netns, wildcard);  // bound already (wildcard, a fresh ephemeral port)
  }
  if (!netns.empty()) {
    return unexpected(std::string("no way to open sockets in network namespaces"));
  }
  sys::Fd fd;
  try {
    fd = sys::udp_socket(family);
  } catch (const std::exception& e) {
    return unexpected(std::string(e.what()));
  }
  if (!fd.valid()) {
    return unexpected(std::string("socket: ") + std::strerror(errno));
  }
  // Bind now (a random ephemeral port) so the send does not pay for it after T1.
  sockaddr_storage any{};
  unsigned any_len = wildcard.to_sockaddr(any);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&any), any_len) < 0) {
    log_debug("bind: %s", std::strerror(errno));
  }
  return fd;
}

void ClientService::on_readable(Member& m) {
  auto batch = m_rx.receive(m.fd.get());
  double mono = mono_now();
  for (auto& d : batch) {
    if (!(d.peer == m.addr)) {
      ++m_stats.wrong_peer;  // not from the server this socket asked
      continue;
    }
    core::Timestamp t4;
    if (!d.kernel_rx.is_zero()) {
      t4 = m_clock.cook(d.kernel_rx);
    } else {
      ++m_stats.no_kernel_timestamp;
      t4 = m_clock.now();
    }
    size_t len = d.truncated ? k_rx_buf : d.len;
    if (!check_reply(m, std::span<const uint8_t>(d.data, len))) {
      continue;  // not authenticated as this source must be: as if never received
    }
    auto r = m_client->on_response(m.id, std::span<const uint8_t>(d.data, len), t4, mono);
    if (r.reject == core::Reject::SyncLoop && !m.loop_reported) {
      log_warn("source %s is synchronised to us (its refid names our address): not used while it is (timing loop)",
               m.addr.to_string().c_str());
      m.loop_reported = true;
    } else if (r.sample) {
      m.loop_reported = false;
    }
    if (r.reject) {
      log_debug("reply from %s refused: %s", m.addr.to_string().c_str(), core::to_string(*r.reject));
    }
  }
  log_events();
  schedule();
}

void ClientService::on_timer() {
  if (!m_client) {
    return;
  }
  double mono = mono_now();
  m_client->tick(mono, m_clock.now());
  housekeeping(mono);
  auto due = m_client->due(mono);
  for (auto& ep : m_endpoints) {
    for (auto& m : ep->members) {
      if (std::find(due.begin(), due.end(), m->id) != due.end()) {
        send_request(*m, mono);
      }
    }
  }
  log_events();
  schedule();
}

void ClientService::schedule() {
  if (m_on_change) {
    m_on_change();
  }
  if (!m_client) {
    return;
  }
  double mono = mono_now();
  double next = m_client->next_event(mono, m_clock.now());
  for (const auto& ep : m_endpoints) {
    if (ep->nts) {
      if (ep->nts->jar.needs_ke() && !ep->nts->ke && !ep->nts->resolving) {
        next = std::min(next, ep->nts->next_ke_mono);
      }
      continue;
    }
    size_t want = ep->cfg.kind == SourceConfig::Kind::Pool ? ep->cfg.maxsources : 1;
    if (m_dns != nullptr && !core::parse_ip(ep->cfg.host) && ep->members.size() < want && ep->pending == nullptr) {
      next = std::min(next, ep->next_resolve_mono);
    }
  }
  m_timer.del();
  m_timer.add(std::max(0.0, next - mono));
}

void ClientService::log_events() {
  if (!m_client) {
    return;
  }
  for (const auto& e : m_client->take_events()) {
    using K = core::NtpClient::Event;
    switch (e.kind) {
      case K::Synchronised:
        log_info("synchronised (offset %+.6f s)", e.value);
        break;
      case K::Stepped: {
        std::string reason;
        if (e.approved) {
          reason = e.id != 0 ? "approved correction " + std::to_string(e.id) : "approved correction";
        } else {
          char buf[160];
          std::snprintf(buf, sizeof buf, "makestep policy: offset over %g s within the first %d update(s)",
                        m_cfg.discipline.makestep_threshold_s, m_cfg.discipline.makestep_limit);
          reason = buf;
        }
        log_warn("clock stepped by %+.6f s (%s)", e.value, reason.c_str());
        if (m_audit.step) {
          m_audit.step(e.value, reason);
        }
        break;
      }
      case K::CommonJump:
        log_warn(
            "every selected source jumped by %+.6f s at once: our clock was stepped from outside or "
            "they moved together; following them by slewing",
            e.value);
        break;
      case K::ManualStep:
        log_warn("clock stepped by %+.6f s (makestep command)", e.value);
        if (m_audit.step) {
          m_audit.step(e.value, "makestep command");
        }
        break;
      case K::Held:
        log_warn(
            "offset tolerance: a correction of %+.6f s is held (id %lld, over offset_tolerance %.3f s); "
            "serving on with the growing dispersion until the sources agree again or an admin approves",
            e.value, static_cast<long long>(e.id), m_cfg.discipline.offset_tolerance_s);
        if (m_audit.held) {
          m_audit.held(e.id, e.value, m_cfg.discipline.offset_tolerance_s);
        }
        break;
      case K::Released:
        log_info("offset tolerance: sources back within tolerance, correcting again (held correction %lld released)",
                 static_cast<long long>(e.id));
        if (m_audit.released) {
          m_audit.released(e.id, e.value, "sources back within offset_tolerance");
        }
        break;
      case K::Approved:
        log_info("offset tolerance: held correction %lld (%+.6f s) approved and applied", static_cast<long long>(e.id),
                 e.value);
        if (m_audit.released) {
          m_audit.released(e.id, e.value, "approved by an admin");
        }
        break;
      case K::NoMajority:
        log_warn("no majority of agreeing sources (%.0f candidates, min_sources %zu): not following any", e.value,
                 m_cfg.sources.min_sources);
        break;
      case K::Lost:
        log_warn("holdover bound passed: serving as unsynchronised");
        break;
      case K::LeapArmed:
        log_info("leap second %s armed for the end of the day", e.value > 0 ? "insertion" : "deletion");
        break;
      case K::LeapApplied:
        log_info("leap second applied (%+.0f s)", e.value);
        break;
      case K::Retired:
        for (const auto& ep : m_endpoints) {
          for (const auto& m : ep->members) {
            if (m->id == e.source) {
              log_warn("source %s refused us with a KoD (DENY/RSTR): no more requests", m->addr.to_string().c_str());
            }
          }
        }
        break;
    }
  }
}

void ClientService::save_drift() {
  if (m_drift_name.empty() || !m_client || (!m_drift_always && !m_client->tracking(m_clock.now()).ever_synchronised)) {
    return;
  }
  auto r = write_drift_file(m_state, m_drift_name, m_client->frequency_ppm());
  if (!r && !m_drift_warned) {
    log_warn("drift file: %s", r.error().c_str());
    m_drift_warned = true;
  } else if (r) {
    m_drift_warned = false;
  }
}

void ClientService::apply(const Config& cfg) {
  m_cfg.discipline = cfg.discipline;
  m_cfg.sources.min_sources = cfg.sources.min_sources;
  if (!m_client) {
    return;  // the client starts with these settings
  }
  core::DisciplineOptions d = m_client->discipline().options();
  d.makestep_threshold_s = cfg.discipline.makestep_threshold_s;
  d.makestep_limit = cfg.discipline.makestep_limit;
  d.max_slew_ppm = cfg.discipline.max_slew_ppm;
  d.offset_tolerance_s = cfg.discipline.offset_tolerance_s;
  m_client->set_discipline_options(d);
  m_client->set_min_sources(cfg.sources.min_sources);
}

core::ReferenceState ClientService::reference(core::Timestamp now) const {
  return m_client ? m_client->reference(now) : core::unsynchronised_reference();
}

core::TrackingSnapshot ClientService::tracking() const {
  if (!m_client) {
    core::TrackingSnapshot t;
    t.reference = core::unsynchronised_reference();
    return t;
  }
  return m_client->tracking(m_clock.now());
}

std::vector<SourceView> ClientService::sources() const {
  std::vector<SourceView> v;
  std::vector<core::SourceSnapshot> snaps;
  if (m_client) {
    snaps = m_client->sources(m_clock.now());
  }
  for (const auto& ep : m_endpoints) {
    bool pool = ep->cfg.kind == SourceConfig::Kind::Pool;
    for (const auto& m : ep->members) {
      for (const auto& s : snaps) {
        if (s.id == m->id) {
          SourceView sv;
          sv.name = ep->cfg.host;
          sv.address = m->addr;
          sv.pool = pool;
          sv.state = s;
          sv.auth = auth_view(*ep, m.get());
          v.push_back(std::move(sv));
        }
      }
    }
    if (ep->members.empty()) {
      SourceView sv;
      sv.name = ep->cfg.host;
      sv.address.port = ep->cfg.port;
      sv.pool = pool;
      sv.resolving = true;
      sv.dns_error = ep->dns_error;
      sv.auth = auth_view(*ep, nullptr);
      v.push_back(std::move(sv));
    }
  }
  return v;
}

size_t ClientService::member_count() const {
  size_t n = 0;
  for (const auto& ep : m_endpoints) {
    n += ep->members.size();
  }
  return n;
}

CommandResult ClientService::add_source(const SourceConfig& sc) {
  for (const auto& ep : m_endpoints) {
    if (ep->cfg.host == sc.host && ep->cfg.port == sc.port) {
      return unexpected(
          ctl::Error{ctl::ErrCode::Exists,
                     sc.host + (sc.port == 123 ? "" : " port " + std::to_string(sc.port)) + " is a source already"});
    }
  }
  start_client();
  Endpoint& ep = new_endpoint(sc);
  start_endpoint(ep);
  on_timer();  // its first request now
  std::string what = sc.kind == SourceConfig::Kind::Pool ? "pool " : "source ";
  if (ep.members.empty()) {
    return what + sc.host + " added (resolving)";
  }
  return what + sc.host + " added (" + ep.members[0]->addr.to_string() + ")";
}

CommandResult ClientService::delete_source(const std::string& host, std::optional<uint16_t> port) {
  auto ip = core::parse_ip(host);
  auto port_text = [](uint16_t p) { return p == 123 ? std::string() : " port " + std::to_string(p); };
  // The same host: the same text as configured, or the same address ("::1" and "0::1").
  auto same_host = [&](const std::string& h) {
    if (h == host) {
      return true;
    }
    auto hip = core::parse_ip(h);
    return ip && hip && *hip == *ip;
  };
  auto ambiguous = [&](const std::vector<uint16_t>& ports) {
    std::string list;
    for (uint16_t p : ports) {
      list += (list.empty() ? "" : ", ") + std::to_string(p);
    }
    return unexpected(ctl::Error{ctl::ErrCode::InvalidArgument,
                                 "ambiguous: " + host + " names " + std::to_string(ports.size()) + " sources (ports " +
                                     list + "); say 'source delete " + host + " port N' or 'source delete " +
                                     (ip && ip->is_v6() ? "[" + host + "]" : host) + ":N'"});
  };
  // A source by the host it was added or configured as.
  std::vector<size_t> hits;
  for (size_t i = 0; i < m_endpoints.size(); ++i) {
    const SourceConfig& c = m_endpoints[i]->cfg;
    if (same_host(c.host) && (!port || c.port == *port)) {
      hits.push_back(i);
    }
  }
  if (hits.size() > 1) {
    std::vector<uint16_t> ports;
    for (size_t i : hits) {
      ports.push_back(m_endpoints[i]->cfg.port);
    }
    return ambiguous(ports);
  }
  if (hits.size() == 1) {
    size_t i = hits[0];
    std::string name = m_endpoints[i]->cfg.host + port_text(m_endpoints[i]->cfg.port);
    size_t n = m_endpoints[i]->members.size();
    log_info("source %s deleted (%zu address(es))", name.c_str(), n);
    remove_endpoint(i);
    schedule();
    return "deleted " + name + " (" + std::to_string(n) + " address" + (n == 1 ? "" : "es") + ")";
  }
  // A resolved address: a pool member is banned (and replaced), a name's only address
  // takes the name with it.
  if (ip) {
    struct Hit {
      size_t ep, member;
    };
    std::vector<Hit> found;
    for (size_t i = 0; i < m_endpoints.size(); ++i) {
      Endpoint& ep = *m_endpoints[i];
      for (size_t j = 0; j < ep.members.size(); ++j) {
        if (ep.members[j]->addr.ip == *ip && (!port || ep.members[j]->addr.port == *port)) {
          found.push_back({i, j});
        }
      }
    }
    if (found.size() > 1) {
      std::vector<uint16_t> ports;
      for (const auto& h : found) {
        ports.push_back(m_endpoints[h.ep]->members[h.member]->addr.port);
      }
      return ambiguous(ports);
    }
    if (found.size() == 1) {
      size_t i = found[0].ep;
      size_t j = found[0].member;
      Endpoint& ep = *m_endpoints[i];
      std::string what = ep.members[j]->addr.to_string();
      if (ep.cfg.kind == SourceConfig::Kind::Pool) {
        log_info("pool %s: member %s deleted (kept out for %.0f s)", ep.cfg.host.c_str(), what.c_str(), k_ban_s);
        ep.banned.emplace_back(ep.members[j]->addr, mono_now() + k_ban_s);
        remove_member(ep, j);
        housekeeping(mono_now());
        schedule();
        return "deleted " + what + " from pool " + ep.cfg.host + " (a replacement is resolved)";
      }
      std::string name = ep.cfg.host + port_text(ep.cfg.port);
      log_info("source %s (%s) deleted", name.c_str(), what.c_str());
      remove_endpoint(i);
      schedule();
      return "deleted " + name + " (" + what + ")";
    }
  }
  return unexpected(
      ctl::Error{ctl::ErrCode::NotFound, "no source " + host + (port ? " on port " + std::to_string(*port) : "")});
}

CommandResult ClientService::burst() {
  size_t n = 0;
  if (m_client) {
    for (auto id : m_client->source_ids()) {
      const core::NtpSource* s = m_client->source(id);
      n += s != nullptr && !s->retired();
    }
  }
  if (n == 0) {
    return unexpected(ctl::Error{ctl::ErrCode::NotFound, "no NTP source to send a burst to"});
  }
  m_client->burst(mono_now());
  on_timer();
  return "burst of " + std::to_string(core::k_burst_count) + " requests started on " + std::to_string(n) + " source" +
         (n == 1 ? "" : "s");
}

CommandResult ClientService::make_step() {
  if (!m_client || member_count() == 0) {
    return unexpected(ctl::Error{ctl::ErrCode::Failed, "no NTP source: no measured offset to step by"});
  }
  double mono = mono_now();
  core::Timestamp now = m_clock.now();
  auto r = m_client->make_step(mono, now);
  log_events();
  schedule();
  if (!r) {
    core::TrackingSnapshot t = m_client->tracking(now);
    char buf[200];
    switch (r.error()) {
      case core::StepRefusal::NoSelection:
        std::snprintf(buf, sizeof buf, "no selectable sources now (%s): no measured offset to step by",
                      core::to_string(t.current_selection));
        break;
      case core::StepRefusal::Held:
        std::snprintf(buf, sizeof buf, "correction %lld (%+.6f s) is held by offset_tolerance: use 'approve %lld'",
                      static_cast<long long>(t.held_id), t.held_offset_s, static_cast<long long>(t.held_id));
        break;
      case core::StepRefusal::OverTolerance:
        std::snprintf(buf, sizeof buf, "the offset %+.6f s is over offset_tolerance %g s: 'approve' applies it",
                      t.current_offset_s, m_cfg.discipline.offset_tolerance_s);
        break;
      case core::StepRefusal::ClockRefused:
        std::snprintf(buf, sizeof buf, "the clock refused the step (see the daemon's log)");
        break;
    }
    return unexpected(ctl::Error{ctl::ErrCode::Failed, buf});
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "stepped by %+.9f s", *r);
  return std::string(buf);
}

CommandResult ClientService::approve(std::optional<int64_t> id) {
  core::TrackingSnapshot t = tracking();
  if (!t.held) {
    if (id || !m_client) {
      return unexpected(ctl::Error{ctl::ErrCode::NotFound,
                                   id ? "correction " + std::to_string(*id) + " is not held (no correction is held)"
                                      : std::string("no correction is held")});
    }
  } else if (id && *id != t.held_id) {
    return unexpected(ctl::Error{
        ctl::ErrCode::NotFound,
        "correction " + std::to_string(*id) + " is not held (the held one is " + std::to_string(t.held_id) + ")"});
  }
  if (!m_client->approve(mono_now(), m_clock.now())) {
    return unexpected(ctl::Error{ctl::ErrCode::NotFound, "no correction is held"});
  }
  log_events();
  schedule();
  core::TrackingSnapshot after = m_client->tracking(m_clock.now());
  char buf[200];
  std::snprintf(buf, sizeof buf, "correction%s%s (%+.6f s) approved: %s", t.held ? " " : "",
                t.held ? std::to_string(t.held_id).c_str() : "", t.held ? t.held_offset_s : after.held_offset_s,
                after.held || after.held_offset_s != 0 ? "applied at the next clock update" : "applied");
  return std::string(buf);
}

void ClientService::log_state(const core::ReferenceState& served) const {
  core::TrackingSnapshot t = tracking();
  char ref[16];
  // As `tracking`: not synchronised by a source, but serving local_stratum: "local".
  bool local = !t.synchronised && served.synchronised && served.local;
  const core::ReferenceState& shown = local ? served : t.reference;
  log_info(
      "tracking: %s stratum=%d refid=%s offset=%+.9f freq_ppm=%+.4f selection=%s candidates=%zu falsetickers=%zu "
      "held=%s updates=%d steps=%llu root_delay=%.6f root_dispersion=%.6f leap=%d",
      t.synchronised ? "synchronised"
      : local        ? "local"
                     : "unsynchronised",
      shown.stratum, refid_text(shown.refid, ref), t.system_offset_s, t.frequency_ppm, core::to_string(t.selection),
      t.candidates, t.falsetickers, t.held ? "yes" : "no", t.updates, static_cast<unsigned long long>(t.steps),
      shown.root_delay_s, shown.root_dispersion_s, static_cast<int>(shown.leap));
  for (const auto& s : sources()) {
    if (s.resolving) {
      log_info("source %s resolving%s%s", s.name.c_str(), s.dns_error.empty() ? "" : ": ", s.dns_error.c_str());
      continue;
    }
    const auto& st = s.state.stats;
    std::string rej;
    for (size_t i = 0; i < core::k_reject_reasons; ++i) {
      if (st.rejected[i] != 0) {
        rej += std::string(" ") + core::to_string(static_cast<core::Reject>(i)) + "=" + std::to_string(st.rejected[i]);
      }
    }
    log_info(
        "source %s name=%s state=%s reach=%03o poll=%d offset=%+.9f sd=%.9f jitter=%.9f sent=%llu accepted=%llu "
        "timeouts=%llu%s",
        s.address.to_string().c_str(), s.name.c_str(),
        s.state.retired      ? "retired"
        : s.state.best       ? "best"
        : s.state.survivor   ? "selected"
        : s.state.truechimer ? "truechimer"
        : s.state.reach      ? "falseticker_or_unusable"
                             : "unreachable",
        s.state.reach, s.state.poll, s.state.offset_s, s.state.offset_sd_s, s.state.jitter_s,
        static_cast<unsigned long long>(st.sent), static_cast<unsigned long long>(st.accepted),
        static_cast<unsigned long long>(st.timeouts), rej.c_str());
  }
}

// --- authentication ------------------------------------------------------------------

namespace {

constexpr double k_ke_max_backoff_s = 3600;
constexpr double k_ke_untrusted_backoff_s = 64;  // a certificate problem needs an admin

}  // namespace

size_t ClientService::wrap_request(Member& m, std::span<const uint8_t, core::k_header_len> req,
                                   std::span<uint8_t> out) {
  const SourceConfig& c = m.ep->cfg;
  if (c.nts) {
    NtsState& n = *m.ep->nts;
    if (m_random == nullptr || n.jar.needs_ke()) {
      return 0;
    }
    size_t len = n.jar.wrap(req, out, *m_random);
    n.dirty = true;
    if (n.jar.needs_ke()) {
      // That was the last cookie: the next NTS-KE may start now, alongside this request.
      n.next_ke_mono = std::min(n.next_ke_mono, mono_now());
    }
    return len;
  }
  if (c.key_id != 0) {
    const core::SymmetricKey* k = m_keys ? m_keys->find(c.key_id) : nullptr;
    if (k == nullptr) {
      if (std::find(m_missing_keys_warned.begin(), m_missing_keys_warned.end(), c.key_id) ==
          m_missing_keys_warned.end()) {
        m_missing_keys_warned.push_back(c.key_id);
        log_err("source %s: key %u is not in the keyfile: no requests are sent to it", c.host.c_str(), c.key_id);
      }
      return 0;
    }
    std::memcpy(out.data(), req.data(), core::k_header_len);
    return core::append_mac(out, core::k_header_len, *k, 4);
  }
  std::memcpy(out.data(), req.data(), core::k_header_len);
  return core::k_header_len;
}

bool ClientService::check_reply(Member& m, std::span<const uint8_t> reply) {
  const SourceConfig& c = m.ep->cfg;
  if (c.nts) {
    NtsState& n = *m.ep->nts;
    switch (n.jar.check(reply)) {
      case core::NtsReply::Ok:
        ++m.auth_ok;
        n.dirty = true;
        return true;
      case core::NtsReply::Nak:
        // RFC 8915 §5.7: the cookies are no good any more (the server lost its keys, or
        // they expired): a new NTS-KE. The NAK goes on to the core as the KoD it is.
        ++m.naks;
        n.dirty = true;
        n.next_ke_mono = mono_now();
        log_warn("source %s (%s): NTS NAK: the server refused our cookie; new NTS-KE", c.host.c_str(),
                 m.addr.to_string().c_str());
        return true;
      case core::NtsReply::Bad:
        ++m.auth_failed;
        return false;
    }
    return false;
  }
  if (c.key_id != 0) {
    auto d = core::decode(reply);
    if (d && d->auth == core::Auth::CryptoNak) {
      ++m.naks;
      log_debug("source %s: crypto-NAK (the server does not know key %u or our MAC)", c.host.c_str(), c.key_id);
      return false;
    }
    const core::SymmetricKey* k = nullptr;
    bool ok = d && m_keys && d->auth == core::Auth::Mac && d->key_id == c.key_id &&
              core::check_mac(reply, reply.size() - d->mac_len, d->header.version, *m_keys, &k) == core::MacCheck::Ok;
    ++(ok ? m.auth_ok : m.auth_failed);
    return ok;
  }
  return true;
}

std::string ClientService::nts_state_name(const SourceConfig& c) const {
  return "nts-" + c.host + "-" + std::to_string(c.nts_port) + ".state";
}

void ClientService::start_nts(Endpoint& ep) {
  ep.nts = std::make_unique<NtsState>();
  NtsState& n = *ep.nts;
  if (m_state.valid()) {
    int err = 0;
    auto text = m_state.read(nts_state_name(ep.cfg), 16384, err);
    if (text) {
      core::SockAddr addr;
      auto jar = core::NtsCookieJar::decode(*text, addr);
      if (jar && !jar->needs_ke()) {
        n.jar = std::move(*jar);
        n.ntp_addr = addr;
        n.have_ntp_addr = true;
        log_info("source %s: %zu NTS cookies from %s/%s: NTP to %s", ep.cfg.host.c_str(), n.jar.cookies(),
                 m_state.path().c_str(), nts_state_name(ep.cfg).c_str(), addr.to_string().c_str());
        add_member(ep, addr);
        return;
      }
      if (!jar) {
        log_warn("source %s: %s/%s: %s (ignored)", ep.cfg.host.c_str(), m_state.path().c_str(),
                 nts_state_name(ep.cfg).c_str(), jar.error().c_str());
      }
    }
  }
  begin_ke(ep, mono_now());
}

void ClientService::begin_ke(Endpoint& ep, double mono) {
  NtsState& n = *ep.nts;
  if (n.ke || n.resolving) {
    return;
  }
  n.next_ke_mono = mono + n.ke_backoff_s;  // the earliest next attempt if this one fails
  ++n.ke_attempts;
  if (!m_nts_ke) {
    n.ke_error = "no NTS-KE client";
    return;
  }
  if (auto ip = core::parse_ip(ep.cfg.host)) {
    ke_resolved(ep, {core::SockAddr{*ip, ep.cfg.nts_port}});
    return;
  }
  n.resolving = true;
  ep.next_resolve_mono = 0;
  start_resolve(ep);
  if (ep.pending == nullptr && m_dns == nullptr) {
    n.resolving = false;
    n.ke_error = "no resolver";
  }
}

void ClientService::ke_resolved(Endpoint& ep, const std::vector<core::SockAddr>& found) {
  NtsState& n = *ep.nts;
  if (found.empty()) {
    n.ke_error = "cannot resolve " + ep.cfg.host + (ep.dns_error.empty() ? "" : ": " + ep.dns_error);
    schedule();
    return;
  }
  n.ke_addr = found[0];
  uint64_t serial = ep.serial;
  std::weak_ptr<bool> alive = m_alive;
  log_debug("source %s: NTS-KE with %s", ep.cfg.host.c_str(), n.ke_addr.to_string().c_str());
  n.ke = m_nts_ke(ep.cfg.host, n.ke_addr, [this, serial, alive](NtsKeOutcome o) {
    if (auto a = alive.lock(); a && *a) {
      ke_done(serial, std::move(o));
    }
  });
}

void ClientService::ke_done(uint64_t serial, NtsKeOutcome o) {
  Endpoint* ep = endpoint_by_serial(serial);
  if (ep == nullptr || !ep->nts) {
    return;
  }
  NtsState& n = *ep->nts;
  // The session is finished; it is destroyed once this call has returned.
  std::unique_ptr<NtsKeSession> done = std::move(n.ke);
  event_base_once(
      m_base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* p) { delete static_cast<NtsKeSession*>(p); },
      done.release(), nullptr);
  double mono = mono_now();
  if (!o.ok) {
    n.ke_error = o.error;
    if (o.untrusted) {
      n.ke_backoff_s = std::max(n.ke_backoff_s, k_ke_untrusted_backoff_s);
    }
    n.next_ke_mono = mono + n.ke_backoff_s;
    log_warn(
        "source %s: NTS-KE with %s failed: %s%s; no synchronisation with it until an NTS-KE succeeds (retry "
        "in %.0f s)",
        ep->cfg.host.c_str(), n.ke_addr.to_string().c_str(), o.error.c_str(),
        o.untrusted ? " (see [nts] trusted_certs)" : "", n.ke_backoff_s);
    n.ke_backoff_s = std::min(n.ke_backoff_s * 2, k_ke_max_backoff_s);
    schedule();
    return;
  }
  n.jar.reset(o.keys, std::move(o.result.cookies));
  n.ke_error.clear();
  n.ke_attempts = 0;
  ++n.ke_ok;
  n.last_ke_mono = mono;
  n.ke_backoff_s = 8;
  n.dirty = true;
  // Where NTP goes (RFC 8915 §4.1.7-8): the negotiated server and port; a server name
  // other than an address literal is taken to be the NTS-KE server itself.
  core::SockAddr to{n.ke_addr.ip, o.result.port.value_or(123)};
  if (!o.result.server.empty()) {
    if (auto ip = core::parse_ip(o.result.server)) {
      to.ip = *ip;
    } else if (o.result.server != ep->cfg.host) {
      log_info("source %s: NTS-KE names NTP server %s: using the NTS-KE server's address %s", ep->cfg.host.c_str(),
               o.result.server.c_str(), n.ke_addr.ip.to_string().c_str());
    }
  }
  log_info("source %s: NTS-KE with %s: %zu cookies, NTP to %s", ep->cfg.host.c_str(), n.ke_addr.to_string().c_str(),
           n.jar.cookies(), to.to_string().c_str());
  if (!ep->members.empty() && ep->members[0]->addr != to) {
    remove_member(*ep, 0);
  }
  n.ntp_addr = to;
  n.have_ntp_addr = true;
  if (ep->members.empty()) {
    add_member(*ep, to);
  }
  save_nts();
  on_timer();
}

void ClientService::save_nts() {
  if (!m_state.valid()) {
    return;
  }
  for (auto& ep : m_endpoints) {
    if (!ep->nts || !ep->nts->dirty || !ep->nts->have_ntp_addr) {
      continue;
    }
    NtsState& n = *ep->nts;
    std::string name = nts_state_name(ep->cfg);
    if (int err = m_state.write_atomic(name, n.jar.encode(n.ntp_addr), 0600); err != 0) {
      log_warn("NTS state %s/%s: %s", m_state.path().c_str(), name.c_str(), std::strerror(err));
    } else {
      n.dirty = false;
    }
  }
}

SourceAuthView ClientService::auth_view(const Endpoint& ep, const Member* m) const {
  SourceAuthView a;
  if (m != nullptr) {
    a.authenticated = m->auth_ok;
    a.failed = m->auth_failed;
    a.naks = m->naks;
    a.not_sent = m->not_sent;
  }
  if (ep.cfg.nts && ep.nts) {
    const NtsState& n = *ep.nts;
    a.mode = "nts";
    a.key_type = "AES-SIV-CMAC-256";
    a.key_bits = n.jar.has_keys() ? static_cast<int>(core::k_aead_key_len * 8) : 0;
    a.cookies = n.jar.cookies();
    a.cookie_len = n.jar.cookie_len();
    a.last_ke_ago_s = n.last_ke_mono < 0 ? -1 : mono_now() - n.last_ke_mono;
    a.ke_attempts = n.ke_attempts;
    a.ke_ok = n.ke_ok;
    a.ke_error = n.ke_error;
  } else if (ep.cfg.key_id != 0) {
    a.mode = "key";
    a.key_id = ep.cfg.key_id;
    if (const core::SymmetricKey* k = m_keys ? m_keys->find(ep.cfg.key_id) : nullptr) {
      a.key_type = core::to_string(k->type());
      a.key_bits = static_cast<int>(k->bits());
    } else {
      a.key_type = "missing";
    }
  }
  return a;
}

}  // namespace tr7::daemon
