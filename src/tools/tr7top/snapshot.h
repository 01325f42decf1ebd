// tr7top: what one refresh learns from the daemon, and the client side of the protocol.
//
// Pure: no I/O, no clock. The Conversation is fed the bytes the socket delivers and
// yields the text to send; client.cc only moves bytes. So the whole protocol handling
// (greeting, framing, which reply answers which command, unknown commands, errors,
// junk) is tested without a socket.
//
// One refresh sends its commands pipelined; the replies come back in order
// (tr7ntp-control(7)). The first refresh on a connection also asks `help`, to learn
// which optional commands this daemon has (`tenants`, `alerts`): asking an unknown command would
// be a "bad request" in the daemon's log every time. Field names are those of ctl/status.h
// and the daemon's serverstats/timezone replies; missing fields keep their defaults (an
// older or newer daemon), malformed values make that reply an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "ctl/protocol.h"
#include "ctl/status.h"

namespace tr7::top {

// The NTP server's counters: `serverstats`, and one per tenant from `tenants`.
struct ServerCounters {
  std::string tenant;  // "" for the daemon's own server (serverstats)
  uint64_t received = 0;
  uint64_t answered = 0;
  uint64_t kod_rate = 0;
  uint64_t kod_deny = 0;
  uint64_t leaked = 0;
  uint64_t dropped = 0;
  uint64_t send_errors = 0;
  std::map<std::string, uint64_t> dropped_by_reason;  // "rate_limited" -> n (from dropped_*)
  std::optional<uint64_t> clients;                    // clients tracked
  std::optional<uint64_t> client_capacity;
};

// `timezone get`.
struct ZoneInfo {
  std::string zone;          // "Europe/Istanbul"
  std::string rule;          // POSIX TZ rule ("<+03>-3"), "" if not given
  int32_t utc_offset_s = 0;  // at the time of the reply
  std::string abbreviation;
};

// One alert of the daemon's `alerts` (firing or resolved).
struct DaemonAlert {
  std::string alert;    // "no_source", ...
  std::string subject;  // peer or tenant, "" otherwise
  bool firing = false;
  std::string severity;  // "warning", "critical"
  std::string message;
  core::Timestamp fired;
};

// A reply that did not come (as expected): shown instead of the data.
struct ReplyError {
  ctl::ErrCode code = ctl::ErrCode::Failed;
  std::string text;
};

template <class T>
using Part = Result<T, ReplyError>;

struct Snapshot {
  Part<ctl::TrackingStatus> tracking = ctl::TrackingStatus{};
  Part<std::vector<ctl::SourceStatus>> sources = std::vector<ctl::SourceStatus>{};
  Part<ServerCounters> server = ServerCounters{};
  // nullopt: the daemon has no `tenants` command (or none configured).
  std::optional<Part<std::vector<ServerCounters>>> tenants;
  std::optional<ZoneInfo> zone;  // nullopt when `timezone get` failed
  // nullopt: the daemon has no `alerts` command (then tr7top's own thresholds alert).
  std::optional<Part<std::vector<DaemonAlert>>> alerts;
};

// Record -> value parsers (exposed for the tests).
Result<ctl::TrackingStatus> parse_tracking(const ctl::Record& r);
Result<ctl::SourceStatus> parse_source(const ctl::Record& r);
Result<ServerCounters> parse_server_counters(const ctl::Record& r);
Result<ZoneInfo> parse_zone(const ctl::Record& r);
Result<DaemonAlert> parse_daemon_alert(const ctl::Record& r);

// The command lines of one refresh.
enum class Query : uint8_t { Help, Tracking, Sources, ServerStats, Tenants, Timezone, Alerts };
const char* query_line(Query q);  // "tracking", ...

// The client side of one connection.
class Conversation {
 public:
  // Events for the caller, in the order they happened.
  struct Event {
    enum class Kind : uint8_t {
      Greeting,  // the daemon said hello: `text` is its version ("tr7ntpd/0.1.0")
      Snapshot,  // a refresh is complete: `snapshot`
      Fatal,     // the connection is unusable (junk, wrong protocol): `text`; close it
    } kind;
    std::string text;
    Snapshot snapshot;
  };

  // The text to send for one refresh (several pipelined commands). Only call when
  // !busy(); the greeting need not have arrived yet.
  std::string start_cycle();
  bool busy() const { return !m_pending.empty(); }
  bool greeted() const { return m_greeted; }
  const std::string& server_version() const { return m_version; }
  // Whether `tenants` is asked: the daemon's `help` lists it (and it did not answer
  // "unknown command" after all).
  bool asks_tenants() const { return m_ask_tenants; }
  // Whether `alerts` is asked (the daemon's `help` lists it).
  bool asks_alerts() const { return m_ask_alerts; }

  // Bytes from the socket. Returns what they completed.
  std::vector<Event> feed(std::string_view bytes);

 private:
  void on_line(std::string_view line, std::vector<Event>& out);
  void on_reply(ctl::Reply&& r, std::vector<Event>& out);

  std::string m_buf;
  bool m_greeted = false;
  bool m_failed = false;
  std::string m_version;
  bool m_need_help = true;  // the first refresh asks `help`
  bool m_ask_tenants = false;
  bool m_ask_alerts = false;
  ctl::ReplyReader m_reader;
  std::vector<Query> m_pending;  // sent and not yet answered, in order
  Snapshot m_cur;
};

}  // namespace tr7::top
