// NTS-KE over TLS 1.3 with GnuTLS (see nts_tls.h).
#include "daemon/nts_tls.h"

#include <fcntl.h>
#include <gnutls/x509.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "daemon/log.h"

namespace tr7::daemon {

namespace {

gnutls_datum_t datum(const std::string& s) {
  return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())), static_cast<unsigned>(s.size())};
}

const gnutls_datum_t k_alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(core::k_ke_alpn)), 7};

bool again(int r) { return r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED; }

Credentials make_creds() {
  gnutls_certificate_credentials_t c = nullptr;
  if (gnutls_certificate_allocate_credentials(&c) < 0) {
    return nullptr;
  }
  return Credentials(c, CredentialsFree());
}

// Common session set-up: TLS 1.3 only, ALPN ntske/1 required, no session tickets.
int init_session(gnutls_session_t& s, unsigned flags, const Credentials& creds, int fd) {
  int r = gnutls_init(&s, flags | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
  if (r < 0) {
    s = nullptr;
    return r;
  }
  if ((r = gnutls_priority_set_direct(s, k_nts_tls_priority, nullptr)) < 0 ||
      (r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds.get())) < 0 ||
      (r = gnutls_alpn_set_protocols(s, &k_alpn, 1, GNUTLS_ALPN_MANDATORY)) < 0) {
    return r;
  }
  gnutls_transport_set_int(s, fd);
  return 0;
}

bool alpn_ok(gnutls_session_t s) {
  gnutls_datum_t p{};
  return gnutls_alpn_get_selected_protocol(s, &p) == 0 && p.size == k_alpn.size &&
         std::memcmp(p.data, k_alpn.data, p.size) == 0;
}

}  // namespace

Result<Credentials, std::string> server_credentials(const std::string& cert_pem, const std::string& key_pem) {
  Credentials c = make_creds();
  if (!c) {
    return unexpected(std::string("cannot allocate TLS credentials"));
  }
  gnutls_datum_t cert = datum(cert_pem), key = datum(key_pem);
  int r = gnutls_certificate_set_x509_key_mem2(c.get(), &cert, &key, GNUTLS_X509_FMT_PEM, nullptr, 0);
  if (r < 0) {
    return unexpected(std::string("certificate or key: ") + gnutls_strerror(r));
  }
  return c;
}

Result<Credentials, std::string> client_credentials(const std::string& ca_pem) {
  Credentials c = make_creds();
  if (!c) {
    return unexpected(std::string("cannot allocate TLS credentials"));
  }
  int r;
  if (ca_pem.empty()) {
    r = gnutls_certificate_set_x509_system_trust(c.get());
    if (r < 0) {
      return unexpected(std::string("system trust store: ") + gnutls_strerror(r));
    }
  } else {
    gnutls_datum_t ca = datum(ca_pem);
    r = gnutls_certificate_set_x509_trust_mem(c.get(), &ca, GNUTLS_X509_FMT_PEM);
    if (r < 0) {
      return unexpected(std::string("trusted certificates: ") + gnutls_strerror(r));
    }
    if (r == 0) {
      return unexpected(std::string("trusted certificates: no certificate found"));
    }
  }
  return c;
}

bool export_nts_keys(gnutls_session_t s, uint16_t aead, core::NtsKeys& keys) {
  keys.aead = aead;
  for (bool s2c : {false, true}) {
    auto ctx = core::ke_exporter_context(aead, s2c);
    auto& out = s2c ? keys.s2c : keys.c2s;
    if (gnutls_prf_rfc5705(s, std::strlen(core::k_ke_exporter_label), core::k_ke_exporter_label, ctx.size(),
                           reinterpret_cast<const char*>(ctx.data()), out.size(),
                           reinterpret_cast<char*>(out.data())) < 0) {
      return false;
    }
  }
  return true;
}

// --- the shared plumbing ---------------------------------------------------------------

KeConnBase::KeConnBase(event_base* base, sys::Fd fd, double timeout_s)
    : m_base(base),
      m_fd(std::move(fd)),
      m_timer(base, -1, 0, [this](evutil_socket_t, short) { on_timeout(); }),
      m_timeout_s(timeout_s) {
  attach(std::move(m_fd));
  m_timer.add(timeout_s);
}

void KeConnBase::attach(sys::Fd fd) {
  m_fd = std::move(fd);
  m_rd.reset();
  m_wr.reset();
  if (m_fd.valid()) {
    m_rd = std::make_unique<sys::Callback>(m_base, m_fd.get(), EV_READ, [this](evutil_socket_t, short) { on_io(); });
    m_wr = std::make_unique<sys::Callback>(m_base, m_fd.get(), EV_WRITE, [this](evutil_socket_t, short) { on_io(); });
  }
}

KeConnBase::~KeConnBase() {
  if (m_tls != nullptr) {
    gnutls_deinit(m_tls);
  }
}

