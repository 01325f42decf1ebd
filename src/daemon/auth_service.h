// Authenticated time in the worker: the symmetric keys, the NTS-KE server with its cookie
// keys (rotated, kept in the state directory), the NTS clients' trust store, and the
// secure random source. Made by the worker as root, before the sandbox: every file is
// read and every listener opened here; on a reload the files come through `open_file`
// (the privileged helper under privilege separation).
//
// What it gives the rest of the worker: the server policy's keys/cookie keys/random
// (fill_policy), the NTP client's ClientAuth, and its counters. When the cookie keys
// rotate, `on_policy_change` runs so the worker hands the server threads a new policy.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/ntp_keys.h"
#include "core/ntp_server.h"
#include "core/nts_cookie.h"
#include "core/privsep.h"
#include "daemon/auth_files.h"
#include "daemon/client_service.h"
#include "daemon/config.h"
#include "daemon/nts_ke_server.h"
#include "daemon/nts_tls.h"
#include "daemon/state_dir.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

// Which file of the configuration (also the privileged helper's selector).
using AuthFileKind = core::privsep::AuthFile;
// Opens a configured file read-only (the helper, or open(2) in one process).
using AuthFileOpener = std::function<Result<sys::Fd, std::string>(AuthFileKind kind, const std::string& path)>;

struct AuthStats {
  KeServerStats ke;
  size_t ke_active = 0;
  size_t keys = 0;               // symmetric keys loaded
  uint32_t cookie_key_id = 0;    // the current cookie key (0: no NTS server)
  int64_t cookie_key_age_s = 0;  // its age
};

class AuthService {
 public:
  // Throws std::runtime_error naming the file and what is wrong with it.
  AuthService(event_base* base, const Config& cfg, const StateDir& state);
  ~AuthService();

  ClientAuth client_auth();
  void fill_policy(core::ServerPolicy& p) const;
  void set_on_policy_change(std::function<void()> f) { m_on_policy_change = std::move(f); }
  AuthStats stats() const;
  std::vector<core::SockAddr> ke_addresses() const;
  std::shared_ptr<const core::KeySet> keys() const { return m_keys; }

  // A reload: the key file, the certificate and key, the trusted CAs are read again with
  // `open`. Nothing changes unless all of them are good (the error names the file).
  // The NTS-KE listen addresses stay those of the start.
  struct Pending;
  Result<std::shared_ptr<Pending>, std::string> prepare_reload(const Config& next, const AuthFileOpener& open);
  void commit_reload(const Pending& p, const Config& next);

 private:
  void load_cookie_keys();
  void rotate();
  void arm_rotation();
  core::KeServerOffer offer(const Config& cfg) const;

  event_base* m_base;
  const StateDir& m_state;
  NtsSettings m_nts;
  std::shared_ptr<GnutlsRandom> m_random;
  std::shared_ptr<const core::KeySet> m_keys;
  Credentials m_client_creds;
  Credentials m_server_creds;
  std::vector<core::CookieKey> m_cookie_keys;
  std::shared_ptr<const core::CookieKeys> m_cookies;
  std::unique_ptr<NtsKeServer> m_ke_server;
  std::unique_ptr<sys::Callback> m_rotation;
  std::function<void()> m_on_policy_change;
};

}  // namespace tr7::daemon
