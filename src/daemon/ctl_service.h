// The daemon's control service: the control socket's command handlers, the audit trail,
// the runtime state, the time zones and the metrics (text and HTTP).
//
// Everything that needs privileges or the full file system is done in the constructor,
// which runs before any privilege drop or chroot: the tzdata is read, the state
// directory is opened (and created, 0750) and kept as a directory fd, the audit log is
// opened, the control socket and the metrics listener are bound. At run time all file
// I/O is relative to the state directory's fd.
//
// The daemon is seen through DaemonView (implemented by the Worker), so the server's
// statistics are read through one accessor whatever their layout (per thread later).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/allowlist.h"
#include "core/client_table.h"
#include "core/ntp_server.h"
#include "ctl/metrics.h"
#include "daemon/audit.h"
#include "daemon/auth_service.h"
#include "daemon/client_status.h"
#include "daemon/config.h"
#include "daemon/ctl_server.h"
#include "daemon/peer_monitor.h"
#include "daemon/runtime_state.h"
#include "daemon/state_dir.h"
#include "daemon/tenants.h"
#include "daemon/tzdb.h"
#include "sys/fd.h"

namespace tr7::daemon {

class MetricsHttp;
class AlertService;
class HistoryStore;

// The outcome of re-reading the configuration (SIGHUP or `reload`).
struct ReloadOutcome {
  bool ok = false;
  std::vector<std::string> errors;    // "file:line: ..." when refused
  std::vector<std::string> warnings;  // accepted, worth a look (incl. "needs a restart")
  std::vector<std::string> removed;   // config_summary lines no longer present
  std::vector<std::string> added;     // config_summary lines new
  // Keys that changed but take effect only at the next restart ("[server] listen"):
  // kept at their running values; `reload` then exits 1 in tr7ntpc.
  std::vector<std::string> restart_keys;
};

// What the `rtc` command reports: the device, whether the daemon writes it, and the
// saved clock (the fallback where there is no RTC). Ages in seconds, negative: never.
struct RtcReport {
  std::string device;     // configured device; empty: none configured
  bool writing = false;   // the privileged side opened it and the worker writes it
  uint64_t writes = 0;    // successful writes since start
  uint64_t failures = 0;  // failed writes since start
  double last_write_age_s = -1;
  uint64_t saves = 0;  // saved-clock writes since start
  double last_save_age_s = -1;
};

class DaemonView {
 public:
  virtual ~DaemonView() = default;
  virtual const Config& config() const = 0;
  virtual core::Timestamp now() const = 0;  // the served clock
  // Server counters summed over everything that serves (threads, tenants later).
  virtual core::ServerStats server_stats() const = 0;
  virtual uint64_t send_errors() const = 0;
  virtual size_t client_count() const = 0;
  virtual size_t client_capacity() const = 0;
  // Most recently seen first, at most `limit`, of the daemon's own server ("default")
  // and of every tenant: f(tenant, record).
  virtual void visit_clients(size_t limit,
                             const std::function<void(const std::string&, const core::ClientRecord&)>& f) const = 0;
  // The allow list in force (configuration + runtime changes) and its replacement.
  virtual const core::AllowList& access() const = 0;
  virtual void set_access(core::AllowList a) = 0;
  // Re-reads the configuration file (the same as SIGHUP); audited by the caller.
  virtual ReloadOutcome reload() = 0;
  // The RTC and saved-clock state (rtc command).
  virtual RtcReport rtc_report() const { return {}; }
  // Keys and the NTS-KE server (serverstats, metrics).
  virtual AuthStats auth_stats() const { return {}; }
  // The alerts (alert_service.h); nullptr in a daemon without them.
  virtual const AlertService* alerts() const { return nullptr; }
  // The HA peers (peer_monitor.h).
  virtual std::vector<PeerRow> peers() const { return {}; }
  // The compliance history (history_store.h); nullptr in a daemon without it.
  virtual HistoryStore* history() const { return nullptr; }

  // --- tenants (tenants.h); a daemon without them has none -------------------------
  virtual std::vector<TenantRow> tenants() const { return {}; }
  // The settings of tenant `name`, nullopt if there is none.
  virtual std::optional<core::TenantSpec> tenant(const std::string& name) const {
    (void)name;
    return std::nullopt;
  }
  // Adds a tenant and opens its sockets (refused when they cannot be opened, or when
  // the namespace/address is not allowed for runtime tenants).
  virtual Result<void, std::string> add_tenant(const core::TenantSpec& spec) {
    (void)spec;
    return unexpected(std::string("this daemon has no tenants"));
  }
  virtual bool remove_tenant(const std::string& name) {
    (void)name;
    return false;
  }
};

class CtlService {
 public:
  // Throws std::runtime_error for what must stop the start (e.g. an explicitly
  // configured control socket that cannot be created, an unknown configured zone).
  // `dir` is the worker's state directory (opened before any chroot); when it is not
  // there (one process, -d, first start), the service creates it (0750) and opens it.
  // `audit_sink`: where audit records go (the helper under privilege separation);
  // nullptr: the audit log in the state directory, written here.
  CtlService(event_base* base, DaemonView& daemon, ClientStatusProvider& provider, const Config& cfg,
             const StateDir& dir, std::unique_ptr<AuditSink> audit_sink = nullptr);
  ~CtlService();

