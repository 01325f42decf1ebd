// The control commands: one `case` per entry of ctl/commands.def (no `default`, so
// -Wswitch names a missing one).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/tz.h"
#include "ctl/report.h"
#include "ctl/status.h"
#include "daemon/alert_service.h"
#include "daemon/client_provider.h"
#include "daemon/ctl_service.h"
#include "daemon/history_store.h"
#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

CtlOutcome one(const ctl::Record& r) {
  CtlOutcome o;
  o.lines.push_back(ctl::encode_record(r));
  return o;
}

template <class T>
CtlOutcome table(const std::vector<T>& items) {
  CtlOutcome o;
  for (const auto& i : items) {
    o.lines.push_back(ctl::encode_record(ctl::to_record(i)));
  }
  return o;
}

// A Text reply: the lines of `text`, dot-stuffed.
CtlOutcome text_reply(const std::string& text) {
  CtlOutcome o;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      nl = text.size();
    }
    o.lines.push_back(ctl::stuff_line(std::string_view(text).substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return o;
}

const char* action_name(core::AccessAction a) { return a == core::AccessAction::Allow ? "allow" : "deny"; }

}  // namespace

CtlOutcome CtlService::handle(const Peer& peer, const ctl::ParsedCommand& pc) {
  core::Timestamp now = m_daemon.now();
  switch (pc.cmd) {
    case ctl::Cmd::Help:
      return cmd_help();
    case ctl::Cmd::Tracking:
      return one(ctl::to_record(m_provider.tracking(now)));
    case ctl::Cmd::Sources:
      return table(m_provider.sources(now));
    case ctl::Cmd::SourceStats:
      return table(m_provider.source_stats());
    case ctl::Cmd::SelectData:
      return table(m_provider.select_data());
    case ctl::Cmd::AuthData:
      return table(m_provider.auth_data());
    case ctl::Cmd::Activity:
      return one(ctl::to_record(m_provider.activity()));
    case ctl::Cmd::NtpData: {
      auto d = m_provider.ntp_data(*pc.addr);
      if (!d) {
        return CtlOutcome::fail(ctl::ErrCode::NotFound, "no source with address " + pc.addr->to_string());
      }
      return one(ctl::to_record(*d));
    }
    case ctl::Cmd::Clients:
      return cmd_clients(pc);
    case ctl::Cmd::ServerStats:
      return cmd_serverstats();
    case ctl::Cmd::Alerts:
      return cmd_alerts();
    case ctl::Cmd::Peers:
      return cmd_peers();
    case ctl::Cmd::SourceAdd:
      return cmd_source_add(peer, pc);
    case ctl::Cmd::SourceDelete:
      return cmd_source_delete(peer, pc);
    case ctl::Cmd::Burst:
      return audited_apply(
          peer, pc, "", "", std::nullopt,
          [this, now]() -> std::optional<ctl::Error> {
            if (m_provider.sources(now).empty()) {
              return ctl::Error{ctl::ErrCode::NotFound, "no NTP source to send a burst to"};
            }
            return std::nullopt;
          },
          [this] { return m_provider.burst(); });
    case ctl::Cmd::MakeStep: {
      auto before = ctl::encode_record(ctl::to_record(m_provider.tracking(now)));
      return audited_apply(
          peer, pc, before, "", std::nullopt,
          [this, now]() -> std::optional<ctl::Error> {
            if (m_provider.sources(now).empty()) {
              return ctl::Error{ctl::ErrCode::Failed, "no NTP source: no measured offset to step by"};
            }
            return std::nullopt;
          },
          [this] { return m_provider.make_step(); });
    }
    case ctl::Cmd::Approve: {
      auto t = m_provider.tracking(now);
      std::string before =
          t.held ? "held_id=" + std::to_string(t.held->id) + " held_offset_s=" + ctl::format_double(t.held->offset_s)
                 : "";
      return audited_apply(
          peer, pc, before, "", std::nullopt,
          [t, id = pc.number]() -> std::optional<ctl::Error> {
            if (t.held && id && *id != t.held->id) {
              return ctl::Error{ctl::ErrCode::NotFound, "correction " + std::to_string(*id) +
                                                            " is not held (the held one is " +
                                                            std::to_string(t.held->id) + ")"};
            }
            if (!t.held && id) {
              return ctl::Error{ctl::ErrCode::NotFound,
                                "correction " + std::to_string(*id) + " is not held (no correction is held)"};
            }
            return std::nullopt;
          },
          [this, id = pc.number] { return m_provider.approve(id); });
    }
    case ctl::Cmd::AllowAdd:
      return cmd_rule_add(peer, pc, core::AccessAction::Allow);
    case ctl::Cmd::AllowDelete:
      return cmd_rule_delete(peer, pc, core::AccessAction::Allow);
    case ctl::Cmd::AllowList:
      return cmd_allow_list();
    case ctl::Cmd::AllowCheck:
      return cmd_allow_check(pc);
    case ctl::Cmd::Tenants:
      return cmd_tenants();
    case ctl::Cmd::TenantList:
      return cmd_tenant_list();
    case ctl::Cmd::TenantAdd:
      return cmd_tenant_add(peer, pc);
    case ctl::Cmd::TenantDelete:
      return cmd_tenant_delete(peer, pc);
    case ctl::Cmd::DenyAdd:
      return cmd_rule_add(peer, pc, core::AccessAction::Deny);
    case ctl::Cmd::DenyDelete:
      return cmd_rule_delete(peer, pc, core::AccessAction::Deny);
    case ctl::Cmd::TimezoneList:
      return cmd_timezone_list();
    case ctl::Cmd::TimezoneGet:
      return one(zone_record(sys::realtime_now()));
    case ctl::Cmd::TimezoneSet:
      return cmd_timezone_set(peer, pc);
    case ctl::Cmd::AuditTail:
      return cmd_audit_tail(pc);
    case ctl::Cmd::AuditVerify:
      return cmd_audit_verify();
    case ctl::Cmd::Report:
      return cmd_report(pc);
    case ctl::Cmd::Rtc:
      return cmd_rtc();
    case ctl::Cmd::Metrics: {
      auto f = !pc.args.empty() && pc.args[0] == "prometheus" ? ctl::MetricsFormat::Prometheus
                                                              : ctl::MetricsFormat::OpenMetrics;
      return text_reply(metrics_text(f));
    }
    case ctl::Cmd::Reload:
      return cmd_reload(peer, pc);
    case ctl::Cmd::WaitSync:
      return CtlOutcome::fail(ctl::ErrCode::Unsupported, "waitsync is done by tr7ntpc (it polls 'tracking')");
    case ctl::Cmd::Quit: {
      CtlOutcome o;
      o.close = true;
      return o;
    }
  }
  return CtlOutcome::fail(ctl::ErrCode::UnknownCommand, "unknown command");
}

