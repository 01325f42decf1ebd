// The compliance report as JSON or Markdown (see report.h).
#include "ctl/report.h"

#include <cstdio>

#include "ctl/json.h"
#include "ctl/status.h"

namespace tr7::ctl {

namespace {

std::string utc_s(int64_t s) { return format_utc(core::Timestamp::from_ns(s * 1'000'000'000)); }
std::string utc_ns(int64_t ns) { return format_utc(core::Timestamp::from_ns(ns)); }

template <class T, class F>
std::string array(const std::vector<T>& v, F f) {
  // One element per line: the reply's lines stay short whatever the number of clients.
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    s += (i ? ",\n" : "\n") + f(v[i]);
  }
  return s + "]";
}

std::string pct(double f) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4f %%", f * 100);
  return b;
}

std::string secs(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9f s", s);
  return b;
}

// Markdown table cells: no '|' or newlines.
std::string cell(const std::string& v) {
  std::string out;
  for (char c : v) {
    out += c == '|' ? '/' : (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

}  // namespace

std::string report_json(const core::Report& r) {
  JsonObject period;
  period.str("from_utc", utc_s(r.from_s))
      .str("to_utc", utc_s(r.to_s))
      .num("seconds", static_cast<long long>(r.to_s - r.from_s));
  JsonObject sync;
  sync.num("coverage_fraction", r.coverage_fraction)
      .num("synchronised_fraction", r.synchronised_fraction)
      .num("max_abs_offset_s", r.max_abs_offset_s)
      .num("p99_abs_offset_s", r.p99_abs_offset_s)
      .num("max_root_distance_s", r.max_root_distance_s)
      .num("observed_s", r.observed_s);
  JsonObject corr;
  corr.num("held", static_cast<long long>(r.corrections_held))
      .num("released", static_cast<long long>(r.corrections_released))
      .num("approvals", static_cast<long long>(r.approvals));
  JsonObject o;
  o.raw("period", period.done());
  o.str("node", r.node);
  o.str("config_sha256", r.config_sha256);
  o.raw("sync", sync.done());
  o.raw("corrections", corr.done());
  o.raw("sources", array(r.sources, [](const core::ReportSource& s) {
          JsonObject x;
          x.str("address", s.address)
              .num("stratum", static_cast<long long>(s.stratum))
              .num("selected_fraction", s.selected_fraction);
          return x.done();
        }));
  o.raw("tenants", array(r.tenants, [](const core::ReportTenant& t) {
          JsonObject x;
          x.str("name", t.name)
              .num("clients_distinct", static_cast<long long>(t.clients_distinct))
              .num("requests", static_cast<long long>(t.requests))
              .raw("clients_truncated", t.clients_truncated ? "true" : "false")
              .raw("clients", array(t.clients, [](const core::ReportClient& c) {
                     JsonObject y;
                     y.str("address", c.address)
                         .str("first_seen_utc", utc_s(c.first_s))
                         .str("last_seen_utc", utc_s(c.last_s))
                         .num("requests", static_cast<long long>(c.requests));
                     return y.done();
                   }));
          return x.done();
        }));
  o.raw("changes", array(r.changes, [](const core::AuditLine& a) { return a.json; }));
  o.raw("alerts", array(r.alerts, [](const core::AlertTransition& a) {
          JsonObject x;
          x.str("time_utc", utc_ns(a.time_ns)).str("alert", a.alert);
          if (a.subject.empty()) {
            x.null("subject");
          } else {
            x.str("subject", a.subject);
          }
          x.str("state", a.firing ? "firing" : "resolved").num("value", a.value).num("threshold", a.threshold);
          return x.done();
        }));
  return o.done() + "\n";
}

std::string report_markdown(const core::Report& r) {
  std::string m;
  m += "# Time service report: " + cell(r.node) + "\n\n";
  m += "| | |\n|---|---|\n";
  m += "| Period | " + utc_s(r.from_s) + " to " + utc_s(r.to_s) + " |\n";
  m += "| Node | " + cell(r.node) + " |\n";
  m += "| Configuration (SHA-256) | `" + r.config_sha256 + "` |\n";
  m += "| Observed (daemon running) | " + pct(r.coverage_fraction) + " |\n";
  m += "| Synchronised to a source | " + pct(r.synchronised_fraction) + " |\n";
  m += "| Largest offset | " + secs(r.max_abs_offset_s) + " |\n";
  m += "| 99th percentile offset | " + secs(r.p99_abs_offset_s) + " (upper bound) |\n";
  m += "| Largest root distance | " + secs(r.max_root_distance_s) + " |\n";
  m += "| Corrections held / released / approved | " + std::to_string(r.corrections_held) + " / " +
       std::to_string(r.corrections_released) + " / " + std::to_string(r.approvals) + " |\n\n";
  m += "## Sources\n\n| Address | Stratum | Selected |\n|---|---:|---:|\n";
  for (const auto& s : r.sources) {
    m += "| " + cell(s.address) + " | " + std::to_string(s.stratum) + " | " + pct(s.selected_fraction) + " |\n";
  }
  m += "\n## Clients\n";
  for (const auto& t : r.tenants) {
    m += "\n### Tenant " + cell(t.name) + ": " + std::to_string(t.clients_distinct) + " distinct client(s), " +
         std::to_string(t.requests) + " request(s)" + (t.clients_truncated ? " (the busiest listed)" : "") + "\n\n";
    if (t.clients.empty()) {
      continue;
    }
    m += "| Address | First seen | Last seen | Requests |\n|---|---|---|---:|\n";
    for (const auto& c : t.clients) {
      m += "| " + cell(c.address) + " | " + utc_s(c.first_s) + " | " + utc_s(c.last_s) + " | " +
           std::to_string(c.requests) + " |\n";
    }
  }
  m += "\n## Changes (audit trail)\n\n";
  if (r.changes.empty()) {
    m += "None.\n";
  } else {
    m += "| Time (UTC) | Command | Record |\n|---|---|---|\n";
    for (const auto& a : r.changes) {
      m += "| " + utc_ns(a.time_ns) + " | " + cell(a.command) + " | `" + cell(a.json) + "` |\n";
    }
  }
  m += "\n## Alerts\n\n";
  if (r.alerts.empty()) {
    m += "None.\n";
  } else {
    m += "| Time (UTC) | Alert | Subject | State | Value | Threshold |\n|---|---|---|---|---:|---:|\n";
    for (const auto& a : r.alerts) {
      m += "| " + utc_ns(a.time_ns) + " | " + a.alert + " | " + cell(a.subject) + " | " +
           (a.firing ? "firing" : "resolved") + " | " + format_double(a.value) + " | " + format_double(a.threshold) +
           " |\n";
    }
  }
  return m;
}

}  // namespace tr7::ctl
