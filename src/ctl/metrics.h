// OpenMetrics / Prometheus text exposition: a small writer, and the daemon's metric set.
//
// Pure. Two formats from one description:
//  * OpenMetrics 1.0 ("application/openmetrics-text; version=1.0.0"): families named
//    without the _total suffix, counters sampled as <name>_total, # UNIT lines, "# EOF".
//  * Prometheus text 0.0.4 ("text/plain; version=0.0.4"), what `promtool check metrics`
//    reads: counter families named <name>_total, no UNIT, no EOF.
// Label values are escaped (\\, \", \n). Names must match [a-zA-Z_][a-zA-Z0-9_]*.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ntp_server.h"
#include "ctl/status.h"

namespace tr7::ctl {

enum class MetricsFormat { OpenMetrics, Prometheus };
enum class MetricType { Gauge, Counter, Info };

const char* content_type(MetricsFormat f);

using Label = std::pair<std::string_view, std::string>;

class MetricsWriter {
 public:
  explicit MetricsWriter(MetricsFormat f) : m_format(f) {}
  // Starts a family; `unit` (e.g. "seconds") must be the name's last component.
  void family(std::string_view name, MetricType type, std::string_view help, std::string_view unit = "");
  void sample(double value, std::initializer_list<Label> labels = {});
  void sample(uint64_t value, std::initializer_list<Label> labels = {});
  void sample(double value, const std::vector<Label>& labels);
  // The whole text (with "# EOF" for OpenMetrics).
  std::string finish();

 private:
  void write_sample(const std::string& value, const Label* labels, size_t n);
  MetricsFormat m_format;
  std::string m_out;
  std::string m_name;
  MetricType m_type = MetricType::Gauge;
};

std::string format_metric_value(double v);

// Everything the daemon exports (tr7ntp-control(7) lists the names).
struct MetricsInput {
  TrackingStatus tracking;
  std::vector<SourceStatus> sources;
  // Server counters by tenant ("default" until tenants exist).
  std::vector<std::pair<std::string, core::ServerStats>> server;
  std::vector<std::pair<std::string, uint64_t>> server_clients;  // tenant -> clients in the table
  uint64_t send_errors = 0;
  uint64_t ctl_connections = 0;   // open control connections
  uint64_t ctl_commands = 0;      // commands answered
  uint64_t ctl_refused = 0;       // commands refused (permission)
  uint64_t ctl_bad_requests = 0;  // junk, unknown commands, bad arguments
  uint64_t audit_records = 0;
  // NTS-KE server sessions by outcome (all zero without [nts] listen).
  uint64_t nts_ke_completed = 0;
  uint64_t nts_ke_errors = 0;   // an NTS-KE error record sent (bad request, ...)
  uint64_t nts_ke_failed = 0;   // handshake, I/O, timeout
  uint64_t nts_ke_refused = 0;  // over max_connections
  uint64_t audit_write_failures = 0;
  // HA peers: name, measured, offset (peer - us), delay, reach.
  struct Peer {
    std::string name;
    bool measured = false;
    double offset_s = 0;
    double delay_s = 0;
    uint8_t reach = 0;
  };
  std::vector<Peer> peers;
  // Alerts: (name, firing) for every alert name; transitions so far.
  std::vector<std::pair<std::string, bool>> alerts;
  uint64_t alerts_fired = 0;
  uint64_t alerts_resolved = 0;
  // The alert webhook, when configured.
  bool webhook = false;
  uint64_t webhook_delivered = 0;
  uint64_t webhook_failed_attempts = 0;
  uint64_t webhook_dropped = 0;
  uint64_t webhook_queued = 0;
  double uptime_s = 0;
  std::string version;
};
std::string render_metrics(const MetricsInput& in, MetricsFormat f);

}  // namespace tr7::ctl
