// The NTP client on the event loop: resolves the sources (libevent evdns,
// asynchronously), sends each request from a fresh socket (a new random source port,
// RFC 9109), reads replies with their kernel receive timestamps, and lets
// core::NtpClient decide everything else. Thin: no protocol logic here.
//
// Sources: `server` lines give one source each; a name is re-resolved when its source
// has been unreachable for k_dead_polls polls (or was retired by a KoD DENY/RSTR).
// `pool` lines give up to maxsources sources; dead members are dropped, kept out for a
// while, and replaced from a new resolution. Sources can be added and deleted at run
// time (the `source add|delete` commands); the worker always runs a ClientService, also
// with no source at all.
//
// With no source ever added, nothing is done at all: the core client (and with it the
// drift file and any frequency setting of the clock) only starts with the first source,
// so a daemon without sources behaves as one without an NTP client (unsynchronised, or
// local_stratum). The DNS resolver is set up at construction, which runs before any
// chroot, so that names added later still resolve.
//
// Also: the drift file (read when the client starts, written every drift_interval and
// at exit), log lines and audit records for the client's events, and read-only views
// and admin actions for the command protocol (daemon/client_provider.h).
#pragma once

#include <event2/dns.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "core/ntp_client.h"
#include "core/ntp_keys.h"
#include "core/nts_client.h"
#include "core/nts_ke.h"
#include "core/secure_random.h"
#include "daemon/client_status.h"
#include "daemon/config.h"
#include "daemon/state_dir.h"
#include "daemon/system_clock.h"
#include "sys/event.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

// A source's authentication, as `authdata` shows it.
struct SourceAuthView {
  std::string mode = "none";  // none, key, nts
  uint32_t key_id = 0;        // key: the key id
  std::string key_type;       // key: MD5, SHA256, AES128, ...; nts: the AEAD (AES-SIV-CMAC-256)
  int key_bits = 0;
  size_t cookies = 0;  // nts: cookies held
  size_t cookie_len = 0;
  double last_ke_ago_s = -1;   // nts: seconds since the last successful NTS-KE (-1: never)
  uint64_t ke_attempts = 0;    // nts: NTS-KE attempts since the last success
  uint64_t ke_ok = 0;          // nts: successful NTS-KE sessions
  std::string ke_error;        // nts: why the last NTS-KE failed ("" if it did not)
  uint64_t authenticated = 0;  // replies that passed authentication
  uint64_t failed = 0;         // replies refused: not authenticated, or not by our key
  uint64_t naks = 0;           // crypto-NAKs (key) or NTS NAKs (nts) received
  uint64_t not_sent = 0;       // requests not sent: no cookie (nts) or the key is missing
};

// One NTS-KE session in progress (daemon/nts_ke_client.h); destroying it cancels it.
class NtsKeSession {
 public:
  virtual ~NtsKeSession() = default;
};
struct NtsKeOutcome {
  bool ok = false;
  bool untrusted = false;  // the server's certificate did not verify
  std::string error;       // why not ok
  core::KeClientResult result;
  core::NtsKeys keys;
};
// Starts an NTS-KE with `host` (the name its certificate must carry) at `addr`; `done`
// runs on the loop once, unless the session is destroyed first.
using NtsKeStarter = std::function<std::unique_ptr<NtsKeSession>(const std::string& host, const core::SockAddr& addr,
                                                                 std::function<void(NtsKeOutcome)> done)>;

// A source as the command protocol shows it: one per resolved address, and one per
// name that has no address yet (`resolving`).
struct SourceView {
  std::string name;  // configured host name (or address)
  core::SockAddr address;
  bool pool = false;
  bool resolving = false;  // no address yet: `address` and `state` are empty
  std::string dns_error;   // the last resolution's failure, if any
  core::SourceSnapshot state;
  SourceAuthView auth;
};

struct ClientServiceStats {
  uint64_t send_errors = 0;
  uint64_t wrong_peer = 0;  // datagrams from another address/port on a request socket
  uint64_t no_kernel_timestamp = 0;
  uint64_t dns_failures = 0;
};

// Where clock steps, held corrections and their release are recorded (the audit trail;
// set by the worker once the control service exists). Empty functions: not recorded.
struct ClockAuditHooks {
  std::function<void(double step_s, const std::string& reason)> step;
  std::function<void(int64_t id, double offset_s, double tolerance_s)> held;
  std::function<void(int64_t id, double offset_s, const std::string& how)> released;
};

