// Privilege separation (see privsep.h).
#include "daemon/privsep.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "autoconfig.h"
#include "daemon/audit_file.h"
#include "daemon/clock_keeper.h"
#include "daemon/helper.h"
#include "daemon/helper_client.h"
#include "daemon/kernel_clock.h"
#include "daemon/log.h"
#include "daemon/readiness.h"
#include "daemon/sandbox.h"
#include "daemon/sd_notify.h"
#include "sys/clock.h"
#include "sys/netns.h"
#include "sys/rtc.h"
#include "sys/seqpacket.h"

namespace tr7::daemon {

static_assert(core::privsep::k_max_freq_ppm == KernelClock::k_max_ppm,
              "the helper must accept what the kernel clock can do, and no more");

namespace ps = core::privsep;

namespace {

// How long the helper waits for the worker to exit after forwarding SIGTERM (or after
// the channel closed) before it sends SIGKILL.
constexpr int k_stop_grace_s = 10;

std::string describe_exit(int status) {
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = strsignal(sig);
    return "killed by signal " + std::to_string(sig) + " (" + (name ? name : "?") + ")" +
           (sig == SIGSYS ? ": a forbidden system call (seccomp)" : "");
  }
  return "ended with status " + std::to_string(status);
}

// The helper's process loop: requests from the worker, signals, the worker's end.
int helper_loop(sys::Fd chan, pid_t worker, HelperService& svc, bool clock_control, AuditFile* audit, int audit_dirfd) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD}) {
    sigaddset(&set, s);
  }
  if (sigprocmask(SIG_BLOCK, &set, nullptr) < 0) {
    throw std::system_error(errno, std::generic_category(), "sigprocmask");
  }
  sys::Fd sigfd(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd.valid()) {
    throw std::system_error(errno, std::generic_category(), "signalfd");
  }
  uint64_t eff = enter_helper_sandbox(clock_control, worker, audit_dirfd);
  std::string names;
  for (auto [bit, name] : {std::pair{CAP_NET_BIND_SERVICE, "net_bind_service"}, std::pair{CAP_SYS_ADMIN, "sys_admin"},
                           std::pair{CAP_KILL, "kill"}, std::pair{CAP_SYS_TIME, "sys_time"}}) {
    if (eff & (1ULL << bit)) {
      names += names.empty() ? name : std::string(", ") + name;
    }
  }
  log_info("helper: pid %d serving worker %d (capabilities: %s)", static_cast<int>(getpid()), static_cast<int>(worker),
           names.empty() ? "none" : names.c_str());
#ifdef TR7_TEST_HOOKS
  // Test builds: TR7_TEST_SAVE_BUDGET=1 saves the clock budget under the filter at once
  // (in production that happens only after a step, which no test may make).
  if (std::getenv("TR7_TEST_SAVE_BUDGET") != nullptr) {
    svc.save_budget_now();
  }
