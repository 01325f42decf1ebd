// The audit trail: <state_dir>/audit/audit.log, one JSON object per line, and the same line to
// syslog.
//
// Every change (a control command or a reload, allowed or refused) and every clock
// step, held correction and approval is one record:
//   {"time_utc":"2026-11-26T06:09:27.123456789Z","time_local":"2026-11-26T09:09:27.123456789+03:00",
//    "zone":"Europe/Istanbul","uid":0,"gid":0,"pid":1234,"via":"control","command":"allow add 10.0.0.0/8",
//    "before":"","after":"allow 10.0.0.0/8","result":"ok"}
// uid/gid/pid are null when there is no caller (a signal, the daemon itself). append()
// returns only after write(2) and fsync(2) succeeded: the caller answers a command after
// that, and refuses the change if it failed.
//
// Refusals come from peers that may be hostile, so they are rate-limited (a burst of
// k_refusal_burst, then one per k_refusal_interval_s); the ones over the limit are
// counted and written as one summary record later, so junk cannot flood the log or
// syslog (chrony CVE-2010-0294, ntpd-rs NTP-060).
//
// Where records go is an AuditSink: in one process the file itself (audit_file.h,
// <state_dir>/audit/audit.log, rotated by size), opened relative to the state
// directory's fd at start (before any chroot or privilege drop) and again at each reload
// (SIGHUP); under privilege separation the helper, which alone can write the file (the
// worker's side is append-only: issue 19 item 7). tail() reads the file through the
// state directory's fd in both cases.
//
// Tamper evidence (core/audit_chain.h): every record is sealed here with seq, node,
// prev_hash and hash before it goes to the sink, the chain carried across restarts (the
// last sealed record of audit.log, or of audit.log.1 after a rotation, is read at open)
// and across the rotated files. verify() checks every file, oldest first, and the end of
// the chain against what this process wrote last.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_chain.h"
#include "core/history.h"
#include "core/result.h"
#include "core/time.h"
#include "ctl/json.h"
#include "daemon/audit_file.h"
#include "sys/fd.h"

namespace tr7::daemon {

class TimezoneDb;

struct Caller {
  bool known = false;  // false: no peer (signal, daemon)
  uint32_t uid = 0;
  uint32_t gid = 0;
  int32_t pid = 0;
  std::string via = "control";  // control, signal, daemon, ntp
};

struct AuditEntry {
  Caller who;
  std::string command;
  std::string before;
  std::string after;
  std::string result = "ok";  // ok | refused: ... | failed: ...
};

// The current file, relative to the state directory (audit_file.h).
inline constexpr const char* k_audit_file = "audit/audit.log";
inline constexpr int k_refusal_burst = 10;
inline constexpr double k_refusal_interval_s = 6.0;
inline constexpr size_t k_audit_value_max = 65536;  // before/after longer than this are cut

// Where the lines go. write_line() returns only once the line is durably written.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual bool ready() const = 0;
  virtual Result<void> write_line(std::string_view line) = 0;
  // After an outside rotation (reload): start a new file if the old one was moved.
  virtual Result<void> reopen() = 0;
  // Rotations made by this process (the helper's are its own).
  virtual uint64_t rotations() const { return 0; }
};

// What `audit verify` reports (core::ChainReport plus the files read).
struct AuditVerdict {
  core::ChainReport chain;
  std::vector<std::string> files;  // oldest first
  std::string error;               // a file could not be read (then chain is partial)
};

