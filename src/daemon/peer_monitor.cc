// HA peers (see peer_monitor.h).
#include "daemon/peer_monitor.h"

#include <event2/util.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

constexpr size_t k_rx_buf = 1072;
double mono_now() { return static_cast<double>(sys::monotonic_ns()) / 1e9; }

}  // namespace

struct PeerMonitor::ResolveToken {
  PeerMonitor* owner;
  Peer* peer;
  std::shared_ptr<bool> alive;
};

PeerMonitor::PeerMonitor(event_base* base, SystemClock& clock, const std::vector<PeerConfig>& peers, int8_t precision)
    : m_base(base),
      m_clock(clock),
      m_rng(sys::random_u64()),
      m_rx(4, k_rx_buf),
      m_timer(base, -1, 0, [this](evutil_socket_t, short) { on_timer(); }),
      m_alive(std::make_shared<bool>(true)) {
  if (peers.empty()) {
    return;
  }
  double mono = mono_now();
  for (const auto& c : peers) {
    core::SourceOptions o;
    o.minpoll = c.minpoll;
    o.maxpoll = c.maxpoll;
    o.min_interval_s = std::min(2.0, core::log2_to_s(c.minpoll));
    o.precision = precision;
    auto p = std::make_unique<Peer>(c, o, mono);
    if (auto ip = core::parse_ip(c.host)) {
      p->addr = core::SockAddr{*ip, c.port};
    }
    m_peers.push_back(std::move(p));
  }
  bool names = false;
  for (const auto& p : m_peers) {
    names = names || !p->addr;
  }
  if (names) {
    m_dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (m_dns == nullptr) {
      m_dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
      if (m_dns != nullptr) {
        evdns_base_load_hosts(m_dns, nullptr);
      }
    }
  }
  for (auto& p : m_peers) {
    if (!p->addr) {
      resolve(*p);
    }
  }
  on_timer();
}

PeerMonitor::~PeerMonitor() {
  *m_alive = false;
  for (auto& p : m_peers) {
    if (p->pending != nullptr) {
      evdns_getaddrinfo_cancel(p->pending);
      p->pending = nullptr;
    }
  }
  if (m_dns != nullptr) {
    evdns_base_free(m_dns, 0);
  }
}

void PeerMonitor::resolve(Peer& p) {
  if (m_dns == nullptr || p.pending != nullptr) {
    return;
  }
  evutil_addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_protocol = IPPROTO_UDP;
  std::string port = std::to_string(p.cfg.port);
  // As in ClientService: the callback may come before evdns_getaddrinfo returns.
  p.pending = reinterpret_cast<evdns_getaddrinfo_request*>(1);
  auto* token = new ResolveToken{this, &p, m_alive};
  evdns_getaddrinfo_request* req =
      evdns_getaddrinfo(m_dns, p.cfg.host.c_str(), port.c_str(), &hints, &on_resolved, token);
  if (p.pending != nullptr) {
    p.pending = req;
  }
}

void PeerMonitor::on_resolved(int err, evutil_addrinfo* res, void* arg) {
  std::unique_ptr<ResolveToken> t(static_cast<ResolveToken*>(arg));
  if (*t->alive && err != EVUTIL_EAI_CANCEL) {
    Peer& p = *t->peer;
    p.pending = nullptr;
    std::optional<core::SockAddr> found;
    for (evutil_addrinfo* ai = res; ai != nullptr && !found; ai = ai->ai_next) {
      found = core::SockAddr::from_sockaddr(ai->ai_addr, static_cast<unsigned>(ai->ai_addrlen));
    }
    if (err != 0 || !found) {
      log_warn("peer %s: cannot resolve: %s", p.cfg.host.c_str(), evutil_gai_strerror(err));
    } else if (!p.addr || !(*p.addr == *found)) {
      log_info("peer %s is %s", p.cfg.host.c_str(), found->to_string().c_str());
      p.addr = found;
      p.samples.clear();
    }
  }
  if (res != nullptr) {
    evutil_freeaddrinfo(res);
  }
}

void PeerMonitor::on_timer() {
  double mono = mono_now();
  for (auto& p : m_peers) {
    if (p->src.due(mono)) {
      if (p->addr) {
        send(*p, mono);
      } else {
        resolve(*p);
        (void)p->src.make_request(mono, m_rng);  // keeps the schedule while resolving
      }
    }
  }
  schedule();
  if (m_on_change) {
    m_on_change();
  }
}

void PeerMonitor::schedule() {
  double mono = mono_now();
  double next = mono + 3600;
  for (const auto& p : m_peers) {
    next = std::min(next, p->src.next_poll_s());
  }
  m_timer.del();
  m_timer.add(std::max(0.0, next - mono));
}