CtlOutcome CtlService::cmd_help() const {
  CtlOutcome o;
  for (const auto& ci : ctl::k_commands) {
    if (ci.shape == ctl::Shape::Local) {
      continue;
    }
    o.lines.push_back(ctl::encode_record({{"command", ci.name},
                                          {"args", ci.args},
                                          {"access", ctl::to_string(ci.access)},
                                          {"reply", ctl::to_string(ci.shape)},
                                          {"help", ci.help}}));
  }
  return o;
}

CtlOutcome CtlService::cmd_clients(const ctl::ParsedCommand& pc) const {
  size_t limit = pc.number ? static_cast<size_t>(*pc.number) : 100;
  int64_t mono = sys::monotonic_ns();
  core::Timestamp real = sys::realtime_now();
  auto when = [&](int64_t mono_ns) { return core::Timestamp::from_ns(real.ns - (mono - mono_ns)); };
  CtlOutcome o;
  m_daemon.visit_clients(limit, [&](const std::string& tenant, const core::ClientRecord& c) {
    core::IpAddr a = c.key.addr();
    std::string addr = a.is_v6() ? core::Prefix{a, 64}.to_string() : a.to_string();
    o.lines.push_back(ctl::encode_record({
        {"tenant", tenant},
        {"address", addr},
        {"requests", std::to_string(c.requests)},
        {"answered", std::to_string(c.answered)},
        {"limited", std::to_string(c.limited)},
        {"kod", std::to_string(c.kod)},
        {"denied", std::to_string(c.denied)},
        {"first_seen_utc", ctl::format_utc(when(c.first_seen_ns))},
        {"last_seen_utc", ctl::format_utc(when(c.last_seen_ns))},
        {"last_seen_ago_s", ctl::format_double(static_cast<double>(mono - c.last_seen_ns) / 1e9)},
    }));
  });
  return o;
}