#endif
  if (clock_control && !(eff & (1ULL << CAP_SYS_TIME))) {
    log_warn("helper: clock = kernel, but CAP_SYS_TIME is not available: clock corrections will fail");
  }

  bool worker_done = false;
  int worker_status = 0;
  bool channel_open = true;
  time_t kill_at = 0;  // when to send SIGKILL (0: not stopping)
  bool killed = false;
  auto reap = [&](int flags) {
    if (worker_done) {
      return;
    }
    int st = 0;
    pid_t r;
    do {
      r = waitpid(worker, &st, flags);
    } while (r < 0 && errno == EINTR);
    if (r == worker) {
      worker_done = true;
      worker_status = st;
    } else if (r < 0 && errno == ECHILD) {
      worker_done = true;
      worker_status = 0;
    }
  };
  while (!worker_done) {
    pollfd p[2] = {{sigfd.get(), POLLIN, 0}, {channel_open ? chan.get() : -1, POLLIN, 0}};
    int n = poll(p, 2, 1000);
    if (n < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (n > 0 && (p[0].revents & POLLIN)) {
      signalfd_siginfo si;
      while (read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGCHLD) {
          reap(WNOHANG);
          continue;
        }
        if (sig == SIGHUP && audit != nullptr) {
          // A reload (logrotate sends one): a new audit.log if the old one was moved.
          if (auto o = audit->open(); !o) {
            log_err("helper: audit log not reopened: %s", o.error().c_str());
          }
        }
        if ((sig == SIGTERM || sig == SIGINT) && kill_at == 0) {
          log_info("helper: signal %d: stopping the worker", sig);
          kill_at = time(nullptr) + k_stop_grace_s;
        }
        if (sig != SIGUSR2) {  // SIGUSR2 means nothing to the daemon: dropped, not forwarded
          kill(worker, sig);   // SIGHUP, SIGUSR1 and the stop signals: the worker acts
        }
      }
    }
    svc.tick();  // the clock budget (about once a second: the poll's timeout)
    if (n > 0 && channel_open && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!svc.serve_one(chan.get())) {
        channel_open = false;  // the worker is gone or going: reap it
        chan.reset();
        if (kill_at == 0) {
          kill_at = time(nullptr) + k_stop_grace_s;
        }
      }
    }
    if (!channel_open) {
      reap(WNOHANG);
    }
    if (!worker_done && kill_at != 0 && time(nullptr) >= kill_at) {
      if (killed || kill(worker, SIGKILL) < 0) {
        log_err("helper: cannot end the worker (pid %d): giving up", static_cast<int>(worker));
        return 1;
      }
      log_err("helper: the worker did not exit in %d s: killed it", k_stop_grace_s);
      killed = true;
      kill_at = time(nullptr) + k_stop_grace_s;
    }
  }
  bool clean = WIFEXITED(worker_status) && WEXITSTATUS(worker_status) == 0;
  const HelperStats& s = svc.stats();
  (clean ? log_info : log_err)(
      "helper: worker (pid %d) %s; requests=%llu applied=%llu failed=%llu refused=%llu; "
      "helper exits",
      static_cast<int>(worker), describe_exit(worker_status).c_str(), static_cast<unsigned long long>(s.requests),
      static_cast<unsigned long long>(s.applied), static_cast<unsigned long long>(s.failed),
      static_cast<unsigned long long>(s.refused));
  return clean ? 0 : 1;
}

#ifdef TR7_TEST_HOOKS
// TR7_TEST_BROKER="NETNS ADDR:PORT" (test builds only): one more socket the helper may
// open, and the worker asks for on SIGUSR2.
std::optional<ps::BindTarget> test_broker_target() {
  const char* e = std::getenv("TR7_TEST_BROKER");
  if (e == nullptr) {
    return std::nullopt;
  }
  std::string s(e);
  size_t sp = s.find(' ');
  if (sp == std::string::npos) {
    return std::nullopt;
  }
  auto a = core::parse_sockaddr(s.substr(sp + 1));
  if (!a) {
    return std::nullopt;
  }
  return ps::BindTarget{s.substr(0, sp), *a};
}
#endif