void KeConnBase::wait(bool write) {
  if (!m_rd) {
    return;
  }
  (write ? m_wr : m_rd)->add();
}

void KeConnBase::stop_events() {
  // Disarmed, not destroyed: this may run inside one of their callbacks.
  if (m_rd) {
    m_rd->del();
    m_wr->del();
  }
  m_timer.del();
}

void KeConnBase::defer() {
  m_timer.del();
  m_timer.add(0);
}

// --- server ------------------------------------------------------------------------------

KeServerConn::KeServerConn(event_base* base, sys::Fd fd, const Credentials& creds, double timeout_s, Respond respond,
                           std::function<void(KeServerConn*, int)> done)
    : KeConnBase(base, std::move(fd), timeout_s),
      m_creds(creds),
      m_respond(std::move(respond)),
      m_done(std::move(done)) {
  if (init_session(m_tls, GNUTLS_SERVER, m_creds, m_fd.get()) < 0) {
    m_state = State::Done;  // reported by the timer, from the loop
    defer();
    return;
  }
  wait(false);
}

KeServerConn::~KeServerConn() = default;

void KeServerConn::on_timeout() { finish(2); }

void KeServerConn::finish(int outcome) {
  if (!m_done) {
    return;
  }
  m_state = State::Done;
  stop_events();
  auto done = std::move(m_done);
  m_done = nullptr;
  done(this, outcome);  // may schedule our destruction; nothing touches `this` after it
}

void KeServerConn::on_io() {
  for (;;) {
    switch (m_state) {
      case State::Handshake: {
        int r = gnutls_handshake(m_tls);
        if (again(r) || (r < 0 && !gnutls_error_is_fatal(r))) {
          wait(gnutls_record_get_direction(m_tls) == 1);
          return;
        }
        if (r < 0 || !alpn_ok(m_tls)) {
          finish(2);
          return;
        }
        m_state = State::Reading;
        break;
      }
      case State::Reading: {
        uint8_t buf[4096];
        ssize_t r = gnutls_record_recv(m_tls, buf, sizeof buf);
        if (again(static_cast<int>(r))) {
          wait(false);
          return;
        }
        if (r <= 0) {
          finish(2);  // EOF before a whole request, or a TLS error
          return;
        }
        // Bounded: at most k_max_ke_message bytes are kept, then the parser refuses.
        size_t take = std::min(static_cast<size_t>(r), core::k_max_ke_message + 4 - m_in.size());
        m_in.insert(m_in.end(), buf, buf + take);
        auto msg = core::parse_ke_message(m_in);
        bool error = false;
        if (!msg) {
          core::KeServerDecision d;
          d.error = core::k_ke_err_bad_request;
          m_out = core::ke_build_response(d, {}, {});
          error = true;
        } else if (!msg->has_value()) {
          break;  // more to read
        } else {
          m_out = m_respond(**msg, m_tls, error);
        }
        if (m_out.empty()) {
          finish(2);
          return;
        }
        m_outcome = error ? 1 : 0;
        m_state = State::Writing;
        break;
      }
      case State::Writing: {
        ssize_t r = gnutls_record_send(m_tls, m_out.data() + m_sent, m_out.size() - m_sent);
        if (again(static_cast<int>(r))) {
          wait(gnutls_record_get_direction(m_tls) == 1);
          return;
        }
        if (r < 0) {
          finish(2);
          return;
        }
        m_sent += static_cast<size_t>(r);
        if (m_sent >= m_out.size()) {
          m_state = State::Closing;
        }
        break;
      }
      case State::Closing: {
        int r = gnutls_bye(m_tls, GNUTLS_SHUT_WR);
        if (again(r)) {
          wait(gnutls_record_get_direction(m_tls) == 1);
          return;
        }
        finish(m_outcome);
        return;
      }
      case State::Done:
        return;
    }
  }
}

// --- client ------------------------------------------------------------------------------

namespace {

sys::Fd connect_tcp(const core::SockAddr& addr, std::string& err) {
  int family = addr.ip.is_v6() ? AF_INET6 : AF_INET;
  sys::Fd fd(socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd.valid()) {
    err = std::string("socket: ") + std::strerror(errno);
    return fd;
  }
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_storage ss{};
  unsigned len = addr.to_sockaddr(ss);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) < 0 && errno != EINPROGRESS) {
    err = std::string("connect: ") + std::strerror(errno);
    fd.reset();
  }
  return fd;
}

}  // namespace