CtlOutcome CtlService::cmd_serverstats() const {
  core::ServerStats s = m_daemon.server_stats();
  ctl::Record r{
      {"received", std::to_string(s.received)}, {"answered", std::to_string(s.answered)},
      {"kod_rate", std::to_string(s.kod_rate)}, {"kod_deny", std::to_string(s.kod_deny)},
      {"leaked", std::to_string(s.leaked)},     {"dropped", std::to_string(s.dropped_total())},
  };
  for (size_t i = 0; i < core::k_drop_reasons; ++i) {
    r.emplace_back(std::string("dropped_") + core::to_string(static_cast<core::DropReason>(i)),
                   std::to_string(s.dropped[i]));
  }
  // Authentication (keys, NTS): replies authenticated, NAKs sent, requests refused.
  r.emplace_back("authenticated", std::to_string(s.auth_mac + s.auth_nts));
  r.emplace_back("auth_mac", std::to_string(s.auth_mac));
  r.emplace_back("auth_nts", std::to_string(s.auth_nts));
  r.emplace_back("naks", std::to_string(s.nak_crypto + s.nak_nts));
  r.emplace_back("nak_crypto", std::to_string(s.nak_crypto));
  r.emplace_back("nak_nts", std::to_string(s.nak_nts));
  r.emplace_back("auth_refused", std::to_string(s.dropped[static_cast<size_t>(core::DropReason::AuthFailed)]));
  AuthStats a = m_daemon.auth_stats();
  r.emplace_back("nts_ke_accepted", std::to_string(a.ke.accepted));
  r.emplace_back("nts_ke_completed", std::to_string(a.ke.completed));
  r.emplace_back("nts_ke_errors", std::to_string(a.ke.errors_sent));
  r.emplace_back("nts_ke_failed", std::to_string(a.ke.failed));
  r.emplace_back("nts_ke_refused", std::to_string(a.ke.refused));
  r.emplace_back("nts_ke_active", std::to_string(a.ke_active));
  r.emplace_back("send_errors", std::to_string(m_daemon.send_errors()));
  r.emplace_back("clients", std::to_string(m_daemon.client_count()));
  r.emplace_back("client_capacity", std::to_string(m_daemon.client_capacity()));
  return one(r);
}

std::string CtlService::rule_origin(const core::Prefix& p) const {
  for (const auto& o : m_state.rules) {
    if (o.prefix == p) {
      return "runtime";
    }
  }
  return "config";
}

CtlOutcome CtlService::cmd_rule_add(const Peer& peer, const ctl::ParsedCommand& pc, core::AccessAction action) {
  const core::Prefix& p = *pc.prefix;
  for (const auto& r : m_daemon.access().rules()) {
    if (r.prefix == p) {
      if (r.action == action) {
        return refuse(peer, pc, ctl::ErrCode::Exists,
                      p.to_string() + " already has an " + action_name(action) + " rule (" + rule_origin(p) + ")");
      }
      return refuse(peer, pc, ctl::ErrCode::Exists,
                    p.to_string() + " has a " + action_name(r.action) + " rule (" + rule_origin(p) + "): '" +
                        action_name(r.action) + " delete " + p.to_string() + "' first");
    }
  }
  RuntimeState next = m_state;
  next.set_rule(p, action, m_daemon.config().server.access);
  core::AllowList list = next.apply(m_daemon.config().server.access);
  std::string after = std::string(action_name(action)) + " " + p.to_string();
  return commit(peer, pc, "", after, next, [this, list]() { m_daemon.set_access(list); });
}

CtlOutcome CtlService::cmd_rule_delete(const Peer& peer, const ctl::ParsedCommand& pc, core::AccessAction action) {
  const core::Prefix& p = *pc.prefix;
  bool found = false;
  for (const auto& r : m_daemon.access().rules()) {
    if (r.prefix == p) {
      if (r.action != action) {
        return refuse(peer, pc, ctl::ErrCode::NotFound,
                      p.to_string() + " has a " + action_name(r.action) + " rule, not " + action_name(action));
      }
      found = true;
    }
  }
  if (!found) {
    return refuse(peer, pc, ctl::ErrCode::NotFound,
                  std::string("no ") + action_name(action) + " rule for " + p.to_string());
  }
  RuntimeState next = m_state;
  next.set_rule(p, std::nullopt, m_daemon.config().server.access);
  core::AllowList list = next.apply(m_daemon.config().server.access);
  std::string before = std::string(action_name(action)) + " " + p.to_string() + " (" + rule_origin(p) + ")";
  return commit(peer, pc, before, "", next, [this, list]() { m_daemon.set_access(list); });
}

