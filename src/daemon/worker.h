// The worker: owns the event loop and everything on it (NTP listeners, the control
// service with its socket, audit trail and metrics; the NTP client as it arrives).
// Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration (a bad file is refused
// whole and the old one kept; audited), SIGUSR1 logs the server statistics.
#pragma once

#include <memory>
#include <vector>

#include "core/ntp_server.h"
#include "daemon/client_status.h"
#include "daemon/config.h"
#include "daemon/ctl_service.h"
#include "daemon/ntp_listener.h"
#include "daemon/system_clock.h"
#include "sys/event.h"

namespace tr7::daemon {

struct WorkerOptions {
  std::string config_path;
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

 private:
  core::ReferenceState reference_at(core::Timestamp now) const;
  void reload();
  // Re-reads the configuration (SIGHUP and the `reload` command); not audited here.
  ReloadOutcome reload_config();
  void log_stats() const;
  core::ServerPolicy make_policy(const ServerSettings& s) const;
  class View;
  friend class View;

  Config m_cfg;
  WorkerOptions m_opt;
  sys::EventBase m_base;
  SystemClock m_clock;
  int8_t m_precision;
  std::unique_ptr<core::NtpServer> m_server;
  std::vector<std::unique_ptr<NtpListener>> m_listeners;
  std::vector<std::unique_ptr<sys::Callback>> m_signals;
  // The NTP client's status for the control socket (NoClientProvider until it lands).
  std::unique_ptr<ClientStatusProvider> m_provider;
  std::unique_ptr<View> m_view;
  std::unique_ptr<CtlService> m_ctl;
};

}  // namespace tr7::daemon
