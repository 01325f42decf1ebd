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
//         -> child = worker: build the Worker as root (sockets, command socket, resolver,
//            state directory fd), tzset(), enter_worker_sandbox(), report readiness,
//            run the event loop; exits when the helper's end of the channel closes
//            (and by PR_SET_PDEATHSIG).
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
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
};
// privsep: with clock = kernel the kernel clock is opened and the start-up step applied;
// otherwise (clock = none, or -d) the start-up check only reports.
Startup open_startup(const Config& cfg, bool privsep);

// The sockets the helper may open for the worker: the [server] listen addresses in the
// daemon's own namespace and the (netns, address) pairs of the [tenant NAME] sections.
// Tenants added at run time are admitted by the [tenants] runtime rules instead
// (Policy::runtime_rules), which also name the namespaces NetnsId may look at.
std::vector<core::privsep::BindTarget> make_bind_targets(const Config& cfg);
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
int run_privsep(Config cfg, WorkerOptions opt, const PrivsepPlan& plan, Startup& st, int ready_fd);

}  // namespace tr7::daemon