CtlOutcome CtlService::cmd_allow_list() const {
  std::vector<core::AccessRule> rules = m_daemon.access().rules();
  std::stable_sort(rules.begin(), rules.end(), [](const core::AccessRule& a, const core::AccessRule& b) {
    if (a.prefix.addr.family != b.prefix.addr.family) {
      return a.prefix.addr.family < b.prefix.addr.family;
    }
    return a.prefix.len > b.prefix.len;
  });
  CtlOutcome o;
  for (const auto& r : rules) {
    o.lines.push_back(ctl::encode_record(
        {{"prefix", r.prefix.to_string()}, {"action", action_name(r.action)}, {"origin", rule_origin(r.prefix)}}));
  }
  o.lines.push_back(ctl::encode_record(
      {{"prefix", "default"}, {"action", action_name(m_daemon.access().default_action())}, {"origin", "default"}}));
  return o;
}

CtlOutcome CtlService::cmd_allow_check(const ctl::ParsedCommand& pc) const {
  const core::IpAddr& a = *pc.addr;
  // A tenant's own allow list, or the daemon's ([server] with the runtime changes).
  std::optional<core::TenantSpec> tenant;
  if (pc.tenant && *pc.tenant != core::k_default_tenant) {
    tenant = m_daemon.tenant(*pc.tenant);
    if (!tenant) {
      return CtlOutcome::fail(ctl::ErrCode::NotFound, "no tenant " + *pc.tenant);
    }
  }
  core::AccessVerdict v = tenant ? tenant->access.check(a) : m_daemon.access().check(a);
  std::string reason;
  std::string rule;
  std::string origin = "default";
  if (v.rule && tenant) {
    rule = v.rule->prefix.to_string();
    origin = "tenant";
    reason = "longest matching prefix " + rule + " (" + action_name(v.rule->action) + ", tenant " + tenant->name + ")";
  } else if (v.rule) {
    rule = v.rule->prefix.to_string();
    origin = rule_origin(v.rule->prefix);
    reason = "longest matching prefix " + rule + " (" + action_name(v.rule->action) + ", from the " +
             (origin == "runtime" ? "runtime changes" : "configuration") + ")";
  } else if (!tenant && m_daemon.access().loopback_only()) {
    reason = v.action == core::AccessAction::Allow
                 ? "no rule matches; a loopback client: answered (no allow rule, [server] listen is not loopback)"
                 : "no rule matches; the default is deny: [server] listen is not loopback and there is no allow "
                   "rule, so only loopback clients are answered";
  } else if (v.action == core::AccessAction::Deny) {
    reason = "no rule matches; the default is deny because allow rules exist";
  } else {
    reason = "no rule matches; the default is allow because there are no allow rules";
  }
  if (!pc.args.empty() && pc.args.back() != a.to_string()) {
    reason += "; " + pc.args.back() + " was matched as " + a.to_string();
  }
  std::string served = v.action == core::AccessAction::Allow ? "yes" : "no";
  if (a.is_bad_source()) {
    served = "no";
    reason += "; but requests from a multicast, broadcast or unspecified address are never answered";
  }
  return one({{"tenant", tenant ? tenant->name : std::string(core::k_default_tenant)},
              {"address", a.to_string()},
              {"action", action_name(v.action)},
              {"served", served},
              {"rule", rule},
              {"origin", origin},
              {"reason", reason}});
}

namespace {

std::string rules_text(const core::AllowList& l) {
  std::string t;
  for (const auto& r : l.rules()) {
    t += (t.empty() ? "" : ",") + std::string(action_name(r.action)) + ":" + r.prefix.to_string();
  }
  return t;
}

}  // namespace

