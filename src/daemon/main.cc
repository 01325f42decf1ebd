// tr7ntpd: command line, configuration, start-up and daemonisation.
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <linux/close_range.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <tuple>

#include "autoconfig.h"
#include "daemon/auth_files.h"
#include "daemon/config.h"
#include "daemon/log.h"
#include "daemon/nts_tls.h"
#include "daemon/privsep.h"
#include "daemon/readiness.h"
#include "daemon/sd_notify.h"
#include "daemon/tzdb.h"
#include "daemon/worker.h"
#include "sys/event.h"

namespace {

const char* const k_default_config = TR7_SYSCONFDIR "/tr7ntp/tr7ntpd.conf";

void usage(FILE* out) {
  std::fprintf(out,
               "Usage: tr7ntpd [OPTION]...\n"
               "NTP client and server for central, multi-tenant time service.\n"
               "\n"
               "  -f, --config FILE   configuration file (default %s)\n"
               "  -d, --debug         stay in the foreground, one process, log to stderr\n"
               "  -n, --foreground    stay in the foreground, log to syslog (for systemd)\n"
               "  -e, --log-stderr    log to stderr instead of syslog (with -n)\n"
               "      --check-config  parse the configuration, report, exit 0 (valid) or 1\n"
               "  -V, --version       print the version and exit\n"
               "  -h, --help          print this help and exit\n"
               "\n"
               "Started as root (without -d), it runs as a privileged helper and a sandboxed\n"
               "worker (privilege separation).\n"
               "Signals: SIGTERM/SIGINT stop, SIGHUP reloads the configuration,\n"
               "SIGUSR1 logs the server statistics. See tr7ntpd(8), tr7ntpd.conf(5).\n",
               k_default_config);
}

// Descriptors inherited from whoever started us (a shell's `7</`, a service manager's
// leftovers) must not reach the sandboxed worker: an open directory outside the chroot
// is a way out of it (openat with that dirfd). Under privilege separation every one
// above stderr is closed before anything is opened. In one process there is no chroot to
// escape, and a preloaded library may own one (the clknetsim simulator's connection):
// they are only made close-on-exec.
void close_inherited_fds(bool privsep) {
  unsigned flags = privsep ? 0 : CLOSE_RANGE_CLOEXEC;
  if (close_range(STDERR_FILENO + 1, ~0U, flags) != 0) {
    std::perror("tr7ntpd: close_range");
    if (privsep) {
      std::exit(1);
    }
  }
}

void callback_error(const char* what) noexcept { tr7::daemon::log_err("event handler failed: %s", what); }

// Forks into the background; the parent exits 0 once the child says it is ready, 1 if
// the child fails first. Returns the write end of the readiness pipe in the child.
int daemonize() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) {
    std::perror("tr7ntpd: pipe");
    std::exit(1);
  }
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("tr7ntpd: fork");
    std::exit(1);
  }
  if (pid > 0) {
    close(p[1]);
    // 'R': ready. 'E' and a reason: the daemon failed after detaching (readiness.h).
    char buf[512];
    size_t got = 0;
    while (got < sizeof buf - 1) {
      ssize_t n = read(p[0], buf + got, sizeof buf - 1 - got);
      if (n <= 0) {
        break;
      }
      got += static_cast<size_t>(n);
    }
    buf[got] = '\0';
    if (got >= 1 && buf[0] == 'R') {
      std::_Exit(0);
    }
    if (got > 1 && buf[0] == 'E') {
      std::fprintf(stderr, "tr7ntpd: fatal: %s\n", buf + 1);
    } else {
      std::fprintf(stderr, "tr7ntpd: start-up failed, see the system log\n");
    }
    std::_Exit(1);
  }
  close(p[0]);
  setsid();
  if (chdir("/") < 0) {
    // not fatal
  }
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) {
      close(null);
    }
  }
  return p[1];
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path = k_default_config;
  bool debug = false;
  bool foreground = false;
  bool check_only = false;
  bool log_stderr = false;
  std::optional<tr7::daemon::WorkerFds> worker_fds;  // --privsep-worker: the re-executed worker
  enum { OPT_CHECK = 1000, OPT_WORKER };
  static const option long_opts[] = {{"config", required_argument, nullptr, 'f'},
                                     {"debug", no_argument, nullptr, 'd'},
                                     {"foreground", no_argument, nullptr, 'n'},
                                     {"check-config", no_argument, nullptr, OPT_CHECK},
                                     {"version", no_argument, nullptr, 'V'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {"log-stderr", no_argument, nullptr, 'e'},
                                     {tr7::daemon::k_worker_option, required_argument, nullptr, OPT_WORKER},
                                     {nullptr, 0, nullptr, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "f:dneVh", long_opts, nullptr)) != -1) {
    switch (c) {
      case 'f':
        config_path = optarg;
        break;
      case 'd':
        debug = true;
        break;
      case 'n':
        foreground = true;
        break;
      case 'e':
        log_stderr = true;
        break;
      case OPT_CHECK:
        check_only = true;
        break;
      case OPT_WORKER:
        worker_fds = tr7::daemon::parse_worker_fds(optarg);
        if (!worker_fds) {
          std::fprintf(stderr, "tr7ntpd: --%s: bad descriptor list\n", tr7::daemon::k_worker_option);
          return 2;
        }
        break;
      case 'V':
#ifdef TR7_TEST_HOOKS
        std::printf("tr7ntpd %s (test hooks: not for production)\n", PACKAGE_VERSION);
#else
        std::printf("tr7ntpd %s\n", PACKAGE_VERSION);
#endif
        return 0;
      case 'h':
        usage(stdout);
        return 0;
      default:
        if (optopt) {
          std::fprintf(stderr, "tr7ntpd: invalid option or missing argument: -%c\n", optopt);
        } else {
          std::fprintf(stderr, "tr7ntpd: invalid option: %s\n", argv[optind - 1]);
        }
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    std::fprintf(stderr, "tr7ntpd: unexpected argument: %s\n", argv[optind]);
    usage(stderr);
    return 2;
  }

  if (worker_fds) {
    // Executed by the helper (privsep.h): the worker, with only the descriptors named.
    return tr7::daemon::run_exec_worker(config_path, *worker_fds, log_stderr);
  }
  if (!check_only) {
    close_inherited_fds(!debug && geteuid() == 0);
  }
  auto cfg = tr7::daemon::load_config_file(config_path);
  if (!cfg) {
    for (const auto& e : cfg.error()) {
      std::fprintf(stderr, "%s\n", e.c_str());
    }
    std::fprintf(stderr, "tr7ntpd: %s: configuration refused (%zu error%s), nothing applied\n", config_path.c_str(),
                 cfg.error().size(), cfg.error().size() == 1 ? "" : "s");
    return 1;
  }
  for (const auto& w : cfg->warnings) {
    std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  if (check_only) {
    // What the parser cannot know, and a start would refuse: the zone must exist in the
    // system tzdata, the groups in the group database, the worker's user (when started
    // as root: privilege separation) in the password database.
    const auto& d = cfg->daemon;
    std::vector<std::string> errors;
    auto where = [&](int line) { return config_path + ":" + (line > 0 ? std::to_string(line) + ":" : ""); };
    tr7::daemon::TimezoneDb zones;
    zones.load();
    if (!zones.contains(d.timezone)) {
      errors.push_back(where(d.timezone_line) + " timezone: '" + d.timezone + "' is not a zone of the system tzdata");
    }
    for (auto [key, name, line] :
         {std::tuple<const char*, const std::string*, int>{"admin_group", &d.admin_group, d.admin_group_line},
          {"monitor_group", &d.monitor_group, d.monitor_group_line}}) {
      if (!name->empty() && getgrnam(name->c_str()) == nullptr) {
        errors.push_back(where(line) + " " + key + ": no such group '" + *name + "'");
      }
    }
    if (getpwnam(d.user.c_str()) == nullptr) {
      std::string m = where(d.user_line) + " user: no such user '" + d.user + "' (the worker's user under privilege " +
                      "separation: create it with systemd-sysusers or useradd --system)";
      if (geteuid() == 0) {
        errors.push_back(m);
      } else {
        std::fprintf(stderr, "warning: %s; needed when started as root\n", m.c_str());
      }
    }
    // The files of authenticated time, as a start reads them (as root: the key file
    // and the private key may be readable by root only).
    if (!d.keyfile.empty()) {
      auto kf = tr7::daemon::load_keyfile(d.keyfile);
      if (!kf) {
        errors.push_back("keyfile " + kf.error());
      }
    }
    if (cfg->nts.server()) {
      auto cert = tr7::daemon::read_auth_file(cfg->nts.cert, false);
      auto key = tr7::daemon::read_auth_file(cfg->nts.key, true);
      if (!cert || !key) {
        errors.push_back("[nts] " + (cert ? key.error() : cert.error()));
      } else if (auto creds = tr7::daemon::server_credentials(*cert, *key); !creds) {
        errors.push_back("[nts] " + cfg->nts.cert + ", " + cfg->nts.key + ": " + creds.error());
      }
    }
    if (!cfg->nts.trusted_certs.empty()) {
      auto pem = tr7::daemon::read_auth_file(cfg->nts.trusted_certs, false);
      if (!pem) {
        errors.push_back("[nts] trusted_certs " + pem.error());
      } else if (auto trust = tr7::daemon::client_credentials(*pem); !trust) {
        errors.push_back("[nts] trusted_certs " + cfg->nts.trusted_certs + ": " + trust.error());
      }
    }
    for (const auto& e : errors) {
      std::fprintf(stderr, "%s\n", e.c_str());
    }
    if (!errors.empty()) {
      std::fprintf(stderr, "tr7ntpd: %s: a start would be refused (%zu error%s)\n", config_path.c_str(), errors.size(),
                   errors.size() == 1 ? "" : "s");
      return 1;
    }
    std::printf("%s: configuration OK\n", config_path.c_str());
    return 0;
  }

  log_stderr = log_stderr || debug;
  tr7::daemon::log_init(log_stderr, cfg->daemon.log_level, "tr7ntpd");
  tr7::sys::g_callback_error = callback_error;
  // Privilege separation whenever started as root, except in debug mode (-d).
  bool privsep = !debug && geteuid() == 0;
  try {
    tr7::daemon::WorkerOptions opt{config_path};
    // Before any fork or sandbox: the worker sends on it from its chroot (sd_notify.h).
    opt.notify = tr7::daemon::SdNotifier::from_environment();
    if (privsep) {
      tr7::daemon::prepare_privsep(*cfg);  // checks the user, repairs the state directory
      tr7::daemon::Startup st = tr7::daemon::open_startup(*cfg, true);
      int ready_fd = -1;
      if (!foreground) {
        ready_fd = daemonize();
        tr7::daemon::log_init(false, tr7::daemon::log_level(), "tr7ntpd");
      }
      return tr7::daemon::run_privsep(std::move(*cfg), std::move(opt), st, ready_fd, tr7::daemon::log_to_stderr());
    }
    if (!debug && geteuid() != 0) {
      tr7::daemon::log_info("not started as root: one process, no privilege separation");
    }
    // One process: the start-up check only reports (no clock control here).
    tr7::daemon::Startup st = tr7::daemon::open_startup(*cfg, false);
    tr7::daemon::Worker worker(std::move(*cfg), std::move(opt));
    int ready_fd = -1;
    if (!debug && !foreground) {
      ready_fd = daemonize();
      tr7::daemon::log_init(false, tr7::daemon::log_level(), "tr7ntpd");
    }
    worker.log_started();
    tr7::daemon::notify_ready(ready_fd);
    return worker.run();
  } catch (const std::exception& e) {
    tr7::daemon::log_err("fatal: %s", e.what());
    if (!tr7::daemon::log_to_stderr()) {
      std::fprintf(stderr, "tr7ntpd: fatal: %s\n", e.what());
    }
    return 1;
  }
}
