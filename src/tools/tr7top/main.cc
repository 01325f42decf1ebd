// tr7top: the terminal dashboard of tr7ntpd (tr7top(1)).
//
// One thread, one poll() loop over the terminal, the control socket and a self-pipe
// for signals. Nothing in the loop blocks: the socket is non-blocking with a reply
// deadline (client.h), keys are read without waiting. SIGINT, SIGTERM, SIGHUP and
// SIGQUIT end the loop, so the CursesSession destructor restores the terminal; SIGWINCH
// resizes.
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "autoconfig.h"
#include "core/strutil.h"
#include "sys/clock.h"
#include "sys/fd.h"
#include "tools/tr7top/client.h"
#include "tools/tr7top/model.h"
#include "tools/tr7top/screen.h"
#include "tools/tr7top/view.h"

namespace {

using namespace tr7;
using namespace tr7::top;

// The daemon's default (daemon/config.h k_default_control_socket).
constexpr const char* k_default_socket = "/run/tr7ntp/tr7ntpd.sock";

volatile sig_atomic_t g_stop_signal = 0;
volatile sig_atomic_t g_winch = 0;
int g_wake_fd = -1;

extern "C" void on_signal(int sig) {
  int saved = errno;
  if (sig == SIGWINCH) {
    g_winch = 1;
  } else if (g_stop_signal == 0) {
    g_stop_signal = sig;
  }
  if (g_wake_fd >= 0) {
    char c = 0;
    (void)!write(g_wake_fd, &c, 1);
  }
  errno = saved;
}

struct Options {
  std::string socket = k_default_socket;
  double interval_s = 1;
  double timeout_s = 0;  // 0: from the interval
  double history_s = 600;
  Thresholds th;
  bool utc = false;
  bool color = true;
  bool mouse = false;
};

void usage(FILE* f) {
  std::fprintf(f,
               "usage: tr7top [-s SOCKET] [-i SECONDS] [options]\n"
               "  -s, --socket PATH        the daemon's control socket (default $TR7NTPC_SOCKET\n"
               "                           or %s)\n"
               "  -i, --interval SECONDS   refresh every SECONDS (default 1; 0.1..3600)\n"
               "  -o, --offset-alert S     alert when |offset| exceeds S seconds (default 0.1)\n"
               "  -d, --drift-alert PPM    alert when |frequency| exceeds PPM (default 100)\n"
               "  -n, --min-sources N      alert with fewer than N usable sources (default 1)\n"
               "  -H, --history SECONDS    span of the offset history plot (default 600; 60..86400)\n"
               "  -T, --timeout SECONDS    a refresh without reply by then means the daemon is\n"
               "                           unreachable (default 2x interval, 2..10)\n"
               "  -u, --utc                show times in UTC first (key t toggles)\n"
               "  -C, --no-color           monochrome (also when NO_COLOR is set)\n"
               "  -m, --mouse              scroll with the mouse wheel\n"
               "  -h, --help               this help;  -V, --version  the version\n"
               "keys: q quit, ? help, s sort, t UTC/local, p pause, arrows/PgUp/PgDn scroll\n",
               k_default_socket);
}

bool parse_options(int argc, char** argv, Options& o) {
  static const option k_long[] = {
      {"socket", required_argument, nullptr, 's'},
      {"interval", required_argument, nullptr, 'i'},
      {"offset-alert", required_argument, nullptr, 'o'},
      {"drift-alert", required_argument, nullptr, 'd'},
      {"min-sources", required_argument, nullptr, 'n'},
      {"history", required_argument, nullptr, 'H'},
      {"timeout", required_argument, nullptr, 'T'},
      {"utc", no_argument, nullptr, 'u'},
      {"no-color", no_argument, nullptr, 'C'},
      {"mouse", no_argument, nullptr, 'm'},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  auto number = [](const char* what, const char* v, double lo, double hi, double& out) {
    auto d = core::parse_double(v, lo, hi);
    if (!d) {
      std::fprintf(stderr, "tr7top: %s: %s\n", what, d.error().c_str());
      return false;
    }
    out = *d;
    return true;
  };
  // The same default as tr7ntpc: one variable for both tools.
  if (const char* env = std::getenv("TR7NTPC_SOCKET"); env != nullptr && env[0] != '\0') {
    o.socket = env;
  }
  int c;
  while ((c = getopt_long(argc, argv, "s:i:o:d:n:H:T:uCmhV", k_long, nullptr)) != -1) {
    switch (c) {
      case 's':
        o.socket = optarg;
        if (o.socket.empty()) {
          std::fprintf(stderr, "tr7top: --socket: empty path\n");
          return false;
        }
        break;
      case 'i':
        if (!number("--interval", optarg, 0.1, 3600, o.interval_s)) {
          return false;
        }
        break;
      case 'o':
        if (!number("--offset-alert", optarg, 1e-9, 1e6, o.th.offset_s)) {
          return false;
        }
        break;
      case 'd':
        if (!number("--drift-alert", optarg, 1e-6, 1e6, o.th.drift_ppm)) {
          return false;
        }
        break;
      case 'n': {
        auto n = core::parse_int(optarg, 0, 1000);
        if (!n) {
          std::fprintf(stderr, "tr7top: --min-sources: %s\n", n.error().c_str());
          return false;
        }
        o.th.min_sources = static_cast<int>(*n);
        break;
      }
      case 'H':
        if (!number("--history", optarg, 60, 86400, o.history_s)) {
          return false;
        }
        break;
      case 'T':
        if (!number("--timeout", optarg, 0.1, 600, o.timeout_s)) {
          return false;
        }
        break;
      case 'u':
        o.utc = true;
        break;
      case 'C':
        o.color = false;
        break;
      case 'm':
        o.mouse = true;
        break;
      case 'h':
        usage(stdout);
        std::exit(0);
      case 'V':
        std::printf("tr7top %s\n", PACKAGE_VERSION);
        std::exit(0);
      default:
        usage(stderr);
        return false;
    }
  }
  if (optind != argc) {
    std::fprintf(stderr, "tr7top: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return false;
  }
  if (o.timeout_s == 0) {
    o.timeout_s = std::min(10.0, std::max(2.0, 2 * o.interval_s));
  }
  const char* nc = std::getenv("NO_COLOR");
  if (nc != nullptr && nc[0] != '\0') {
    o.color = false;
  }
  return true;
}

void install_signals(int wake_fd) {
  g_wake_fd = wake_fd;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns at once
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH}) {
    sigaction(s, &sa, nullptr);
  }
  signal(SIGPIPE, SIG_IGN);
}

Now clock_now() { return Now{sys::monotonic_ns(), sys::realtime_now()}; }

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) {
    return "?";
  }
  std::string h = buf;
  for (char& ch : h) {
    if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) > 0x7E) {
      ch = '?';
    }
  }
  return h;
}