CtlOutcome CtlService::cmd_tenants() const {
  // The serverstats keys (tr7top reads them) with the tenant's name, plus the summary
  // columns: requests, denied (silently or with KoD), rate-limited (dropped or KoD).
  CtlOutcome o;
  for (const auto& t : m_daemon.tenants()) {
    const core::ServerStats& s = t.server;
    uint64_t denied = s.dropped[static_cast<size_t>(core::DropReason::Denied)] + s.kod_deny;
    uint64_t limited = s.dropped[static_cast<size_t>(core::DropReason::RateLimited)] + s.kod_rate;
    ctl::Record r{{"name", t.name},
                  {"netns", t.netns},
                  {"listen", core::listen_text(t.listen)},
                  {"state", t.state},
                  {"requests", std::to_string(s.received)},
                  {"answered", std::to_string(s.answered)},
                  {"denied", std::to_string(denied)},
                  {"ratelimited", std::to_string(limited)},
                  {"clients", std::to_string(t.clients)},
                  {"client_capacity", std::to_string(t.client_capacity)},
                  {"received", std::to_string(s.received)},
                  {"kod_rate", std::to_string(s.kod_rate)},
                  {"kod_deny", std::to_string(s.kod_deny)},
                  {"leaked", std::to_string(s.leaked)},
                  {"dropped", std::to_string(s.dropped_total())}};
    for (size_t i = 0; i < core::k_drop_reasons; ++i) {
      r.emplace_back(std::string("dropped_") + core::to_string(static_cast<core::DropReason>(i)),
                     std::to_string(s.dropped[i]));
    }
    r.emplace_back("send_errors", std::to_string(t.send_errors));
    r.emplace_back("rebinds", std::to_string(t.rebinds));
    o.lines.push_back(ctl::encode_record(r));
  }
  return o;
}

CtlOutcome CtlService::cmd_tenant_list() const {
  CtlOutcome o;
  for (const auto& t : m_daemon.tenants()) {
    auto spec = m_daemon.tenant(t.name);
    ctl::Record r{{"name", t.name},
                  {"netns", t.netns},
                  {"listen", core::listen_text(t.listen)},
                  {"origin", t.runtime ? "runtime" : "config"},
                  {"state", t.state},
                  {"rules", spec ? rules_text(spec->access) : ""},
                  {"max_clients", std::to_string(t.client_capacity)}};
    std::string rl;
    if (spec && spec->ratelimit.enabled) {
      rl = "interval " + ctl::format_double(spec->ratelimit.interval_s) + " burst " +
           std::to_string(spec->ratelimit.burst) + " kod " + (spec->ratelimit.kod ? "yes" : "no");
    }
    r.emplace_back("ratelimit", rl);
    o.lines.push_back(ctl::encode_record(r));
  }
  return o;
}

CtlOutcome CtlService::cmd_tenant_add(const Peer& peer, const ctl::ParsedCommand& pc) {
  auto spec = core::parse_tenant_words(*pc.tenant, pc.settings);
  if (!spec) {
    return refuse(peer, pc, ctl::ErrCode::InvalidArgument, spec.error());
  }
  if (m_daemon.tenant(spec->name)) {
    return refuse(peer, pc, ctl::ErrCode::Exists, "tenant " + spec->name + " exists ('tenant delete' it first)");
  }
  const auto& rules = m_daemon.config().tenants.runtime;
  for (const auto& a : spec->listen) {
    if (!core::runtime_bind_allowed(rules, spec->netns, a)) {
      return refuse(peer, pc, ctl::ErrCode::Unsupported,
                    "netns " + spec->netns + " address " + a.to_string() +
                        " is not allowed for runtime tenants (see [tenants] runtime in tr7ntpd.conf(5))");
    }
  }
  std::string after;
  for (const auto& w : core::tenant_words(*spec)) {
    after += (after.empty() ? "" : " ") + w;
  }
  RuntimeState next = m_state;
  next.tenants.push_back(TenantEntry{spec->name, core::tenant_words(*spec)});
  // Durable and audited first; then the sockets: a tenant that cannot serve is refused
  // (a "failed" record follows) and nothing is kept.
  CtlOutcome o = audited_apply(peer, pc, "", "tenant " + spec->name + " " + after, next, nullptr,
                               [this, sp = *spec]() -> CommandResult {
                                 if (auto r = m_daemon.add_tenant(sp); !r) {
                                   return unexpected(ctl::Error{ctl::ErrCode::Failed, r.error()});
                                 }
                                 return "tenant " + sp.name + " added";
                               });
  o.lines.clear();
  return o;
}

CtlOutcome CtlService::cmd_tenant_delete(const Peer& peer, const ctl::ParsedCommand& pc) {
  const std::string& name = *pc.tenant;
  auto spec = m_daemon.tenant(name);
  if (!spec) {
    return refuse(peer, pc, ctl::ErrCode::NotFound, "no tenant " + name);
  }
  std::string before;
  for (const auto& w : core::tenant_words(*spec)) {
    before += (before.empty() ? "" : " ") + w;
  }
  RuntimeState next = m_state;
  next.tenants.erase(
      std::remove_if(next.tenants.begin(), next.tenants.end(), [&](const TenantEntry& t) { return t.name == name; }),
      next.tenants.end());
  return commit(peer, pc, "tenant " + name + " " + before, "", next, [this, name] { m_daemon.remove_tenant(name); });
}

