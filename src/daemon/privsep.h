// Privilege separation: what is prepared as root, the fork into helper (parent, root with
// three capabilities) and worker (child, sandboxed), and the helper's process loop.
//
// Sequence (DESIGN.md "Processes"):
//   root:    parse the configuration, openlog, prepare_privsep() (user, state directory),
//            open_startup() (state directory fd, RTC, kernel clock, own netns fd, the
//            start-up clock check), daemonize, then run_privsep():
//   fork  -> parent = helper: enter_helper_sandbox(), answer requests until the worker is
//            gone, forward SIGTERM/SIGINT/SIGHUP/SIGUSR1 to it, reap it, exit
//            0 if it exited 0, else 1.
//         -> child: executes the daemon's own binary again (/proc/self/exe) with
//            --privsep-worker, so the worker is a new program image: its own address
//            space layout and stack canary, nothing of the helper's memory, and only
//            the descriptors named on its command line (the channel, the readiness pipe,
//            systemd's notification socket).
//   worker (run_exec_worker): closes every other descriptor, reads the configuration
//            again (as root), builds the Worker (sockets, command socket, resolver,
//            state directory fd), tzset(), enter_worker_sandbox(), reports readiness,
//            runs the event loop; exits when the helper's end of the channel closes
//            (and by PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/privsep.h"
#include "core/rtc.h"
#include "core/startup_clock.h"
#include "daemon/config.h"
#include "daemon/state_dir.h"
#include "daemon/worker.h"
#include "sys/fd.h"

namespace tr7::daemon {

struct PrivsepPlan {
  std::string user;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string state_dir;
};

// As root: the worker's user must exist and not be root; the state directory must be a
// directory owned by that user and not writable by others (created 0750 if missing).
// Throws std::runtime_error with a message saying what to fix.
PrivsepPlan prepare_privsep(const Config& cfg);

// Everything opened before the fork (and before daemonizing), in both modes.
struct Startup {
  StateDir state;                              // invalid if the directory cannot be opened
  std::unique_ptr<core::Rtc> rtc;              // rtc = /dev/rtcN, if it could be opened
  std::unique_ptr<core::ClockControl> kernel;  // clock = kernel under privsep (the helper's)
  core::StartupClockPlan plan;
  sys::Fd self_netns;  // /proc/self/ns/net (the broker's way back)
  sys::Fd audit_dir;   // privsep: <state_dir>/audit, root's (the helper writes the audit log)
};
// privsep: with clock = kernel the kernel clock is opened and the start-up step applied;
// otherwise (clock = none, or -d) the start-up check only reports.
Startup open_startup(const Config& cfg, bool privsep);

// The sockets the helper may open for the worker: the [server] listen addresses in the
// daemon's own namespace and the (netns, address) pairs of the [tenant NAME] sections.
// Tenants added at run time are admitted by the [tenants] runtime rules instead
// (Policy::runtime_rules), which also name the namespaces NetnsId may look at.
std::vector<core::privsep::BindTarget> make_bind_targets(const Config& cfg);
// Client sockets in the daemon's own namespace: the wildcard addresses, an ephemeral
// port (the worker may not create IP sockets itself).
std::vector<core::privsep::BindTarget> own_client_targets();
// The part of those inside network namespaces: the tenants' addresses, and (netns,
// wildcard:0) for the client sockets of sources with `netns NAME` (also what the helper
// admits after re-reading the file on a reload).
std::vector<core::privsep::BindTarget> namespace_bind_targets(const Config& cfg);
// The paths OpenAuthFile may open (core::privsep::Policy::auth_files), from `cfg`.
std::vector<std::string> auth_file_paths(const Config& cfg);
// The helper's whole policy.
core::privsep::Policy make_helper_policy(const Config& cfg, const Startup& st);

// Forks into helper and worker; returns the exit status of whichever process returns.
// `ready_fd` (>= 0 when daemonizing): the worker writes 'R' to it once sandboxed and serving.
// `log_stderr`: the worker logs to stderr too (-e, -d, or no syslog).
int run_privsep(Config cfg, WorkerOptions opt, Startup& st, int ready_fd, bool log_stderr);

// The descriptors the helper hands to the re-executed worker, as on its command line:
// "CHAN,READY,NOTIFY" (decimal, -1 for none). CHAN is required.
struct WorkerFds {
  int chan = -1;
  int ready = -1;
  int notify = -1;
};
std::string format_worker_fds(const WorkerFds& f);
std::optional<WorkerFds> parse_worker_fds(std::string_view text);
// The hidden option that makes tr7ntpd the worker.
inline constexpr const char* k_worker_option = "privsep-worker";

// The worker after the re-execution: closes every descriptor but 0-2 and `fds`, reads
// `config_path` (as root, before its sandbox), then runs as above. Returns the exit status.
int run_exec_worker(const std::string& config_path, const WorkerFds& fds, bool log_stderr);

}  // namespace tr7::daemon