  // The allow list to use for a configuration: its rules with the runtime changes.
  core::AllowList effective_access(const core::AllowList& config_rules) const;
  // Checks what the configuration parser cannot (the zone exists); an error refuses
  // the configuration (at start and on reload).
  std::optional<std::string> check_config(const Config& cfg) const;
  // Writes the audit record of a reload (SIGHUP: caller.known = false).
  void audit_reload(const Caller& who, const ReloadOutcome& r);
  // Replays runtime sources through the provider (call once the provider is ready).
  void restore_sources();
  // Tenants added with `tenant add` (runtime state), to add again at start.
  const std::vector<TenantEntry>& runtime_tenants() const { return m_state.tenants; }

  AuditLog& audit() { return m_audit; }
  const TimezoneDb& zones() const { return m_tz; }
  const std::string& zone() const { return m_zone; }
  std::string metrics_text(ctl::MetricsFormat f) const;
  const CtlServer* server() const { return m_server.get(); }
  // The state directory in use (the worker's, or the one made here): may be invalid.
  const StateDir& state_dir() const { return *m_dir; }

 private:
  CtlOutcome handle(const Peer& peer, const ctl::ParsedCommand& pc);
  void on_refused(const Peer& peer, const std::string& line, const std::string& reason);
  // Makes a change audited and durable, then applies it: audit record (fsynced), state
  // file, apply() (audited_apply with an apply that cannot fail). Any failure leaves
  // everything as it was (a failure after the record adds a "failed" record).
  CtlOutcome commit(const Peer& peer, const ctl::ParsedCommand& pc, const std::string& before, const std::string& after,
                    const RuntimeState& next, const std::function<void()>& apply, std::vector<std::string> reply = {});
  CtlOutcome refuse(const Peer& peer, const ctl::ParsedCommand& pc, ctl::ErrCode code, const std::string& text);
  // Every change: audited FIRST, then made durable, then applied (issue 19 item 5). The
  // record says "ok" and is fsynced before anything else; `next` (the runtime state to
  // keep with it) is then written atomically; then `apply` runs. If the record cannot be
  // written, nothing is done; if the state file or `apply` fails after it, a second
  // record says "failed: ... (the change above was not applied)" and the state file is
  // put back. A crash in between leaves a trail that says at least as much as the
  // state. `precheck`: refusals known before anything is written (audited as refusals,
  // rate-limited).
  CtlOutcome audited_apply(const Peer& peer, const ctl::ParsedCommand& pc, const std::string& before,
                           const std::string& after, const std::optional<RuntimeState>& next,
                           const std::function<std::optional<ctl::Error>()>& precheck,
                           const std::function<CommandResult()>& apply);
  void set_zone(const std::string& zone);
  std::string effective_zone(const Config& cfg) const;
  std::string rule_origin(const core::Prefix& p) const;
  ctl::Record zone_record(core::Timestamp now) const;

  CtlOutcome cmd_help() const;
  CtlOutcome cmd_clients(const ctl::ParsedCommand& pc) const;
  CtlOutcome cmd_serverstats() const;
  CtlOutcome cmd_rule_add(const Peer& peer, const ctl::ParsedCommand& pc, core::AccessAction action);
  CtlOutcome cmd_rule_delete(const Peer& peer, const ctl::ParsedCommand& pc, core::AccessAction action);
  CtlOutcome cmd_allow_list() const;
  CtlOutcome cmd_allow_check(const ctl::ParsedCommand& pc) const;
  CtlOutcome cmd_timezone_list() const;
  CtlOutcome cmd_timezone_set(const Peer& peer, const ctl::ParsedCommand& pc);
  CtlOutcome cmd_audit_tail(const ctl::ParsedCommand& pc) const;
  CtlOutcome cmd_audit_verify() const;
  CtlOutcome cmd_alerts() const;
  CtlOutcome cmd_peers() const;
  CtlOutcome cmd_report(const ctl::ParsedCommand& pc) const;
  CtlOutcome cmd_rtc() const;
  CtlOutcome cmd_reload(const Peer& peer, const ctl::ParsedCommand& pc);
  CtlOutcome cmd_source_add(const Peer& peer, const ctl::ParsedCommand& pc);
  CtlOutcome cmd_source_delete(const Peer& peer, const ctl::ParsedCommand& pc);
  CtlOutcome cmd_tenants() const;
  CtlOutcome cmd_tenant_list() const;
  CtlOutcome cmd_tenant_add(const Peer& peer, const ctl::ParsedCommand& pc);
  CtlOutcome cmd_tenant_delete(const Peer& peer, const ctl::ParsedCommand& pc);

  DaemonView& m_daemon;
  ClientStatusProvider& m_provider;
  TimezoneDb m_tz;
  std::string m_zone;
  StateDir m_own_dir;     // only when the worker had none
  const StateDir* m_dir;  // the one in use (may be invalid: no persistence, no audit)
  RuntimeState m_state;
  AuditLog m_audit;
  std::unique_ptr<CtlServer> m_server;
  std::unique_ptr<MetricsHttp> m_http;
  int64_t m_start_mono_ns = 0;
  std::unique_ptr<sys::Callback> m_tick;  // flushes suppressed refusal records
  void arm_flush();                       // ... armed while some are waiting
};

}  // namespace tr7::daemon
