// The worker's end of the helper channel: synchronous requests to the privileged helper
// (core/privsep.h), and core::ClockControl on top of them.
//
// Every call is one request and one reply (the helper answers in order, quickly; the
// worker waits at most the timeout). Replies are checked: exact size, version, op and
// seq; descriptors arrive with MSG_CMSG_CLOEXEC; a descriptor the reply does not announce
// is refused and closed; a descriptor lost to a truncated control message (MSG_CTRUNC: this
// process was out of descriptors) fails that call only, the channel stays; a socket from
// OpenUdp must be a UDP socket of the right family bound where it was asked
// (SO_DOMAIN, SO_TYPE, getsockname). A transport failure (helper gone, timeout, malformed
// reply) breaks the client for good: every later call fails at once, and the worker
// stops (privsep.cc watches the channel too).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/netaddr.h"
#include "core/privsep.h"
#include "core/result.h"
#include "sys/fd.h"

namespace tr7::daemon {

class HelperClient {
 public:
  explicit HelperClient(sys::Fd chan, int timeout_ms = 5000);

  int fd() const { return m_chan.get(); }
  bool broken() const { return m_broken; }

  struct Reply {
    core::privsep::Response resp;
    sys::Fd fd;
  };
  // One round trip; the reply may still carry a non-zero status (see describe()).
  Result<Reply, std::string> call(const core::privsep::Request& req);
  // The same with a message longer than a Request (AuditAppend: header and record).
  Result<Reply, std::string> call_message(std::vector<uint8_t> msg);

  // --- the requests -------------------------------------------------------------------
  // A UDP socket bound to `addr` inside network namespace `netns` ("" = the daemon's own),
  // opened by the helper (so ports below 1024 work, and namespaces are reachable) and
  // checked here. Non-blocking, close-on-exec, IPV6_V6ONLY for IPv6, nothing else set:
  // the caller adds its options (sys::configure_udp). The helper refuses any
  // (netns, address, port) not in the configuration (see make_bind_targets in privsep.h);
  // port 0 asks for an ephemeral port and is allowed only where configured so.
  Result<sys::Fd, std::string> open_udp(std::string_view netns, const core::SockAddr& addr);
  // The identity (inode) of /run/netns/NAME; 0 when it does not exist. The helper
  // answers only for configured namespaces and those [tenants] runtime rules name.
  Result<uint64_t, std::string> netns_id(std::string_view netns);
  // The configuration file, opened read-only by the helper (the worker's chroot cannot see it).
  Result<sys::Fd, std::string> open_config();
  // A file of authenticated time (the key file, the NTS certificate, key, trusted CAs) as
  // the configuration the helper read names it, opened read-only (a reload).
  Result<sys::Fd, std::string> open_auth_file(core::privsep::AuthFile which);
  Result<core::Timestamp, std::string> read_rtc();
  // The helper sets the RTC from its own system clock.
  Result<void, std::string> write_rtc();
  Result<double, std::string> query_frequency();
  // Hands one audit record (a flat JSON object, no newline) to the helper, which appends
  // it to the audit log and fsyncs before it answers.
  Result<void, std::string> audit_append(std::string_view record);

  // "refused: value out of range", "failed: Operation not permitted", ...
  static std::string describe(int32_t status);

 private:
  Result<Reply, std::string> fail(std::string why);
  // A call whose reply must have status 0.
  Result<Reply, std::string> call_ok(const core::privsep::Request& req);

  sys::Fd m_chan;
  int m_timeout_ms;
  uint32_t m_seq = 0;
  bool m_broken = false;
};

// core::ClockControl through the helper (clock = kernel under privilege separation).
// Sign conventions as in core/clock.h. The helper validates again and may refuse (rate
// limit, bounds, window): a refusal is an error result, and nothing was applied.
class HelperClockControl final : public core::ClockControl {
 public:
  // Reads the kernel's current frequency correction through the helper (Query).
  explicit HelperClockControl(HelperClient& client);
  Result<void> step(double delta_s) override;
  Result<void> slew(double delta_s) override;
  Result<void> set_frequency(double ppm) override;
  double frequency() const override { return m_freq_ppm; }
  Result<void> set_leap(core::Leap leap) override;
  Result<void> set_sync_status(bool synchronised, double est_error_s, double max_error_s) override;

 private:
  Result<void> value_op(core::privsep::Op op, double value);
  HelperClient& m_client;
  double m_freq_ppm = 0.0;
};

}  // namespace tr7::daemon
