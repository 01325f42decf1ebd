// The daemon's alerts (see alert_service.h).
#include "daemon/alert_service.h"

#include <algorithm>

#include "ctl/json.h"
#include "ctl/status.h"
#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

double mono_s() { return static_cast<double>(sys::monotonic_ns()) / 1e9; }

// An SD-PARAM value (RFC 5424 §6.3.3): '"', '\' and ']' escaped.
std::string sd_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '"' || c == '\\' || c == ']') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

}  // namespace

const char* alert_unit(core::AlertKind k) {
  switch (k) {
    case core::AlertKind::Offset:
    case core::AlertKind::CorrectionHeld:
    case core::AlertKind::PeerDisagreement:
      return "s";
    case core::AlertKind::Drift:
      return "ppm";
    default:
      return "";
  }
}

std::string alert_json(const AlertRecord& r, const std::string& node) {
  ctl::JsonObject o;
  o.str("alert", core::to_string(r.kind));
  o.str("state", r.firing ? "firing" : "resolved");
  o.str("severity", core::to_string(core::severity_of(r.kind)));
  o.str("node", node);
  if (r.kind == core::AlertKind::TenantDown) {
    o.str("tenant", r.subject);
  } else {
    o.null("tenant");
  }
  if (r.kind == core::AlertKind::PeerDisagreement) {
    o.str("peer", r.subject);
  } else {
    o.null("peer");
  }
  o.num("value", r.value);
  o.num("threshold", r.threshold);
  o.str("unit", alert_unit(r.kind));
  o.str("time_utc", ctl::format_utc(r.firing ? r.fired : r.resolved));
  o.str("fired_utc", ctl::format_utc(r.fired));
  o.str("message", r.text);
  return o.done();
}

std::string alert_log_line(const AlertRecord& r, const std::string& node) {
  std::string state = r.firing ? "firing" : "resolved";
  std::string sd = "[tr7alert@32473 alert=\"" + std::string(core::to_string(r.kind)) + "\" state=\"" + state +
                   "\" severity=\"" + core::to_string(core::severity_of(r.kind)) + "\" node=\"" + sd_value(node) +
                   "\" subject=\"" + sd_value(r.subject) + "\" value=\"" + ctl::format_double(r.value) +
                   "\" threshold=\"" + ctl::format_double(r.threshold) + "\"]";
  return "alert " + std::string(core::to_string(r.kind)) + (r.subject.empty() ? "" : " (" + r.subject + ")") + " " +
         state + ": " + sd + " " + r.text;
}

AlertService::AlertService(event_base* base, const Config& cfg, InputFn input, std::unique_ptr<Webhook> webhook)
    : m_engine(cfg.alerts.engine, mono_s()),
      m_input(std::move(input)),
      m_webhook(std::move(webhook)),
      m_node(node_name(cfg.daemon)),
      m_timer(base, -1, 0, [this](evutil_socket_t, short) { tick(); }) {}

AlertService::~AlertService() = default;

void AlertService::apply(const Config& cfg) {
  m_engine.set_settings(cfg.alerts.engine);
  m_node = node_name(cfg.daemon);
  tick();
}

void AlertService::tick() {
  if (m_in_tick) {
    return;  // a listener's work (the audit log, say) came back here
  }
  m_in_tick = true;
  double now = mono_s();
  core::Timestamp real = sys::realtime_now();
  auto to_real = [&](double mono) {
    return core::Timestamp::from_ns(real.ns - static_cast<int64_t>((now - mono) * 1e9));
  };
  for (const auto& ev : m_engine.update(m_input(now))) {
    AlertRecord r;
    r.kind = ev.kind;
    r.subject = ev.subject;
    r.firing = ev.firing;
    r.value = ev.value;
    r.threshold = ev.threshold;
    r.fired = to_real(ev.since_mono_s);
    r.text = ev.text;
    if (!ev.firing) {
      r.resolved = real;
      m_recent.push_front(r);
      if (m_recent.size() > k_recent) {
        m_recent.pop_back();
      }
      ++m_resolved;
    } else {
      ++m_fired;
    }
    std::string line = alert_log_line(r, m_node);
    if (!ev.firing) {
      log_info("%s", line.c_str());
    } else if (core::severity_of(ev.kind) == core::AlertSeverity::Critical) {
      log_err("%s", line.c_str());
    } else {
      log_warn("%s", line.c_str());
    }
    if (m_webhook) {
      m_webhook->post(alert_json(r, m_node));
    }
    for (const auto& f : m_listeners) {
      f(r);
    }
  }
  m_timer.del();
  if (auto t = m_engine.next_deadline()) {
    // A little after the deadline, so the hold time has surely passed.
    m_timer.add(std::max(0.0, *t - now) + 0.01);
  }
  m_in_tick = false;
}

std::vector<AlertRecord> AlertService::list() const {
  std::vector<AlertRecord> v;
  double now = mono_s();
  core::Timestamp real = sys::realtime_now();
  auto active = m_engine.active();
  std::sort(active.begin(), active.end(),
            [](const core::ActiveAlert& a, const core::ActiveAlert& b) { return a.since_mono_s < b.since_mono_s; });
  for (const auto& a : active) {
    AlertRecord r;
    r.kind = a.kind;
    r.subject = a.subject;
    r.value = a.value;
    r.threshold = a.threshold;
    r.fired = core::Timestamp::from_ns(real.ns - static_cast<int64_t>((now - a.since_mono_s) * 1e9));
    r.text = a.text;
    v.push_back(std::move(r));
  }
  v.insert(v.end(), m_recent.begin(), m_recent.end());
  return v;
}

}  // namespace tr7::daemon
