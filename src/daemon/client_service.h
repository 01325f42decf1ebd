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
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "core/ntp_client.h"
#include "daemon/client_status.h"
#include "daemon/config.h"
#include "daemon/state_dir.h"
#include "daemon/system_clock.h"
#include "sys/event.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

// A source as the command protocol shows it: one per resolved address, and one per
// name that has no address yet (`resolving`).
struct SourceView {
  std::string name;  // configured host name (or address)
  core::SockAddr address;
  bool pool = false;
  bool resolving = false;  // no address yet: `address` and `state` are empty
  std::string dns_error;   // the last resolution's failure, if any
  core::SourceSnapshot state;
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

class ClientService {
 public:
  ClientService(event_base* base, SystemClock& clock, const Config& cfg, int8_t precision, const StateDir& state);
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
  // A reload: discipline settings and min_sources apply at once; source changes are
  // reported by the worker as needing a restart.
  void apply(const Config& cfg);
  void save_drift();
  // The tracking line and one line per source. `served`: what the server serves now
  // (local_stratum when no source synchronised us), so the line says what `tracking` says.
  void log_state(const core::ReferenceState& served) const;

  static constexpr unsigned k_dead_polls = 8;

 private:
  struct Member {
    core::SockAddr addr;
    std::string netns;  // "" = the daemon's own namespace
    core::SourceId id = 0;
    sys::Fd fd;
    std::unique_ptr<sys::Callback> ev;
    bool loop_reported = false;  // a timing loop with it was logged (until a sample again)
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
  std::string m_drift_name;  // empty: no drift file
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
  bool m_drift_warned = false;
};

}  // namespace tr7::daemon
