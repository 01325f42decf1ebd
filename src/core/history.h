// The compliance history: what the daemon keeps about its sync state, its clients and
// its alerts, how it is written (one text line per record), and the report computed
// from it. Pure: lines in, lines and a Report out (daemon/history_store.h does the
// files, ctl/report.h renders the report).
//
// Records (space-separated, one per line, a version tag first):
//   S1 START DUR OBSERVED SYNCED MAXOFF MAXDIST HIST SOURCES
//      one interval of DUR s from START (Unix s): OBSERVED ms of it known (the daemon
//      running), SYNCED ms of those synchronised to a source; MAXOFF the largest
//      |offset| (s) and MAXDIST the largest root distance (s) while synchronised; HIST
//      the time spent at each |offset| ("B:MS,..." or "-", bucket B = floor(4
//      log2(|offset| / 1 ns)), so a bucket spans a factor 2^(1/4), 19 %); SOURCES
//      "ADDR/STRATUM/MS,..." or "-": the ms each source was the selected one.
//   Observations come when the state may have changed (a reply, a timer of the NTP
//   client): each holds until the next, so the weights are times, whatever the rate.
//   C1 TENANT ADDR FIRST LAST REQUESTS
//      a client of TENANT ("default": the [server] listeners) on one day: first and
//      last seen (Unix s) and the requests it sent that day.
//   A1 TIME_NS ALERT SUBJECT STATE VALUE THRESHOLD
//      an alert transition (SUBJECT "-" for none, STATE firing or resolved).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tr7::core {

// The histogram bucket of |offset| seconds, and the upper edge of a bucket.
int offset_bucket(double abs_offset_s);
double bucket_upper_s(int bucket);

struct SourceShare {
  std::string address;
  int stratum = 0;
  uint64_t selected_ms = 0;  // time it was the selected source
};

struct SyncInterval {
  int64_t start_s = 0;
  int64_t dur_s = 0;
  uint64_t observed_ms = 0;
  uint64_t synced_ms = 0;
  double max_abs_offset_s = 0;
  double max_root_distance_s = 0;
  std::map<int, uint64_t> hist;  // bucket -> ms
  std::vector<SourceShare> sources;
};

// One observation of the state; it holds until the next one.
struct SyncObservation {
  bool synced = false;  // to a source
  double offset_s = 0;
  double root_distance_s = 0;
  std::string source;  // the selected source's address ("" when none)
  int stratum = 0;     // its stratum
};

// Accumulates the observations of one interval, weighted by how long each held.
// mono_s: a monotonic time in seconds.
class IntervalAccumulator {
 public:
  // A new interval from start_s (Unix s) at mono_s; the last observation goes on.
  void start(int64_t start_s, double mono_s);
  void add(const SyncObservation& o, double mono_s);
  // The interval up to mono_s, lasting `dur_s`.
  SyncInterval finish(double mono_s, int64_t dur_s);
  bool empty() const { return m_cur.observed_ms == 0; }
  int64_t start_s() const { return m_cur.start_s; }

 private:
  void credit(double until_mono_s);
  SyncInterval m_cur;
  std::optional<SyncObservation> m_last;
  double m_last_mono = 0;
};

std::string encode(const SyncInterval& v);
Result<SyncInterval> decode_sync(std::string_view line);

struct ClientDay {
  std::string tenant;
  std::string address;
  int64_t first_s = 0;
  int64_t last_s = 0;
  uint64_t requests = 0;
};
std::string encode(const ClientDay& c);
Result<ClientDay> decode_client(std::string_view line);

struct AlertTransition {
  int64_t time_ns = 0;
  std::string alert;
  std::string subject;  // "" for none
  bool firing = true;
  double value = 0;
  double threshold = 0;
};
std::string encode(const AlertTransition& a);
Result<AlertTransition> decode_alert(std::string_view line);

// An audit record of the period, as the report lists it: its time and its JSON line.
struct AuditLine {
  int64_t time_ns = 0;
  std::string command;
  std::string json;  // the whole record (a JSON object)
};

struct ReportInput {
  int64_t from_s = 0;
  int64_t to_s = 0;
  std::string node;
  std::string config_sha256;
  std::optional<std::string> tenant;  // only this tenant ("default" included)
  std::vector<std::string> tenants;   // the tenants configured now (shown even without clients)
  std::vector<SyncInterval> intervals;
  std::vector<ClientDay> clients;
  std::vector<AlertTransition> alerts;
  std::vector<AuditLine> audit;
  size_t max_clients = 10000;  // per tenant in the report
};

struct ReportClient {
  std::string address;
  int64_t first_s = 0;
  int64_t last_s = 0;
  uint64_t requests = 0;
};
struct ReportTenant {
  std::string name;
  uint64_t clients_distinct = 0;
  uint64_t requests = 0;
  bool clients_truncated = false;  // more than max_clients: the busiest kept
  std::vector<ReportClient> clients;
};
struct ReportSource {
  std::string address;
  int stratum = 0;
  double selected_fraction = 0;  // of the observed time in the period
};
struct Report {
  int64_t from_s = 0;
  int64_t to_s = 0;
  std::string node;
  std::string config_sha256;
  double coverage_fraction = 0;      // of the period observed (the daemon running)
  double synchronised_fraction = 0;  // of the period synchronised to a source
  double max_abs_offset_s = 0;
  double p99_abs_offset_s = 0;  // upper edge of the histogram bucket (19 % resolution)
  double max_root_distance_s = 0;
  double observed_s = 0;
  uint64_t corrections_held = 0;
  uint64_t corrections_released = 0;  // by the sources coming back or an approval
  uint64_t approvals = 0;             // `approve` commands that succeeded
  std::vector<ReportSource> sources;
  std::vector<ReportTenant> tenants;
  std::vector<AuditLine> changes;
  std::vector<AlertTransition> alerts;
};

Report make_report(const ReportInput& in);

}  // namespace tr7::core