void PeerMonitor::send(Peer& p, double mono) {
  // Back off while it does not answer, back to minpoll once it does.
  p.src.set_poll(p.src.unanswered() >= 2 ? static_cast<int8_t>(std::min<int>(p.src.poll() + 1, p.cfg.maxpoll))
                                         : p.cfg.minpoll);
  if (p.src.unanswered() >= 8 && !core::parse_ip(p.cfg.host)) {
    resolve(p);
  }
  p.ev.reset();
  p.fd.reset();
  int family = p.addr->ip.is_v6() ? AF_INET6 : AF_INET;
  auto req = p.src.make_request(mono, m_rng);
  sys::Fd fd;
  if (m_sockets) {
    auto s = m_sockets(family);
    if (!s) {
      log_debug("peer socket: %s", s.error().c_str());
      return;
    }
    fd = std::move(*s);
  } else {
    fd = sys::udp_socket(family);
  }
  if (!fd.valid()) {
    return;
  }
  try {
    sys::UdpOptions uo;
    uo.pktinfo = false;
    sys::configure_udp(fd.get(), family, uo);
  } catch (const std::exception& e) {
    log_debug("peer socket: %s", e.what());
  }
  sockaddr_storage ss{};
  unsigned len = p.addr->to_sockaddr(ss);
  core::Timestamp t1 = m_clock.now();
  if (sendto(fd.get(), req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) !=
      static_cast<ssize_t>(req.size())) {
    log_debug("peer %s: send: %s", p.addr->to_string().c_str(), std::strerror(errno));
    return;
  }
  p.src.request_sent(t1);
  p.fd = std::move(fd);
  Peer* pp = &p;
  p.ev = std::make_unique<sys::Callback>(m_base, p.fd.get(), EV_READ | EV_PERSIST,
                                         [this, pp](evutil_socket_t, short) { on_readable(*pp); });
  p.ev->add();
}

void PeerMonitor::on_readable(Peer& p) {
  double mono = mono_now();
  for (auto& d : m_rx.receive(p.fd.get())) {
    if (!p.addr || !(d.peer == *p.addr)) {
      continue;
    }
    core::Timestamp t4 = d.kernel_rx.is_zero() ? m_clock.now() : m_clock.cook(d.kernel_rx);
    auto r = p.src.on_response(std::span<const uint8_t>(d.data, d.truncated ? k_rx_buf : d.len), t4, mono);
    if (r.sample) {
      p.last = r.sample;
      p.last_reject.reset();
      p.last_rx_mono = mono;
      p.samples.push_back(Sample{mono, r.sample->offset_s, r.sample->delay_s});
      if (p.samples.size() > k_samples) {
        p.samples.pop_front();
      }
    } else if (r.reject && *r.reject != core::Reject::NotRequested && *r.reject != core::Reject::BadOrigin) {
      p.last_reject = r.reject;
    }
  }
  schedule();
  if (m_on_change) {
    m_on_change();
  }
}

std::vector<PeerRow> PeerMonitor::rows() const {
  std::vector<PeerRow> v;
  double mono = mono_now();
  for (const auto& p : m_peers) {
    PeerRow r;
    r.name = p->cfg.host;
    r.port = p->cfg.port;
    r.address = p->addr ? p->addr->ip.to_string() : "";
    r.reach = p->src.reach();
    r.poll = p->src.poll();
    r.samples = p->samples.size();
    if (p->last) {
      r.stratum = p->last->stratum;
      r.refid = p->last->refid;
    }
    if (p->last_rx_mono >= 0) {
      r.last_rx_ago_s = mono - p->last_rx_mono;
    }
    // The estimate: the sample of the last polls with the shortest round trip.
    double window = core::log2_to_s(p->src.poll()) * 8 + 1;
    const Sample* best = nullptr;
    for (const auto& s : p->samples) {
      if (mono - s.mono_s <= window && (best == nullptr || s.delay_s < best->delay_s)) {
        best = &s;
      }
    }
    if (best != nullptr && r.reach != 0) {
      r.measured = true;
      r.offset_s = best->offset_s;
      r.delay_s = best->delay_s;
    }
    if (p->last_reject) {
      r.reject = core::to_string(*p->last_reject);
    }
    if (!p->addr) {
      r.state = "resolving";
    } else if (r.measured) {
      r.state = "ok";
    } else if (p->last_reject == core::Reject::Unsynchronised || p->last_reject == core::Reject::BadStratum) {
      r.state = "unsynchronised";
    } else if (p->last_reject) {
      r.state = "refused";
    } else {
      r.state = "unreachable";
    }
    v.push_back(std::move(r));
  }
  return v;
}

}  // namespace tr7::daemon