// What authenticated sources need (given at construction: the first requests go out then).
struct ClientAuth {
  std::shared_ptr<const core::KeySet> keys;  // [daemon] keyfile
  NtsKeStarter nts_ke;                       // empty: NTS sources never send
  core::SecureRandom* random = nullptr;      // unique identifiers and nonces
};

class ClientService {
 public:
  ClientService(event_base* base, SystemClock& clock, const Config& cfg, int8_t precision, const StateDir& state,
                ClientAuth auth = {});
  ~ClientService();  // saves the drift file
  ClientService(const ClientService&) = delete;
  ClientService& operator=(const ClientService&) = delete;

  // Unsynchronised until a source synchronised the clock.
  core::ReferenceState reference(core::Timestamp now) const;
  // Read-only state (for logs and the command protocol). Without a client: defaults
  // (unsynchronised, no selection).
  core::TrackingSnapshot tracking() const;
  std::vector<SourceView> sources() const;
  const ClientServiceStats& stats() const { return m_stats; }
  bool started() const { return m_client != nullptr; }
  const Config& config() const { return m_cfg; }

  // Admin actions (the command protocol). Messages and error codes as in
  // client_status.h; the caller audits the command itself, this records the clock
  // events it causes (steps, releases) through the audit hooks.
  //  add_source: Exists if the same host and port is a source already.
  //  delete_source: by the host as added/configured, or by a resolved address (a pool
  //    member is then banned for a while and replaced); on `port` when given, else the
  //    host must name exactly one source (several: refused as ambiguous, with the ports).
  CommandResult add_source(const SourceConfig& sc);
  CommandResult delete_source(const std::string& host, std::optional<uint16_t> port = std::nullopt);
  CommandResult burst();
  CommandResult make_step();
  CommandResult approve(std::optional<int64_t> id);

  void set_audit_hooks(ClockAuditHooks h) { m_audit = std::move(h); }
  // Called on the loop after anything that may have changed reference() or tracking()
  // (a reply, a timer, a command), before the loop serves anything else: the worker
  // publishes the reference to the server threads there, so nothing that reports the
  // state (the command socket, sd_notify) runs ahead of what is served.
  void set_on_change(std::function<void()> f) { m_on_change = std::move(f); }
  // Where client sockets of sources with `netns NAME` come from: a UDP socket bound to
  // the wildcard address, port 0, inside that namespace. Unset: such sources are not
  // polled (a send error each time).
  using NetnsSocketFn = std::function<Result<sys::Fd, std::string>(const std::string& netns, const core::SockAddr&)>;
  void set_netns_sockets(NetnsSocketFn f) { m_netns_sockets = std::move(f); }
  // Where client sockets in the daemon's own namespace come from, bound already (the
  // wildcard address, a fresh ephemeral port): under privilege separation the helper,
  // since the sandboxed worker may not create IP sockets (issue 19 item 6). Unset: opened
  // and bound here.
  void set_default_sockets(NetnsSocketFn f) { m_default_sockets = std::move(f); }
  // A client socket of `family` (AF_INET, AF_INET6) in `netns` ("" = the daemon's own),
  // bound to the wildcard address and an ephemeral port, from wherever the setters above
  // say. An error says why not.
  Result<sys::Fd, std::string> open_client_socket(int family, const std::string& netns);
  // Authentication: the symmetric keys (sources with `key N`), the NTS-KE client and the
  // random source (sources with `nts`). A source whose key is missing, or an NTS source
  // without an NTS-KE client, sends nothing: never an unauthenticated request.
  void set_keys(std::shared_ptr<const core::KeySet> keys) { m_keys = std::move(keys); }
  // Writes the NTS sources' keys and cookies to the state directory (also at exit).
  void save_nts();
  // A reload: discipline settings and min_sources apply at once; source changes are
  // reported by the worker as needing a restart.
  void apply(const Config& cfg);
  void save_drift();
  // The clock was stepped from outside, or the system was suspended (clock_watch.h): the
  // samples taken before are not comparable with those after. Every source starts over
  // (new filters) with a burst; the discipline's frequency is kept.
  void reset_after_clock_jump();
  // The tracking line and one line per source. `served`: what the server serves now
  // (local_stratum when no source synchronised us), so the line says what `tracking` says.
  void log_state(const core::ReferenceState& served) const;

  static constexpr unsigned k_dead_polls = 8;

