// tr7top: the data model of the dashboard — what the daemon said, what it means, and
// what needs attention.
//
// Pure: no I/O, no clock (every call gets the time), no curses. main.cc feeds it the
// events of the connection (connected, snapshot, failure); screen.cc reads it.
//
//  * sync state and source states as words and a Tone (the colour class);
//  * alerts from configurable thresholds: offset, frequency (drift), too few usable
//    sources, held correction, unsynchronised/holdover, daemon unreachable or silent;
//  * the offset history (for the plot and the offset trend);
//  * request rates from counter deltas, per server and per tenant (a counter that goes
//    backwards means the daemon restarted: no rate for that interval);
//  * the connection state and the notice "reconnected after ...".
// Offsets and frequencies follow ctl/status.h (offset_s = reference - local).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "core/tz.h"
#include "tools/tr7top/snapshot.h"

namespace tr7::top {

// The two clocks every event is stamped with: monotonic for ages and rates, real time
// for times of day.
struct Now {
  int64_t mono_ns = 0;
  core::Timestamp real;
};

// Colour classes; the view maps them to colour pairs or, in monochrome, attributes.
enum class Tone : uint8_t { Normal, Good, Info, Warn, Bad, Dim };

struct Thresholds {
  double offset_s = 0.1;   // |offset| above: warning
  double drift_ppm = 100;  // |frequency| above: warning
  int min_sources = 1;     // usable sources below: warning (not for a local-only daemon)
};

// The header's sync state: "synchronised", "unsynchronised", "holdover",
// "correction held", "local", or the daemon's word for a state we do not know.
struct SyncView {
  std::string words;
  Tone tone = Tone::Normal;
};
SyncView sync_view(const ctl::TrackingStatus& t);

// A source state from the protocol ("selected", "combined", "candidate", "falseticker",
// "jittery", "unselectable", "unreachable", "resolving", "kod").
struct SourceStateView {
  char symbol = '?';  // as chronyc: * selected, + combined, - candidate, x falseticker,
                      // ~ jittery, ? unselectable, ! unreachable, . resolving, K kod
  std::string word;   // the state in words, "unknown(xyz)" for a state we do not know
  Tone tone = Tone::Normal;
  bool usable = false;  // counts toward min_sources: selected, combined, candidate
  int rank = 9;         // sort order, best first
};
SourceStateView source_state(std::string_view state);

enum class Severity : uint8_t { Info, Warning, Critical };
struct Alert {
  Severity severity = Severity::Info;
  std::string text;
};
const char* to_string(Severity s);  // "info", "warning", "critical"

// Offsets over time, for the plot and the trend.
class History {
 public:
  explicit History(double keep_s = 3600, size_t max_samples = 20000) : m_keep_s(keep_s), m_max(max_samples) {}
  void add(int64_t mono_ns, double offset_s);
  size_t size() const { return m_samples.size(); }
  // Least-squares slope of the offset over the last span_s (s per s); nullopt with fewer
  // than 3 samples or less than 2 s of data.
  std::optional<double> trend(int64_t now_ns, double span_s) const;
  // `columns` buckets covering the last window_s up to now, oldest first; each is the
  // sample of largest magnitude in its time slice (spikes stay visible), or nullopt.
  std::vector<std::optional<double>> buckets(int64_t now_ns, size_t columns, double window_s) const;