class AuditLog {
 public:
  AuditLog(const TimezoneDb& tz, std::string zone) : m_tz(tz), m_zone(std::move(zone)) {}
  ~AuditLog();
  // One process: the log in <state dir>/audit/ (created if missing), written here, size
  // limits from the configuration. `state_dirfd` stays the caller's (also for tail()).
  Result<void> open(int state_dirfd, uint64_t max_bytes = k_default_audit_max_bytes,
                    unsigned keep = k_default_audit_keep);
  // Privilege separation: records go to `sink` (the helper); tail() reads through
  // `state_dirfd`.
  void use_sink(std::unique_ptr<AuditSink> sink, int state_dirfd);
  // A reload: reopens the file (one process) or does nothing (the helper reopens its own
  // on SIGHUP).
  Result<void> reopen();
  bool is_open() const { return m_sink && m_sink->ready(); }
  void set_zone(std::string zone) { m_zone = std::move(zone); }
  // The node name sealed into every record ([daemon] node, the host name by default).
  void set_node(std::string node) { m_node = std::move(node); }
  const core::ChainState& chain() const { return m_chain; }
  // Checks the chain over every file (see above). Reads up to (keep + 1) x max_size bytes.
  AuditVerdict verify() const;
  // The records of [from_ns, to_ns) (their time_utc) over every file, oldest first, at
  // most `max` (the first ones); lines that are not JSON objects are left out.
  std::vector<core::AuditLine> between(int64_t from_ns, int64_t to_ns, size_t max = 100000) const;

  // The JSON line of an entry (without newline), at most core::privsep::
  // k_max_audit_record bytes (long values are cut); pure apart from the zone lookup.
  std::string format(const AuditEntry& e, core::Timestamp now) const;
  // Appends, fsyncs, logs. An error means the record is not durably written.
  Result<void> append(const AuditEntry& e, core::Timestamp now);
  // A refused command: rate-limited as described above. mono_ns: a monotonic clock.
  void refusal(const AuditEntry& e, core::Timestamp now, int64_t mono_ns);
  // Writes the summary of suppressed refusals, if any and if the limiter allows.
  void flush_suppressed(core::Timestamp now, int64_t mono_ns);

  // Hooks for the NTP client and discipline (the lead wires these): each is one record
  // with via "ntp" and no caller.
  Result<void> clock_step(double step_s, std::string_view reason, core::Timestamp now);
  Result<void> correction_held(int64_t id, double offset_s, double tolerance_s, core::Timestamp now);
  Result<void> correction_released(int64_t id, double offset_s, std::string_view how, core::Timestamp now);

  // The last n records (oldest first). Lines that are not flat JSON objects are skipped.
  Result<std::vector<std::vector<ctl::JsonField>>> tail(size_t n) const;

  uint64_t records() const { return m_records; }
  uint64_t suppressed_total() const { return m_suppressed_total; }
  // Writes that failed (write, fsync or no log), and whether the last one did: the
  // `audit_write_failed` alert.
  uint64_t write_failures() const { return m_write_failures; }
  bool failing() const { return m_failing; }
  // Called when failing() changes.
  void set_on_failing_change(std::function<void()> f) { m_on_failing_change = std::move(f); }
  uint64_t rotations() const { return m_sink ? m_sink->rotations() : 0; }
  bool has_suppressed() const { return m_suppressed > 0; }  // refusals waiting for their summary

 private:
  bool take_token(int64_t mono_ns);
  std::string format_cut(const AuditEntry& e, core::Timestamp now, size_t max_value) const;

  const TimezoneDb& m_tz;
  std::string m_zone;
  std::unique_ptr<AuditSink> m_sink;
  int m_state_dirfd = -1;  // not owned
  void load_chain();
  // f(file name, line, line number) for every complete line of every file, oldest first;
  // returns an error text if a file could not be read. f returns false to stop.
  std::string for_each_line(const std::function<bool(const std::string&, std::string_view, uint64_t)>& f,
                            std::vector<std::string>* files = nullptr) const;
  std::string m_node = "localhost";
  core::ChainState m_chain;
  uint64_t m_records = 0;
  uint64_t m_write_failures = 0;
  bool m_failing = false;
  std::function<void()> m_on_failing_change;
  void set_failing(bool f);
  // Refusal limiter (token bucket).
  double m_tokens = k_refusal_burst;
  int64_t m_last_refill_ns = 0;
  bool m_refill_started = false;
  uint64_t m_suppressed = 0;
  uint64_t m_suppressed_total = 0;
  std::string m_suppressed_example;
};

}  // namespace tr7::daemon
