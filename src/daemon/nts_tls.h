// NTS-KE's TLS (RFC 8915 §4): GnuTLS sessions, TLS 1.3 only, ALPN "ntske/1" mandatory,
// no session tickets, non-blocking on the event loop of the sandboxed worker. The
// messages are core/nts_ke.h's; this module only moves them and exports the keys.
//
//  * KeServerConn: one accepted connection: handshake, read one request (at most
//    k_max_ke_message bytes), answer, close_notify, close. Its whole life is bounded by
//    the timeout (slowloris); whatever fails, it just closes.
//  * KeClientConn: connect, handshake with the server's certificate verified against
//    the trust store for the host name (or IP address) of the source, send the request,
//    read the response, export the keys, close. Its outcome goes to a callback, once.
//
// Credentials are made before the sandbox (the private key is read as root, the system
// trust store from /etc/ssl): ServerCredentials / ClientCredentials.
#pragma once

#include <gnutls/gnutls.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "core/nts_aead.h"
#include "core/nts_ke.h"
#include "core/result.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

struct CredentialsFree {
  void operator()(gnutls_certificate_credentials_t c) const noexcept { gnutls_certificate_free_credentials(c); }
};
using Credentials = std::shared_ptr<gnutls_certificate_credentials_st>;

// A server's certificate chain and private key, from PEM text. Errors name `what`.
Result<Credentials, std::string> server_credentials(const std::string& cert_pem, const std::string& key_pem);
// Trust anchors for NTS-KE clients: `ca_pem`, or the system store when empty.
Result<Credentials, std::string> client_credentials(const std::string& ca_pem);

// The TLS 1.3-only priority string (RFC 8915 §3: TLS 1.3 or later).
inline constexpr const char* k_nts_tls_priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

// The association's keys from a finished handshake (RFC 5705 exporter, RFC 8915 §5.1).
bool export_nts_keys(gnutls_session_t s, uint16_t aead, core::NtsKeys& keys);

// The non-blocking TLS plumbing both ends share.
class KeConnBase {
 public:
  virtual ~KeConnBase();
  KeConnBase(const KeConnBase&) = delete;
  KeConnBase& operator=(const KeConnBase&) = delete;

 protected:
  KeConnBase(event_base* base, sys::Fd fd, double timeout_s);
  // Arms the I/O event for what GnuTLS waits for (or for `write` when not in a TLS call).
  void wait(bool write);
  virtual void on_io() = 0;       // the socket is ready
  virtual void on_timeout() = 0;  // the session took too long

  // Takes the socket (when the constructor had none yet).
  void attach(sys::Fd fd);
  // Disarms every event (the session is over; the owner destroys it later).
  void stop_events();
  // Arms the timer to fire at once (a failure found in the constructor is reported from
  // the loop, never from the constructor).
  void defer();

  event_base* m_base;
  sys::Fd m_fd;
  gnutls_session_t m_tls = nullptr;
  std::unique_ptr<sys::Callback> m_rd;
  std::unique_ptr<sys::Callback> m_wr;
  sys::Callback m_timer;
  double m_timeout_s;
};

struct KeServerStats {
  uint64_t accepted = 0;
  uint64_t completed = 0;    // a response with keys and cookies sent
  uint64_t errors_sent = 0;  // an NTS-KE error record sent (bad request, ...)
  uint64_t failed = 0;       // handshake or I/O failure, timeout, malformed message
  uint64_t refused = 0;      // over max_connections: closed at once
};

class KeServerConn final : public KeConnBase {
 public:
  // `respond` turns the parsed request and the session's exported keys into the
  // response bytes (core::ke_build_response with cookies). `done` runs once at the end
  // (true: a response was sent); the owner then destroys the connection.
  using Respond = std::function<std::vector<uint8_t>(const core::KeMessage& request, gnutls_session_t session,
                                                     bool& error_response)>;
  KeServerConn(event_base* base, sys::Fd fd, const Credentials& creds, double timeout_s, Respond respond,
               std::function<void(KeServerConn*, int outcome)> done);
  ~KeServerConn() override;
  // outcome: 0 completed, 1 error record sent, 2 failed
 private:
  void on_io() override;
  void on_timeout() override;
  void finish(int outcome);
  enum class State { Handshake, Reading, Writing, Closing, Done } m_state = State::Handshake;
  Credentials m_creds;  // kept alive for the session
  Respond m_respond;
  std::function<void(KeServerConn*, int)> m_done;
  std::vector<uint8_t> m_in;
  std::vector<uint8_t> m_out;
  size_t m_sent = 0;
  int m_outcome = 2;
};

struct KeClientOutcome {
  bool ok = false;
  bool untrusted = false;
  std::string error;
  core::KeClientResult result;
  core::NtsKeys keys;
};

class KeClientConn final : public KeConnBase {
 public:
  // Starts at once (connect). `done` runs once, from the event loop (never from here);
  // after it the owner may destroy the connection.
  KeClientConn(event_base* base, const core::SockAddr& addr, const std::string& host, const Credentials& creds,
               double timeout_s, std::function<void(KeClientOutcome)> done);
  ~KeClientConn() override;

 private:
  void on_io() override;
  void on_timeout() override;
  void fail(const std::string& why, bool untrusted = false);
  void succeed();
  enum class State { Connecting, Handshake, Writing, Reading, Done } m_state = State::Connecting;
  Credentials m_creds;
  std::string m_host;
  std::function<void(KeClientOutcome)> m_done;
  std::vector<uint8_t> m_out;
  size_t m_sent = 0;
  std::vector<uint8_t> m_in;
  KeClientOutcome m_result;
};

}  // namespace tr7::daemon
