// The worker's and the helper's sandboxes (see sandbox.h).
#include "daemon/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/rtc.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <ctime>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "autoconfig.h"
#include "daemon/log.h"
#include "sys/caps.h"
#include "sys/landlock.h"
#include "sys/seccomp.h"

namespace tr7::daemon {

namespace {

bool g_worker_sandboxed = false;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

using sys::SysArg;

// Calls every part of the daemon needs whatever the sandbox: memory, signals, time,
// exit. Shared by both lists.
void allow_common(sys::SeccompFilter& f) {
  for (const char* name :
       {"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "futex", "rt_sigaction", "rt_sigprocmask",
        "rt_sigreturn", "sigaltstack", "restart_syscall", "exit", "exit_group", "getpid", "gettid", "getppid", "getuid",
        "geteuid", "getgid", "getegid", "getresuid", "getresgid", "clock_gettime", "clock_getres", "gettimeofday",
        "time", "nanosleep", "clock_nanosleep", "read", "write", "readv", "writev", "close", "fstat", "newfstatat",
        "statx", "lseek", "poll", "ppoll", "sched_yield", "getrandom",
        // glibc's syslog(3) reconnects to /dev/log with socket(AF_UNIX) + connect after an error.
        "connect", "sendto", "sendmsg", "recvmsg", "getsockname", "getsockopt", "setsockopt"}) {
    f.allow(name);
  }
  // abort() and raise() signal the calling process only.
  f.allow_if("tgkill", {SysArg{0, SCMP_CMP_EQ, static_cast<uint64_t>(getpid())}});
  for (int op : {F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC}) {
    f.allow_if("fcntl", {SysArg{1, SCMP_CMP_EQ, static_cast<uint64_t>(op)}});
  }
  // Querying limits, never raising them (new_limit == NULL).
  f.allow_if("prlimit64", {SysArg{2, SCMP_CMP_EQ, 0}});
  f.allow("getrlimit");
  f.allow_if("socket", {SysArg{0, SCMP_CMP_EQ, AF_UNIX}});
#ifdef TR7_SANITIZERS
  // AddressSanitizer's runtime (reports, shadow memory, stack traces).
  for (const char* name : {"prctl", "sched_getaffinity", "readlink", "readlinkat", "getdents64", "mincore", "pipe2",
                           "uname", "getrusage", "sysinfo"}) {
    f.allow(name);
  }
#endif
}

// UDP sockets only: no raw, packet, ICMP ("ping") or TCP sockets.
void allow_udp_sockets(sys::SeccompFilter& f) {
  for (int domain : {AF_INET, AF_INET6}) {
    for (int proto : {0, static_cast<int>(IPPROTO_UDP)}) {
      f.allow_if("socket",
                 {SysArg{0, SCMP_CMP_EQ, static_cast<uint64_t>(domain)}, SysArg{1, SCMP_CMP_MASKED_EQ, SOCK_DGRAM, 0xf},
                  SysArg{2, SCMP_CMP_EQ, static_cast<uint64_t>(proto)}});
    }
  }
}

// TCP client sockets, nothing else: NTS-KE (RFC 8915) connections to NTS servers (GnuTLS
// runs over them with the calls already allowed: sendto/recvfrom, getrandom) and the alert
// webhook's HTTP client (daemon/webhook.h). The NTS-KE server's listening sockets are
// opened before the sandbox; accept4 and listen are allowed below.
void allow_tcp_sockets(sys::SeccompFilter& f) {
  for (int domain : {AF_INET, AF_INET6}) {
    for (int proto : {0, static_cast<int>(IPPROTO_TCP)}) {
      f.allow_if("socket", {SysArg{0, SCMP_CMP_EQ, static_cast<uint64_t>(domain)},
                            SysArg{1, SCMP_CMP_MASKED_EQ, SOCK_STREAM, 0xf},
                            SysArg{2, SCMP_CMP_EQ, static_cast<uint64_t>(proto)}});
    }
  }
}

void load_worker_filter(bool tcp_client) {
  sys::SeccompFilter f(SCMP_ACT_KILL_PROCESS);
  allow_common(f);
  // No IPv4/IPv6 UDP socket and no bind(): every NTP and DNS socket the worker uses was
  // opened before the sandbox or comes from the helper, bound (issue 19 item 6). The one
  // exception (tcp_client): unbound TCP sockets (connect picks the local port) for an NTS
  // client's NTS-KE connections and the alert webhook; without an NTS source, [nts]
  // trusted_certs or a webhook not even those.
  if (tcp_client) {
    allow_tcp_sockets(f);
  }
  for (const char* name :
       {// files, all inside the chroot (the state directory)
        "openat", "unlinkat", "unlink", "rename", "renameat", "renameat2", "mkdirat", "mkdir", "fsync", "fdatasync",
        "ftruncate", "getdents64", "pread64", "pwrite64", "fchmod", "umask", "dup", "dup3",
        // the event loop (libevent: epoll; timerfd for timers and clock-change detection)
        "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "select", "pselect6", "eventfd2",
        "pipe2", "timerfd_create", "timerfd_settime", "timerfd_gettime",
        // sockets: NTP server and client (kernel timestamps, batches), DNS (evdns), the
        // command socket (AF_UNIX), the helper channel
        "listen", "accept", "accept4", "getpeername", "recvfrom", "sendmmsg", "recvmmsg", "shutdown", "uname"}) {
    f.allow(name);
  }
  f.allow_if("socketpair", {SysArg{0, SCMP_CMP_EQ, AF_UNIX}});
  // The NTP server threads (server_pool.h), started after this filter: threads only,
  // never a new process. clone3 passes its flags in memory, which seccomp cannot read:
  // it fails with ENOSYS and the C library falls back to clone, whose flags must
  // include CLONE_THREAD. Then the per-thread set-up of the C library, and the thread's
  // name (prctl PR_SET_NAME only).
  f.fail_with("clone3", ENOSYS);
  f.allow_if("clone", {SysArg{0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD}});
  f.allow("set_robust_list");
  f.allow("rseq");
  f.allow_if("prctl", {SysArg{0, SCMP_CMP_EQ, PR_SET_NAME}});
  // ioctl: bytes pending (libevent's evbuffer_read) and the terminal check of stdio.
  for (unsigned long req : {static_cast<unsigned long>(FIONREAD), static_cast<unsigned long>(TCGETS)}) {
    f.allow_if("ioctl", {SysArg{1, SCMP_CMP_EQ, req}});
  }
  f.load();
}

void load_helper_filter(bool clock_control, pid_t worker, int audit_dirfd) {
  sys::SeccompFilter f(SCMP_ACT_KILL_PROCESS);
  allow_common(f);
  allow_udp_sockets(f);  // created, bound and handed over; never used for I/O here
  if (clock_control) {
    for (const char* name : {"clock_adjtime", "adjtimex", "clock_settime"}) {
      f.allow(name);
    }
  }
  // RTC: read and set the time, nothing else.
  for (unsigned long req : {static_cast<unsigned long>(RTC_RD_TIME), static_cast<unsigned long>(RTC_SET_TIME)}) {
    f.allow_if("ioctl", {SysArg{1, SCMP_CMP_EQ, req}});
  }
  // Read-only opens (/run/netns/NAME, the configuration, tzdata for syslog's time stamp).
  f.allow_if("openat", {SysArg{2, SCMP_CMP_MASKED_EQ, 0, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND}});
  f.allow_if("setns", {SysArg{1, SCMP_CMP_EQ, CLONE_NEWNET}});
  if (audit_dirfd >= 0) {
    // The audit log (audit_file.h): created and appended to, rotated by rename, all in
    // its own directory only; ftruncate only to cut a torn last line (an interrupted
    // write) off at open, on the descriptor just opened for appending.
    auto dirfd = static_cast<uint64_t>(audit_dirfd);
    f.allow_if("openat",
               {SysArg{0, SCMP_CMP_EQ, dirfd}, SysArg{2, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND,
                                                      static_cast<uint64_t>(O_WRONLY | O_CREAT | O_APPEND)}});
    f.allow_if("renameat", {SysArg{0, SCMP_CMP_EQ, dirfd}, SysArg{2, SCMP_CMP_EQ, dirfd}});
    f.allow_if("renameat2", {SysArg{0, SCMP_CMP_EQ, dirfd}, SysArg{2, SCMP_CMP_EQ, dirfd}});
    f.allow_if("unlinkat", {SysArg{0, SCMP_CMP_EQ, dirfd}});  // the clock budget's stale temporary file
    f.allow("fsync");
    f.allow("ftruncate");
  }
  f.allow("bind");
  f.allow("signalfd4");
  f.allow("wait4");
  f.allow("waitid");
  // Signals go to the worker only (forwarding SIGTERM/SIGHUP/..., SIGKILL as a last resort).
  f.allow_if("kill", {SysArg{0, SCMP_CMP_EQ, static_cast<uint64_t>(worker)}});
  f.load();
}

}  // namespace

unsigned long long helper_capability_mask(bool clock_control) {
  unsigned long long m = (1ULL << CAP_NET_BIND_SERVICE) | (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_KILL);
  if (clock_control) {
    m |= 1ULL << CAP_SYS_TIME;
  }
  return m;
}

void enter_worker_sandbox(const WorkerSandbox& s) {
  if (s.uid == 0 || s.gid == 0) {
    throw std::runtime_error("refusing to run the worker as root (uid/gid 0)");
  }
  // The bounding set first: dropping from it needs CAP_SETPCAP, gone after setresuid.
  if (!sys::limit_bounding_set({})) {
    log_debug("worker: no CAP_SETPCAP, bounding set left as it is");
  }
  if (chdir(s.root.c_str()) < 0) {
    throw_errno("chdir " + s.root);
  }
  if (chroot(".") < 0) {
    throw_errno("chroot " + s.root);
  }
  if (chdir("/") < 0) {
    throw_errno("chdir / in the chroot");
  }
  if (setgroups(0, nullptr) < 0) {
    throw_errno("setgroups");
  }
  if (setresgid(s.gid, s.gid, s.gid) < 0) {
    throw_errno("setresgid");
  }
  if (setresuid(s.uid, s.uid, s.uid) < 0) {
    throw_errno("setresuid");
  }
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != s.uid || eu != s.uid || su != s.uid ||
      rg != s.gid || eg != s.gid || sg != s.gid) {
    throw std::runtime_error("worker: user and group ids did not all change");
  }
  if (setuid(0) == 0) {
    throw std::runtime_error("worker: could regain root");
  }
  sys::limit_capabilities({});
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    throw_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
    throw_errno("prctl(PR_SET_DUMPABLE)");
  }
  // The death signal is cleared by the uid change, so it is set here, after it.
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0) {
    throw_errno("prctl(PR_SET_PDEATHSIG)");
  }
  if (s.parent != 0 && getppid() != s.parent) {
    throw std::runtime_error("worker: the helper is gone");
  }
  sys::CapSets caps = sys::current_capabilities();
  if (caps.effective != 0 || caps.permitted != 0 || caps.inheritable != 0) {
    throw std::runtime_error("worker: capabilities left after the drop");
  }
  // Abstract Unix sockets (which seccomp cannot tell from path ones: the address is
  // behind a pointer) and signals: nothing outside the worker's own Landlock domain.
  if (int err = sys::landlock_scope_abstract_unix_and_signals(); err == EOPNOTSUPP) {
    log_warn("worker: the kernel has no Landlock scoping (ABI 6, Linux 6.12): abstract Unix sockets not restricted");
  } else if (err != 0) {
    errno = err;
    throw_errno("landlock (worker scoping)");
  }
  load_worker_filter(s.tcp_client);
  g_worker_sandboxed = true;
}

