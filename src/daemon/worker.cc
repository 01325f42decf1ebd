#include "daemon/worker.h"

#include "autoconfig.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

#include "daemon/log.h"
#include "sys/clock.h"
#include "sys/udp.h"

namespace tr7::daemon {

// What the control service sees of the worker (ctl_service.h).
class Worker::View final : public DaemonView {
 public:
  explicit View(Worker& w) : m_w(w) {}
  const Config& config() const override { return m_w.m_cfg; }
  core::Timestamp now() const override { return m_w.m_clock.now(); }
  core::ServerStats server_stats() const override { return m_w.m_server->stats(); }
  uint64_t send_errors() const override {
    uint64_t n = 0;
    for (const auto& l : m_w.m_listeners) {
      n += l->stats().send_errors;
    }
    return n;
  }
  size_t client_count() const override { return m_w.m_server->clients().size(); }
  size_t client_capacity() const override { return m_w.m_server->clients().capacity(); }
  void visit_clients(size_t limit, const std::function<void(const core::ClientRecord&)>& f) const override {
    m_w.m_server->clients().for_each(f, limit);
  }
  const core::AllowList& access() const override { return m_w.m_server->policy().access; }
  void set_access(core::AllowList a) override {
    core::ServerPolicy p = m_w.m_server->policy();
    p.access = std::move(a);
    m_w.m_server->set_policy(std::move(p));
  }
  ReloadOutcome reload() override { return m_w.reload_config(); }

 private:
  Worker& m_w;
};

Worker::Worker(Config cfg, WorkerOptions opt)
    : m_cfg(std::move(cfg)),
      m_opt(std::move(opt)),
      m_clock(m_cfg.daemon.clock, m_opt.clock_control),
      m_precision(sys::measure_precision()) {
  m_base.reset(event_base_new());
  if (!m_base) {
    throw std::runtime_error("event_base_new failed");
  }
  if (auto d = StateDir::open(m_cfg.daemon.state_dir)) {
    m_state_dir = std::move(*d);
  } else {
    log_debug("state_dir %s: %s", m_cfg.daemon.state_dir.c_str(), std::strerror(d.error()));
  }
  // The control service first: it reads the tzdata and the runtime state, opens the
  // audit log and binds the control socket, all before any privilege drop; the server's
  // policy below already includes the runtime rule changes.
  m_provider = std::make_unique<NoClientProvider>([this](core::Timestamp now) { return reference_at(now); },
                                                  to_string(m_cfg.daemon.clock));
  m_view = std::make_unique<View>(*this);
  m_ctl = std::make_unique<CtlService>(m_base.get(), *m_view, *m_provider, m_cfg, m_state_dir);
  core::SipKey key{sys::random_u64(), sys::random_u64()};
  m_server = std::make_unique<core::NtpServer>(make_policy(m_cfg.server), key, sys::random_u64(), m_precision);

  for (const auto& addr : m_cfg.server.listen) {
    sys::Fd fd;
    try {
      fd = sys::open_udp(addr, sys::UdpOptions{});
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("cannot listen on ") + addr.to_string() + ": " + e.what());
    }
    m_listeners.push_back(std::make_unique<NtpListener>(
        m_base.get(), std::move(fd), *m_server, m_clock, [this](core::Timestamp now) { return reference_at(now); }));
  }

  if (!m_cfg.sources.sources.empty()) {
    m_client = std::make_unique<ClientService>(m_base.get(), m_clock, m_cfg, m_precision, m_state_dir);
  }

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
  m_keeper = std::make_unique<ClockKeeper>(
      m_base.get(), m_state_dir, [this] { return m_clock.now(); },
      [this] { return reference_at(m_clock.now()).synchronised; }, m_opt.write_rtc);
  m_ctl->restore_sources();
}

Worker::~Worker() = default;

