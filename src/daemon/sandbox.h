// The two sandboxes of privilege separation (DESIGN.md "Processes", THREATS.md §4).
//
// Worker: chroot into the state directory, setgroups/setresgid/setresuid to the configured
// user, every capability dropped (also from the bounding set), PR_SET_NO_NEW_PRIVS, not
// dumpable, parent-death signal SIGTERM, Landlock scoping (no abstract Unix socket and no
// signal outside its own domain), then a seccomp allow list whose default action is
// SCMP_ACT_KILL_PROCESS. Left out on purpose: clock_settime, clock_adjtime, adjtimex,
// settimeofday, execve, execveat, ptrace, fork/clone, kill (except to itself), setns,
// mount, chroot, any IPv4/IPv6 socket (the helper opens them) and bind, raw and packet
// sockets, arbitrary ioctls.
//
// Helper: keeps CAP_SYS_TIME (only with clock = kernel), CAP_NET_BIND_SERVICE,
// CAP_SYS_ADMIN (setns) and CAP_KILL (to signal the worker, another user), drops every other capability also from the
// bounding set, sets PR_SET_NO_NEW_PRIVS, and loads its own allow list: the clock calls, the RTC ioctls, read-only
// opens, setns into network namespaces only, UDP sockets, the channel, signals, reaping and signalling the worker.
//
// Everything needed from outside the chroot (syslog socket, resolv.conf, tzdata, the
// configuration) must be opened or read before enter_worker_sandbox().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace tr7::daemon {

struct WorkerSandbox {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string root;  // the state directory: chroot target
  pid_t parent = 0;  // the helper: the worker exits if it is not its parent any more
  // TCP client sockets (socket AF_INET/AF_INET6 SOCK_STREAM, unbound; connect is allowed
  // anyway): only for an NTS client (a source with nts, or [nts] trusted_certs) and an
  // alert webhook.
  bool tcp_client = false;
};

// Applies the worker's sandbox to the calling process, in the order that makes each step
// possible. Throws std::runtime_error / std::system_error: a worker that cannot be fully
// sandboxed must not run.
void enter_worker_sandbox(const WorkerSandbox& s);
// True once enter_worker_sandbox() has completed in this process.
bool worker_sandboxed();

// Reduces the helper to its capabilities and loads its filter. `worker` is the only
// process it may signal. Every uid of the helper stays 0 (real uid included: no process
// of the worker's user may signal it); it keeps CAP_KILL to signal the worker, and its
// filter allows kill() on that pid only. `audit_dirfd` (>= 0): the audit log's directory,
// the only place it may create, append to and rename files. Returns the effective
// capability mask left (bit n = CAP n). Throws.
uint64_t enter_helper_sandbox(bool clock_control, pid_t worker, int audit_dirfd = -1);

// Capability masks (bit n = CAP n) the helper keeps.
unsigned long long helper_capability_mask(bool clock_control);

// Test builds only (configure --enable-test-hooks; TR7_TEST_HOOKS): the calling process,
// which must be the sandboxed worker, attempts one forbidden system call: "clock_settime"
// (with the current time), "adjtimex" (read only), "settimeofday" (no-op arguments),
// "execve", "ptrace", "socket-raw", "socket-packet", "socket-udp", "socket-udp6",
// "socket-tcp", "bind". The filter kills the process before the call runs. Returns only
// if it was not killed: the errno of the call (a test failure), or -1 if it refused to
// try (not sandboxed, unknown name). "abstract-unix:NAME" connects to the abstract
// socket @NAME: not killed, but refused (EPERM) by Landlock when made outside the worker.
int attempt_forbidden_call(std::string_view which);

}  // namespace tr7::daemon