ctl::Record CtlService::zone_record(core::Timestamp now) const {
  core::LocalInfo li = m_tz.local_info(m_zone, now);
  return {{"zone", m_zone},
          {"origin", m_state.timezone ? "runtime" : "config"},
          {"utc_offset_s", std::to_string(li.utc_offset_s)},
          {"abbreviation", li.abbr},
          {"dst", li.dst ? "yes" : "no"},
          {"local_time", core::format_rfc3339(now, li.utc_offset_s, true)},
          {"utc_time", core::format_rfc3339(now)},
          {"rule", m_tz.rule_text(m_zone).value_or("")}};
}

CtlOutcome CtlService::cmd_timezone_list() const {
  CtlOutcome o;
  core::Timestamp now = sys::realtime_now();
  for (const auto& z : m_tz.names()) {
    core::LocalInfo li = m_tz.local_info(z, now);
    o.lines.push_back(ctl::encode_record(
        {{"zone", z}, {"utc_offset_s", std::to_string(li.utc_offset_s)}, {"abbreviation", li.abbr}}));
  }
  return o;
}

CtlOutcome CtlService::cmd_timezone_set(const Peer& peer, const ctl::ParsedCommand& pc) {
  const std::string& zone = pc.args[0];
  if (!m_tz.contains(zone)) {
    return refuse(peer, pc, ctl::ErrCode::NotFound, "unknown time zone '" + zone + "' (see 'timezone list')");
  }
  RuntimeState next = m_state;
  if (zone == m_daemon.config().daemon.timezone) {
    next.timezone.reset();  // the configuration's zone again
  } else {
    next.timezone = zone;
  }
  std::string before = m_zone;
  CtlOutcome o = commit(peer, pc, before, zone, next, [this, zone]() { set_zone(zone); });
  if (o.ok) {
    o.lines.push_back(ctl::encode_record(zone_record(sys::realtime_now())));
  }
  return o;
}

CtlOutcome CtlService::cmd_audit_tail(const ctl::ParsedCommand& pc) const {
  size_t n = pc.number ? static_cast<size_t>(*pc.number) : 20;
  auto t = m_audit.tail(n);
  if (!t) {
    return CtlOutcome::fail(ctl::ErrCode::Unsupported, t.error());
  }
  CtlOutcome o;
  for (const auto& obj : *t) {
    ctl::Record r;
    for (const auto& f : obj) {
      if (ctl::valid_key(f.key)) {
        r.emplace_back(f.key, f.value == "null" && !f.is_string ? std::string() : f.value);
      }
    }
    o.lines.push_back(ctl::encode_record(r));
  }
  return o;
}

CtlOutcome CtlService::cmd_audit_verify() const {
  AuditVerdict v = m_audit.verify();
  const core::ChainReport& c = v.chain;
  std::string files;
  for (const auto& f : v.files) {
    files += (files.empty() ? "" : ",") + f;
  }
  bool ok = c.ok && v.error.empty();
  return one({{"result", ok ? "ok" : "bad"},
              {"records", std::to_string(c.records)},
              {"first_seq", c.records ? std::to_string(c.first_seq) : ""},
              {"last_seq", c.records ? std::to_string(c.last_seq) : ""},
              {"unchained", std::to_string(c.unchained)},
              {"written_seq", std::to_string(m_audit.chain().seq)},
              {"first_bad_seq", c.first_bad_seq ? std::to_string(*c.first_bad_seq) : ""},
              {"problem", !v.error.empty() ? v.error : c.problem},
              {"where", c.where},
              {"files", files}});
}

