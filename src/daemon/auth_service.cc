// Authenticated time in the worker (see auth_service.h).
#include "daemon/auth_service.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

constexpr const char* k_cookie_key_file = "nts-cookie-keys";
constexpr double k_ke_client_timeout_s = 5.0;

int64_t unix_now() { return sys::realtime_now().ns / 1'000'000'000; }

}  // namespace

struct AuthService::Pending {
  std::shared_ptr<const core::KeySet> keys;
  size_t key_count = 0;
  Credentials server_creds;
  Credentials client_creds;
};

AuthService::AuthService(event_base* base, const Config& cfg, const StateDir& state)
    : m_base(base), m_state(state), m_nts(cfg.nts), m_random(std::make_shared<GnutlsRandom>()) {
  if (!cfg.daemon.keyfile.empty()) {
    auto kf = load_keyfile(cfg.daemon.keyfile);
    if (!kf) {
      throw std::runtime_error("keyfile " + kf.error());
    }
    for (const auto& w : kf->warnings) {
      log_warn("keyfile %s", w.c_str());
    }
    m_keys = kf->keys;
    log_info("keyfile %s: %zu key(s)", cfg.daemon.keyfile.c_str(), kf->keys->size());
  }
  // The NTS clients' trust anchors: the configured CAs, else the system store (read now:
  // the chroot cannot see /etc/ssl). Sources may be added with `nts` at run time too.
  bool nts_sources =
      std::any_of(cfg.sources.sources.begin(), cfg.sources.sources.end(), [](const SourceConfig& s) { return s.nts; });
  if (!cfg.nts.trusted_certs.empty()) {
    auto pem = read_auth_file(cfg.nts.trusted_certs, false);
    auto c = pem ? client_credentials(*pem) : Result<Credentials, std::string>(unexpected(pem.error()));
    if (!c) {
      throw std::runtime_error("[nts] trusted_certs " + cfg.nts.trusted_certs + ": " + c.error());
    }
    m_client_creds = *c;
  } else if (nts_sources) {
    // The system's store (~150 certificates): read only when a configured source needs it.
    auto c = client_credentials("");
    if (!c) {
      throw std::runtime_error("NTS sources: " + c.error() + " (set [nts] trusted_certs)");
    }
    m_client_creds = *c;
  }
  if (!cfg.nts.server()) {
    return;
  }
  auto cert = read_auth_file(cfg.nts.cert, false);
  if (!cert) {
    throw std::runtime_error("[nts] cert " + cert.error());
  }
  auto key = read_auth_file(cfg.nts.key, true);
  if (!key) {
    throw std::runtime_error("[nts] key " + key.error());
  }
  auto creds = server_credentials(*cert, *key);
  std::fill(key->begin(), key->end(), '\0');
  if (!creds) {
    throw std::runtime_error("[nts] " + cfg.nts.cert + ", " + cfg.nts.key + ": " + creds.error());
  }
  m_server_creds = *creds;
  load_cookie_keys();
  std::vector<sys::Fd> fds;
  for (const auto& a : cfg.nts.listen) {
    try {
      fds.push_back(open_ke_listener(a));
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("[nts] listen: ") + e.what());
    }
  }
  NtsKeServerOptions o;
  o.max_connections = cfg.nts.max_connections;
  o.timeout_s = cfg.nts.timeout_s;
  o.offer = offer(cfg);
  m_ke_server = std::make_unique<NtsKeServer>(base, std::move(fds), m_server_creds, m_cookies, *m_random, o);
  arm_rotation();
}

AuthService::~AuthService() = default;

core::KeServerOffer AuthService::offer(const Config& cfg) const {
  core::KeServerOffer o;
  uint16_t port = cfg.nts.ntp_port.value_or(cfg.server.listen.empty() ? 123 : cfg.server.listen[0].port);
  if (port != 123) {
    o.port = port;
  }
  o.server = cfg.nts.ntp_server;
  return o;
}

