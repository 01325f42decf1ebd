// The NTP client on the event loop: resolves the configured sources (libevent evdns,
// asynchronously), sends each request from a fresh socket (a new random source port,
// RFC 9109), reads replies with their kernel receive timestamps, and lets
// core::NtpClient decide everything else. Thin: no protocol logic here.
//
// Sources: `server` lines give one source each; a name is re-resolved when its source
// has been unreachable for k_dead_polls polls (or was retired by a KoD DENY/RSTR).
// `pool` lines give up to maxsources sources; dead members are dropped, kept out for a
// while, and replaced from a new resolution.
//
// Also: the drift file (read at start, written every drift_interval and at exit), log
// lines for the client's events, and read-only views for the command protocol.
#pragma once

#include <event2/dns.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "core/ntp_client.h"
#include "daemon/config.h"
#include "daemon/state_dir.h"
#include "daemon/system_clock.h"
#include "sys/event.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

// A source as the command protocol shows it.
struct SourceView {
  std::string name;       // configured host name (or address)
  core::SockAddr address;
  bool pool = false;
  core::SourceSnapshot state;
};

struct ClientServiceStats {
  uint64_t send_errors = 0;
  uint64_t wrong_peer = 0;  // datagrams from another address/port on a request socket
  uint64_t no_kernel_timestamp = 0;
  uint64_t dns_failures = 0;
};

class ClientService {
 public:
  ClientService(event_base* base, SystemClock& clock, const Config& cfg, int8_t precision, const StateDir& state);
  ~ClientService();  // saves the drift file
  ClientService(const ClientService&) = delete;
  ClientService& operator=(const ClientService&) = delete;

  core::ReferenceState reference(core::Timestamp now) const { return m_client->reference(now); }
  // Read-only state (for logs and the command protocol).
  core::TrackingSnapshot tracking() const;
  std::vector<SourceView> sources() const;
  const ClientServiceStats& stats() const { return m_stats; }
  // Admin actions (the command protocol will call these).
  bool approve() { return m_client->approve(); }
  void burst();
  // A reload: discipline settings and min_sources apply at once; source changes are
  // reported by the worker as needing a restart.
  void apply(const Config& cfg);
  void save_drift();
  void log_state() const;

  static constexpr unsigned k_dead_polls = 8;

 private:
  struct Member {
    core::SockAddr addr;
    core::SourceId id = 0;
    sys::Fd fd;
    std::unique_ptr<sys::Callback> ev;
  };
  struct Endpoint {
    SourceConfig cfg;
    std::vector<std::unique_ptr<Member>> members;
    evdns_getaddrinfo_request* pending = nullptr;
    double next_resolve_mono = 0;
    double resolve_backoff_s = 2;
    std::vector<std::pair<core::SockAddr, double>> banned;  // dead pool addresses, until (mono)
    ClientService* owner = nullptr;
  };

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
  core::SourceOptions source_options(const SourceConfig& c) const;
  uint32_t refid_of(const core::SockAddr& a) const;
  static double mono_now();

  event_base* m_base;
  SystemClock& m_clock;
  Config m_cfg;
  int8_t m_precision;
  const StateDir& m_state;
  std::string m_drift_name;  // empty: no drift file
  std::unique_ptr<core::NtpClient> m_client;
  evdns_base* m_dns = nullptr;
  std::vector<std::unique_ptr<Endpoint>> m_endpoints;
  sys::UdpBatch m_rx;
  sys::Callback m_timer;
  sys::Callback m_drift_timer;
  ClientServiceStats m_stats;
  bool m_drift_warned = false;
};

}  // namespace tr7::daemon