CtlOutcome CtlService::cmd_peers() const {
  CtlOutcome o;
  double limit = m_daemon.config().alerts.engine.peer_max_offset_s;
  for (const auto& p : m_daemon.peers()) {
    o.lines.push_back(
        ctl::encode_record({{"name", p.name},
                            {"address", p.address},
                            {"port", std::to_string(p.port)},
                            {"state", p.state},
                            {"stratum", p.stratum ? std::to_string(p.stratum) : ""},
                            {"ref_id", p.stratum ? ctl::format_refid(p.refid) : ""},
                            {"reach",
                             [&] {
                               char b[8];
                               std::snprintf(b, sizeof b, "%o", p.reach);
                               return std::string(b);
                             }()},
                            {"poll", std::to_string(p.poll)},
                            {"last_rx_ago_s", p.last_rx_ago_s < 0 ? "" : ctl::format_double(p.last_rx_ago_s)},
                            {"offset_s", p.measured ? ctl::format_double(p.offset_s) : ""},
                            {"delay_s", p.measured ? ctl::format_double(p.delay_s) : ""},
                            {"samples", std::to_string(p.samples)},
                            {"disagrees", p.measured ? (std::fabs(p.offset_s) > limit ? "yes" : "no") : ""},
                            {"reject", p.reject}}));
  }
  return o;
}

CtlOutcome CtlService::cmd_report(const ctl::ParsedCommand& pc) const {
  HistoryStore* h = m_daemon.history();
  if (h == nullptr) {
    return CtlOutcome::fail(ctl::ErrCode::Unsupported, "no history in this daemon");
  }
  constexpr int64_t k_default_days = 30;
  int64_t now_s = sys::realtime_now().ns / core::k_ns_per_s;
  int64_t to_s = pc.until ? pc.until->ns / core::k_ns_per_s : now_s;
  int64_t from_s = pc.since ? pc.since->ns / core::k_ns_per_s : to_s - k_default_days * 86400;
  if (from_s >= to_s) {
    return CtlOutcome::fail(ctl::ErrCode::InvalidArgument, "the period is empty (since is not before until)");
  }
  std::vector<std::string> tenants{std::string(core::k_default_tenant)};
  for (const auto& t : m_daemon.tenants()) {
    tenants.push_back(t.name);
  }
  if (pc.tenant && std::find(tenants.begin(), tenants.end(), *pc.tenant) == tenants.end()) {
    // A tenant deleted since may still be in the history: allowed, but say so if empty.
    log_debug("report: tenant %s is not configured now", pc.tenant->c_str());
  }
  h->flush();  // what happened until now is in the files
  core::ReportInput in = h->load(from_s, to_s);
  in.node = node_name(m_daemon.config().daemon);
  in.config_sha256 = m_daemon.config().sha256;
  in.tenant = pc.tenant;
  in.tenants = tenants;
  in.audit = m_audit.between(from_s * core::k_ns_per_s, to_s * core::k_ns_per_s);
  core::Report r = core::make_report(in);
  std::string text = pc.format && *pc.format == "md" ? ctl::report_markdown(r) : ctl::report_json(r);
  return text_reply(text);
}

CtlOutcome CtlService::cmd_alerts() const {
  CtlOutcome o;
  const AlertService* a = m_daemon.alerts();
  if (a == nullptr) {
    return o;
  }
  for (const auto& r : a->list()) {
    o.lines.push_back(ctl::encode_record({{"alert", core::to_string(r.kind)},
                                          {"subject", r.subject},
                                          {"state", r.firing ? "firing" : "resolved"},
                                          {"severity", core::to_string(core::severity_of(r.kind))},
                                          {"value", ctl::format_double(r.value)},
                                          {"threshold", ctl::format_double(r.threshold)},
                                          {"unit", alert_unit(r.kind)},
                                          {"fired_utc", ctl::format_utc(r.fired)},
                                          {"resolved_utc", ctl::format_utc(r.resolved)},
                                          {"message", r.text}}));
  }
  return o;
}

