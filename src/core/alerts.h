// The alert engine: conditions on the daemon's state with thresholds and hysteresis,
// each alert firing once and resolving once.
//
// Pure: observations in (with a monotonic time in seconds), transitions out. The daemon
// (daemon/alert_service.h) builds an AlertInput whenever the state may have changed and
// at next_deadline(), and sends each transition to the log, the webhook and the
// history; `tr7ntpc alerts` and the metrics read the state.
//
// Every alert is one state machine per (kind, subject): the subject is the peer or the
// tenant a per-peer or per-tenant alert is about ("" for the others).
//   clear --condition holds--> pending --for hold_s--> FIRING (event "firing")
//   firing --condition gone--> clearing --for clear_hold_s--> clear (event "resolved")
// A pending alert whose condition goes away is dropped silently; a clearing alert whose
// condition comes back is firing again without a new event. Thresholds have hysteresis:
// an alert over a threshold fires above `threshold` and is gone only below
// `threshold * hysteresis`.
//
// The conditions (value / threshold in the events):
//   offset             synchronised and |offset| > offset_s                 |offset| s / offset_s
//   drift              |frequency - any frequency of the last drift_window_s| > drift_ppm
//                      (while synchronised, from startup_grace_s after it synchronised:
//                      the discipline converges before)                    change ppm / drift_ppm
//   sources_low        usable sources < min_sources                          usable / min_sources
//   no_source          no source answered either of its last two polls       0 / 1
//   unsynchronised     not synchronised to a source                          0 / 1
//   correction_held    a correction is held by offset_tolerance              offset s / tolerance s
//   stratum_change     the served stratum differs from the one it had held for
//                      stratum_settle_s (resolves once the new one has held that long)
//                                                                            new / old stratum
//   peer_disagreement  a peer's offset beyond peer_max_offset_s              |offset| s / limit s
//   tenant_down        a tenant not serving (namespace or address missing)   0 / 1
//   audit_write_failed the last audit record could not be written            failures / 0
// sources_low, no_source and unsynchronised only apply with sources configured, and
// not in the first startup_grace_s after the start unless the daemon had been
// synchronised (or the source reachable) since.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tr7::core {

enum class AlertKind : uint8_t {
  Offset,
  Drift,
  SourcesLow,
  NoSource,
  Unsynchronised,
  CorrectionHeld,
  StratumChange,
  PeerDisagreement,
  TenantDown,
  AuditWriteFailed,
  Count
};
inline constexpr size_t k_alert_kinds = static_cast<size_t>(AlertKind::Count);
const char* to_string(AlertKind k);  // "offset", "drift", ... (stable: webhook, metrics)
std::optional<AlertKind> alert_kind(std::string_view name);

enum class AlertSeverity : uint8_t { Warning, Critical };
const char* to_string(AlertSeverity s);  // "warning", "critical"
AlertSeverity severity_of(AlertKind k);

struct AlertSettings {
  double offset_s = 0.1;
  double drift_ppm = 5.0;
  double drift_window_s = 3600;
  double peer_max_offset_s = 0.05;
  double hysteresis = 0.5;   // thresholds clear at threshold * hysteresis
  double hold_s = 10;        // a condition must hold this long to fire
  double clear_hold_s = 30;  // and be gone this long to resolve
  double startup_grace_s = 300;
  double stratum_settle_s = 600;
  size_t min_sources = 1;
};

struct AlertPeer {
  std::string name;
  bool measured = false;  // has a recent offset
  double offset_s = 0;
};
struct AlertTenant {
  std::string name;
  bool serving = true;
};

// One observation of the daemon.
struct AlertInput {
  double mono_s = 0;
  size_t sources = 0;            // sources configured (resolved or not)
  size_t usable_sources = 0;     // selected, combined or candidate
  size_t reachable_sources = 0;  // answered at least one of their last two polls
  bool synchronised = false;     // to a source (not local_stratum)
  double offset_s = 0;
  double freq_ppm = 0;
  int stratum = 0;  // served; 0 while unsynchronised
  bool held = false;
  double held_offset_s = 0;
  double offset_tolerance_s = 0;
  std::vector<AlertPeer> peers;
  std::vector<AlertTenant> tenants;
  bool audit_failing = false;
  uint64_t audit_failures = 0;
};

struct AlertEvent {
  AlertKind kind = AlertKind::Offset;
  std::string subject;  // peer or tenant name, "" otherwise
  bool firing = true;   // false: resolved
  double value = 0;
  double threshold = 0;
  double mono_s = 0;
  double since_mono_s = 0;  // when it fired (for a resolution: how long it lasted)
  std::string text;         // one line for people
};

// A firing alert.
struct ActiveAlert {
  AlertKind kind;
  std::string subject;
  double since_mono_s;
  double value;
  double threshold;
  std::string text;
};

class AlertEngine {
 public:
  AlertEngine(const AlertSettings& s, double start_mono_s) : m_s(s), m_start(start_mono_s) {}
  void set_settings(const AlertSettings& s) { m_s = s; }
  const AlertSettings& settings() const { return m_s; }
  // Feeds one observation (mono_s never decreasing); returns the transitions.
  std::vector<AlertEvent> update(const AlertInput& in);
  std::vector<ActiveAlert> active() const;
  bool firing(AlertKind k) const;
  // When update() must run again even if nothing changes (a hold or clear-hold time
  // running out, the start-up grace or a stratum settling), nullopt if never: the
  // caller observes on changes of the state and at this time only.
  std::optional<double> next_deadline() const;

 private:
  enum class Phase : uint8_t { Clear, Pending, Firing, Clearing };
  struct State {
    Phase phase = Phase::Clear;
    double since = 0;  // entered the current phase
    double fired_at = 0;
    double value = 0;
    double threshold = 0;
    std::string text;
  };
  // Condition for (k, subject): `over` whether it holds now (with hysteresis applied
  // by the caller), value/threshold/text for the events.
  void step(AlertKind k, const std::string& subject, bool on, double value, double threshold, std::string text,
            double now, std::vector<AlertEvent>& out);

  AlertSettings m_s;
  double m_start;
  std::map<std::pair<AlertKind, std::string>, State> m_states;
  std::deque<std::pair<double, double>> m_freq;  // (mono, freq_ppm) while synchronised, one a minute at most
  std::optional<double> m_synced_since;
  bool m_ever_synced = false;
  bool m_ever_reachable = false;
  bool m_grace_over = false;
  int m_stratum_now = 0;
  double m_stratum_since = 0;
  std::optional<int> m_stratum_settled;
};

}  // namespace tr7::core