void AuthService::load_cookie_keys() {
  if (m_state.valid()) {
    int err = 0;
    auto text = m_state.read(k_cookie_key_file, 4096, err);
    if (text) {
      auto keys = core::parse_cookie_keys(*text);
      if (keys) {
        m_cookie_keys = std::move(*keys);
      } else {
        log_warn("NTS cookie keys %s/%s: %s: new keys (clients' cookies are refused once, they renew them)",
                 m_state.path().c_str(), k_cookie_key_file, keys.error().c_str());
      }
    } else if (err != ENOENT) {
      log_warn("NTS cookie keys %s/%s: %s", m_state.path().c_str(), k_cookie_key_file, std::strerror(err));
    }
  } else {
    log_warn("NTS: no state directory: cookie keys live in memory only (a restart invalidates clients' cookies)");
  }
  bool changed = core::rotate_cookie_keys(m_cookie_keys, unix_now(), m_nts.cookie_rotation_s, *m_random);
  if (changed && m_state.valid()) {
    if (int e = m_state.write_atomic(k_cookie_key_file, core::encode_cookie_keys(m_cookie_keys), 0600); e != 0) {
      log_warn("NTS cookie keys %s/%s: cannot write: %s", m_state.path().c_str(), k_cookie_key_file, std::strerror(e));
    }
  }
  m_cookies = std::make_shared<core::CookieKeys>(m_cookie_keys);
}

void AuthService::rotate() {
  if (core::rotate_cookie_keys(m_cookie_keys, unix_now(), m_nts.cookie_rotation_s, *m_random)) {
    if (m_state.valid()) {
      if (int e = m_state.write_atomic(k_cookie_key_file, core::encode_cookie_keys(m_cookie_keys), 0600); e != 0) {
        log_warn("NTS cookie keys: cannot write: %s", std::strerror(e));
      }
    }
    m_cookies = std::make_shared<core::CookieKeys>(m_cookie_keys);
    if (m_ke_server) {
      m_ke_server->set_cookie_keys(m_cookies);
    }
    log_info("NTS: new cookie key %08x (%zu kept)", m_cookies->current_id(), m_cookie_keys.size());
    if (m_on_policy_change) {
      m_on_policy_change();
    }
  }
  arm_rotation();
}

void AuthService::arm_rotation() {
  if (!m_rotation) {
    m_rotation = std::make_unique<sys::Callback>(m_base, -1, 0, [this](evutil_socket_t, short) { rotate(); });
  }
  double in = static_cast<double>(core::next_rotation_s(m_cookie_keys, m_nts.cookie_rotation_s) - unix_now());
  m_rotation->del();
  m_rotation->add(std::clamp(in, 1.0, m_nts.cookie_rotation_s));
}

ClientAuth AuthService::client_auth() {
  ClientAuth a;
  a.keys = m_keys;
  a.random = m_random.get();
  a.nts_ke = [this](const std::string& host, const core::SockAddr& addr,
                    std::function<void(NtsKeOutcome)> done) -> std::unique_ptr<NtsKeSession> {
    struct Session final : NtsKeSession {
      std::unique_ptr<KeClientConn> conn;
    };
    auto s = std::make_unique<Session>();
    s->conn = std::make_unique<KeClientConn>(m_base, addr, host, m_client_creds, k_ke_client_timeout_s,
                                             [done = std::move(done)](KeClientOutcome o) {
                                               NtsKeOutcome n;
                                               n.ok = o.ok;
                                               n.untrusted = o.untrusted;
                                               n.error = std::move(o.error);
                                               n.result = std::move(o.result);
                                               n.keys = o.keys;
                                               done(std::move(n));
                                             });
    return s;
  };
  return a;
}

void AuthService::fill_policy(core::ServerPolicy& p) const {
  p.keys = m_keys;
  p.nts = m_ke_server ? m_cookies : nullptr;
  p.random = m_random;
}