 private:
  struct Endpoint;
  struct Member {
    core::SockAddr addr;
    std::string netns;  // "" = the daemon's own namespace
    core::SourceId id = 0;
    sys::Fd fd;
    std::unique_ptr<sys::Callback> ev;
    Endpoint* ep = nullptr;
    uint64_t auth_ok = 0, auth_failed = 0, naks = 0, not_sent = 0;
    bool loop_reported = false;  // a timing loop with it was logged (until a sample again)
  };
  // An NTS source's state: cookies and keys, the NTS-KE in progress and its history.
  struct NtsState {
    core::NtsCookieJar jar;
    core::SockAddr ntp_addr;  // where the NTP requests go (from the NTS-KE)
    bool have_ntp_addr = false;
    std::unique_ptr<NtsKeSession> ke;
    core::SockAddr ke_addr;
    double next_ke_mono = 0;
    double ke_backoff_s = 8;
    uint64_t ke_attempts = 0;
    uint64_t ke_ok = 0;
    double last_ke_mono = -1;
    std::string ke_error;
    bool resolving = false;  // the NTS-KE server's name
    bool dirty = false;      // keys or cookies changed since the state file was written
  };
  struct Endpoint {
    SourceConfig cfg;
    uint64_t serial = 0;  // names the endpoint to DNS callbacks (it may be gone by then)
    std::vector<std::unique_ptr<Member>> members;
    evdns_getaddrinfo_request* pending = nullptr;
    double next_resolve_mono = 0;
    double resolve_backoff_s = 2;
    std::string dns_error;
    std::vector<std::pair<core::SockAddr, double>> banned;  // dead pool addresses, until (mono)
    std::unique_ptr<NtsState> nts;                          // `nts` sources only
  };
  struct ResolveToken;

  void start_client();
  Endpoint& new_endpoint(const SourceConfig& sc);
  void start_endpoint(Endpoint& ep);
  void remove_endpoint(size_t i);
  Endpoint* endpoint_by_serial(uint64_t serial);
  void start_resolve(Endpoint& ep);
  static void on_resolved(int err, evutil_addrinfo* res, void* arg);
  void resolved(Endpoint& ep, int err, evutil_addrinfo* res);
  void add_member(Endpoint& ep, const core::SockAddr& addr);
  void remove_member(Endpoint& ep, size_t i);
  void send_request(Member& m, double mono);
  // Authentication of one request / one reply (see set_keys, set_nts).
  size_t wrap_request(Member& m, std::span<const uint8_t, core::k_header_len> req, std::span<uint8_t> out);
  bool check_reply(Member& m, std::span<const uint8_t> reply);
  // NTS: load the saved state, run an NTS-KE, take its outcome.
  void start_nts(Endpoint& ep);
  void begin_ke(Endpoint& ep, double mono);
  void ke_resolved(Endpoint& ep, const std::vector<core::SockAddr>& found);
  void ke_done(uint64_t serial, NtsKeOutcome o);
  std::string nts_state_name(const SourceConfig& c) const;
  SourceAuthView auth_view(const Endpoint& ep, const Member* m) const;
  void on_readable(Member& m);
  void on_timer();
  void housekeeping(double mono);
  void schedule();
  void log_events();
  size_t member_count() const;
  core::SourceOptions source_options(const SourceConfig& c) const;
  uint32_t refid_of(const core::SockAddr& a) const;
  static double mono_now();

  event_base* m_base;
  SystemClock& m_clock;
  Config m_cfg;
  int8_t m_precision;
  const StateDir& m_state;
  std::string m_drift_name;                   // empty: no drift file
  std::unique_ptr<core::NtpClient> m_client;  // from the first source on
  evdns_base* m_dns = nullptr;
  std::vector<std::unique_ptr<Endpoint>> m_endpoints;
  uint64_t m_next_serial = 1;
  std::shared_ptr<bool> m_alive;  // false once destroyed (for late DNS callbacks)
  sys::UdpBatch m_rx;
  sys::Callback m_timer;
  sys::Callback m_drift_timer;
  ClientServiceStats m_stats;
  ClockAuditHooks m_audit;
  std::function<void()> m_on_change;
  NetnsSocketFn m_netns_sockets;
  NetnsSocketFn m_default_sockets;
  bool m_drift_always = false;  // test builds only (TR7_TEST_DRIFT_INTERVAL)
  std::shared_ptr<const core::KeySet> m_keys;
  NtsKeStarter m_nts_ke;
  core::SecureRandom* m_random = nullptr;
  std::vector<uint32_t> m_missing_keys_warned;
  bool m_drift_warned = false;
};

}  // namespace tr7::daemon
