// The control service: set-up, runtime state, audit, metrics (see ctl_service.h). The
// command handlers are in ctl_commands.cc.
#include "daemon/ctl_service.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "autoconfig.h"
#include "daemon/alert_service.h"
#include "daemon/log.h"
#include "daemon/metrics_http.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

std::optional<uint32_t> resolve_group(const std::string& name, const char* key) {
  if (name.empty()) {
    return std::nullopt;
  }
  std::vector<char> buf(16384);
  group g{};
  group* res = nullptr;
  int rc = getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &res);
  if (rc != 0 || !res) {
    throw std::runtime_error(std::string(key) + ": no such group '" + name + "'");
  }
  return static_cast<uint32_t>(res->gr_gid);
}

}  // namespace

CtlService::CtlService(event_base* base, DaemonView& daemon, ClientStatusProvider& provider, const Config& cfg,
                       const StateDir& dir, std::unique_ptr<AuditSink> audit_sink)
    : m_daemon(daemon), m_provider(provider), m_dir(&dir), m_audit(m_tz, "UTC"), m_start_mono_ns(sys::monotonic_ns()) {
  // 1. Time zones, while /usr/share/zoneinfo is reachable.
  m_tz.load();

  // 2. The state directory (privilege separation creates it for the worker's user; in
  //    one process it may not exist yet).
  const std::string& path = cfg.daemon.state_dir;
  if (!dir.valid()) {
    if (mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) {
      log_warn("cannot create state directory %s: %s (runtime changes and the audit trail are unavailable)",
               path.c_str(), std::strerror(errno));
    } else if (auto d = StateDir::open(path)) {
      m_own_dir = std::move(*d);
      m_dir = &m_own_dir;
    }
  }
  if (!m_dir->valid()) {
    log_warn("cannot open state directory %s (runtime changes and the audit trail are unavailable)", path.c_str());
  } else {
    const char* dir_name = path.c_str();
    m_audit.set_node(node_name(cfg.daemon));
    if (audit_sink) {
      m_audit.use_sink(std::move(audit_sink), m_dir->fd());  // the helper writes it
    } else if (auto r = m_audit.open(m_dir->fd(), cfg.daemon.audit_max_bytes, cfg.daemon.audit_keep); !r) {
      log_warn("%s/%s (changes through the control socket are refused)", dir_name, r.error().c_str());
    }
    auto text = read_small_file(m_dir->fd(), k_state_file, 1 << 20);
    if (!text) {
      log_err("%s/%s", dir_name, text.error().c_str());
    } else if (*text) {
      auto st = RuntimeState::decode(**text);
      if (!st) {
        std::string bad = std::string(k_state_file) + ".bad";
        log_err("%s/%s; runtime changes NOT applied, file kept as %s", dir_name, st.error().c_str(), bad.c_str());
        renameat(m_dir->fd(), k_state_file, m_dir->fd(), bad.c_str());
      } else {
        m_state = std::move(*st);
        if (m_state.timezone && !m_tz.contains(*m_state.timezone)) {
          log_warn("runtime time zone '%s' is not in the system tzdata: using the configuration's",
                   m_state.timezone->c_str());
          m_state.timezone.reset();
        }
        log_info("runtime state: %zu rule change(s), %zu source(s)%s%s applied over the configuration",
                 m_state.rules.size(), m_state.sources.size(), m_state.timezone ? ", time zone " : "",
                 m_state.timezone ? m_state.timezone->c_str() : "");
      }
    }
  }
  if (auto e = check_config(cfg)) {
    throw std::runtime_error(*e);
  }
  set_zone(effective_zone(cfg));

  // 3. The control socket.
  CtlAccessGroups groups;
  groups.admin_gid = resolve_group(cfg.daemon.admin_group, "admin_group");
  groups.monitor_gid = resolve_group(cfg.daemon.monitor_group, "monitor_group");
  if (cfg.daemon.control_socket != "none") {
    std::optional<uint32_t> sock_group = groups.monitor_gid ? groups.monitor_gid : groups.admin_gid;
    auto sock = open_control_socket(cfg.daemon.control_socket, cfg.daemon.control_socket_mode, sock_group);
    if (!sock) {
      if (cfg.daemon.control_socket_set) {
        throw std::runtime_error("control socket: " + sock.error());
      }
      log_warn("control socket (default path): %s; running without a control socket", sock.error().c_str());
    } else {
      m_server = std::make_unique<CtlServer>(
          base, std::move(*sock), groups, CtlLimits{},
          [this](const Peer& p, const ctl::ParsedCommand& pc) { return handle(p, pc); },
          [this](const Peer& p, const std::string& line, const std::string& why) { on_refused(p, line, why); },
          PACKAGE_VERSION);
    }
  }

  // 4. The metrics listener.
  if (cfg.metrics.listen) {
    m_http = std::make_unique<MetricsHttp>(base, *cfg.metrics.listen,
                                           [this](ctl::MetricsFormat f) { return metrics_text(f); });
  }

  // The summary of suppressed refusals is written within 10 s; the timer runs only while
  // some are waiting (an idle daemon must not wake up for nothing).
  m_tick = std::make_unique<sys::Callback>(base, -1, 0, [this](evutil_socket_t, short) {
    m_audit.flush_suppressed(sys::realtime_now(), sys::monotonic_ns());
    arm_flush();
  });
}

