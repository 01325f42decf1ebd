// The daemon's alerts: the engine (core/alerts.h) fed with the state of the NTP client,
// the peers, the tenants and the audit trail whenever it may have changed (tick(): the
// owner calls it on those events) and when a hold time runs out (a one-shot timer, so
// an idle daemon is not woken up for nothing); every transition goes to
// the log (with RFC 5424 structured data in the message), to the webhook (if any), and
// to the listeners (the report history); `tr7ntpc alerts` and the metrics read the
// state here.
//
// Log lines: "alert NAME firing: [tr7alert@32473 alert=... state=... ...] text". The
// log goes through syslog(3), whose transport (RFC 3164 over /dev/log) has no field for
// structured data, so the SD-ELEMENT leads the message text, where rsyslog's
// mmpstrucdata or a regular expression finds it; journald keeps the line as it is.
// (32473 is the example enterprise number of RFC 5612: the element is ours, not an IANA
// one.) Critical alerts log as errors, warnings as warnings, resolutions as info.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/alerts.h"
#include "core/time.h"
#include "daemon/config.h"
#include "daemon/webhook.h"
#include "sys/event.h"

namespace tr7::daemon {

// One alert as `alerts` shows it: firing, or resolved (then `resolved` is set).
struct AlertRecord {
  core::AlertKind kind = core::AlertKind::Offset;
  std::string subject;  // peer or tenant, "" otherwise
  bool firing = true;
  double value = 0;
  double threshold = 0;
  core::Timestamp fired;
  core::Timestamp resolved;  // zero while firing
  std::string text;
};
// The unit of an alert's value and threshold: "s", "ppm" or "" (counts, strata).
const char* alert_unit(core::AlertKind k);
// The webhook body of a transition (alert, state, severity, node, tenant, peer, subject,
// value, threshold, unit, time_utc, fired_utc, message).
std::string alert_json(const AlertRecord& r, const std::string& node);
// The log line of a transition (see above).
std::string alert_log_line(const AlertRecord& r, const std::string& node);

class AlertService {
 public:
  using InputFn = std::function<core::AlertInput(double mono_s)>;
  static constexpr size_t k_recent = 50;  // resolved alerts kept for `alerts`

  // `webhook` may be null. Observes once now.
  AlertService(event_base* base, const Config& cfg, InputFn input, std::unique_ptr<Webhook> webhook);
  ~AlertService();
  // A reload: thresholds (the webhook stays until a restart).
  void apply(const Config& cfg);
  // Called with every transition (after the log and the webhook).
  void add_listener(std::function<void(const AlertRecord&)> f) { m_listeners.push_back(std::move(f)); }

  // Firing alerts (oldest first), then resolved ones (most recent first).
  std::vector<AlertRecord> list() const;
  bool active(core::AlertKind k) const { return m_engine.firing(k); }
  uint64_t fired_total() const { return m_fired; }
  uint64_t resolved_total() const { return m_resolved; }
  const Webhook* webhook() const { return m_webhook.get(); }
  const std::string& node() const { return m_node; }
  // Observes now (and arms the timer for the engine's next deadline).
  void tick();

 private:
  core::AlertEngine m_engine;
  InputFn m_input;
  std::unique_ptr<Webhook> m_webhook;
  std::string m_node;
  std::vector<std::function<void(const AlertRecord&)>> m_listeners;
  std::deque<AlertRecord> m_recent;
  uint64_t m_fired = 0;
  uint64_t m_resolved = 0;
  sys::Callback m_timer;
  bool m_in_tick = false;
};

}  // namespace tr7::daemon
