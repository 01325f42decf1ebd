// The worker: owns the event loop and everything on it (NTP listeners, the control
// service with its socket, audit trail and metrics; the NTP client).
// Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration (a bad file is refused
// whole and the old one kept; audited), SIGUSR1 logs the server statistics.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ntp_server.h"
#include "daemon/alert_service.h"
#include "daemon/auth_service.h"
#include "daemon/client_provider.h"
#include "daemon/client_service.h"
#include "daemon/client_status.h"
#include "daemon/clock_keeper.h"
#include "daemon/clock_watch.h"
#include "daemon/config.h"
#include "daemon/ctl_service.h"
#include "daemon/history_store.h"
#include "daemon/peer_monitor.h"
#include "daemon/reference_publisher.h"
#include "daemon/server_pool.h"
#include "daemon/state_dir.h"
#include "daemon/system_clock.h"
#include "daemon/tenants.h"
#include "sys/event.h"

namespace tr7::daemon {

class HelperClient;
class SdNotifier;

struct WorkerOptions {
  std::string config_path;
  // Reads the configuration again (SIGHUP). Empty: load_config_file(config_path). Under
  // privilege separation the helper opens the file (the worker's chroot cannot see it).
  std::function<ConfigResult()> load_config;
  // clock = kernel: where corrections go (the helper under privilege separation).
  // nullptr: no clock control in this process.
  core::ClockControl* clock_control = nullptr;
  // Writes the RTC from the system clock (through the helper). Empty: no RTC to keep.
  std::function<Result<void, std::string>()> write_rtc;
  // The privileged helper (privilege separation only; nullptr in one process): sockets in
  // network namespaces or on ports below 1024 (HelperClient::open_udp), the RTC.
  HelperClient* helper = nullptr;
  // systemd's notification socket (sd_notify.h), opened before any sandbox; nullptr:
  // not started by systemd with Type=notify. READY=1 once the server threads run, then
  // a STATUS= line whenever the sync state (or offset) served changes.
  std::shared_ptr<SdNotifier> notify;
  // Where audit records go (privilege separation: the helper, audit_file.h). Empty: the
  // worker writes <state_dir>/audit/audit.log itself.
  std::function<std::unique_ptr<AuditSink>()> audit_sink;
  // Opens the files of authenticated time on a reload (the helper under privilege
  // separation: the worker's chroot cannot see them). Empty: open(2) here.
  AuthFileOpener open_auth_file;
};

class Worker {
 public:
  // Opens the sockets; throws tr7::Fatal-like std::runtime_error on failure.
  Worker(Config cfg, WorkerOptions opt);
  ~Worker();
  // Runs until SIGTERM/SIGINT; returns the exit status.
  int run();
  // Called after the sockets are open, before run() (daemon readiness).
  void log_started() const;
  // Serves NTP on an already bound UDP socket too (e.g. one the helper opened inside a
  // network namespace); sets the receive options it needs. Throws std::system_error.
  void add_listener(sys::Fd fd);
  // Ends run() at the next turn of the loop, which then returns `exit_status`.
  void stop(int exit_status);
  event_base* base() const { return m_base.get(); }
  // The state directory, opened at construction (before any chroot); invalid if missing.
  const StateDir& state_dir() const { return m_state_dir; }

  // The NTP server threads of the configured listen addresses (client tables: visit()).
  const ServerPool& server_pool() const { return *m_pool; }
  ServerPool& server_pool() { return *m_pool; }
  // Server statistics summed over every server thread (also add_listener's).
  ServerPoolStats server_stats() const;
  // The tenants' server pools (tenants.h).
  const TenantSet& tenants() const { return *m_tenants; }
  // Keys, NTS-KE server, cookie keys (auth_service.h).
  const AuthService& auth() const { return *m_auth; }

 private:
  // The reference state to serve at `now` (the NTP client's, local_stratum, or
  // unsynchronised); the server threads get it through publish_reference().
  core::ReferenceState reference_at(core::Timestamp now) const;
  // Publishes reference_at(now) to the server threads when it differs from what they
  // serve (at start, on reload and after every change of the NTP client's state), then
  // tells systemd when the sync state changed.
  void publish_reference();
  // A new policy (reload, access rule change) for every server thread.
  void apply_policy(const core::ServerPolicy& policy);
  // The NTP client (always there; idle without sources).
  ClientService* client() { return m_client.get(); }
  void reload();
  // Re-reads the configuration (SIGHUP and the `reload` command); not audited here.
  ReloadOutcome reload_config();
  void log_stats() const;
  core::ServerPolicy make_policy(const ServerSettings& s) const;
  class View;
  friend class View;

  Config m_cfg;
  WorkerOptions m_opt;
  StateDir m_state_dir;
  std::unique_ptr<AuthService> m_auth;
  int m_exit_status = 0;
  sys::EventBase m_base;
  SystemClock m_clock;
  int8_t m_precision;
  ReferencePublisher m_reference;
  core::ReferenceState m_published;  // the last state published
  bool m_reference_published = false;
  std::string m_status_sent;  // the last STATUS= line sent to systemd
  void notify_status(bool ready);
  std::unique_ptr<ServerPool> m_pool;
  // Sockets handed over later (add_listener), one server thread each.
  std::vector<std::unique_ptr<ServerPool>> m_extra_pools;
  bool m_running = false;
  std::unique_ptr<ClientService> m_client;  // always (sources can be added at run time)
  std::vector<std::unique_ptr<sys::Callback>> m_signals;
  std::unique_ptr<ClockKeeper> m_keeper;
  // External steps and suspends (clock_watch.h): the client starts over.
  std::unique_ptr<ClockWatch> m_clock_watch;
  void on_clock_jump(const core::ClockJump& j);
  // The NTP client's status and commands for the control socket.
  std::unique_ptr<ClientStatusProvider> m_provider;
  std::unique_ptr<View> m_view;
  std::unique_ptr<CtlService> m_ctl;
  // Tenants: sockets through the helper or in-process, one pool each, the namespace check.
  std::unique_ptr<TenantSockets> m_tenant_sockets;
  std::unique_ptr<TenantSet> m_tenants;
  std::unique_ptr<sys::Callback> m_tenant_timer;
  std::unique_ptr<PeerMonitor> m_peers;  // HA peers: monitored, never selected
  std::unique_ptr<AlertService> m_alerts;
  // Last: destroyed first (its callbacks read the pools and the client).
  std::unique_ptr<HistoryStore> m_history;
  void setup_history();
  // What the alert engine observes now.
  core::AlertInput alert_input(double mono_s) const;
  void setup_alerts();
  void arm_tenant_check();  // the namespace check's timer, while there are tenants
  void setup_tenants();
  void reload_tenants(const Config& next);
};

}  // namespace tr7::daemon