void CtlService::arm_flush() {
  if (m_tick && m_audit.has_suppressed() && !m_tick->pending()) {
    m_tick->add(10.0);
  }
}

CtlService::~CtlService() = default;

std::optional<std::string> CtlService::check_config(const Config& cfg) const {
  if (!m_tz.contains(cfg.daemon.timezone)) {
    return cfg.path + ": timezone: '" + cfg.daemon.timezone + "' is not a zone of the system tzdata (" +
           std::to_string(m_tz.size()) + " known)";
  }
  return std::nullopt;
}

std::string CtlService::effective_zone(const Config& cfg) const {
  return m_state.timezone.value_or(cfg.daemon.timezone);
}

void CtlService::set_zone(const std::string& zone) {
  m_zone = zone;
  m_audit.set_zone(zone);
}

core::AllowList CtlService::effective_access(const core::AllowList& config_rules) const {
  return m_state.apply(config_rules);
}

void CtlService::restore_sources() {
  for (const auto& s : m_state.sources) {
    auto r = m_provider.add_source(s.host, s.options);
    if (!r) {
      log_warn("runtime source %s not restored: %s", s.host.c_str(), r.error().text.c_str());
    }
  }
}

void CtlService::audit_reload(const Caller& who, const ReloadOutcome& r) {
  // A reload (SIGHUP, as logrotate sends) reopens audit.log: after a rotation the
  // records go to the new file, this one first.
  if (m_dir->valid()) {
    if (auto o = m_audit.reopen(); !o) {
      log_err("reload: audit log not reopened, still writing the old one: %s", o.error().c_str());
    }
  }
  AuditEntry e;
  e.who = who;
  e.command = "reload";
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) {
      s += (s.empty() ? "" : "\n") + l;
    }
    return s;
  };
  if (r.ok) {
    e.before = join(r.removed);
    e.after = join(r.added);
    e.result = r.removed.empty() && r.added.empty() ? "ok: no change" : "ok";
    if (!r.warnings.empty()) {
      e.result += "; " + join(r.warnings);
    }
  } else {
    e.result = "refused: " + join(r.errors);
  }
  if (r.ok) {
    // The zone may have changed with the configuration (unless overridden at run time).
    set_zone(effective_zone(m_daemon.config()));
    m_audit.set_node(node_name(m_daemon.config().daemon));
  }
  if (auto a = m_audit.append(e, sys::realtime_now()); !a) {
    log_err("reload: %s", a.error().c_str());
  }
}

void CtlService::on_refused(const Peer& peer, const std::string& line, const std::string& reason) {
  AuditEntry e;
  e.who = peer.caller;
  e.command = line;
  e.result = "refused: " + reason;
  m_audit.refusal(e, sys::realtime_now(), sys::monotonic_ns());
  arm_flush();
}

CtlOutcome CtlService::refuse(const Peer& peer, const ctl::ParsedCommand& pc, ctl::ErrCode code,
                              const std::string& text) {
  on_refused(peer, pc.to_line(), text);
  return CtlOutcome::fail(code, text);
}

CtlOutcome CtlService::commit(const Peer& peer, const ctl::ParsedCommand& pc, const std::string& before,
                              const std::string& after, const RuntimeState& next, const std::function<void()>& apply,
                              std::vector<std::string> reply) {
  CtlOutcome o = audited_apply(peer, pc, before, after, next, nullptr, [&apply]() -> CommandResult {
    apply();
    return std::string("ok");
  });
  if (o.ok) {
    o.lines = std::move(reply);
  }
  return o;
}

