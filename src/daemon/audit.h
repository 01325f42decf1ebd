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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

class AuditLog {
 public:
  AuditLog(const TimezoneDb& tz, std::string zone) : m_tz(tz), m_zone(std::move(zone)) {}
  // Opens (creates, mode 0640) the log in the directory `dirfd`.
  Result<void> open(int dirfd);
  bool is_open() const { return m_fd.valid(); }
  void set_zone(std::string zone) { m_zone = std::move(zone); }

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
  bool has_suppressed() const { return m_suppressed > 0; }  // refusals waiting for their summary

 private:
  bool take_token(int64_t mono_ns);

  const TimezoneDb& m_tz;
  std::string m_zone;
  sys::Fd m_fd;
  uint64_t m_records = 0;
  // Refusal limiter (token bucket).
  double m_tokens = k_refusal_burst;
  int64_t m_last_refill_ns = 0;
  bool m_refill_started = false;
  uint64_t m_suppressed = 0;
  uint64_t m_suppressed_total = 0;
  std::string m_suppressed_example;
};

}  // namespace tr7::daemon
