// The NTS-KE server (see nts_ke_server.h).
#include "daemon/nts_ke_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "daemon/log.h"
#include "sys/udp.h"

namespace tr7::daemon {

sys::Fd open_ke_listener(const core::SockAddr& addr) {
  int family = addr.ip.is_v6() ? AF_INET6 : AF_INET;
  sys::Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  auto fail = [&](const char* what) {
    throw std::system_error(errno, std::generic_category(), std::string(what) + " " + addr.to_string());
  };
  if (!fd.valid()) {
    fail("socket");
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  sockaddr_storage ss{};
  unsigned len = addr.to_sockaddr(ss);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    fail("bind");
  }
  if (listen(fd.get(), 128) < 0) {
    fail("listen");
  }
  return fd;
}

NtsKeServer::NtsKeServer(event_base* base, std::vector<sys::Fd> listeners, Credentials creds,
                         std::shared_ptr<const core::CookieKeys> keys, core::SecureRandom& rng, NtsKeServerOptions opt)
    : m_base(base),
      m_listen_fds(std::move(listeners)),
      m_creds(std::move(creds)),
      m_keys(std::move(keys)),
      m_rng(rng),
      m_opt(std::move(opt)) {
  for (const auto& fd : m_listen_fds) {
    int f = fd.get();
    m_listen_ev.push_back(std::make_unique<sys::Callback>(base, f, EV_READ | EV_PERSIST,
                                                          [this, f](evutil_socket_t, short) { on_accept(f); }));
    m_listen_ev.back()->add();
  }
}

NtsKeServer::~NtsKeServer() = default;

std::vector<core::SockAddr> NtsKeServer::addresses() const {
  std::vector<core::SockAddr> a;
  for (const auto& fd : m_listen_fds) {
    a.push_back(sys::local_address(fd.get()));
  }
  return a;
}

void NtsKeServer::on_accept(int lfd) {
  // A few per wake-up: a flood of connections cannot hold the loop.
  for (int i = 0; i < 16; ++i) {
    sys::Fd fd(accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd.valid()) {
      return;  // EAGAIN, or a connection reset before it was accepted
    }
    ++m_stats.accepted;
    if (m_conns.size() >= m_opt.max_connections || !m_creds || !m_keys || m_keys->empty()) {
      ++m_stats.refused;
      continue;  // closed at once
    }
    int one = 1;
    setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    m_conns.push_back(std::make_unique<KeServerConn>(
        m_base, std::move(fd), m_creds, m_opt.timeout_s,
        [this](const core::KeMessage& req, gnutls_session_t s, bool& error) { return respond(req, s, error); },
        [this](KeServerConn* c, int outcome) { conn_done(c, outcome); }));
  }
}

std::vector<uint8_t> NtsKeServer::respond(const core::KeMessage& req, gnutls_session_t s, bool& error) {
  core::KeServerDecision d = core::ke_server_decide(req);
  std::vector<std::vector<uint8_t>> cookies;
  if (!d.error && d.ntpv4 && d.aead) {
    core::NtsKeys keys;
    if (!export_nts_keys(s, *d.aead, keys)) {
      d = core::KeServerDecision{};
      d.error = core::k_ke_err_internal;
    } else {
      uint8_t nonces[core::k_ke_cookies * core::k_cookie_nonce_len];
      m_rng.fill(nonces);
      for (size_t i = 0; i < core::k_ke_cookies; ++i) {
        std::vector<uint8_t> c(core::k_cookie_len);
        std::span<const uint8_t, core::k_cookie_nonce_len> nonce(nonces + i * core::k_cookie_nonce_len,
                                                                 core::k_cookie_nonce_len);
        if (!m_keys->make_cookie(keys, nonce, c)) {
          return {};
        }
        cookies.push_back(std::move(c));
      }
    }
  }
  error = d.error.has_value() || !d.ntpv4 || !d.aead;
  return core::ke_build_response(d, m_opt.offer, cookies);
}

void NtsKeServer::conn_done(KeServerConn* c, int outcome) {
  switch (outcome) {
    case 0:
      ++m_stats.completed;
      break;
    case 1:
      ++m_stats.errors_sent;
      break;
    default:
      ++m_stats.failed;
      break;
  }
  // Destroyed from the loop, once the connection's own call has returned.
  for (auto it = m_conns.begin(); it != m_conns.end(); ++it) {
    if (it->get() == c) {
      KeServerConn* raw = it->release();
      m_conns.erase(it);
      event_base_once(
          m_base, -1, EV_TIMEOUT, [](evutil_socket_t, short, void* p) { delete static_cast<KeServerConn*>(p); }, raw,
          nullptr);
      return;
    }
  }
}

}  // namespace tr7::daemon