// /proc/sys/kernel/random/boot_id: which boot the clock budget belongs to.
std::string read_boot_id() {
  sys::Fd fd(open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
  char buf[64] = {};
  ssize_t n = fd.valid() ? read(fd.get(), buf, sizeof buf - 1) : -1;
  std::string id(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) {
    id.pop_back();
  }
  return id.empty() ? "unknown" : id;
}

constexpr const char* k_budget_file = "clock-budget";
constexpr const char* k_budget_tmp = "clock-budget.tmp";

// nullopt: no file yet; "": there, but unreadable.
std::optional<std::string> load_budget_file(int dirfd) {
  sys::Fd fd(openat(dirfd, k_budget_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return errno == ENOENT ? std::nullopt : std::optional<std::string>(std::string());
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0 && text.size() < (1 << 20)) {
    text.append(buf, static_cast<size_t>(n));
  }
  return n < 0 ? std::string() : text;
}

// Atomically: a new temporary file, fsync, rename over the old one, fsync the directory.
void save_budget_file(int dirfd, const std::string& text) {
  unlinkat(dirfd, k_budget_tmp, 0);
  sys::Fd fd(openat(dirfd, k_budget_tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640));
  bool ok = fd.valid() && write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            fsync(fd.get()) == 0 && renameat(dirfd, k_budget_tmp, dirfd, k_budget_file) == 0 && fsync(dirfd) == 0;
  if (!ok) {
    log_err("helper: cannot save the clock budget: %s", std::strerror(errno));
  }
}

// The worker's audit records, written by the helper.
class HelperAuditSink final : public AuditSink {
 public:
  explicit HelperAuditSink(HelperClient& c) : m_client(c) {}
  bool ready() const override { return !m_client.broken(); }
  Result<void> write_line(std::string_view line) override {
    auto r = m_client.audit_append(line);
    if (!r) {
      return unexpected(r.error());
    }
    return {};
  }
  Result<void> reopen() override { return {}; }  // the helper reopens on SIGHUP

 private:
  HelperClient& m_client;
};

// The worker watches its end of the channel: the helper never speaks unasked, so
// anything readable outside a call is the helper's exit (EOF) or a protocol error.
void watch_helper(Worker& worker, HelperClient& client, std::unique_ptr<sys::Callback>& ev) {
  ev = std::make_unique<sys::Callback>(worker.base(), client.fd(), EV_READ | EV_PERSIST,
                                       [&worker, &client](evutil_socket_t fd, short) {
                                         uint8_t b;
                                         ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
                                         if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                                           return;
                                         }
                                         if (n == 0 || client.broken()) {
                                           log_err("the privileged helper has exited: stopping");
                                         } else {
                                           log_err("unexpected message from the privileged helper: stopping");
                                         }
                                         worker.stop(1);
                                       });
  ev->add();
}

int worker_main(Config cfg, WorkerOptions opt, const PrivsepPlan& plan, sys::Fd chan, pid_t helper, int& ready_fd) {
  auto client = std::make_unique<HelperClient>(std::move(chan));
  opt.helper = client.get();
  std::unique_ptr<HelperClockControl> control;
  if (cfg.daemon.clock == ClockMode::Kernel) {
    control = std::make_unique<HelperClockControl>(*client);
    opt.clock_control = control.get();
    // The helper kept the RTC if it could open it: it refuses ReadRtc otherwise.
    if (!cfg.daemon.rtc.empty()) {
      auto r = client->call(ps::make_request(ps::Op::ReadRtc, 0));
      if (r && r->resp.status != -static_cast<int32_t>(ps::Refusal::Disabled)) {
        opt.write_rtc = [c = client.get()]() { return c->write_rtc(); };
      }
    }
  }
  // Audit records go to the helper, which alone can write the log (issue 19 item 7).
  opt.audit_sink = [c = client.get()]() -> std::unique_ptr<AuditSink> { return std::make_unique<HelperAuditSink>(*c); };
  // A reload's key file, certificate, key and CAs: the helper opens what its own reading
  // of the configuration names (the worker only says which kind).
  opt.open_auth_file = [c = client.get()](AuthFileKind kind, const std::string&) -> Result<sys::Fd, std::string> {
    return c->open_auth_file(kind);
  };
  std::string path = opt.config_path;
  opt.load_config = [c = client.get(), path]() -> ConfigResult {
    auto fd = c->open_config();
    if (!fd) {
      return unexpected(std::vector<std::string>{path + ": " + fd.error()});
    }
    return load_config_fd(fd->get(), path);
  };
  // TCP client sockets: an NTS client's NTS-KE connections, the alert webhook.
  bool tcp_client = cfg.alerts.webhook.has_value() || !cfg.nts.trusted_certs.empty() ||
                    std::any_of(cfg.sources.sources.begin(), cfg.sources.sources.end(),
                                [](const SourceConfig& sc) { return sc.nts; });
  Worker worker(std::move(cfg), std::move(opt));  // as root: sockets, state directory fd
  tzset();                                        // the chroot has no tzdata: load the zone now
  enter_worker_sandbox(WorkerSandbox{plan.uid, plan.gid, plan.state_dir, helper, tcp_client});
  std::unique_ptr<sys::Callback> watch;
  watch_helper(worker, *client, watch);
#ifdef TR7_TEST_HOOKS
  // Test builds only, on SIGUSR2: TR7_TEST_FORBIDDEN_CALL=NAME makes the worker attempt
  // that forbidden call (the seccomp filter must kill it); TR7_TEST_BROKER="NETNS
  // ADDR:PORT" makes it ask the helper for that socket and serve NTP on it.
  auto hook = std::make_unique<sys::Callback>(
      worker.base(), SIGUSR2, EV_SIGNAL | EV_PERSIST, [&worker, c = client.get()](evutil_socket_t, short) {
        if (const char* forbidden = std::getenv("TR7_TEST_FORBIDDEN_CALL")) {
          log_warn("test hook: attempting forbidden call '%s'", forbidden);
          int r = attempt_forbidden_call(forbidden);
          // Killed before this for all but abstract-unix:NAME, which Landlock refuses (EPERM).
          log_err("test hook: forbidden call '%s' was NOT blocked (%d)%s", forbidden, r,
                  r == EPERM ? ": refused with EPERM" : "");
        }
        if (auto t = test_broker_target()) {
          auto fd = c->open_udp(t->netns, t->addr);
          if (!fd) {
            log_err("test hook: open-udp %s in netns %s: %s", t->addr.to_string().c_str(), t->netns.c_str(),
                    fd.error().c_str());
            return;
          }
          worker.add_listener(std::move(*fd));
          log_info("test hook: serving on %s in netns %s (socket from the helper)", t->addr.to_string().c_str(),
                   t->netns.c_str());
        }
      });
  hook->add();
#endif
  worker.log_started();
  log_info("privilege separation: worker pid %d (user %s, uid %d, root %s), helper pid %d", static_cast<int>(getpid()),
           plan.user.c_str(), static_cast<int>(plan.uid), plan.state_dir.c_str(), static_cast<int>(helper));
  notify_ready(ready_fd);
  return worker.run();
}

// The worker's user, as prepare_privsep() checked it (nothing is repaired here).
PrivsepPlan lookup_plan(const Config& cfg) {
  PrivsepPlan p;
  p.user = cfg.daemon.user;
  p.state_dir = cfg.daemon.state_dir;
  passwd* pw = getpwnam(p.user.c_str());
  if (pw == nullptr || pw->pw_uid == 0 || pw->pw_gid == 0) {
    throw std::runtime_error("user '" + p.user + "' does not exist or is root");
  }
  p.uid = pw->pw_uid;
  p.gid = pw->pw_gid;
  return p;
}

// Clears close-on-exec on a descriptor the worker inherits.
void pass_fd(int fd) {
  if (fd >= 0) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
      throw std::system_error(errno, std::generic_category(), "fcntl (descriptor for the worker)");
    }
  }
}

