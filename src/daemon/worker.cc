#include "daemon/worker.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include "autoconfig.h"
#include "daemon/log.h"
#include "daemon/sd_notify.h"
#include "sys/clock.h"
#include "sys/udp.h"

namespace tr7::daemon {

// What the control service sees of the worker (ctl_service.h).
class Worker::View final : public DaemonView {
 public:
  explicit View(Worker& w) : m_w(w) {}
  RtcReport rtc_report() const override {
    RtcReport r;
    r.device = m_w.m_cfg.daemon.rtc;
    if (const ClockKeeper* k = m_w.m_keeper.get()) {
      double mono = static_cast<double>(sys::monotonic_ns()) / 1e9;
      r.writing = k->writes_rtc();
      r.writes = k->rtc_writes();
      r.failures = k->rtc_failures();
      r.saves = k->saves();
      if (auto t = k->last_rtc_write_s()) {
        r.last_write_age_s = mono - *t;
      }
      if (auto t = k->last_save_s()) {
        r.last_save_age_s = mono - *t;
      }
    }
    return r;
  }
  const Config& config() const override { return m_w.m_cfg; }
  core::Timestamp now() const override { return m_w.m_clock.now(); }
  // The server's numbers are summed over all server threads (published by them after
  // each batch, so at most one batch old).
  core::ServerStats server_stats() const override { return m_w.server_stats().server; }
  AuthStats auth_stats() const override { return m_w.m_auth->stats(); }
  uint64_t send_errors() const override { return m_w.server_stats().listener.send_errors; }
  size_t client_count() const override { return m_w.server_stats().clients; }
  size_t client_capacity() const override {
    size_t n = m_w.m_pool->policy().max_clients;
    for (const auto& p : m_w.m_extra_pools) {
      n += p->policy().max_clients;
    }
    return n;
  }
  // The `limit` most recently seen clients of all threads and tenants, newest first.
  // Each thread copies its newest `limit` between two batches (ServerPool::client_records).
  void visit_clients(size_t limit,
                     const std::function<void(const std::string&, const core::ClientRecord&)>& f) const override {
    std::vector<std::pair<std::string, core::ClientRecord>> all;
    bool complete = true;
    auto take = [&](const std::string& tenant, ServerPool& pool) {
      bool ok = true;
      for (auto& r : pool.client_records(limit, &ok)) {
        all.emplace_back(tenant, r);
      }
      complete = complete && ok;
    };
    take(core::k_default_tenant, *m_w.m_pool);
    for (const auto& p : m_w.m_extra_pools) {
      take(core::k_default_tenant, *p);
    }
    m_w.m_tenants->for_each_pool(take);
    if (!complete) {
      log_warn("clients: a server thread did not answer in time; the list is incomplete");
    }
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.second.last_seen_ns > b.second.last_seen_ns; });
    for (size_t i = 0; i < all.size() && i < limit; ++i) {
      f(all[i].first, all[i].second);
    }
  }
  const core::AllowList& access() const override { return m_w.m_pool->policy().access; }
  void set_access(core::AllowList a) override {
    core::ServerPolicy p = m_w.m_pool->policy();
    p.access = std::move(a);
    m_w.apply_policy(p);
  }
  ReloadOutcome reload() override { return m_w.reload_config(); }
  std::vector<TenantRow> tenants() const override { return m_w.m_tenants->rows(); }
  std::optional<core::TenantSpec> tenant(const std::string& name) const override {
    const core::TenantSpec* s = m_w.m_tenants->find(name);
    return s ? std::optional<core::TenantSpec>(*s) : std::nullopt;
  }
  Result<void, std::string> add_tenant(const core::TenantSpec& spec) override {
    auto r = m_w.m_tenants->add(spec, true, true);
    m_w.arm_tenant_check();
    return r;
  }
  bool remove_tenant(const std::string& name) override { return m_w.m_tenants->remove(name); }
  const AlertService* alerts() const override { return m_w.m_alerts.get(); }
  std::vector<PeerRow> peers() const override { return m_w.m_peers->rows(); }
  HistoryStore* history() const override { return m_w.m_history.get(); }

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
  // Privilege separation made the directory for the worker's user; in one process it may
  // not exist yet: made here, before the drift file, the saved clock and the audit trail
  // look for it (made later, they would all go without it until a restart).
  auto d = StateDir::open(m_cfg.daemon.state_dir);
  if (!d && d.error() == ENOENT && m_opt.helper == nullptr && !m_cfg.daemon.state_dir.empty() &&
      mkdir(m_cfg.daemon.state_dir.c_str(), 0750) == 0) {
    log_info("state_dir %s created", m_cfg.daemon.state_dir.c_str());
    d = StateDir::open(m_cfg.daemon.state_dir);
  }
  if (d) {
    m_state_dir = std::move(*d);
  } else {
    log_debug("state_dir %s: %s", m_cfg.daemon.state_dir.c_str(), std::strerror(d.error()));
  }
  // Keys, NTS-KE server (listeners, certificate, private key), trust store: read and
  // opened now, as root, before any chroot.
  m_auth = std::make_unique<AuthService>(m_base.get(), m_cfg, m_state_dir);
  // The NTP client always runs (sources can be added at run time); with no source it
  // does nothing at all. Its DNS resolver is set up now, before any chroot.
  m_client =
      std::make_unique<ClientService>(m_base.get(), m_clock, m_cfg, m_precision, m_state_dir, m_auth->client_auth());
  m_provider = std::make_unique<ClientProvider>(
      *m_client, [this](core::Timestamp now) { return reference_at(now); }, to_string(m_cfg.daemon.clock));
  // The control service next: it reads the tzdata and the runtime state, opens the
  // audit log and binds the control socket, all before any privilege drop; the server's
  // policy below already includes the runtime rule changes.
  m_view = std::make_unique<View>(*this);
  m_ctl = std::make_unique<CtlService>(m_base.get(), *m_view, *m_provider, m_cfg, m_state_dir,
                                       m_opt.audit_sink ? m_opt.audit_sink() : nullptr);
  // Clock steps, held corrections and their release go to the audit trail.
  ClockAuditHooks hooks;
  hooks.step = [this](double step_s, const std::string& reason) {
    // Our own step of the kernel clock is not an external one (the virtual clock's
    // corrections do not move CLOCK_REALTIME).
    if (m_clock_watch && m_cfg.daemon.clock == ClockMode::Kernel) {
      m_clock_watch->expect_step(step_s);
    }
    if (auto r = m_ctl->audit().clock_step(step_s, reason, sys::realtime_now()); !r) {
      log_err("audit (clock step): %s", r.error().c_str());
    }
  };
  hooks.held = [this](int64_t id, double offset_s, double tolerance_s) {
    if (auto r = m_ctl->audit().correction_held(id, offset_s, tolerance_s, sys::realtime_now()); !r) {
      log_err("audit (correction held): %s", r.error().c_str());
    }
  };
  hooks.released = [this](int64_t id, double offset_s, const std::string& how) {
    if (auto r = m_ctl->audit().correction_released(id, offset_s, how, sys::realtime_now()); !r) {
      log_err("audit (correction released): %s", r.error().c_str());
    }
  };
  m_client->set_audit_hooks(std::move(hooks));
  // The server threads start in run(), after any fork and after the sandbox: here, as
  // root under privilege separation, only their sockets are opened.
  ServerPoolConfig pc;
  pc.listen = m_cfg.server.listen;
  pc.threads = m_cfg.server.threads ? m_cfg.server.threads : available_cpus();
  pc.policy = make_policy(m_cfg.server);
  pc.precision = m_precision;
  pc.spread_tx = m_cfg.server.tx_spread;
  pc.busy_poll_us = m_cfg.server.busy_poll_us;
  m_pool = std::make_unique<ServerPool>(std::move(pc), m_clock, m_reference);
  // A new cookie key (rotation): every server thread gets it with a new policy.
  m_auth->set_on_policy_change([this] {
    core::ServerPolicy p = m_pool->policy();
    m_auth->fill_policy(p);
    apply_policy(p);
  });

  publish_reference();
  // The NTP client changes its reference state on the event loop; the server threads
  // read it from a snapshot, replaced at once, in the same turn of the loop (so before
  // the command socket can report it), and only then reported to systemd. No timer:
  // the client's own schedule covers the changes no packet brings (holdover bound, leap).
  m_client->set_on_change([this] {
    // Where the kernel does not tell of a clock set (one process), the clock watch looks
    // here: at the latest at the next poll.
    if (m_clock_watch) {
      m_clock_watch->check();
    }
    publish_reference();
    if (m_keeper) {
      m_keeper->poke();
    }
    // The alerts and the history look at the state when it may have changed (no timer
    // of their own wakes an idle daemon up).
    if (m_alerts) {
      m_alerts->tick();
    }
    if (m_history) {
      m_history->observe();
    }
  });

  auto on_signal = [this](int sig) {
    m_signals.push_back(
        std::make_unique<sys::Callback>(m_base.get(), sig, EV_SIGNAL | EV_PERSIST, [this](evutil_socket_t s, short) {
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
  setup_tenants();
  // Under privilege separation also the kernel's "clock was set" notice (a simulator
  // such as clknetsim, which runs the one-process daemon, cannot emulate it).
  m_clock_watch = std::make_unique<ClockWatch>(
      m_base.get(), [this](const core::ClockJump& j) { on_clock_jump(j); }, m_opt.helper != nullptr);
  m_peers = std::make_unique<PeerMonitor>(m_base.get(), m_clock, m_cfg.sources.peers, m_precision);
  // Their sockets come from where the NTP client's do (the helper under privilege separation).
  m_peers->set_sockets([this](int family) { return m_client->open_client_socket(family, ""); });
  setup_alerts();
  setup_history();
}

void Worker::on_clock_jump(const core::ClockJump& j) {
  AuditEntry e;
  e.who.via = "daemon";
  char buf[160];
  if (j.kind == core::JumpKind::Suspend) {
    std::snprintf(buf, sizeof buf, "suspended_s=%.3f step_s=%.6f", j.suspended_s, j.step_s);
    log_warn("clock: the system was suspended for %.1f s: the sources' samples are discarded, resynchronising",
             j.suspended_s);
    e.command = "suspend detected";
  } else {
    std::snprintf(buf, sizeof buf, "step_s=%.6f", j.step_s);
    log_warn(
        "clock: CLOCK_REALTIME was stepped by %+.6f s from outside the daemon: the sources now all show "
        "that offset, which the discipline follows as a common jump",
        j.step_s);
    e.command = "external clock step";
  }
  e.after = buf;
  // After a suspend the samples are stale (hours old): every source starts over, with a
  // burst. A step alone moves every source's offset by the same amount, which the
  // client's ensemble follows; starting over would only slow it (clknetsim
  // external_step: more requests, a larger frequency error).
  bool reset = j.kind == core::JumpKind::Suspend;
  e.result = reset ? "ok: samples discarded, burst" : "ok: noted";
  if (auto r = m_ctl->audit().append(e, sys::realtime_now()); !r) {
    log_err("audit (clock jump): %s", r.error().c_str());
  }
  if (reset) {
    m_client->reset_after_clock_jump();
    publish_reference();
  }
}

void Worker::setup_history() {
  auto observe = [this] {
    core::SyncObservation o;
    core::Timestamp now = m_clock.now();
    ctl::TrackingStatus t = m_provider->tracking(now);
    o.synced = t.state == "synchronised";
    o.offset_s = t.offset_s;
    o.root_distance_s = t.root_delay_s / 2 + t.root_dispersion_s;
    for (const auto& s : m_provider->sources(now)) {
      if (s.state == "selected") {
        o.source = s.address + (s.port == 123 ? "" : ":" + std::to_string(s.port));
        o.stratum = s.stratum;
      }
    }
    return o;
  };
  auto clients = [this](const std::function<void(const std::string&, const std::vector<core::ClientRecord>&)>& f) {
    constexpr size_t k_all = SIZE_MAX;
    std::vector<core::ClientRecord> own = m_pool->client_records(k_all);
    for (const auto& p : m_extra_pools) {
      auto more = p->client_records(k_all);
      own.insert(own.end(), more.begin(), more.end());
    }
    f(core::k_default_tenant, own);
    m_tenants->for_each_pool([&](const std::string& name, ServerPool& pool) { f(name, pool.client_records(k_all)); });
  };
  m_history = std::make_unique<HistoryStore>(m_base.get(), m_ctl->state_dir(), m_cfg.history, observe, clients);
  m_alerts->add_listener([this](const AlertRecord& r) {
    core::AlertTransition a;
    a.time_ns = (r.firing ? r.fired : r.resolved).ns;
    a.alert = core::to_string(r.kind);
    a.subject = r.subject;
    a.firing = r.firing;
    a.value = r.value;
    a.threshold = r.threshold;
    m_history->record_alert(a);
  });
}

void Worker::setup_alerts() {
  // The webhook's key and resolver now, as root and before any chroot.
  std::unique_ptr<Webhook> hook;
  if (m_cfg.alerts.webhook) {
    std::string key;
    if (!m_cfg.alerts.webhook_secret_file.empty()) {
      auto k = read_webhook_secret(m_cfg.alerts.webhook_secret_file);
      if (!k) {
        throw std::runtime_error(k.error());
      }
      key = std::move(*k);
    } else {
      log_warn("[alerts] webhook without webhook_secret_file: the bodies are signed with an empty key");
    }
    hook =
        std::make_unique<Webhook>(m_base.get(), *m_cfg.alerts.webhook, std::move(key), m_cfg.alerts.webhook_timeout_s);
  }
  m_alerts = std::make_unique<AlertService>(
      m_base.get(), m_cfg, [this](double mono) { return alert_input(mono); }, std::move(hook));
}

core::AlertInput Worker::alert_input(double mono_s) const {
  core::AlertInput in;
  in.mono_s = mono_s;
  core::Timestamp now = m_clock.now();
  ctl::TrackingStatus t = m_provider->tracking(now);
  in.synchronised = t.state == "synchronised";
  in.offset_s = t.offset_s;
  in.freq_ppm = t.freq_ppm;
  in.stratum = in.synchronised ? t.stratum : 0;
  in.held = t.held.has_value();
  in.held_offset_s = t.held ? t.held->offset_s : 0;
  in.offset_tolerance_s = m_cfg.discipline.offset_tolerance_s;
  for (const auto& s : m_provider->sources(now)) {
    ++in.sources;
    in.usable_sources += s.state == "selected" || s.state == "combined" || s.state == "candidate";
    // Answered one of its last two polls (bit 0 is the latest).
    in.reachable_sources += s.state != "resolving" && (s.reach & 3) != 0;
  }
  for (const auto& p : m_peers->rows()) {
    in.peers.push_back(
        core::AlertPeer{p.name + (p.port == 123 ? "" : ":" + std::to_string(p.port)), p.measured, p.offset_s});
  }
  for (const auto& r : m_tenants->rows()) {
    in.tenants.push_back(core::AlertTenant{r.name, r.state == "serving"});
  }
  in.audit_failing = m_ctl->audit().failing();
  in.audit_failures = m_ctl->audit().write_failures();
  return in;
}

void Worker::setup_tenants() {
  if (m_opt.helper != nullptr) {
    m_tenant_sockets = std::make_unique<HelperTenantSockets>(*m_opt.helper);
  } else {
    m_tenant_sockets = std::make_unique<LocalTenantSockets>();
  }
  TenantPoolOptions to;
  to.precision = m_precision;
  to.spread_tx = m_cfg.server.tx_spread;
  m_tenants = std::make_unique<TenantSet>(*m_tenant_sockets, m_clock, m_reference, to);
  if (m_client) {
    // Sources with `netns NAME` (a management network): client sockets from there.
    m_client->set_netns_sockets([this](const std::string& netns, const core::SockAddr& addr) {
      return m_tenant_sockets->open_udp(netns, addr);
    });
    if (m_opt.helper != nullptr) {
      // The sandboxed worker may not create IP sockets: the helper opens them all.
      m_client->set_default_sockets(
          [this](const std::string&, const core::SockAddr& addr) { return m_tenant_sockets->open_udp("", addr); });
    }
  }
  for (const auto& t : m_cfg.tenants.tenants) {
    if (auto r = m_tenants->add(t.spec, false, false); !r) {
      log_err("tenant %s: %s", t.spec.name.c_str(), r.error().c_str());
    }
  }
  // Tenants added at run time before the last stop, if the configuration still allows them.
  for (const auto& e : m_ctl->runtime_tenants()) {
    auto spec = core::parse_tenant_words(e.name, e.settings);
    if (!spec) {
      continue;  // checked when the state file was read
    }
    bool allowed = true;
    for (const auto& a : spec->listen) {
      allowed = allowed && core::runtime_bind_allowed(m_cfg.tenants.runtime, spec->netns, a);
    }
    if (!allowed) {
      log_warn("tenant %s (added at run time) is no longer allowed by [tenants] runtime: not served", e.name.c_str());
      continue;
    }
    if (auto r = m_tenants->add(*spec, true, false); !r) {
      log_warn("tenant %s (added at run time): %s", e.name.c_str(), r.error().c_str());
    }
  }
  // The namespace check runs only while there are tenants: a daemon without any must not
  // wake up every second for nothing (the idle bench counted 60 wake-ups a minute for
  // it, chronyd 1).
  m_tenant_timer = std::make_unique<sys::Callback>(m_base.get(), -1, 0, [this](evutil_socket_t, short) {
    m_tenants->check();
    if (m_alerts) {
      m_alerts->tick();  // tenant_down
    }
    arm_tenant_check();
  });
  arm_tenant_check();
}

void Worker::arm_tenant_check() {
  if (m_tenant_timer && m_tenants->size() > 0 && !m_tenant_timer->pending()) {
    m_tenant_timer->add(m_cfg.tenants.check_interval_s);
  }
}

// Tenants of the configuration file after a reload: gone ones removed, new ones added,
// changed ones re-opened (namespace or addresses) or given their new policy. Tenants
// added at run time stay, unless the file now has a tenant of the same name.
void Worker::reload_tenants(const Config& next) {
  for (const auto& name : m_tenants->names()) {
    bool runtime = m_tenants->is_runtime(name);
    bool in_next = false;
    for (const auto& t : next.tenants.tenants) {
      in_next = in_next || t.spec.name == name;
    }
    if (!in_next && !runtime) {
      m_tenants->remove(name);
    }
  }
  for (const auto& t : next.tenants.tenants) {
    const core::TenantSpec* cur = m_tenants->find(t.spec.name);
    if (cur && !m_tenants->is_runtime(t.spec.name) && cur->netns == t.spec.netns && cur->listen == t.spec.listen) {
      m_tenants->set_policy(t.spec.name, t.spec);
      continue;
    }
    if (cur) {
      m_tenants->remove(t.spec.name);
    }
    if (auto r = m_tenants->add(t.spec, false, false); !r) {
      log_err("tenant %s: %s", t.spec.name.c_str(), r.error().c_str());
    }
  }
  m_tenant_timer->del();
  arm_tenant_check();
}

Worker::~Worker() = default;

core::ServerPolicy Worker::make_policy(const ServerSettings& s) const {
  core::ServerPolicy p;
  p.access = m_ctl ? m_ctl->effective_access(s.access) : s.access;
  p.ratelimit = s.ratelimit;
  p.deny_kod = s.deny_kod;
  p.max_clients = s.max_clients;
  if (m_auth) {
    m_auth->fill_policy(p);
  }
  return p;
}

void Worker::publish_reference() {
  core::ReferenceState r = reference_at(m_clock.now());
  // A local reference is served with the time of each batch (core::served_reference):
  // its reference time here does not count as a change.
  bool same = r.synchronised == m_published.synchronised && r.leap == m_published.leap &&
              r.stratum == m_published.stratum && r.refid == m_published.refid && r.local == m_published.local &&
              (r.local || r.reference_time == m_published.reference_time) &&
              r.root_delay_s == m_published.root_delay_s && r.root_dispersion_s == m_published.root_dispersion_s &&
              r.slew_rate_s_per_s == m_published.slew_rate_s_per_s && r.slew_end == m_published.slew_end;
  if (same && m_reference_published) {
    return;
  }
  m_reference.publish(r);
  m_published = r;
  m_reference_published = true;
  // Only now, after the server threads can see it, is the new state reported.
  notify_status(false);
}

void Worker::notify_status(bool ready) {
  if (!m_opt.notify || (!ready && !m_running)) {
    return;  // STATUS= only once READY=1 was sent: the first one goes with it
  }
  std::string line = status_line(m_provider->tracking(m_clock.now()));
  if (!ready && line == m_status_sent) {
    return;
  }
  if (m_opt.notify->send((ready ? "READY=1\nSTATUS=" : "STATUS=") + line)) {
    m_status_sent = line;
  }
}

ServerPoolStats Worker::server_stats() const {
  ServerPoolStats all = m_pool->stats();
  for (const auto& p : m_extra_pools) {
    ServerPoolStats s = p->stats();
    all.server.add(s.server);
    all.listener.send_errors += s.listener.send_errors;
    all.listener.no_kernel_timestamp += s.listener.no_kernel_timestamp;
    all.listener.batches += s.listener.batches;
    all.listener.steering_misses += s.listener.steering_misses;
    all.clients += s.clients;
    all.evictions += s.evictions;
    all.received_per_thread.insert(all.received_per_thread.end(), s.received_per_thread.begin(),
                                   s.received_per_thread.end());
  }
  return all;
}

void Worker::apply_policy(const core::ServerPolicy& policy) {
  bool taken = m_pool->set_policy(policy);
  for (auto& p : m_extra_pools) {
    taken = p->set_policy(policy) && taken;
  }
  if (!taken) {
    log_warn("a server thread did not take the new policy in time; it will between two batches");
  }
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
  if (m_pool->policy().access.loopback_only()) {
    log_warn(
        "[server] listen is not loopback and there is no allow rule: only loopback clients are answered "
        "(allow = 0.0.0.0/0, ::/0 answers everyone)");
  }
  std::string where;
  for (const auto& a : m_pool->addresses()) {
    where += (where.empty() ? "" : ", ") + a.to_string();
  }
  if (!where.empty()) {
    where += " (" + std::to_string(m_pool->threads()) + (m_pool->threads() == 1 ? " thread)" : " threads)");
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
  // The files of authenticated time: all good, or the reload is refused.
  AuthFileOpener opener = m_opt.open_auth_file
                              ? m_opt.open_auth_file
                              : [](AuthFileKind, const std::string& path) -> Result<sys::Fd, std::string> {
    sys::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
      return unexpected(path + ": cannot open: " + std::strerror(errno));
    }
    return fd;
  };
  auto pending = m_auth->prepare_reload(*cfg, opener);
  if (!pending) {
    log_err("reload refused, the running configuration is kept: %s", pending.error().c_str());
    out.errors.push_back(pending.error());
    return out;
  }
  for (const auto& w : cfg->warnings) {
    log_warn("%s", w.c_str());
  }
  out.warnings = cfg->warnings;
  // What is bound, opened or resolved at start (before any privilege drop) stays until a
  // restart: each such key that changed is named (and kept at its running value).
  std::vector<std::string>& restart = out.restart_keys;
  auto keep = [&](const char* key, auto& next, const auto& running) {
    if (!(next == running)) {
      restart.emplace_back(key);
      next = running;
    }
  };
  keep("[server] listen", cfg->server.listen, m_cfg.server.listen);
  keep("[server] threads", cfg->server.threads, m_cfg.server.threads);
  keep("[server] tx_timestamp", cfg->server.tx_spread, m_cfg.server.tx_spread);
  keep("[server] busy_poll", cfg->server.busy_poll_us, m_cfg.server.busy_poll_us);
  keep("[daemon] clock", cfg->daemon.clock, m_cfg.daemon.clock);
  keep("[daemon] state_dir", cfg->daemon.state_dir, m_cfg.daemon.state_dir);
  keep("[daemon] user", cfg->daemon.user, m_cfg.daemon.user);
  keep("[daemon] rtc", cfg->daemon.rtc, m_cfg.daemon.rtc);
  keep("[daemon] max_step", cfg->daemon.max_step_s, m_cfg.daemon.max_step_s);
  keep("[daemon] max_startup_step", cfg->daemon.max_startup_step_s, m_cfg.daemon.max_startup_step_s);
  keep("[daemon] audit_max_size", cfg->daemon.audit_max_bytes, m_cfg.daemon.audit_max_bytes);
  keep("[daemon] audit_keep", cfg->daemon.audit_keep, m_cfg.daemon.audit_keep);
  keep("[daemon] control_socket", cfg->daemon.control_socket, m_cfg.daemon.control_socket);
  cfg->daemon.control_socket_set = m_cfg.daemon.control_socket_set;
  keep("[daemon] control_socket_mode", cfg->daemon.control_socket_mode, m_cfg.daemon.control_socket_mode);
  keep("[daemon] admin_group", cfg->daemon.admin_group, m_cfg.daemon.admin_group);
  keep("[daemon] monitor_group", cfg->daemon.monitor_group, m_cfg.daemon.monitor_group);
  keep("[metrics] listen", cfg->metrics.listen, m_cfg.metrics.listen);
  keep("[nts] listen", cfg->nts.listen, m_cfg.nts.listen);
  keep("[sources] server/pool", cfg->sources.sources, m_cfg.sources.sources);
  keep("[discipline] drift_file", cfg->discipline.drift_file, m_cfg.discipline.drift_file);
  keep("[sources] peer", cfg->sources.peers, m_cfg.sources.peers);
  keep("[history] interval", cfg->history.interval_s, m_cfg.history.interval_s);
  keep("[alerts] webhook", cfg->alerts.webhook, m_cfg.alerts.webhook);
  keep("[alerts] webhook_secret_file", cfg->alerts.webhook_secret_file, m_cfg.alerts.webhook_secret_file);
  if (!restart.empty()) {
    std::string keys;
    for (const auto& k : restart) {
      keys += (keys.empty() ? "" : ", ") + k;
    }
    std::string w = "reload: changed, takes effect at the next restart: " + keys;
    log_warn("%s", w.c_str());
    out.warnings.push_back(w);
  }
  m_auth->commit_reload(**pending, *cfg);
  if (m_client) {
    m_client->apply(*cfg);
    m_client->set_keys(m_auth->keys());
  }
  m_alerts->apply(*cfg);
  m_history->apply(cfg->history);
  std::vector<std::string> before = config_summary(m_cfg);
  apply_policy(make_policy(cfg->server));
  reload_tenants(*cfg);
  log_set_level(cfg->daemon.log_level);
  m_cfg = std::move(*cfg);
  publish_reference();
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
  ServerPoolStats ps = server_stats();
  const core::ServerStats& s = ps.server;
  std::string drops;
  for (size_t i = 0; i < core::k_drop_reasons; ++i) {
    drops += std::string(" ") + core::to_string(static_cast<core::DropReason>(i)) + "=" + std::to_string(s.dropped[i]);
  }
  std::string per_thread;
  for (uint64_t r : ps.received_per_thread) {
    per_thread += (per_thread.empty() ? "" : ",") + std::to_string(r);
  }
  AuthStats as = m_auth->stats();
  log_info(
      "server stats: received=%llu answered=%llu kod_rate=%llu kod_deny=%llu leaked=%llu auth_mac=%llu "
      "auth_nts=%llu nak_crypto=%llu nak_nts=%llu nts_ke_completed=%llu nts_ke_failed=%llu dropped=%llu%s "
      "send_errors=%llu clients=%llu threads=%zu received_per_thread=%s steering_misses=%llu",
      static_cast<unsigned long long>(s.received), static_cast<unsigned long long>(s.answered),
      static_cast<unsigned long long>(s.kod_rate), static_cast<unsigned long long>(s.kod_deny),
      static_cast<unsigned long long>(s.leaked), static_cast<unsigned long long>(s.auth_mac),
      static_cast<unsigned long long>(s.auth_nts), static_cast<unsigned long long>(s.nak_crypto),
      static_cast<unsigned long long>(s.nak_nts), static_cast<unsigned long long>(as.ke.completed),
      static_cast<unsigned long long>(as.ke.failed), static_cast<unsigned long long>(s.dropped_total()), drops.c_str(),
      static_cast<unsigned long long>(ps.listener.send_errors), static_cast<unsigned long long>(ps.clients),
      ps.received_per_thread.size(), per_thread.c_str(), static_cast<unsigned long long>(ps.listener.steering_misses));
  if (m_client) {
    m_client->log_state(reference_at(m_clock.now()));
  }
}

void Worker::add_listener(sys::Fd fd) {
  core::SockAddr local = sys::local_address(fd.get());
  sys::UdpOptions opt;
  opt.pktinfo = local.ip.bytes == std::array<uint8_t, 16>{};  // only a wildcard socket needs it
  sys::configure_udp(fd.get(), local.ip.is_v4() ? AF_INET : AF_INET6, opt);
  // One socket, one thread of its own (a socket opened elsewhere is not part of a
  // steered group), with the same policy and its own client table.
  ServerPoolConfig pc;
  pc.listen = {local};
  pc.threads = 1;
  pc.policy = m_pool->policy();
  pc.precision = m_precision;
  pc.spread_tx = m_cfg.server.tx_spread;
  pc.busy_poll_us = m_cfg.server.busy_poll_us;
  std::vector<std::vector<sys::Fd>> fds(1);
  fds[0].push_back(std::move(fd));
  auto pool = std::make_unique<ServerPool>(std::move(pc), std::move(fds), core::SteerKey{}, m_clock, m_reference);
  if (m_running) {
    pool->start();
  }
  m_extra_pools.push_back(std::move(pool));
}

void Worker::stop(int exit_status) {
  m_exit_status = exit_status;
  event_base_loopbreak(m_base.get());
}

int Worker::run() {
  m_pool->start();
  for (auto& p : m_extra_pools) {
    p->start();
  }
  m_tenants->start();
  m_running = true;
  // Serving: the sockets are bound and their threads run.
  notify_status(true);
  event_base_dispatch(m_base.get());
  m_running = false;
  if (m_opt.notify) {
    m_opt.notify->send("STOPPING=1");
  }
  m_pool->stop();
  for (auto& p : m_extra_pools) {
    p->stop();
  }
  m_tenants->stop();
  m_history->flush();  // the pools still answer (inline now that their threads stopped)
  log_stats();
  if (m_client) {
    m_client->save_drift();
    m_client->save_nts();
  }
  if (m_keeper->save_if_synced()) {
    log_info("clock saved in %s/%s", m_state_dir.path().c_str(), k_saved_clock_file);
  }
  return m_exit_status;
}

}  // namespace tr7::daemon