core::ServerPolicy Worker::make_policy(const ServerSettings& s) const {
  core::ServerPolicy p;
  p.access = m_ctl ? m_ctl->effective_access(s.access) : s.access;
  p.ratelimit = s.ratelimit;
  p.deny_kod = s.deny_kod;
  p.max_clients = s.max_clients;
  return p;
}

core::ReferenceState Worker::reference_at(core::Timestamp now) const {
  if (m_client) {
    core::ReferenceState r = m_client->reference(now);
    if (r.synchronised) {
      return r;
    }
  }
  if (m_cfg.server.local_stratum) {
    return core::local_reference(*m_cfg.server.local_stratum, now, core::log2_to_s(m_precision));
  }
  return core::unsynchronised_reference();
}

void Worker::log_started() const {
  std::string where;
  for (const auto& l : m_listeners) {
    where += (where.empty() ? "" : ", ") + l->address().to_string();
  }
  log_info("tr7ntpd " PACKAGE_VERSION " started: clock=%s, precision=2^%d s, %zu source line(s), serving on %s%s",
           to_string(m_cfg.daemon.clock), static_cast<int>(m_precision), m_cfg.sources.sources.size(),
           where.empty() ? "(no listener)" : where.c_str(),
           m_cfg.server.local_stratum ? (", local stratum " + std::to_string(*m_cfg.server.local_stratum)).c_str()
                                      : ", unsynchronised until a source is");
}

void Worker::reload() {
  ReloadOutcome r = reload_config();
  Caller sig;
  sig.via = "signal";
  m_ctl->audit_reload(sig, r);
}

ReloadOutcome Worker::reload_config() {
  ReloadOutcome out;
  if (m_opt.config_path.empty()) {
    log_warn("reload: no configuration file to read");
    out.errors.push_back("no configuration file to read");
    return out;
  }
  auto cfg = m_opt.load_config ? m_opt.load_config() : load_config_file(m_opt.config_path);
  if (cfg) {
    if (auto e = m_ctl->check_config(*cfg)) {
      cfg = unexpected(std::vector<std::string>{*e});
    }
  }
  if (!cfg) {
    log_err("reload refused, the running configuration is kept:");
    for (const auto& e : cfg.error()) {
      log_err("%s", e.c_str());
    }
    out.errors = cfg.error();
    return out;
  }
  for (const auto& w : cfg->warnings) {
    log_warn("%s", w.c_str());
  }
  out.warnings = cfg->warnings;
  // What is bound, opened or resolved at start (before any privilege drop) stays until a
  // restart.
  bool restart = cfg->server.listen != m_cfg.server.listen || cfg->daemon.clock != m_cfg.daemon.clock ||
                 cfg->daemon.state_dir != m_cfg.daemon.state_dir || cfg->daemon.user != m_cfg.daemon.user ||
                 cfg->daemon.rtc != m_cfg.daemon.rtc || cfg->daemon.max_step_s != m_cfg.daemon.max_step_s ||
                 cfg->daemon.max_startup_step_s != m_cfg.daemon.max_startup_step_s ||
                 cfg->daemon.control_socket != m_cfg.daemon.control_socket ||
                 cfg->daemon.control_socket_mode != m_cfg.daemon.control_socket_mode ||
                 cfg->daemon.admin_group != m_cfg.daemon.admin_group ||
                 cfg->daemon.monitor_group != m_cfg.daemon.monitor_group || cfg->metrics.listen != m_cfg.metrics.listen;
  if (restart) {
    std::string w = "reload: listen, clock, state_dir, user, rtc, max_step, control_socket*, admin_group, "
                    "monitor_group and [metrics] listen changes take effect at the next restart";
    log_warn("%s", w.c_str());
    out.warnings.push_back(w);
    cfg->server.listen = m_cfg.server.listen;
    cfg->daemon.clock = m_cfg.daemon.clock;
    cfg->daemon.state_dir = m_cfg.daemon.state_dir;
    cfg->daemon.user = m_cfg.daemon.user;
    cfg->daemon.rtc = m_cfg.daemon.rtc;
    cfg->daemon.max_step_s = m_cfg.daemon.max_step_s;
    cfg->daemon.max_startup_step_s = m_cfg.daemon.max_startup_step_s;
    cfg->daemon.control_socket = m_cfg.daemon.control_socket;
    cfg->daemon.control_socket_set = m_cfg.daemon.control_socket_set;
    cfg->daemon.control_socket_mode = m_cfg.daemon.control_socket_mode;
    cfg->daemon.admin_group = m_cfg.daemon.admin_group;
    cfg->daemon.monitor_group = m_cfg.daemon.monitor_group;
    cfg->metrics.listen = m_cfg.metrics.listen;
  }
  if (cfg->sources.sources != m_cfg.sources.sources || cfg->discipline.drift_file != m_cfg.discipline.drift_file) {
    log_warn("reload: source and drift_file changes take effect at the next restart");
    cfg->sources.sources = m_cfg.sources.sources;
    cfg->discipline.drift_file = m_cfg.discipline.drift_file;
  }
  if (m_client) {
    m_client->apply(*cfg);
  }
  std::vector<std::string> before = config_summary(m_cfg);
  m_server->set_policy(make_policy(cfg->server));
  log_set_level(cfg->daemon.log_level);
  m_cfg = std::move(*cfg);
  std::vector<std::string> after = config_summary(m_cfg);
  for (const auto& l : before) {
    if (std::find(after.begin(), after.end(), l) == after.end()) {
      out.removed.push_back(l);
    }
  }
  for (const auto& l : after) {
    if (std::find(before.begin(), before.end(), l) == before.end()) {
      out.added.push_back(l);
    }
  }
  out.ok = true;
  log_info("configuration reloaded from %s (%zu setting(s) removed, %zu added)", m_opt.config_path.c_str(),
           out.removed.size(), out.added.size());
  return out;
}