// In the forked child: becomes the worker by executing this binary again. Returns only
// on failure (then the exit status).
int exec_worker(const std::string& config_path, const WorkerFds& fds, bool log_stderr, int& ready_fd) {
  try {
    pass_fd(fds.chan);
    pass_fd(fds.ready);
    pass_fd(fds.notify);
    std::string spec = std::string("--") + k_worker_option + "=" + format_worker_fds(fds);
    std::vector<const char*> argv = {"tr7ntpd", spec.c_str(), "-f", config_path.c_str()};
    if (log_stderr) {
      argv.push_back("-e");
    }
    argv.push_back(nullptr);
    execv("/proc/self/exe", const_cast<char* const*>(argv.data()));
    throw std::system_error(errno, std::generic_category(), "cannot execute the worker (/proc/self/exe)");
  } catch (const std::exception& e) {
    log_err("worker: fatal: %s", e.what());
    notify_failure(ready_fd, e.what());
    return 1;
  }
}

}  // namespace

std::string format_worker_fds(const WorkerFds& f) {
  return std::to_string(f.chan) + "," + std::to_string(f.ready) + "," + std::to_string(f.notify);
}

std::optional<WorkerFds> parse_worker_fds(std::string_view text) {
  int v[3];
  size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    size_t end = text.find(',', pos);
    if ((i < 2) != (end != std::string_view::npos)) {
      return std::nullopt;
    }
    std::string part(text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    char* rest = nullptr;
    errno = 0;
    long n = std::strtol(part.c_str(), &rest, 10);
    if (part.empty() || *rest != '\0' || errno != 0 || n < -1 || n > 65535 || (n >= 0 && n <= STDERR_FILENO)) {
      return std::nullopt;
    }
    v[i] = static_cast<int>(n);
    pos = end + 1;
  }
  if (v[0] < 0) {
    return std::nullopt;
  }
  return WorkerFds{v[0], v[1], v[2]};
}