CtlOutcome CtlService::audited_apply(const Peer& peer, const ctl::ParsedCommand& pc, const std::string& before,
                                     const std::string& after, const std::optional<RuntimeState>& next,
                                     const std::function<std::optional<ctl::Error>()>& precheck,
                                     const std::function<CommandResult()>& apply) {
  if (!m_audit.is_open() || (next && !m_dir->valid())) {
    return refuse(peer, pc, ctl::ErrCode::IoError,
                  "state directory or audit log unavailable: changes are refused (see the daemon's log)");
  }
  if (precheck) {
    if (auto e = precheck()) {
      return refuse(peer, pc, e->code, e->text);
    }
  }
  // 1. The record, fsynced: not audited means not done. Written first, so that a crash
  //    at any later point leaves a trail that says at least as much as the state.
  AuditEntry e;
  e.who = peer.caller;
  e.command = pc.to_line();
  e.before = before;
  e.after = after;
  e.result = "ok";
  if (auto a = m_audit.append(e, sys::realtime_now()); !a) {
    return CtlOutcome::fail(ctl::ErrCode::IoError, "nothing changed: " + a.error());
  }
  auto failed = [&](const std::string& why) {
    e.before.clear();
    e.after.clear();
    e.result = "failed: " + why + " (the change above was not applied)";
    if (auto a = m_audit.append(e, sys::realtime_now()); !a) {
      log_err("audit: %s", a.error().c_str());
    }
  };
  // 2. The runtime state, atomically.
  std::string old_text = m_state.encode();
  if (next) {
    if (auto w = write_file_atomic(m_dir->fd(), k_state_file, next->encode()); !w) {
      log_err("%s", w.error().c_str());
      failed(w.error());
      return CtlOutcome::fail(ctl::ErrCode::IoError, "nothing changed: " + w.error());
    }
  }
  // 3. Applied.
  CommandResult r = apply();
  if (!r) {
    if (next) {
      if (auto w = write_file_atomic(m_dir->fd(), k_state_file, old_text); !w) {
        log_err("cannot restore %s: %s", k_state_file, w.error().c_str());
      }
    }
    failed(r.error().text);
    return CtlOutcome::fail(r.error().code, r.error().text);
  }
  if (next) {
    m_state = *next;
  }
  CtlOutcome o;
  o.lines.push_back(ctl::encode_record({{"result", *r}}));
  return o;
}

std::string CtlService::metrics_text(ctl::MetricsFormat f) const {
  ctl::MetricsInput in;
  core::Timestamp now = m_daemon.now();
  in.version = PACKAGE_VERSION;
  in.tracking = m_provider.tracking(now);
  in.sources = m_provider.sources(now);
  in.server.emplace_back("default", m_daemon.server_stats());
  in.server_clients.emplace_back("default", m_daemon.client_count());
  for (const auto& t : m_daemon.tenants()) {
    in.server.emplace_back(t.name, t.server);
    in.server_clients.emplace_back(t.name, t.clients);
  }
  in.send_errors = m_daemon.send_errors();
  if (m_server) {
    in.ctl_connections = m_server->connections();
    in.ctl_commands = m_server->stats().commands;
    in.ctl_refused = m_server->stats().refused;
    in.ctl_bad_requests = m_server->stats().bad_requests;
  }
  in.audit_records = m_audit.records();
  AuthStats auth = m_daemon.auth_stats();
  in.nts_ke_completed = auth.ke.completed;
  in.nts_ke_errors = auth.ke.errors_sent;
  in.nts_ke_failed = auth.ke.failed;
  in.nts_ke_refused = auth.ke.refused;
  in.audit_write_failures = m_audit.write_failures();
  for (const auto& p : m_daemon.peers()) {
    in.peers.push_back(ctl::MetricsInput::Peer{p.name + (p.port == 123 ? "" : ":" + std::to_string(p.port)), p.measured,
                                               p.offset_s, p.delay_s, p.reach});
  }
  if (const AlertService* a = m_daemon.alerts()) {
    for (size_t i = 0; i < core::k_alert_kinds; ++i) {
      auto k = static_cast<core::AlertKind>(i);
      in.alerts.emplace_back(core::to_string(k), a->active(k));
    }
    in.alerts_fired = a->fired_total();
    in.alerts_resolved = a->resolved_total();
    if (const Webhook* w = a->webhook()) {
      in.webhook = true;
      in.webhook_delivered = w->stats().delivered;
      in.webhook_failed_attempts = w->stats().failed_attempts;
      in.webhook_dropped = w->stats().dropped;
      in.webhook_queued = w->queued();
    }
  }
  in.uptime_s = static_cast<double>(sys::monotonic_ns() - m_start_mono_ns) / 1e9;
  return ctl::render_metrics(in, f);
}

}  // namespace tr7::daemon