void Worker::log_stats() const {
  const core::ServerStats& s = m_server->stats();
  std::string drops;
  for (size_t i = 0; i < core::k_drop_reasons; ++i) {
    drops += std::string(" ") + core::to_string(static_cast<core::DropReason>(i)) + "=" + std::to_string(s.dropped[i]);
  }
  uint64_t send_errors = 0;
  for (const auto& l : m_listeners) {
    send_errors += l->stats().send_errors;
  }
  log_info("server stats: received=%llu answered=%llu kod_rate=%llu kod_deny=%llu leaked=%llu dropped=%llu%s "
           "send_errors=%llu clients=%zu",
           static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.answered),
           static_cast<unsigned long long>(s.kod_rate), static_cast<unsigned long long>(s.kod_deny),
           static_cast<unsigned long long>(s.leaked), static_cast<unsigned long long>(s.dropped_total()), drops.c_str(),
           static_cast<unsigned long long>(send_errors), m_server->clients().size());
  if (m_client) {
    m_client->log_state();
  }
}

void Worker::add_listener(sys::Fd fd) {
  core::SockAddr local = sys::local_address(fd.get());
  sys::configure_udp(fd.get(), local.ip.is_v4() ? AF_INET : AF_INET6, sys::UdpOptions{});
  m_listeners.push_back(std::make_unique<NtpListener>(m_base.get(), std::move(fd), *m_server, m_clock,
                                                      [this](core::Timestamp now) { return reference_at(now); }));
}

void Worker::stop(int exit_status) {
  m_exit_status = exit_status;
  event_base_loopbreak(m_base.get());
}

int Worker::run() {
  event_base_dispatch(m_base.get());
  log_stats();
  if (m_client) {
    m_client->save_drift();
  }
  if (m_keeper->save_if_synced()) {
    log_info("clock saved in %s/%s", m_state_dir.path().c_str(), k_saved_clock_file);
  }
  return m_exit_status;
}

}  // namespace tr7::daemon
