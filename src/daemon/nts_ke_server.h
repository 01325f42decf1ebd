// The NTS-KE server (RFC 8915 §4) on the worker's event loop: TCP listeners (opened as
// root before the sandbox), at most max_connections TLS sessions at once (more are closed
// at once), each bounded in time (timeout) and in what it reads (core/nts_ke.h). A session
// answers one request: NTPv4, AES-SIV-CMAC-256, the NTP port (and server) to use, and
// eight cookies sealed with the current cookie key.
//
// The credentials (certificate chain and key) and the cookie keys can be replaced at any
// time (SIGHUP, rotation): sessions in progress keep what they started with.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <vector>

#include "core/nts_cookie.h"
#include "core/nts_ke.h"
#include "core/secure_random.h"
#include "daemon/nts_tls.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

struct NtsKeServerOptions {
  unsigned max_connections = 100;
  double timeout_s = 2.0;
  core::KeServerOffer offer;  // NTP port and server announced
};

// A listening TCP socket (SO_REUSEADDR, non-blocking, close-on-exec). Throws
// std::system_error naming the address.
sys::Fd open_ke_listener(const core::SockAddr& addr);

class NtsKeServer {
 public:
  NtsKeServer(event_base* base, std::vector<sys::Fd> listeners, Credentials creds,
              std::shared_ptr<const core::CookieKeys> keys, core::SecureRandom& rng, NtsKeServerOptions opt);
  ~NtsKeServer();
  NtsKeServer(const NtsKeServer&) = delete;
  NtsKeServer& operator=(const NtsKeServer&) = delete;

  void set_credentials(Credentials creds) { m_creds = std::move(creds); }
  void set_cookie_keys(std::shared_ptr<const core::CookieKeys> keys) { m_keys = std::move(keys); }
  void set_options(const NtsKeServerOptions& opt) { m_opt = opt; }
  std::vector<core::SockAddr> addresses() const;
  const KeServerStats& stats() const { return m_stats; }
  size_t active() const { return m_conns.size(); }

 private:
  void on_accept(int fd);
  std::vector<uint8_t> respond(const core::KeMessage& req, gnutls_session_t s, bool& error);
  void conn_done(KeServerConn* c, int outcome);

  event_base* m_base;
  std::vector<sys::Fd> m_listen_fds;
  std::vector<std::unique_ptr<sys::Callback>> m_listen_ev;
  Credentials m_creds;
  std::shared_ptr<const core::CookieKeys> m_keys;
  core::SecureRandom& m_rng;
  NtsKeServerOptions m_opt;
  std::list<std::unique_ptr<KeServerConn>> m_conns;
  KeServerStats m_stats;
};

}  // namespace tr7::daemon