int run_exec_worker(const std::string& config_path, const WorkerFds& fds, bool log_stderr) {
  // Only what the helper handed over: every other descriptor is closed.
  int keep[] = {fds.chan, fds.ready, fds.notify};
  std::sort(std::begin(keep), std::end(keep));
  unsigned from = STDERR_FILENO + 1;
  for (int k : keep) {
    if (k < 0) {
      continue;
    }
    if (static_cast<unsigned>(k) > from) {
      close_range(from, static_cast<unsigned>(k) - 1, 0);
    }
    from = static_cast<unsigned>(k) + 1;
  }
  close_range(from, ~0U, 0);
  for (int k : keep) {
    if (k >= 0) {
      fcntl(k, F_SETFD, FD_CLOEXEC);
    }
  }
  int ready_fd = fds.ready;
  int rc = 1;
  try {
    auto cfg = load_config_file(config_path);
    if (!cfg) {
      throw std::runtime_error(cfg.error().empty() ? config_path + ": refused" : cfg.error().front());
    }
    log_init(log_stderr, cfg->daemon.log_level, "tr7ntpd");
    PrivsepPlan plan = lookup_plan(*cfg);
    WorkerOptions opt{config_path};
    if (fds.notify >= 0) {
      opt.notify = std::make_shared<SdNotifier>(sys::Fd(fds.notify));
    }
    rc = worker_main(std::move(*cfg), std::move(opt), plan, sys::Fd(fds.chan), getppid(), ready_fd);
  } catch (const std::exception& e) {
    log_err("worker: fatal: %s", e.what());
    notify_failure(ready_fd, e.what());
    rc = 1;
  }
  // _exit: no atexit handlers (a sanitizer's leak check would clone() under the filter).
  std::fflush(nullptr);
  std::_Exit(rc);
}

