// The privileged helper's wire protocol and its request validator. Pure: no I/O, no
// syscalls, no logging; time is passed in.
//
// The sandboxed worker asks the privileged helper for the few things it may not do itself
// (DESIGN.md "Processes"). Every message is one fixed-size, versioned struct, sent as one
// datagram over a SOCK_SEQPACKET socketpair, in host byte order (both ends are the same
// binary on the same host). Requests carry a typed value per operation and nothing else:
// the helper never receives a struct timex, a path or a free-form buffer.
//
// The helper accepts a request only if validate() does: exact size, known version and op,
// canonical encoding (every byte the op does not use is zero), finite and bounded values,
// the step target inside the plausible window, a well-formed network namespace name and an
// address/port the configuration allows. Anything else is refused with a Refusal code,
// logged and counted by the helper; nothing of it is applied.
//
// Sign conventions are those of core::ClockControl (core/clock.h):
//  * Slew/Step value: seconds ADDED to the clock (positive moves it forward);
//  * SetFreq value: ppm, positive makes the clock run faster.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/netaddr.h"
#include "core/ntp_packet.h"
#include "core/result.h"
#include "core/tenant.h"
#include "core/time.h"

namespace tr7::core::privsep {

inline constexpr uint32_t k_version = 1;

enum class Op : uint32_t {
  Query = 1,          // read only: the current frequency correction -> Response::value (ppm)
  Slew = 2,           // value: seconds to add by slewing
  SetFreq = 3,        // value: frequency correction, ppm
  Step = 4,           // value: seconds to add at once
  SetLeap = 5,        // leap: 0 none, 1 insert, 2 delete (at the end of the UTC day)
  ReadRtc = 6,        // -> Response::time_ns
  WriteRtc = 7,       // the helper writes ITS OWN system time to the RTC: the worker chooses nothing
  OpenUdp = 8,        // family/addr/port/netns -> a bound UDP socket (SCM_RIGHTS)
  OpenConfig = 9,     // -> the configuration file opened read-only (SCM_RIGHTS), for SIGHUP
  NetnsId = 10,       // netns -> Response::time_ns: the inode of /run/netns/NAME (ENOENT: none)
  SetSync = 11,       // leap: 1 synchronised, 0 not; value: max error, value2: estimated error (s)
  AuditAppend = 12,   // the header is followed by one audit record (audit_record_ok): appended
  OpenAuthFile = 13,  // leap: an AuthFile -> that configured file opened read-only (SCM_RIGHTS), for SIGHUP
};
inline constexpr uint32_t k_op_min = 1;
inline constexpr uint32_t k_op_max = 13;

// AuditAppend: the only message longer than a Request. The record follows the header
// (every header field the op does not use is zero, as for the others): one flat JSON
// object without its newline, at most k_max_audit_record bytes. The helper writes it to
// the audit log, which the worker can only read (issue 19 item 7).
inline constexpr size_t k_max_audit_record = 128 * 1024;
// '{' ... '}', 2..k_max_audit_record bytes, no control byte (< 0x20) and no DEL: one line.
bool audit_record_ok(std::string_view record);
// The files of authenticated time the helper opens on a reload (the worker names the
// kind, never a path: the paths are those of the configuration the helper read itself).
enum class AuthFile : uint32_t { KeyFile = 1, NtsCert = 2, NtsKey = 3, TrustedCerts = 4 };
inline constexpr uint32_t k_auth_file_max = 4;
const char* to_string(Op op);

// Longest network namespace name (the file name under /run/netns).
inline constexpr size_t k_netns_max = 64;

struct Request {
  uint32_t version;   // k_version
  uint32_t op;        // Op
  uint32_t seq;       // chosen by the worker, echoed in the response
  uint32_t reserved;  // 0
  double value;       // Slew, Step: seconds; SetFreq: ppm; SetSync: max error, s; otherwise 0
  uint32_t leap;      // SetLeap: 0..2; SetSync: 1 synchronised, 0 not; otherwise 0
  uint16_t port;      // OpenUdp: host byte order, 0 = an ephemeral port
  uint8_t family;     // OpenUdp: 4 or 6; otherwise 0
  uint8_t reserved2;  // 0
  uint8_t addr[16];   // OpenUdp: network order, IPv4 in the first 4 bytes; otherwise 0
  char netns[72];     // OpenUdp, NetnsId: NUL-terminated, zero-padded; "" = the daemon's own namespace
  double value2;      // SetSync: estimated error, s; otherwise 0
};
static_assert(std::is_trivially_copyable_v<Request> && std::is_standard_layout_v<Request>);
static_assert(sizeof(Request) == 128, "no implicit padding: every byte is checked");

struct Response {
  uint32_t version;   // k_version
  uint32_t op;        // echoed
  uint32_t seq;       // echoed
  int32_t status;     // 0: done; > 0: the errno of the failed operation; < 0: -Refusal
  int64_t time_ns;    // ReadRtc: the RTC time, ns since 1970 (UTC); NetnsId: the inode; otherwise 0
  double value;       // Query: frequency correction, ppm; otherwise 0
  uint32_t has_fd;    // 1 when exactly one descriptor is attached (OpenUdp, OpenConfig)
  uint32_t reserved;  // 0
};
static_assert(std::is_trivially_copyable_v<Response> && std::is_standard_layout_v<Response>);
static_assert(sizeof(Response) == 40, "no implicit padding");

enum class Refusal : int32_t {
  BadSize = 1,    // not exactly sizeof(Request)
  BadVersion,     // unknown protocol version
  UnknownOp,      // op out of range
  NotCanonical,   // a byte the op does not use is not zero, or a descriptor was attached
  NotFinite,      // NaN or infinity
  OutOfRange,     // beyond a bound (frequency, slew, step size, step target, leap value)
  Disabled,       // not permitted in this configuration (clock = none, no RTC)
  BadNetnsName,   // not [A-Za-z0-9_.-]{1,64}, or "." / ".."
  NotConfigured,  // address, port or namespace not in the configuration
  RateLimited,    // too many steps
  BudgetSpent,    // the clock budget of the last 24 h is spent (core/clock_budget.h)
};
inline constexpr int k_refusals = 11;
const char* to_string(Refusal r);

// A socket the broker may open: `addr` bound inside network namespace `netns` ("" = the
// daemon's own). Port 0 in a target allows exactly that: an ephemeral port (client sockets
// with a fresh random port, RFC 9109), not "any port".
struct BindTarget {
  std::string netns;
  SockAddr addr;
  friend bool operator==(const BindTarget& a, const BindTarget& b) = default;
};

// Fixed bounds (see tr7ntpd(8), "Privilege separation").
// The kernel clock's reach (daemon/kernel_clock.h): ADJ_FREQUENCY (+-500 ppm) plus
// ADJ_TICK for the discipline's slews, which ride on the frequency.
inline constexpr double k_max_freq_ppm = 100000.0;
inline constexpr double k_base_freq_ppm =
    500.0;  // the clock's own error: free of the budget  // 10 %: base (500) + the fastest slew (83333)
inline constexpr double k_max_slew_s = 100.0;  // larger corrections are steps
inline constexpr double k_default_max_step_s = 366.0 * 86400.0;
// SetSync error bounds: [0, 16 s] (the kernel's NTP_PHASE_LIMIT); not synchronised: both 0.
inline constexpr double k_max_sync_error_s = 16.0;

// What the helper will do, fixed at start-up from the configuration.
struct Policy {
  bool clock_control = false;                // clock = kernel: Slew, SetFreq, Step, SetLeap, SetSync, WriteRtc
  bool rtc = false;                          // an RTC is configured: ReadRtc (and WriteRtc with clock_control)
  double max_step_s = k_default_max_step_s;  // |Step value| bound
  // No step may put the clock outside [floor, ceiling] (see startup_clock.h); zero = no limit.
  Timestamp floor;
  Timestamp ceiling;
  std::vector<BindTarget> bind_targets;
  // Tenants added at run time ([tenants] runtime): OpenUdp of a (netns, address, port)
  // that one of these admits (never port 0, never the daemon's own namespace), and
  // NetnsId of a namespace whose name one of them matches.
  std::vector<RuntimeBindRule> runtime_rules;
  bool audit = false;  // the helper keeps the audit log: AuditAppend
  // The clock budget (core/clock_budget.h): the frequency bound (base + the discipline's
  // max_slew_ppm) and what all corrections together may move the clock in 24 h.
  double max_freq_ppm = k_max_freq_ppm;
  double max_per_day_s = 1000.0;
  // OpenAuthFile: the path of each AuthFile (index kind - 1); empty: not configured.
  std::vector<std::string> auth_files = std::vector<std::string>(k_auth_file_max);
};

// A request that passed every check; the helper applies exactly this.
struct Valid {
  Op op = Op::Query;
  uint32_t seq = 0;
  double value = 0.0;
  double value2 = 0.0;        // SetSync: estimated error (value: max error)
  bool synchronised = false;  // SetSync
  Leap leap = Leap::None;
  BindTarget target;                       // OpenUdp; NetnsId: target.netns
  std::string record;                      // AuditAppend
  AuthFile auth_file = AuthFile::KeyFile;  // OpenAuthFile
};

// Checks one message as received: exactly sizeof(Request) bytes, or for AuditAppend the
// header and a record. `now` is the helper's own reading of the clock (for the step
// target window). Pure; never throws.
Result<Valid, Refusal> validate(std::span<const uint8_t> msg, const Policy& policy, Timestamp now);

// [A-Za-z0-9_.-]{1,64}, and not "." or "..": a plain file name under /run/netns.
bool valid_netns_name(std::string_view name);

// seq and op of a message too broken to validate (0 when it is too short), for the reply.
void peek_ids(std::span<const uint8_t> msg, uint32_t& op, uint32_t& seq);

// A token bucket for steps: `burst` at once, then one per `refill_s`. Time passed in
// (monotonic ns).
class StepBudget {
 public:
  StepBudget(unsigned burst, double refill_s) : m_burst(burst), m_tokens(burst), m_refill_s(refill_s) {}
  bool take(int64_t mono_ns);