bool worker_sandboxed() { return g_worker_sandboxed; }

uint64_t enter_helper_sandbox(bool clock_control, pid_t worker, int audit_dirfd) {
  // All uids stay 0, the real one too: a process of the worker's user must not be able
  // to signal the helper. CAP_KILL lets it signal the worker (another user); the filter
  // below allows kill() on the worker's pid only.
  std::vector<int> keep = {CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN, CAP_KILL};
  if (clock_control) {
    keep.push_back(CAP_SYS_TIME);
  }
  if (!sys::limit_bounding_set(keep)) {
    log_debug("helper: no CAP_SETPCAP, bounding set left as it is");
  }
  sys::limit_capabilities(keep);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    throw_errno("prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
    throw_errno("prctl(PR_SET_DUMPABLE)");
  }
  sys::CapSets caps = sys::current_capabilities();
  if ((caps.effective & ~helper_capability_mask(clock_control)) != 0 || caps.inheritable != 0) {
    throw std::runtime_error("helper: capabilities left after the drop");
  }
  load_helper_filter(clock_control, worker, audit_dirfd);
  return caps.effective;
}

int attempt_forbidden_call([[maybe_unused]] std::string_view which) {
#ifdef TR7_TEST_HOOKS
  if (!g_worker_sandboxed) {
    return -1;  // never outside the filter: some of these would really act
  }
  long r = -1;
  if (which == "clock_settime") {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    r = syscall(SYS_clock_settime, CLOCK_REALTIME, &ts);
  } else if (which == "adjtimex") {
    timex tx{};
    r = syscall(SYS_adjtimex, &tx);
  } else if (which == "settimeofday") {
    r = syscall(SYS_settimeofday, nullptr, nullptr);
  } else if (which == "execve") {
    char arg0[] = "/bin/true";
    char* argv[] = {arg0, nullptr};
    char* envp[] = {nullptr};
    r = syscall(SYS_execve, arg0, argv, envp);
  } else if (which == "ptrace") {
    r = syscall(SYS_ptrace, PTRACE_TRACEME, 0, nullptr, nullptr);
  } else if (which == "socket-raw") {
    r = syscall(SYS_socket, AF_INET, SOCK_RAW, IPPROTO_ICMP);
  } else if (which == "socket-packet") {
    r = syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0);
  } else if (which == "socket-udp") {
    r = syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
  } else if (which == "socket-udp6") {
    r = syscall(SYS_socket, AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
  } else if (which == "socket-tcp") {
    r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  } else if (which == "bind") {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    r = syscall(SYS_bind, -1, &sa, sizeof sa);
  } else if (which.rfind("abstract-unix:", 0) == 0) {
    // Not killed: refused by Landlock (EPERM) when the socket was made outside.
    std::string name(which.substr(14));
    int fd = static_cast<int>(syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    name.copy(sa.sun_path + 1, sizeof sa.sun_path - 2);
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    r = syscall(SYS_connect, fd, &sa, len);
    int err = errno;
    close(fd);
    errno = err;
  } else {
    return -1;
  }
  return r < 0 ? errno : 0;
#else
  return -1;
#endif
}

}  // namespace tr7::daemon
