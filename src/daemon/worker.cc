#include "daemon/worker.h"

#include "autoconfig.h"

#include <csignal>
#include <stdexcept>
#include <string>

#include "daemon/log.h"
#include "sys/clock.h"
#include "sys/udp.h"

namespace tr7::daemon {

Worker::Worker(Config cfg, WorkerOptions opt)
    : m_cfg(std::move(cfg)), m_opt(std::move(opt)), m_clock(m_cfg.daemon.clock), m_precision(sys::measure_precision()) {
  m_base.reset(event_base_new());
  if (!m_base) {
    throw std::runtime_error("event_base_new failed");
  }
  m_reference.publish(current_reference());
  ServerPoolConfig pc;
  pc.listen = m_cfg.server.listen;
  pc.threads = m_cfg.server.threads ? m_cfg.server.threads : available_cpus();
  pc.policy = make_policy(m_cfg.server);
  pc.precision = m_precision;
  pc.spread_tx = m_cfg.server.tx_spread;
  pc.busy_poll_us = m_cfg.server.busy_poll_us;
  m_pool = std::make_unique<ServerPool>(std::move(pc), m_clock, m_reference);

  auto on_signal = [this](int sig) {
    m_signals.push_back(std::make_unique<sys::Callback>(m_base.get(), sig, EV_SIGNAL | EV_PERSIST,
                                                        [this](evutil_socket_t s, short) {
                                                          switch (s) {
                                                            case SIGTERM:
                                                            case SIGINT:
                                                              log_info("signal %d: stopping", static_cast<int>(s));
                                                              event_base_loopbreak(m_base.get());
                                                              break;
                                                            case SIGHUP:
                                                              reload();
                                                              break;
                                                            case SIGUSR1:
                                                              log_stats();
                                                              break;
                                                            default:
                                                              break;
                                                          }
                                                        }));
    m_signals.back()->add();
  };
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) {
    on_signal(sig);
  }
  std::signal(SIGPIPE, SIG_IGN);
}

Worker::~Worker() = default;

core::ServerPolicy Worker::make_policy(const ServerSettings& s) const {
  core::ServerPolicy p;
  p.access = s.access;
  p.ratelimit = s.ratelimit;
  p.deny_kod = s.deny_kod;
  p.max_clients = s.max_clients;
  return p;
}

core::ReferenceState Worker::current_reference() const {
  if (m_cfg.server.local_stratum) {
    // A local reference: served with the reference time of each reply's batch
    // (core::served_reference), so publishing it once is enough.
    return core::local_reference(*m_cfg.server.local_stratum, m_clock.now(), core::log2_to_s(m_precision));
  }
  return core::unsynchronised_reference();
}

void Worker::log_started() const {
  std::string where;
  for (const auto& a : m_pool->addresses()) {
    where += (where.empty() ? "" : ", ") + a.to_string();
  }
  if (!where.empty()) {
    where += " (" + std::to_string(m_pool->threads()) + (m_pool->threads() == 1 ? " thread)" : " threads)");
  }
  log_info("tr7ntpd " PACKAGE_VERSION " started: clock=%s, precision=2^%d s, serving on %s%s",
           to_string(m_cfg.daemon.clock), static_cast<int>(m_precision), where.empty() ? "(no listener)" : where.c_str(),
           m_cfg.server.local_stratum ? (", local stratum " + std::to_string(*m_cfg.server.local_stratum)).c_str()
                                      : ", unsynchronised until a source is");
}

void Worker::reload() {
  if (m_opt.config_path.empty()) {
    log_warn("reload: no configuration file to read");
    return;
  }
  auto cfg = load_config_file(m_opt.config_path);
  if (!cfg) {
    log_err("reload refused, the running configuration is kept:");
    for (const auto& e : cfg.error()) {
      log_err("%s", e.c_str());
    }
    return;
  }
  for (const auto& w : cfg->warnings) {
    log_warn("%s", w.c_str());
  }
  if (cfg->server.listen != m_cfg.server.listen || cfg->daemon.clock != m_cfg.daemon.clock ||
      cfg->daemon.state_dir != m_cfg.daemon.state_dir || cfg->server.threads != m_cfg.server.threads ||
      cfg->server.tx_spread != m_cfg.server.tx_spread || cfg->server.busy_poll_us != m_cfg.server.busy_poll_us) {
    log_warn(
        "reload: listen, threads, tx_timestamp, busy_poll, clock and state_dir changes take effect at the next "
        "restart");
    cfg->server.busy_poll_us = m_cfg.server.busy_poll_us;
    cfg->server.listen = m_cfg.server.listen;
    cfg->server.threads = m_cfg.server.threads;
    cfg->server.tx_spread = m_cfg.server.tx_spread;
    cfg->daemon.clock = m_cfg.daemon.clock;
    cfg->daemon.state_dir = m_cfg.daemon.state_dir;
  }
  if (!m_pool->set_policy(make_policy(cfg->server))) {
    log_warn("reload: a server thread did not take the new policy in time; it will between two batches");
  }
  log_set_level(cfg->daemon.log_level);
  m_cfg = std::move(*cfg);
  m_reference.publish(current_reference());
  log_info("configuration reloaded from %s", m_opt.config_path.c_str());
}

void Worker::log_stats() const {
  ServerPoolStats ps = m_pool->stats();
  const core::ServerStats& s = ps.server;
  std::string drops;
  for (size_t i = 0; i < core::k_drop_reasons; ++i) {
    drops += std::string(" ") + core::to_string(static_cast<core::DropReason>(i)) + "=" + std::to_string(s.dropped[i]);
  }
  std::string per_thread;
  for (uint64_t r : ps.received_per_thread) {
    per_thread += (per_thread.empty() ? "" : ",") + std::to_string(r);
  }
  log_info("server stats: received=%llu answered=%llu kod_rate=%llu kod_deny=%llu leaked=%llu dropped=%llu%s "
           "send_errors=%llu clients=%llu threads=%u received_per_thread=%s steering_misses=%llu",
           static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.answered),
           static_cast<unsigned long long>(s.kod_rate), static_cast<unsigned long long>(s.kod_deny),
           static_cast<unsigned long long>(s.leaked), static_cast<unsigned long long>(s.dropped_total()), drops.c_str(),
           static_cast<unsigned long long>(ps.listener.send_errors), static_cast<unsigned long long>(ps.clients),
           m_pool->threads(), per_thread.c_str(), static_cast<unsigned long long>(ps.listener.steering_misses));
}

int Worker::run() {
  m_pool->start();
  event_base_dispatch(m_base.get());
  m_pool->stop();
  log_stats();
  return 0;
}

}  // namespace tr7::daemon
