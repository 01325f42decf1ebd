// The worker: owns the event loop and everything on it (NTP listeners, the NTP client;
// the command socket and metrics as they arrive). Signals: SIGTERM/SIGINT stop, SIGHUP
// reloads the configuration (a bad file is refused whole and the old one kept), SIGUSR1
// logs the server statistics.
#pragma once

#include <memory>
#include <vector>

#include "core/ntp_server.h"
#include "daemon/client_service.h"
#include "daemon/config.h"
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
  // The NTP client, if sources are configured (read-only access for the command
  // protocol: tracking(), sources()).
  ClientService* client() { return m_client.get(); }
  void reload();
  void log_stats() const;
  core::ServerPolicy make_policy(const ServerSettings& s) const;

  Config m_cfg;
  WorkerOptions m_opt;
  sys::EventBase m_base;
  SystemClock m_clock;
  int8_t m_precision;
  std::unique_ptr<core::NtpServer> m_server;
  std::vector<std::unique_ptr<NtpListener>> m_listeners;
  std::unique_ptr<ClientService> m_client;  // when [sources] has any
  std::vector<std::unique_ptr<sys::Callback>> m_signals;
};

}  // namespace tr7::daemon
