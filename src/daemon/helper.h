// The privileged helper: answers the worker's requests (core/privsep.h) and nothing else.
//
// HelperService is the request handler: it validates every message (core::privsep::
// validate, plus the step rate limit), applies what passes through the backends it was
// given, and refuses, logs and counts everything else. It does no network I/O: the only
// sockets it creates are the ones it hands over (OpenUdp), unused. Backends are injected
// (HelperDeps) so unit tests drive it with fakes; the process around it (capabilities,
// seccomp, signals, reaping the worker) is run_helper() in privsep.cc.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/clock_budget.h"
#include "core/privsep.h"
#include "core/rtc.h"
#include "sys/fd.h"

namespace tr7::daemon {

struct HelperDeps {
  core::ClockControl* clock = nullptr;   // the kernel clock; nullptr with clock = none
  core::Rtc* rtc = nullptr;              // nullptr without rtc
  std::function<core::Timestamp()> now;  // CLOCK_REALTIME (step window, RTC writes)
  std::function<int64_t()> mono_ns;      // CLOCK_BOOTTIME (the clock budget's time; monotonic in tests)
  // Opens a socket for a validated target; throws std::system_error (or sys::NetnsStuck,
  // which the helper does not catch: it must exit).
  std::function<sys::Fd(const core::privsep::BindTarget&)> open_udp;
  // Opens the configuration file read-only; throws std::system_error.
  std::function<sys::Fd()> open_config;
  // Opens a file read-only (OpenAuthFile: a path of the policy's auth_files); throws
  // std::system_error. Empty: OpenAuthFile fails with ENOSYS.
  std::function<sys::Fd(const std::string& path)> open_file;
  // Called after each OpenConfig (a reload): may replace the policy's bind_targets and
  // runtime_rules with those of the file as it is now (the admin's file, read by the
  // helper itself: the worker chooses nothing). Empty: the policy stays as at start.
  std::function<void(core::privsep::Policy&)> refresh_policy;
  // The inode of /run/netns/NAME (name validated); throws std::system_error (ENOENT
  // when it does not exist). Empty: NetnsId fails with ENOSYS.
  std::function<uint64_t(const std::string&)> netns_id;
  // Appends one validated audit record to the audit log (audit_file.h); returns 0 or an
  // errno. Empty: AuditAppend is refused (Disabled).
  std::function<int(std::string_view record)> audit_append;
  // The clock budget's state across helper restarts (core/clock_budget.h): the text saved
  // last (nullopt: none, or unreadable: "" means unreadable), and where it goes. Empty:
  // kept in memory only (tests).
  std::function<std::optional<std::string>()> load_budget;
  std::function<void(const std::string&)> save_budget;
  std::string boot_id;
};

struct HelperStats {
  uint64_t requests = 0;
  uint64_t applied = 0;  // valid and done
  uint64_t failed = 0;   // valid, but the operation failed (an errno went back)
  uint64_t refused = 0;  // invalid: nothing applied
  std::array<uint64_t, core::privsep::k_refusals + 1> refused_by{};  // index: Refusal value
};

class HelperService {
 public:
  HelperService(core::privsep::Policy policy, HelperDeps deps);

  struct Reply {
    core::privsep::Response resp;
    sys::Fd fd;  // to attach (OpenUdp, OpenConfig)
  };
  // Handles one received message. `had_fds`: descriptors came with it (always refused).
  Reply handle(std::span<const uint8_t> msg, bool had_fds);

  // Receives one message on `chan`, handles it and sends the reply. Returns false when
  // the worker has closed its end (or the channel failed): the helper must then exit.
  bool serve_one(int chan);
  // Called about once a second by the helper's loop: a frequency beyond the base that has
  // spent the clock budget is brought back to the base.
  void tick();
  // Writes the clock budget's state now (test builds: proves the filter allows it).
  void save_budget_now() { save_budget(true); }

  const HelperStats& stats() const { return m_stats; }
  const core::privsep::Policy& policy() const { return m_policy; }

 private:
  Reply apply(const core::privsep::Valid& v);
  void refuse_log(uint32_t op, core::privsep::Refusal why);
  void write_rtc_after_step();
  std::vector<uint8_t> m_buf;  // one received message (a request, or a header and a record)

  core::privsep::Policy m_policy;
  HelperDeps m_deps;
  void save_budget(bool force);
  core::ClockBudget m_budget;
  int64_t m_budget_saved_ns = 0;
  HelperStats m_stats;
};

}  // namespace tr7::daemon