 private:
  struct Sample {
    int64_t mono_ns;
    double offset_s;
  };
  double m_keep_s;
  size_t m_max;
  std::deque<Sample> m_samples;
};

// A plot of buckets, `height` rows (top row first), each `buckets.size()` columns wide.
// Block elements (U+2581..U+2588) with utf8, else ASCII "_-=#". The value range is the
// data's [lo, hi] (returned); a flat line sits in the middle.
struct Plot {
  std::vector<std::string> rows;
  double lo = 0, hi = 0;
  bool empty = true;  // no data at all
};
Plot plot(const std::vector<std::optional<double>>& buckets, size_t height, bool utf8);

// Sorting of the sources table.
enum class SortKey : uint8_t { Daemon, State, Name, Stratum, Offset, Delay };
SortKey next(SortKey k);
const char* to_string(SortKey k);  // "daemon order", "state", "name", ...
std::vector<ctl::SourceStatus> sorted(std::vector<ctl::SourceStatus> v, SortKey k);

// Rates of one server's counters, from deltas over a sliding window.
struct CounterRates {
  double received_per_s = 0;
  double answered_per_s = 0;
  double dropped_per_s = 0;
  double kod_per_s = 0;
};
class RateMeter {
 public:
  explicit RateMeter(double window_s = 5) : m_window_ns(static_cast<int64_t>(window_s * 1e9)) {}
  void add(int64_t mono_ns, const ServerCounters& c);
  // nullopt until two samples at least 0.2 s apart exist since the last reset.
  std::optional<CounterRates> rates() const;
  void reset() { m_samples.clear(); }

 private:
  struct Sample {
    int64_t mono_ns;
    uint64_t received, answered, dropped, kod;
  };
  int64_t m_window_ns;
  std::deque<Sample> m_samples;
};

enum class Link : uint8_t {
  Connecting,   // never connected yet
  Connected,    // greeted; replies arrive
  Unreachable,  // connect failed, connection lost, no reply in time, or junk
};

class Model {
 public:
  explicit Model(Thresholds th = {}) : m_th(th) {}

  // Events.
  // `reconnected`: the daemon had closed the previous connection (a restart, say).
  void on_connected(const std::string& version, Now now, bool reconnected = false);
  void on_snapshot(Snapshot s, Now now);
  // The connection failed or was lost; `why` is shown to the operator.
  void on_failure(const std::string& why, Now now);

  // State.
  const Thresholds& thresholds() const { return m_th; }
  Link link() const { return m_link; }
  const std::string& failure() const { return m_failure; }
  // Since when the daemon is unreachable (real time and mono).
  Now unreachable_since() const { return m_down_since; }
  const std::string& version() const { return m_version; }
  // The latest snapshot (kept while unreachable: the view marks it stale).
  const std::optional<Snapshot>& last() const { return m_last; }
  Now last_update() const { return m_last_at; }
  bool stale() const { return m_link != Link::Connected || !m_last; }
  // A transient message ("reconnected ..."), shown for a few seconds; "" when none.
  std::string notice(Now now) const;
  const History& history() const { return m_history; }
  std::optional<double> offset_trend(Now now) const;  // s per s, over the last minute
  // Rates of the daemon's own server ("") and of each tenant.
  std::optional<CounterRates> rates(const std::string& tenant) const;
  // The UTC offset of the daemon's zone at `t` (0 with no zone), and its label.
  int32_t zone_offset(core::Timestamp t) const;
  std::string zone_label(core::Timestamp t) const;  // "+03 Europe/Istanbul", "" if unknown
  bool has_zone() const { return m_zone.has_value(); }

  // Everything that needs attention now, most severe first.
  std::vector<Alert> alerts(Now now) const;

 private:
  Thresholds m_th;
  Link m_link = Link::Connecting;
  std::string m_failure;
  Now m_down_since;
  bool m_was_down = false;  // a failure happened since the last greeting
  std::string m_version;
  std::optional<Snapshot> m_last;
  Now m_last_at;
  std::string m_notice;
  int64_t m_notice_until_ns = 0;
  History m_history;
  std::map<std::string, RateMeter> m_rates;
  std::optional<ZoneInfo> m_zone;
  std::optional<core::TzRule> m_rule;
};

// Local helpers shared with screen.cc.
std::string format_trend(std::optional<double> slope, double offset_s, bool utf8);
// Usable sources (selected, combined, candidate) in a list.
int usable_sources(const std::vector<ctl::SourceStatus>& v);

}  // namespace tr7::top
