// The alert engine (see alerts.h).
#include "core/alerts.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace tr7::core {

namespace {

constexpr const char* k_names[] = {
    "offset",          "drift",          "sources_low",       "no_source",   "unsynchronised",
    "correction_held", "stratum_change", "peer_disagreement", "tenant_down", "audit_write_failed"};
static_assert(sizeof(k_names) / sizeof(k_names[0]) == k_alert_kinds);

__attribute__((format(printf, 1, 2))) std::string fmt(const char* f, ...) {
  char buf[200];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

}  // namespace

const char* to_string(AlertKind k) {
  size_t i = static_cast<size_t>(k);
  return i < k_alert_kinds ? k_names[i] : "?";
}

std::optional<AlertKind> alert_kind(std::string_view name) {
  for (size_t i = 0; i < k_alert_kinds; ++i) {
    if (name == k_names[i]) {
      return static_cast<AlertKind>(i);
    }
  }
  return std::nullopt;
}

const char* to_string(AlertSeverity s) { return s == AlertSeverity::Critical ? "critical" : "warning"; }

AlertSeverity severity_of(AlertKind k) {
  switch (k) {
    case AlertKind::NoSource:
    case AlertKind::Unsynchronised:
    case AlertKind::TenantDown:
    case AlertKind::AuditWriteFailed:
      return AlertSeverity::Critical;
    default:
      return AlertSeverity::Warning;
  }
}

void AlertEngine::step(AlertKind k, const std::string& subject, bool on, double value, double threshold,
                       std::string text, double now, std::vector<AlertEvent>& out) {
  auto key = std::make_pair(k, subject);
  auto it = m_states.find(key);
  if (it == m_states.end()) {
    if (!on) {
      return;  // nothing to remember
    }
    it = m_states.emplace(key, State{Phase::Pending, now}).first;
  }
  State& st = it->second;
  if (on) {
    st.value = value;
    st.threshold = threshold;
    st.text = std::move(text);
  }
  auto event = [&](bool firing) {
    AlertEvent e;
    e.kind = k;
    e.subject = subject;
    e.firing = firing;
    e.value = st.value;
    e.threshold = st.threshold;
    e.mono_s = now;
    e.since_mono_s = st.fired_at;
    e.text = st.text;
    out.push_back(std::move(e));
  };
  switch (st.phase) {
    case Phase::Clear:
    case Phase::Pending:
      if (!on) {
        m_states.erase(it);
        return;
      }
      if (st.phase == Phase::Clear) {
        st.phase = Phase::Pending;
        st.since = now;
      }
      if (now - st.since >= m_s.hold_s) {
        st.phase = Phase::Firing;
        st.since = now;
        st.fired_at = now;
        event(true);
      }
      return;
    case Phase::Firing:
      if (!on) {
        st.phase = Phase::Clearing;
        st.since = now;
        if (m_s.clear_hold_s <= 0) {
          event(false);
          m_states.erase(it);
        }
      }
      return;
    case Phase::Clearing:
      if (on) {
        st.phase = Phase::Firing;  // back before it resolved: no new event
        st.since = now;
        return;
      }
      if (now - st.since >= m_s.clear_hold_s) {
        event(false);
        m_states.erase(it);
      }
      return;
  }
}

std::vector<AlertEvent> AlertEngine::update(const AlertInput& in) {
  std::vector<AlertEvent> out;
  double now = in.mono_s;
  // Above a threshold, with hysteresis: a firing (or clearing) alert stays on until the
  // value drops below threshold * hysteresis.
  auto over = [&](AlertKind k, const std::string& subject, double value, double threshold) {
    auto it = m_states.find({k, subject});
    bool active = it != m_states.end() && (it->second.phase == Phase::Firing || it->second.phase == Phase::Clearing);
    return value > (active ? threshold * m_s.hysteresis : threshold);
  };
  m_ever_synced = m_ever_synced || in.synchronised;
  m_ever_reachable = m_ever_reachable || in.reachable_sources > 0;
  bool grace_over = now - m_start >= m_s.startup_grace_s;
  m_grace_over = grace_over;
  bool have_sources = in.sources > 0;

  double off = std::fabs(in.offset_s);
  step(AlertKind::Offset, "", in.synchronised && std::isfinite(off) && over(AlertKind::Offset, "", off, m_s.offset_s),
       off, m_s.offset_s, fmt("offset %.6f s beyond %.6f s", off, m_s.offset_s), now, out);

  // Frequency change over the window (samples while synchronised, one a minute). The
  // first startup_grace_s of a synchronisation are the discipline converging, not drift:
  // no samples then; a loss of synchronisation starts over.
  double change = 0;
  if (in.synchronised && !m_synced_since) {
    m_synced_since = now;
  } else if (!in.synchronised) {
    m_synced_since.reset();
    m_freq.clear();
  }
  if (m_synced_since && now - *m_synced_since >= m_s.startup_grace_s && std::isfinite(in.freq_ppm)) {
    while (!m_freq.empty() && now - m_freq.front().first > m_s.drift_window_s) {
      m_freq.pop_front();
    }
    for (const auto& [t, f] : m_freq) {
      change = std::max(change, std::fabs(in.freq_ppm - f));
    }
    if (m_freq.empty() || now - m_freq.back().first >= 60) {
      m_freq.emplace_back(now, in.freq_ppm);
    }
  }
  step(AlertKind::Drift, "", in.synchronised && over(AlertKind::Drift, "", change, m_s.drift_ppm), change,
       m_s.drift_ppm, fmt("frequency changed by %.3f ppm, beyond %.3f ppm", change, m_s.drift_ppm), now, out);

  bool sync_due = have_sources && (grace_over || m_ever_synced);
  step(AlertKind::SourcesLow, "", sync_due && in.usable_sources < m_s.min_sources,
       static_cast<double>(in.usable_sources), static_cast<double>(m_s.min_sources),
       fmt("%zu usable source(s), fewer than min_sources %zu", in.usable_sources, m_s.min_sources), now, out);
  step(AlertKind::NoSource, "", have_sources && (grace_over || m_ever_reachable) && in.reachable_sources == 0, 0, 1,
       "none of " + std::to_string(in.sources) + " source(s) answered its last polls", now, out);
  step(AlertKind::Unsynchronised, "", sync_due && !in.synchronised, 0, 1,
       m_ever_synced ? "not synchronised to any source (lost)" : "not synchronised to any source yet", now, out);
  step(AlertKind::CorrectionHeld, "", in.held, in.held_offset_s, in.offset_tolerance_s,
       fmt("a correction of %+.6f s is held (over offset_tolerance %.6f s): approve it or fix the sources",
           in.held_offset_s, in.offset_tolerance_s),
       now, out);

  // Stratum: settled after it held for stratum_settle_s; a change from the settled one
  // is the alert, until the new one has settled.
  if (in.synchronised && in.stratum > 0) {
    if (in.stratum != m_stratum_now) {
      m_stratum_now = in.stratum;
      m_stratum_since = now;
    }
    // The first stratum is the settled one at once (no alert at start).
    if (!m_stratum_settled || now - m_stratum_since >= m_s.stratum_settle_s) {
      m_stratum_settled = m_stratum_now;
    }
  }
  bool changed = m_stratum_settled && m_stratum_now > 0 && m_stratum_now != *m_stratum_settled;
  step(AlertKind::StratumChange, "", changed, m_stratum_now, m_stratum_settled.value_or(0),
       fmt("stratum %d, was %d", m_stratum_now, m_stratum_settled.value_or(0)), now, out);

  // Per peer and per tenant: also the subjects that went away (their condition is gone).
  auto subjects_of = [&](AlertKind k) {
    std::vector<std::string> v;
    for (const auto& [key, st] : m_states) {
      if (key.first == k) {
        v.push_back(key.second);
      }
    }
    return v;
  };
  std::vector<std::string> seen;
  for (const auto& p : in.peers) {
    double a = std::fabs(p.offset_s);
    seen.push_back(p.name);
    step(AlertKind::PeerDisagreement, p.name,
         p.measured && std::isfinite(a) && over(AlertKind::PeerDisagreement, p.name, a, m_s.peer_max_offset_s), a,
         m_s.peer_max_offset_s,
         fmt("peer offset %+.6f s beyond %.6f s", p.offset_s, m_s.peer_max_offset_s) + " (" + p.name + ")", now, out);
  }
  for (const auto& name : subjects_of(AlertKind::PeerDisagreement)) {
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) {
      step(AlertKind::PeerDisagreement, name, false, 0, 0, "", now, out);
    }
  }
  seen.clear();
  for (const auto& t : in.tenants) {
    seen.push_back(t.name);
    step(AlertKind::TenantDown, t.name, !t.serving, 0, 1, "tenant " + t.name + " is not serving", now, out);
  }
  for (const auto& name : subjects_of(AlertKind::TenantDown)) {
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) {
      step(AlertKind::TenantDown, name, false, 0, 0, "", now, out);
    }
  }
  step(AlertKind::AuditWriteFailed, "", in.audit_failing, static_cast<double>(in.audit_failures), 0,
       "the audit trail cannot be written (changes are refused)", now, out);
  return out;
}