int run(const Options& o) {
  int pipefd[2];
  if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
    std::fprintf(stderr, "tr7top: pipe: %s\n", std::strerror(errno));
    return 1;
  }
  sys::Fd wake_r(pipefd[0]), wake_w(pipefd[1]);
  // Our handlers before curses starts, so curses keeps its hands off these signals.
  install_signals(wake_w.get());

  std::setlocale(LC_ALL, "");
  bool utf8 = std::strcmp(nl_langinfo(CODESET), "UTF-8") == 0;

  Model model(o.th);
  Client client(o.socket, o.timeout_s);
  UiState ui;
  ui.show_local = !o.utc;
  Context ctx;
  ctx.host = host_name();
  ctx.socket = o.socket;
  ctx.interval_s = o.interval_s;
  ctx.history_window_s = o.history_s;
  ctx.utf8 = utf8;

  {
    CursesSession session(o.color, o.mouse);
    View view(session);
    const auto interval_ns = static_cast<int64_t>(o.interval_s * 1e9);
    int64_t next_refresh = 0;
    int64_t next_draw = 0;
    bool dirty = true;
    Frame shown;
    while (g_stop_signal == 0) {
      Now now = clock_now();
      if (g_winch) {
        g_winch = 0;
        view.resize();
        dirty = true;
      }
      if (!ui.paused && now.mono_ns >= next_refresh) {
        client.refresh(now.mono_ns);
        next_refresh = now.mono_ns + interval_ns;
      }
      if (client.deadline_ns() != 0 && now.mono_ns >= client.deadline_ns()) {
        client.on_timeout(now.mono_ns);
      }
      for (auto& e : client.take_events()) {
        switch (e.kind) {
          case ClientEvent::Kind::Connected:
            model.on_connected(e.text, now, e.reconnected);
            break;
          case ClientEvent::Kind::Snapshot:
            model.on_snapshot(std::move(e.snapshot), now);
            break;
          case ClientEvent::Kind::Failure:
            model.on_failure(e.text, now);
            break;
        }
        dirty = true;
      }
      if (dirty || now.mono_ns >= next_draw) {
        ctx.rows = view.rows();
        ctx.cols = view.cols();
        ctx.now = now;
        shown = compose(model, ui, ctx);
        view.draw(shown);
        dirty = false;
        // The clock in the title ticks on whole seconds.
        int64_t ns_into_s = now.real.ns % core::k_ns_per_s;
        next_draw = now.mono_ns + (core::k_ns_per_s - ns_into_s) + 1000000;
      }
      // Sleep until something happens or the next refresh / deadline / redraw.
      int64_t wake = next_draw;
      if (!ui.paused) {
        wake = std::min(wake, next_refresh);
      }
      if (client.deadline_ns() != 0) {
        wake = std::min(wake, client.deadline_ns());
      }
      int64_t wait_ns = std::max<int64_t>(0, wake - sys::monotonic_ns());
      pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0}, {wake_r.get(), POLLIN, 0}, {client.fd(), client.poll_events(), 0}};
      nfds_t n = client.fd() >= 0 ? 3 : 2;
      int r = poll(fds, n, static_cast<int>(wait_ns / 1000000) + 1);
      if (r < 0 && errno != EINTR) {
        throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
      }
      if (r > 0 && (fds[1].revents & POLLIN)) {
        char buf[64];
        while (read(wake_r.get(), buf, sizeof buf) > 0) {
        }
      }
      if (r > 0 && (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))) {
        break;  // the terminal went away
      }
      for (Key k = view.read_key(); k != Key::None; k = view.read_key()) {
        bool was_paused = ui.paused;
        if (!handle_key(ui, k, shown)) {
          return 0;  // q: the session's destructor restores the terminal
        }
        if (was_paused && !ui.paused) {
          next_refresh = 0;  // resume with fresh data at once
        }
        dirty = true;
      }
      if (r > 0 && n == 3 && fds[2].revents != 0) {
        client.on_ready(fds[2].revents, sys::monotonic_ns());
      }
    }
  }
  int sig = g_stop_signal;
  return sig == 0 || sig == SIGINT ? 0 : 128 + sig;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse_options(argc, argv, o)) {
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    // The CursesSession is gone by now: the message lands on a restored terminal.
    std::fprintf(stderr, "tr7top: %s\n", e.what());
    return 1;
  }
}
