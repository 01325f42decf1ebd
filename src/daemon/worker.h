// The worker: owns the event loop and everything on it (NTP listeners now; the NTP client,
// command socket and metrics as they arrive). Signals: SIGTERM/SIGINT stop, SIGHUP
// reloads the configuration (a bad file is refused whole and the old one kept), SIGUSR1
// logs the server statistics.
#pragma once

#include <memory>
#include <vector>

#include "core/ntp_server.h"
#include "daemon/config.h"
#include "daemon/reference_publisher.h"
#include "daemon/server_pool.h"
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

  // The NTP server threads: aggregated statistics (stats()), client tables (visit()).
  const ServerPool& server_pool() const { return *m_pool; }
  ServerPool& server_pool() { return *m_pool; }
  // Where the server threads get the reference state from: publish() on every change.
  ReferencePublisher& reference_publisher() { return m_reference; }

 private:
  // The reference state to publish now (local_stratum, or unsynchronised).
  core::ReferenceState current_reference() const;
  void reload();
  void log_stats() const;
  core::ServerPolicy make_policy(const ServerSettings& s) const;

  Config m_cfg;
  WorkerOptions m_opt;
  sys::EventBase m_base;
  SystemClock m_clock;
  int8_t m_precision;
  ReferencePublisher m_reference;
  std::unique_ptr<ServerPool> m_pool;
  std::vector<std::unique_ptr<sys::Callback>> m_signals;
};

}  // namespace tr7::daemon
