// Snapshots of the daemon's state as the control protocol reports them, and their records.
//
// Pure. The NTP client (through daemon::ClientStatusProvider) and the daemon fill these;
// to_record() gives the wire record of each, so the field names of every reply are
// defined here, once. Conventions:
//  * offsets: offset_s = reference - local (RFC 5905 theta): positive means our clock is
//    behind the reference and will be moved forward;
//  * frequencies: freq_ppm is the correction applied; positive makes the clock faster;
//  * times on the wire are UTC, RFC 3339 with nanoseconds, in fields ending in _utc;
//    an unknown time is the empty value;
//  * durations are seconds (_s), rates ppm (_ppm).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "ctl/protocol.h"

namespace tr7::ctl {

struct HeldCorrection {
  int64_t id = 0;         // what `approve ID` names
  double offset_s = 0.0;  // the correction that was held (sign as offset_s)
  core::Timestamp since;  // when it was first held
};

struct TrackingStatus {
  // "unsynchronised", "synchronised", "local" (local_stratum, no source) or "holdover".
  std::string state = "unsynchronised";
  bool synchronised = false;
  int stratum = 0;  // 0 when unsynchronised
  uint32_t ref_id = 0;
  std::string ref_name;            // source address, or "LOCAL"
  core::Timestamp reference_time;  // zero: never
  double offset_s = 0.0;           // current estimate, reference - local
  double last_offset_s = 0.0;
  double rms_offset_s = 0.0;
  double freq_ppm = 0.0;
  double residual_freq_ppm = 0.0;
  double skew_ppm = 0.0;
  double root_delay_s = 0.0;
  double root_dispersion_s = 0.0;
  double update_interval_s = 0.0;
  std::string leap = "none";  // none, insert, delete, unsynchronised
  std::string clock_mode;     // kernel, none
  std::optional<HeldCorrection> held;
};

struct SourceStatus {
  std::string name;             // as configured (host name or address)
  std::string address;          // resolved address, empty while resolving
  int port = 123;               // the source's NTP port
  std::string mode = "server";  // server, pool
  // selected, combined, candidate, falseticker, jittery, unselectable, unreachable, resolving
  std::string state;
  int stratum = 0;
  int poll = 0;               // log2 s
  uint8_t reach = 0;          // last 8 polls, bit 0 the latest
  double last_rx_ago_s = -1;  // seconds since the last valid sample, -1 never
  double offset_s = 0.0;
  double delay_s = 0.0;
  double jitter_s = 0.0;
  double error_s = 0.0;  // estimated error of offset_s
};

struct SourceStats {
  std::string name;
  std::string address;
  int port = 123;
  int samples = 0;
  int runs = 0;
  double span_s = 0.0;
  double freq_ppm = 0.0;
  double freq_skew_ppm = 0.0;
  double offset_s = 0.0;
  double std_dev_s = 0.0;
};

struct SelectStatus {
  std::string name;
  std::string address;
  int port = 123;
  std::string state;    // as SourceStatus::state
  std::string reasons;  // comma-separated, why not selected ("" when selected)
  int stratum = 0;
  double root_distance_s = 0.0;
  double lower_s = 0.0;  // correctness interval, offsets
  double upper_s = 0.0;
  std::string leap = "none";
};

struct ActivityStatus {
  int online = 0;
  int offline = 0;
  int burst_online = 0;
  int burst_offline = 0;
  int unresolved = 0;
};

struct NtpDataStatus {
  std::string address;
  int remote_port = 0;
  std::string local_address;
  int version = 0;
  int mode = 0;
  int stratum = 0;
  int poll = 0;
  int precision = 0;
  std::string leap = "none";
  uint32_t ref_id = 0;
  core::Timestamp reference_time;
  double root_delay_s = 0.0;
  double root_dispersion_s = 0.0;
  double offset_s = 0.0;
  double delay_s = 0.0;
  double dispersion_s = 0.0;
  double response_time_s = 0.0;
  uint64_t tx = 0;
  uint64_t rx = 0;
  uint64_t valid_rx = 0;
  uint64_t kod_rx = 0;
};

// One source's authentication (`authdata`, like chronyc's).
struct AuthStatus {
  std::string name;
  std::string address;  // empty while resolving (an NTS source before its NTS-KE)
  int port = 123;
  std::string mode = "none";  // none, key, nts
  uint32_t key_id = 0;        // key: its id; otherwise 0
  std::string key_type;       // MD5, SHA256, AES128, ... or the NTS AEAD
  int key_bits = 0;
  int cookies = 0;  // nts: cookies held
  int cookie_len = 0;
  double last_ke_ago_s = -1;  // nts: since the last successful NTS-KE, -1 never
  uint64_t ke_attempts = 0;   // nts: NTS-KE attempts since the last success
  uint64_t ke_ok = 0;
  std::string ke_error;
  uint64_t authenticated = 0;  // replies that passed authentication
  uint64_t failed = 0;         // replies refused by it
  uint64_t naks = 0;           // crypto-NAKs / NTS NAKs
  uint64_t not_sent = 0;       // requests not sent (no cookie, key missing)
};

// RFC 3339 UTC with nanoseconds ("2026-11-26T06:09:27.123456789Z"); "" for zero.
std::string format_utc(core::Timestamp t);
// Parses what format_utc() writes (and offsets "+03:00"); used by tr7ntpc.
Result<core::Timestamp> parse_rfc3339(std::string_view s);
std::string format_double(double v);    // shortest text that reads back exactly ("%.17g" trimmed)
std::string format_refid(uint32_t id);  // "0x7F7F0101"

Record to_record(const TrackingStatus& t);
Record to_record(const SourceStatus& s);
Record to_record(const SourceStats& s);
Record to_record(const SelectStatus& s);
Record to_record(const ActivityStatus& a);
Record to_record(const NtpDataStatus& d);
Record to_record(const AuthStatus& a);

}  // namespace tr7::ctl