KeClientConn::KeClientConn(event_base* base, const core::SockAddr& addr, const std::string& host,
                           const Credentials& creds, double timeout_s, std::function<void(KeClientOutcome)> done)
    : KeConnBase(base, sys::Fd(), timeout_s), m_creds(creds), m_host(host), m_done(std::move(done)) {
  if (m_creds) {
    std::string err;
    attach(connect_tcp(addr, err));
    m_result.error = err;
  }
  if (!m_fd.valid() || !m_creds) {
    if (m_result.error.empty()) {
      m_result.error =
          "no trust store (the system's is read at start only when a configured source uses nts; "
          "or set [nts] trusted_certs)";
    }
    m_state = State::Done;
    defer();
    return;
  }
  int r = init_session(m_tls, GNUTLS_CLIENT, m_creds, m_fd.get());
  if (r >= 0) {
    // The certificate must be valid for the name (or address) the source was given as.
    gnutls_session_set_verify_cert(m_tls, m_host.c_str(), 0);
    if (!core::parse_ip(m_host)) {
      r = gnutls_server_name_set(m_tls, GNUTLS_NAME_DNS, m_host.data(), m_host.size());
    }
  }
  if (r < 0) {
    m_result.error = std::string("TLS: ") + gnutls_strerror(r);
    m_state = State::Done;
    defer();
    return;
  }
  m_out = core::ke_build_request();
  wait(true);  // connected when writable
}

KeClientConn::~KeClientConn() = default;

void KeClientConn::on_timeout() {
  if (m_state == State::Done) {
    fail(m_result.error.empty() ? "failed" : m_result.error);
    return;
  }
  fail("timeout");
}

void KeClientConn::fail(const std::string& why, bool untrusted) {
  if (!m_done) {
    return;
  }
  m_state = State::Done;
  stop_events();
  KeClientOutcome o;
  o.ok = false;
  o.untrusted = untrusted;
  o.error = why;
  auto done = std::move(m_done);
  m_done = nullptr;
  done(std::move(o));
}

void KeClientConn::succeed() {
  m_state = State::Done;
  stop_events();
  m_result.ok = true;
  auto done = std::move(m_done);
  m_done = nullptr;
  if (done) {
    done(std::move(m_result));
  }
}

void KeClientConn::on_io() {
  for (;;) {
    switch (m_state) {
      case State::Connecting: {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(m_fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
          err = errno;
        }
        if (err != 0) {
          fail(std::string("connect: ") + std::strerror(err));
          return;
        }
        m_state = State::Handshake;
        break;
      }
      case State::Handshake: {
        int r = gnutls_handshake(m_tls);
        if (again(r) || (r < 0 && !gnutls_error_is_fatal(r))) {
          wait(gnutls_record_get_direction(m_tls) == 1);
          return;
        }
        if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
          unsigned status = gnutls_session_get_verify_cert_status(m_tls);
          gnutls_datum_t text{};
          std::string why = "certificate not trusted";
          if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
            std::string t(reinterpret_cast<const char*>(text.data));
            gnutls_free(text.data);
            while (!t.empty() && (t.back() == ' ' || t.back() == '.')) {
              t.pop_back();
            }
            why += ": " + t;
          }
          fail(why, true);
          return;
        }
        if (r < 0) {
          fail(std::string("TLS handshake: ") + gnutls_strerror(r));
          return;
        }
        if (!alpn_ok(m_tls)) {
          fail("the server did not agree to ALPN ntske/1");
          return;
        }
        m_state = State::Writing;
        break;
      }
      case State::Writing: {
        ssize_t r = gnutls_record_send(m_tls, m_out.data() + m_sent, m_out.size() - m_sent);
        if (again(static_cast<int>(r))) {
          wait(gnutls_record_get_direction(m_tls) == 1);
          return;
        }
        if (r < 0) {
          fail(std::string("TLS send: ") + gnutls_strerror(static_cast<int>(r)));
          return;
        }
        m_sent += static_cast<size_t>(r);
        if (m_sent >= m_out.size()) {
          m_state = State::Reading;
        }
        break;
      }
      case State::Reading: {
        uint8_t buf[4096];
        ssize_t r = gnutls_record_recv(m_tls, buf, sizeof buf);
        if (again(static_cast<int>(r))) {
          wait(false);
          return;
        }
        if (r <= 0) {
          fail(r == 0 ? "the server closed before a whole response"
                      : std::string("TLS receive: ") + gnutls_strerror(static_cast<int>(r)));
          return;
        }
        size_t take = std::min(static_cast<size_t>(r), core::k_max_ke_message + 4 - m_in.size());
        m_in.insert(m_in.end(), buf, buf + take);
        auto msg = core::parse_ke_message(m_in);
        if (!msg) {
          fail(std::string("bad NTS-KE response: ") + core::to_string(msg.error()));
          return;
        }
        if (!msg->has_value()) {
          break;
        }
        auto res = core::ke_parse_response(**msg);
        if (!res) {
          fail(res.error());
          return;
        }
        m_result.result = std::move(*res);
        if (!export_nts_keys(m_tls, m_result.result.aead, m_result.keys)) {
          fail("TLS key export failed");
          return;
        }
        // close_notify, without waiting for the server's: nothing more is needed from it.
        gnutls_bye(m_tls, GNUTLS_SHUT_WR);
        succeed();
        return;
      }
      case State::Done:
        return;
    }
  }
}

}  // namespace tr7::daemon
