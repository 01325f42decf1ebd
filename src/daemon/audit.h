// The audit trail: <state_dir>/audit.log, one JSON object per line, and the same line to
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
// The file is opened relative to the state directory's fd, at start (before any chroot
// or privilege drop), with O_APPEND|O_NOFOLLOW, and again at each reload (SIGHUP), so a
// log rotation (contrib/tr7ntpd.logrotate) only needs a SIGHUP.
//
// Tamper evidence (core/audit_chain.h): every record is sealed with seq, node,
// prev_hash and hash, the chain carried across restarts (the last sealed record is read
// at open) and across files: when audit.log reaches max_size bytes it becomes
// audit.log.1 (the older ones audit.log.2 ... up to `keep`, the oldest deleted) and a
// new audit.log continues the chain. verify() checks every file, oldest first, and the
// end of the chain against what this process wrote last.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/audit_chain.h"
#include "core/history.h"
#include "core/result.h"
#include "core/time.h"
#include "ctl/json.h"
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

inline constexpr const char* k_audit_file = "audit.log";
inline constexpr int k_refusal_burst = 10;
inline constexpr double k_refusal_interval_s = 6.0;
inline constexpr size_t k_audit_value_max = 65536;  // before/after longer than this are cut

// Size-based rotation: audit.log becomes audit.log.1 when it reaches max_size bytes (0:
// never by size), at most `keep` rotated files are kept.
struct AuditRotation {
  uint64_t max_size = 16 << 20;
  unsigned keep = 10;
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
  // Opens (creates, mode 0640) the log in the directory `dirfd` (kept for rotation and
  // verification: it must outlive this object) and takes up the chain where the last
  // sealed record of audit.log (or audit.log.1) left it. A torn last line (a crash in
  // the middle of a write) is cut off first (logged), so no record is glued to it.
  Result<void> open(int dirfd);
  bool is_open() const { return m_fd.valid(); }
  void set_zone(std::string zone) { m_zone = std::move(zone); }
  // The node name sealed into every record ([daemon] node, the host name by default).
  void set_node(std::string node) { m_node = std::move(node); }
  void set_rotation(AuditRotation r) { m_rotation = r; }
  const core::ChainState& chain() const { return m_chain; }
  // Checks the chain over every file (see above). Reads up to (keep + 1) x max_size bytes.
  AuditVerdict verify() const;
  // The records of [from_ns, to_ns) (their time_utc) over every file, oldest first, at
  // most `max` (the first ones); lines that are not JSON objects are left out.
  std::vector<core::AuditLine> between(int64_t from_ns, int64_t to_ns, size_t max = 100000) const;

  // The JSON line of an entry (without newline); pure apart from the zone lookup.
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
  uint64_t rotations() const { return m_rotations; }
  bool has_suppressed() const { return m_suppressed > 0; }  // refusals waiting for their summary

 private:
  bool take_token(int64_t mono_ns);
  Result<void> write_line(const std::string& line);
  void load_chain();
  void rotate();
  // f(file name, line, line number) for every complete line of every file, oldest first;
  // returns an error text if a file could not be read. f returns false to stop.
  std::string for_each_line(const std::function<bool(const std::string&, std::string_view, uint64_t)>& f,
                            std::vector<std::string>* files = nullptr) const;

  const TimezoneDb& m_tz;
  std::string m_zone;
  std::string m_node = "localhost";
  AuditRotation m_rotation;
  int m_dirfd = -1;
  sys::Fd m_fd;
  core::ChainState m_chain;
  uint64_t m_records = 0;
  uint64_t m_write_failures = 0;
  bool m_failing = false;
  std::function<void()> m_on_failing_change;
  void set_failing(bool f);
  uint64_t m_rotations = 0;
  // Refusal limiter (token bucket).
  double m_tokens = k_refusal_burst;
  int64_t m_last_refill_ns = 0;
  bool m_refill_started = false;
  uint64_t m_suppressed = 0;
  uint64_t m_suppressed_total = 0;
  std::string m_suppressed_example;
};

}  // namespace tr7::daemon