AuthStats AuthService::stats() const {
  AuthStats s;
  if (m_ke_server) {
    s.ke = m_ke_server->stats();
    s.ke_active = m_ke_server->active();
    s.cookie_key_id = m_cookies ? m_cookies->current_id() : 0;
    s.cookie_key_age_s = m_cookie_keys.empty() ? 0 : unix_now() - m_cookie_keys.back().created_s;
  }
  s.keys = m_keys ? m_keys->size() : 0;
  return s;
}

std::vector<core::SockAddr> AuthService::ke_addresses() const {
  return m_ke_server ? m_ke_server->addresses() : std::vector<core::SockAddr>{};
}

Result<std::shared_ptr<AuthService::Pending>, std::string> AuthService::prepare_reload(const Config& next,
                                                                                       const AuthFileOpener& open) {
  auto p = std::make_shared<Pending>();
  if (!next.daemon.keyfile.empty()) {
    auto fd = open(AuthFileKind::KeyFile, next.daemon.keyfile);
    if (!fd) {
      return unexpected("keyfile " + fd.error());
    }
    auto kf = load_keyfile_fd(fd->get(), next.daemon.keyfile);
    if (!kf) {
      return unexpected("keyfile " + kf.error());
    }
    for (const auto& w : kf->warnings) {
      log_warn("keyfile %s", w.c_str());
    }
    p->keys = kf->keys;
    p->key_count = kf->keys->size();
  }
  if (next.nts.server() && m_ke_server) {
    auto cfd = open(AuthFileKind::NtsCert, next.nts.cert);
    if (!cfd) {
      return unexpected("[nts] cert " + cfd.error());
    }
    auto cert = read_auth_fd(cfd->get(), next.nts.cert, false);
    auto kfd = open(AuthFileKind::NtsKey, next.nts.key);
    if (!kfd) {
      return unexpected("[nts] key " + kfd.error());
    }
    auto key = read_auth_fd(kfd->get(), next.nts.key, true);
    if (!cert || !key) {
      return unexpected("[nts] " + (cert ? key.error() : cert.error()));
    }
    auto creds = server_credentials(*cert, *key);
    std::fill(key->begin(), key->end(), '\0');
    if (!creds) {
      return unexpected("[nts] " + next.nts.cert + ", " + next.nts.key + ": " + creds.error());
    }
    p->server_creds = *creds;
  }
  if (!next.nts.trusted_certs.empty()) {
    auto fd = open(AuthFileKind::TrustedCerts, next.nts.trusted_certs);
    if (!fd) {
      return unexpected("[nts] trusted_certs " + fd.error());
    }
    auto pem = read_auth_fd(fd->get(), next.nts.trusted_certs, false);
    auto c = pem ? client_credentials(*pem) : Result<Credentials, std::string>(unexpected(pem.error()));
    if (!c) {
      return unexpected("[nts] trusted_certs " + next.nts.trusted_certs + ": " + c.error());
    }
    p->client_creds = *c;
  }
  return p;
}

void AuthService::commit_reload(const Pending& p, const Config& next) {
  m_keys = p.keys;
  if (p.client_creds) {
    m_client_creds = p.client_creds;
  }
  double old_rotation = m_nts.cookie_rotation_s;
  std::vector<core::SockAddr> listen = m_nts.listen;
  m_nts = next.nts;
  m_nts.listen = listen;  // bound at start
  if (m_ke_server) {
    if (p.server_creds) {
      m_server_creds = p.server_creds;
      m_ke_server->set_credentials(m_server_creds);
    }
    NtsKeServerOptions o;
    o.max_connections = next.nts.max_connections;
    o.timeout_s = next.nts.timeout_s;
    o.offer = offer(next);
    m_ke_server->set_options(o);
    if (old_rotation != m_nts.cookie_rotation_s) {
      arm_rotation();
    }
  }
}

}  // namespace tr7::daemon