CtlOutcome CtlService::cmd_rtc() const {
  RtcReport r = m_daemon.rtc_report();
  bool present = false;
  if (!r.device.empty()) {
    struct stat st {};
    present = stat(r.device.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
  }
  // Never: the empty value (null in tr7ntpc --json, "never" for people).
  auto age = [](double a) { return a < 0 ? std::string() : std::to_string(static_cast<int64_t>(a)); };
  const char* mode = r.writing          ? "written every 11 min while synchronised"
                     : r.device.empty() ? "none configured (the saved clock is the fallback)"
                                        : "not written (not opened, or no privileged helper)";
  return one({{"device", r.device.empty() ? "none" : r.device},
              {"present", present ? "yes" : "no"},
              {"managed", r.writing ? "yes" : "no"},
              {"mode", mode},
              {"writes", std::to_string(r.writes)},
              {"write_failures", std::to_string(r.failures)},
              {"last_write_age_s", age(r.last_write_age_s)},
              {"saved_clock_saves", std::to_string(r.saves)},
              {"last_save_age_s", age(r.last_save_age_s)}});
}

CtlOutcome CtlService::cmd_reload(const Peer& peer, const ctl::ParsedCommand& pc) {
  (void)pc;
  ReloadOutcome r = m_daemon.reload();
  audit_reload(peer.caller, r);
  if (!r.ok) {
    std::string first = r.errors.empty() ? "configuration refused" : r.errors.front();
    return CtlOutcome::fail(ctl::ErrCode::Failed, "reload refused, running configuration kept (" +
                                                      std::to_string(r.errors.size()) + " error" +
                                                      (r.errors.size() == 1 ? "" : "s") + "): " + first);
  }
  std::string keys;
  for (const auto& k : r.restart_keys) {
    keys += (keys.empty() ? "" : ",") + k;
  }
  return one({{"result", r.restart_keys.empty() ? "ok" : "restart needed"},
              {"removed", std::to_string(r.removed.size())},
              {"added", std::to_string(r.added.size())},
              {"warnings", std::to_string(r.warnings.size())},
              {"restart_needed", r.restart_keys.empty() ? "no" : "yes"},
              {"restart_keys", keys}});
}

namespace {

// The port of a runtime source entry (its options as in the configuration).
uint16_t entry_port(const SourceEntry& e) {
  auto sc = parse_source_command(e.host, e.options);
  return sc ? sc->port : 123;
}

bool same_host(const std::string& a, const std::string& b) {
  if (a == b) {
    return true;
  }
  auto ia = core::parse_ip(a);
  auto ib = core::parse_ip(b);
  return ia && ib && *ia == *ib;
}

}  // namespace

CtlOutcome CtlService::cmd_source_add(const Peer& peer, const ctl::ParsedCommand& pc) {
  const std::string& host = pc.args[0];
  std::vector<std::string> opts(pc.args.begin() + 1, pc.args.end());
  std::string desc = "source " + host;
  for (const auto& o : opts) {
    desc += " " + o;
  }
  if (auto sc = parse_source_command(host, opts); !sc) {
    return refuse(peer, pc, ctl::ErrCode::InvalidArgument, sc.error());
  }
  uint16_t port = entry_port(SourceEntry{host, opts});
  for (const auto& s : m_state.sources) {
    if (same_host(s.host, host) && entry_port(s) == port) {
      return refuse(peer, pc, ctl::ErrCode::Exists,
                    "source " + host + (port == 123 ? "" : " port " + std::to_string(port)) + " was already added");
    }
  }
  RuntimeState next = m_state;
  next.sources.push_back(SourceEntry{host, opts});
  return audited_apply(peer, pc, "", desc, next, nullptr,
                       [this, host, opts] { return m_provider.add_source(host, std::span<const std::string>(opts)); });
}

CtlOutcome CtlService::cmd_source_delete(const Peer& peer, const ctl::ParsedCommand& pc) {
  const std::string& host = *pc.host;
  RuntimeState next = m_state;
  next.sources.erase(std::remove_if(next.sources.begin(), next.sources.end(),
                                    [&](const SourceEntry& s) {
                                      return same_host(s.host, host) && (!pc.port || entry_port(s) == *pc.port);
                                    }),
                     next.sources.end());
  std::string before = "source " + host + (pc.port ? " port " + std::to_string(*pc.port) : "");
  // Known before anything is written: a host or address no source has.
  auto precheck = [this, host, port = pc.port]() -> std::optional<ctl::Error> {
    auto ip = core::parse_ip(host);
    for (const auto& s : m_provider.sources(m_daemon.now())) {
      bool port_ok = !port || s.port == *port;
      auto sip = core::parse_ip(s.address);
      if (port_ok && (same_host(s.name, host) || (ip && sip && *ip == *sip))) {
        return std::nullopt;
      }
    }
    return ctl::Error{ctl::ErrCode::NotFound, "no source " + host + (port ? " on port " + std::to_string(*port) : "")};
  };
  std::optional<RuntimeState> changed;
  if (!(next == m_state)) {
    changed = next;
  }
  return audited_apply(peer, pc, before, "", changed, precheck,
                       [this, host, port = pc.port] { return m_provider.delete_source(host, port); });
}

}  // namespace tr7::daemon
