// OpenMetrics / Prometheus text writer and the daemon's metric set (see metrics.h).
#include "ctl/metrics.h"

#include <cmath>
#include <cstdio>

namespace tr7::ctl {

const char* content_type(MetricsFormat f) {
  return f == MetricsFormat::OpenMetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                                         : "text/plain; version=0.0.4; charset=utf-8";
}

std::string format_metric_value(double v) {
  if (std::isnan(v)) {
    return "NaN";
  }
  if (std::isinf(v)) {
    return v > 0 ? "+Inf" : "-Inf";
  }
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  return format_double(v);
}

namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void MetricsWriter::family(std::string_view name, MetricType type, std::string_view help, std::string_view unit) {
  m_name = std::string(name);
  m_type = type;
  bool om = m_format == MetricsFormat::OpenMetrics;
  std::string fam = m_name;
  const char* type_name = "gauge";
  if (type == MetricType::Counter) {
    type_name = "counter";
    if (!om) {
      fam += "_total";
    }
  } else if (type == MetricType::Info) {
    type_name = om ? "info" : "gauge";
    if (!om) {
      fam += "_info";
    }
  }
  m_out += "# TYPE " + fam + " " + type_name + "\n";
  if (om && !unit.empty()) {
    m_out += "# UNIT " + fam + " " + std::string(unit) + "\n";
  }
  m_out += "# HELP " + fam + " " + escape_help(help) + "\n";
}

void MetricsWriter::write_sample(const std::string& value, const Label* labels, size_t n) {
  std::string name = m_name;
  if (m_type == MetricType::Counter) {
    name += "_total";
  } else if (m_type == MetricType::Info) {
    name += "_info";
  }
  m_out += name;
  if (n > 0) {
    m_out += '{';
    for (size_t i = 0; i < n; ++i) {
      if (i) {
        m_out += ',';
      }
      m_out += std::string(labels[i].first) + "=\"" + escape_label(labels[i].second) + "\"";
    }
    m_out += '}';
  }
  m_out += ' ';
  m_out += value;
  m_out += '\n';
}

void MetricsWriter::sample(double value, std::initializer_list<Label> labels) {
  write_sample(format_metric_value(value), labels.begin(), labels.size());
}

void MetricsWriter::sample(uint64_t value, std::initializer_list<Label> labels) {
  write_sample(std::to_string(value), labels.begin(), labels.size());
}

void MetricsWriter::sample(double value, const std::vector<Label>& labels) {
  write_sample(format_metric_value(value), labels.data(), labels.size());
}

std::string MetricsWriter::finish() {
  if (m_format == MetricsFormat::OpenMetrics) {
    m_out += "# EOF\n";
  }
  return std::move(m_out);
}

std::string render_metrics(const MetricsInput& in, MetricsFormat f) {
  MetricsWriter w(f);
  const TrackingStatus& t = in.tracking;
  using G = MetricType;

  w.family("tr7_build", G::Info, "tr7ntpd version.");
  w.sample(1.0, {{"version", in.version}});
  w.family("tr7_uptime_seconds", G::Gauge, "Seconds since tr7ntpd started.", "seconds");
  w.sample(in.uptime_s);

  w.family("tr7_synchronised", G::Gauge, "1 when the clock is synchronised (to a source or local stratum).");
  w.sample(t.synchronised ? 1.0 : 0.0);
  w.family("tr7_sync_state", G::Gauge, "Synchronisation state: 1 for the current state, 0 for the others.");
  for (const char* s : {"unsynchronised", "synchronised", "local", "holdover"}) {
    w.sample(t.state == s ? 1.0 : 0.0, {{"state", s}});
  }
  w.family("tr7_stratum", G::Gauge, "Stratum served (0 while unsynchronised).");
  w.sample(static_cast<double>(t.stratum));
  w.family("tr7_offset_seconds", G::Gauge, "Estimated offset, reference minus local clock.", "seconds");
  w.sample(t.offset_s);
  w.family("tr7_last_offset_seconds", G::Gauge, "Offset at the last clock update.", "seconds");
  w.sample(t.last_offset_s);
  w.family("tr7_frequency_ppm", G::Gauge, "Frequency correction applied; positive makes the clock faster.", "ppm");
  w.sample(t.freq_ppm);
  w.family("tr7_skew_ppm", G::Gauge, "Estimated error bound of the frequency.", "ppm");
  w.sample(t.skew_ppm);
  w.family("tr7_root_delay_seconds", G::Gauge, "Root delay to the primary reference.", "seconds");
  w.sample(t.root_delay_s);
  w.family("tr7_root_dispersion_seconds", G::Gauge, "Root dispersion.", "seconds");
  w.sample(t.root_dispersion_s);
  w.family("tr7_correction_held", G::Gauge, "1 while a correction is held by the offset tolerance.");
  w.sample(t.held ? 1.0 : 0.0);
  w.family("tr7_held_correction_seconds", G::Gauge, "The held correction (0 when none).", "seconds");
  w.sample(t.held ? t.held->offset_s : 0.0);

  w.family("tr7_sources", G::Gauge, "Configured NTP sources.");
  w.sample(static_cast<double>(in.sources.size()));
  if (!in.sources.empty()) {
    w.family("tr7_source_reach", G::Gauge, "Reachability register of each source (8 bits, bit 0 the latest poll).");
    for (const auto& s : in.sources) {
      w.sample(static_cast<double>(s.reach), {{"source", s.name}, {"address", s.address}});
    }
    w.family("tr7_source_selected", G::Gauge, "1 for the selected source.");
    for (const auto& s : in.sources) {
      w.sample(s.state == "selected" ? 1.0 : 0.0, {{"source", s.name}, {"address", s.address}});
    }
    w.family("tr7_source_state", G::Gauge, "State of each source: 1 for its current state (see sources).");
    for (const auto& s : in.sources) {
      w.sample(1.0, {{"source", s.name}, {"address", s.address}, {"state", s.state}});
    }
    w.family("tr7_source_stratum", G::Gauge, "Stratum of each source.");
    for (const auto& s : in.sources) {
      w.sample(static_cast<double>(s.stratum), {{"source", s.name}, {"address", s.address}});
    }
    w.family("tr7_source_offset_seconds", G::Gauge, "Last offset measured to each source.", "seconds");
    for (const auto& s : in.sources) {
      w.sample(s.offset_s, {{"source", s.name}, {"address", s.address}});
    }
    w.family("tr7_source_delay_seconds", G::Gauge, "Last round-trip delay to each source.", "seconds");
    for (const auto& s : in.sources) {
      w.sample(s.delay_s, {{"source", s.name}, {"address", s.address}});
    }
    w.family("tr7_source_jitter_seconds", G::Gauge, "Jitter of each source.", "seconds");
    for (const auto& s : in.sources) {
      w.sample(s.jitter_s, {{"source", s.name}, {"address", s.address}});
    }
  }

  if (!in.peers.empty()) {
    w.family("tr7_peer_reach", G::Gauge, "Reachability register of each HA peer (8 bits, bit 0 the latest poll).");
    for (const auto& p : in.peers) {
      w.sample(static_cast<double>(p.reach), {{"peer", p.name}});
    }
    w.family("tr7_peer_offset_seconds", G::Gauge, "Offset of each measured HA peer, peer minus local clock.",
             "seconds");
    for (const auto& p : in.peers) {
      if (p.measured) {
        w.sample(p.offset_s, {{"peer", p.name}});
      }
    }
    w.family("tr7_peer_delay_seconds", G::Gauge, "Round-trip delay to each measured HA peer.", "seconds");
    for (const auto& p : in.peers) {
      if (p.measured) {
        w.sample(p.delay_s, {{"peer", p.name}});
      }
    }
  }

  // Server counters, one series per tenant ("default" is the daemon's own listeners).
  w.family("tr7_server_requests", G::Counter, "NTP requests received.");
  for (const auto& [tenant, s] : in.server) {
    w.sample(s.received, {{"tenant", tenant}});
  }
  w.family("tr7_server_replies", G::Counter, "NTP replies sent, by kind.");
  for (const auto& [tenant, s] : in.server) {
    w.sample(s.answered, {{"tenant", tenant}, {"kind", "normal"}});
    w.sample(s.kod_rate, {{"tenant", tenant}, {"kind", "kod_rate"}});
    w.sample(s.kod_deny, {{"tenant", tenant}, {"kind", "kod_deny"}});
  }
  w.family("tr7_server_leaked", G::Counter, "Requests over the rate limit answered anyway (leak).");
  for (const auto& [tenant, s] : in.server) {
    w.sample(s.leaked, {{"tenant", tenant}});
  }
  w.family("tr7_server_dropped", G::Counter, "NTP requests dropped, by reason.");
  for (const auto& [tenant, s] : in.server) {
    for (size_t i = 0; i < core::k_drop_reasons; ++i) {
      w.sample(s.dropped[i], {{"tenant", tenant}, {"reason", core::to_string(static_cast<core::DropReason>(i))}});
    }
  }
  w.family("tr7_server_authenticated", G::Counter, "Authenticated replies sent, by kind (mac: symmetric key, nts).");
  for (const auto& [tenant, s] : in.server) {
    w.sample(s.auth_mac, {{"tenant", tenant}, {"kind", "mac"}});
    w.sample(s.auth_nts, {{"tenant", tenant}, {"kind", "nts"}});
  }
  w.family("tr7_server_naks", G::Counter, "NAKs sent, by kind (crypto: unknown key or bad MAC; nts: NTS NAK).");
  for (const auto& [tenant, s] : in.server) {
    w.sample(s.nak_crypto, {{"tenant", tenant}, {"kind", "crypto"}});
    w.sample(s.nak_nts, {{"tenant", tenant}, {"kind", "nts"}});
  }
  w.family("tr7_nts_ke_sessions", G::Counter, "NTS-KE server sessions, by outcome.");
  w.sample(in.nts_ke_completed, {{"outcome", "completed"}});
  w.sample(in.nts_ke_errors, {{"outcome", "error"}});
  w.sample(in.nts_ke_failed, {{"outcome", "failed"}});
  w.sample(in.nts_ke_refused, {{"outcome", "refused"}});
  w.family("tr7_server_clients", G::Gauge, "Clients in the server's client table.");
  for (const auto& [tenant, n] : in.server_clients) {
    w.sample(static_cast<double>(n), {{"tenant", tenant}});
  }
  w.family("tr7_server_send_errors", G::Counter, "Replies the kernel refused to send.");
  w.sample(in.send_errors);

  w.family("tr7_control_connections", G::Gauge, "Open control-socket connections.");
  w.sample(static_cast<double>(in.ctl_connections));
  w.family("tr7_control_commands", G::Counter, "Control commands answered.");
  w.sample(in.ctl_commands);
  w.family("tr7_control_refused", G::Counter, "Control commands refused for lack of permission.");
  w.sample(in.ctl_refused);
  w.family("tr7_control_bad_requests", G::Counter,
           "Malformed control requests (junk, unknown commands, bad arguments).");
  w.sample(in.ctl_bad_requests);
  w.family("tr7_audit_records", G::Counter, "Records written to the audit trail.");
  w.sample(in.audit_records);
  w.family("tr7_audit_write_failures", G::Counter, "Audit records that could not be written.");
  w.sample(in.audit_write_failures);

  w.family("tr7_alert_active", G::Gauge, "1 while the alert fires (for any peer or tenant), 0 otherwise.");
  for (const auto& [name, on] : in.alerts) {
    w.sample(on ? 1.0 : 0.0, {{"alert", name}});
  }
  w.family("tr7_alert_transitions", G::Counter, "Alert transitions, by new state.");
  w.sample(in.alerts_fired, {{"state", "firing"}});
  w.sample(in.alerts_resolved, {{"state", "resolved"}});
  if (in.webhook) {
    w.family("tr7_webhook_delivered", G::Counter, "Alert webhook messages delivered (2xx).");
    w.sample(in.webhook_delivered);
    w.family("tr7_webhook_failed_attempts", G::Counter, "Alert webhook attempts that failed (each retry counts).");
    w.sample(in.webhook_failed_attempts);
    w.family("tr7_webhook_dropped", G::Counter, "Alert webhook messages given up (queue full or retries used up).");
    w.sample(in.webhook_dropped);
    w.family("tr7_webhook_queue", G::Gauge, "Alert webhook messages waiting.");
    w.sample(static_cast<double>(in.webhook_queued));
  }
  return w.finish();
}

}  // namespace tr7::ctl