 private:
  unsigned m_burst;
  double m_tokens;
  double m_refill_s;
  int64_t m_last_ns = 0;
  bool m_started = false;
};
inline constexpr unsigned k_step_burst = 4;
inline constexpr double k_step_refill_s = 300.0;

// Worker side: canonical requests. make_open_udp refuses a bad name or an address that
// is neither IPv4 nor IPv6.
Request make_request(Op op, uint32_t seq, double value = 0.0);
Request make_set_leap(uint32_t seq, Leap leap);
// Errors clamped to [0, k_max_sync_error_s] (NaN: the limit); both 0 when not synchronised.
Request make_set_sync(uint32_t seq, bool synchronised, double est_error_s, double max_error_s);
Result<Request, Refusal> make_open_udp(uint32_t seq, std::string_view netns, const SockAddr& addr);
// NetnsId of a named namespace (never ""): refused unless a configured target or a
// runtime rule names it.
Result<Request, Refusal> make_netns_id(uint32_t seq, std::string_view netns);
// AuditAppend: the header and the record, as one message. Refused (OutOfRange) when the
// record is not audit_record_ok().
Result<std::vector<uint8_t>, Refusal> make_audit_append(uint32_t seq, std::string_view record);
Request make_open_auth_file(uint32_t seq, AuthFile which);

// Helper side: the reply to a request (status 0 or a positive errno) and to a refusal.
Response make_response(uint32_t op, uint32_t seq, int32_t status);
Response make_refusal(uint32_t op, uint32_t seq, Refusal r);

// Worker side: checks a reply (exact size, version, matching op and seq).
Result<Response, std::string> parse_response(std::span<const uint8_t> msg, Op op, uint32_t seq);

template <class T>
std::span<const uint8_t> as_bytes(const T& v) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&v), sizeof v);
}

}  // namespace tr7::core::privsep