std::vector<ActiveAlert> AlertEngine::active() const {
  std::vector<ActiveAlert> v;
  for (const auto& [key, st] : m_states) {
    if (st.phase == Phase::Firing || st.phase == Phase::Clearing) {
      v.push_back(ActiveAlert{key.first, key.second, st.fired_at, st.value, st.threshold, st.text});
    }
  }
  return v;
}

std::optional<double> AlertEngine::next_deadline() const {
  std::optional<double> t;
  auto at = [&t](double x) { t = t ? std::min(*t, x) : x; };
  for (const auto& [key, st] : m_states) {
    if (st.phase == Phase::Pending) {
      at(st.since + m_s.hold_s);
    } else if (st.phase == Phase::Clearing) {
      at(st.since + m_s.clear_hold_s);
    }
  }
  if (!m_grace_over) {
    at(m_start + m_s.startup_grace_s);
  }
  if (m_stratum_settled && m_stratum_now > 0 && m_stratum_now != *m_stratum_settled) {
    at(m_stratum_since + m_s.stratum_settle_s);
  }
  if (m_synced_since && m_freq.empty()) {
    at(*m_synced_since + m_s.startup_grace_s);
  }
  return t;
}

bool AlertEngine::firing(AlertKind k) const {
  for (const auto& [key, st] : m_states) {
    if (key.first == k && (st.phase == Phase::Firing || st.phase == Phase::Clearing)) {
      return true;
    }
  }
  return false;
}

}  // namespace tr7::core