PrivsepPlan prepare_privsep(const Config& cfg) {
  PrivsepPlan p;
  p.user = cfg.daemon.user;
  p.state_dir = cfg.daemon.state_dir;
  errno = 0;
  passwd* pw = getpwnam(p.user.c_str());
  if (pw == nullptr) {
    throw std::runtime_error("user '" + p.user +
                             "' does not exist: create it (systemd-sysusers with tr7ntpd.sysusers, or useradd "
                             "--system), or set 'user' in [daemon]");
  }
  p.uid = pw->pw_uid;
  p.gid = pw->pw_gid;
  if (p.uid == 0 || p.gid == 0) {
    throw std::runtime_error("user '" + p.user + "' has uid or gid 0: the worker must not run as root");
  }
  std::string repaired = prepare_state_dir(p.state_dir, p.user, p.uid, p.gid);
  if (!repaired.empty()) {
    log_info("state_dir %s: %s", p.state_dir.c_str(), repaired.c_str());
  }
  // The audit log's directory: root's, so the worker cannot change what it wrote.
  sys::Fd dir(open(p.state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    throw std::system_error(errno, std::generic_category(), "state_dir " + p.state_dir);
  }
  repaired = prepare_audit_dir(dir.get(), p.state_dir, p.uid, p.gid);
  if (!repaired.empty()) {
    log_info("state_dir %s: %s", p.state_dir.c_str(), repaired.c_str());
  }
  return p;
}

Startup open_startup(const Config& cfg, bool privsep) {
  Startup st;
  auto dir = StateDir::open(cfg.daemon.state_dir);
  if (dir) {
    st.state = std::move(*dir);
  } else if (privsep) {
    throw std::system_error(dir.error(), std::generic_category(), "state_dir " + cfg.daemon.state_dir);
  } else {
    log_debug("state_dir %s: %s (nothing saved)", cfg.daemon.state_dir.c_str(), std::strerror(dir.error()));
  }
  if (!cfg.daemon.rtc.empty()) {
    auto rtc = sys::DeviceRtc::open(cfg.daemon.rtc);
    if (rtc) {
      st.rtc = std::move(*rtc);
    } else {
      log_err("rtc %s: %s: running without an RTC", cfg.daemon.rtc.c_str(), std::strerror(rtc.error()));
    }
  }
  if (privsep && cfg.daemon.clock == ClockMode::Kernel) {
    st.kernel = std::make_unique<KernelClock>();
  }
  if (privsep && st.state.valid()) {
    auto a = open_audit_dir(st.state.fd(), true);
    if (!a) {
      throw std::runtime_error("state_dir " + cfg.daemon.state_dir + ": " + a.error());
    }
    st.audit_dir = std::move(*a);
  }
  if (privsep) {
    st.self_netns.reset(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!st.self_netns.valid()) {
      throw std::system_error(errno, std::generic_category(), "open /proc/self/ns/net");
    }
  }
  st.plan = startup_clock_check(sys::realtime_now(), build_time(), st.rtc.get(), st.state,
                                cfg.daemon.max_startup_step_s, st.kernel.get());
  return st;
}

std::vector<ps::BindTarget> own_client_targets() {
  std::vector<ps::BindTarget> t;
  for (const char* any : {"0.0.0.0", "::"}) {
    t.push_back(ps::BindTarget{"", core::SockAddr{*core::parse_ip(any), 0}});
  }
  return t;
}

std::vector<ps::BindTarget> make_bind_targets(const Config& cfg) {
  std::vector<ps::BindTarget> t;
  for (const auto& a : cfg.server.listen) {
    t.push_back(ps::BindTarget{"", a});
  }
  for (auto& c : own_client_targets()) {
    t.push_back(std::move(c));
  }
  for (auto& n : namespace_bind_targets(cfg)) {
    t.push_back(std::move(n));
  }
  return t;
}

std::vector<ps::BindTarget> namespace_bind_targets(const Config& cfg) {
  std::vector<ps::BindTarget> t;
  for (const auto& tenant : cfg.tenants.tenants) {
    for (const auto& a : tenant.spec.listen) {
      t.push_back(ps::BindTarget{tenant.spec.netns, a});
    }
  }
  // Client sockets of sources reached from a namespace: the wildcard address, an
  // ephemeral port (both families: a name may resolve to either).
  for (const auto& sc : cfg.sources.sources) {
    if (sc.netns.empty()) {
      continue;
    }
    for (const char* any : {"0.0.0.0", "::"}) {
      ps::BindTarget b{sc.netns, core::SockAddr{*core::parse_ip(any), 0}};
      if (std::find(t.begin(), t.end(), b) == t.end()) {
        t.push_back(b);
      }
    }
  }
  return t;
}

std::vector<std::string> auth_file_paths(const Config& cfg) {
  std::vector<std::string> f(ps::k_auth_file_max);
  f[static_cast<size_t>(ps::AuthFile::KeyFile) - 1] = cfg.daemon.keyfile;
  if (cfg.nts.server()) {
    f[static_cast<size_t>(ps::AuthFile::NtsCert) - 1] = cfg.nts.cert;
    f[static_cast<size_t>(ps::AuthFile::NtsKey) - 1] = cfg.nts.key;
  }
  f[static_cast<size_t>(ps::AuthFile::TrustedCerts) - 1] = cfg.nts.trusted_certs;
  return f;
}

ps::Policy make_helper_policy(const Config& cfg, const Startup& st) {
  ps::Policy p;
  p.clock_control = cfg.daemon.clock == ClockMode::Kernel && st.kernel != nullptr;
  p.rtc = st.rtc != nullptr;
  p.max_step_s = cfg.daemon.max_step_s;
  p.max_freq_ppm = core::privsep::k_base_freq_ppm + cfg.discipline.max_slew_ppm;
  p.max_per_day_s = cfg.daemon.max_correction_per_day_s;
  p.floor = st.plan.floor;
  p.ceiling = st.plan.ceiling;
  p.bind_targets = make_bind_targets(cfg);
  p.runtime_rules = cfg.tenants.runtime;
  p.auth_files = auth_file_paths(cfg);
  return p;
}

int run_privsep(Config cfg, WorkerOptions opt, Startup& st, int ready_fd, bool log_stderr) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  sys::Fd helper_end(sv[0]);
  sys::Fd worker_end(sv[1]);
  pid_t pid = fork();
  if (pid < 0) {
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (pid == 0) {
    helper_end.reset();
    WorkerFds fds{worker_end.get(), ready_fd, opt.notify ? opt.notify->fd() : -1};
    int rc = exec_worker(opt.config_path, fds, log_stderr, ready_fd);
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  worker_end.reset();
  opt.notify.reset();  // the worker notifies systemd; the helper has nothing to say
  if (ready_fd >= 0) {
    close(ready_fd);  // the worker reports readiness; the helper's copy must not keep it open
  }
  bool clock_control = cfg.daemon.clock == ClockMode::Kernel && st.kernel != nullptr;
  HelperDeps deps;
  deps.clock = st.kernel.get();
  deps.rtc = st.rtc.get();
  deps.now = [] { return sys::realtime_now(); };
  // The clock budget's time: CLOCK_BOOTTIME (counts suspend, never stepped), and the boot
  // it belongs to (a new boot, a new budget).
  deps.mono_ns = [] {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * core::k_ns_per_s + ts.tv_nsec;
  };
  deps.boot_id = read_boot_id();
  int self_ns = st.self_netns.get();
  deps.open_udp = [self_ns](const ps::BindTarget& t) { return sys::open_udp_in_netns(t.netns, t.addr, self_ns); };
  deps.netns_id = [](const std::string& name) { return sys::netns_inode(name); };
  std::string path = opt.config_path;
  deps.open_config = [path]() {
    sys::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
      throw std::system_error(errno, std::generic_category(), "open " + path);
    }
    return fd;
  };
  // On a reload the helper reads the file itself and admits the tenants it has now; the
  // [server] addresses stay those of the start (the worker opens them only at start).
  std::vector<ps::BindTarget> server_targets;
  for (const auto& a : cfg.server.listen) {
    server_targets.push_back(ps::BindTarget{"", a});
  }
  for (auto& c : own_client_targets()) {
    server_targets.push_back(std::move(c));
  }
#ifdef TR7_TEST_HOOKS
  if (auto t = test_broker_target()) {
    server_targets.push_back(*t);
  }
#endif
  deps.refresh_policy = [path, server_targets](ps::Policy& p) {
    auto c = load_config_file(path);
    if (!c) {
      return;  // the worker refuses it too; the helper keeps what it had
    }
    std::vector<ps::BindTarget> t = server_targets;
    for (auto& n : namespace_bind_targets(*c)) {
      t.push_back(std::move(n));
    }
    if (t != p.bind_targets || c->tenants.runtime != p.runtime_rules) {
      log_info("helper: configuration re-read: %zu tenant(s), %zu runtime rule(s)", c->tenants.tenants.size(),
               c->tenants.runtime.size());
    }
    p.bind_targets = std::move(t);
    p.runtime_rules = c->tenants.runtime;
    // The clock budget follows the file too (the discipline's max_slew_ppm, the daily cap).
    p.max_freq_ppm = core::privsep::k_base_freq_ppm + c->discipline.max_slew_ppm;
    p.max_per_day_s = c->daemon.max_correction_per_day_s;
    p.auth_files = auth_file_paths(*c);
  };
  deps.open_file = [](const std::string& file) {
    sys::Fd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
      throw std::system_error(errno, std::generic_category(), "open " + file);
    }
    return fd;
  };
  ps::Policy policy = make_helper_policy(cfg, st);
#ifdef TR7_TEST_HOOKS
  if (auto t = test_broker_target()) {
    policy.bind_targets.push_back(*t);
  }
#endif
  // The audit log: written here only (the worker sends its records).
  std::unique_ptr<AuditFile> audit;
  int audit_dirfd = st.audit_dir.get();
  if (st.audit_dir.valid()) {
    audit = std::make_unique<AuditFile>(std::move(st.audit_dir), cfg.daemon.audit_max_bytes, cfg.daemon.audit_keep);
    if (auto o = audit->open(); !o) {
      log_err("helper: %s (changes through the control socket are refused until it opens)", o.error().c_str());
    }
    // The clock budget's state, beside the audit log (root's: the worker cannot reset it).
    deps.load_budget = [audit_dirfd]() { return load_budget_file(audit_dirfd); };
    deps.save_budget = [audit_dirfd](const std::string& text) { save_budget_file(audit_dirfd, text); };
    deps.audit_append = [a = audit.get()](std::string_view line) {
      auto r = a->append(line);
      if (!r) {
        int err = errno != 0 ? errno : EIO;
        log_err("helper: %s", r.error().c_str());
        return err;
      }
      return 0;
    };
  }
  HelperService svc(std::move(policy), std::move(deps));
  int rc = 1;
  try {
    rc = helper_loop(std::move(helper_end), pid, svc, clock_control, audit.get(), audit_dirfd);
  } catch (const std::exception& e) {
    log_err("helper: fatal: %s", e.what());
    kill(pid, SIGTERM);
  }
  // _Exit, as the worker: under the filter, no atexit handler may need a forbidden call.
  std::fflush(nullptr);
  std::_Exit(rc);
}

}  // namespace tr7::daemon
