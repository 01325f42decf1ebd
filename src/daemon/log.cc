#include "daemon/log.h"

#include <event2/event.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>

namespace tr7::daemon {

namespace {

bool g_stderr = true;
LogLevel g_level = LogLevel::Info;
const char* g_ident = "tr7ntpd";

const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Error:
      return "error";
    case LogLevel::Warning:
      return "warning";
    case LogLevel::Info:
      return "info";
    case LogLevel::Debug:
      return "debug";
  }
  return "?";
}

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Error:
      return LOG_ERR;
    case LogLevel::Warning:
      return LOG_WARNING;
    case LogLevel::Info:
      return LOG_INFO;
    case LogLevel::Debug:
      return LOG_DEBUG;
  }
  return LOG_INFO;
}

// libevent's own messages (evdns: "nameserver ... has failed", ...) go where ours go,
// with the same levels, instead of straight to stderr (lost under syslog).
void libevent_log(int severity, const char* msg) {
  LogLevel l = severity >= EVENT_LOG_ERR    ? LogLevel::Error
               : severity == EVENT_LOG_WARN ? LogLevel::Warning
               : severity == EVENT_LOG_MSG  ? LogLevel::Info
                                            : LogLevel::Debug;
  log_msg(l, "libevent: %s", msg);
}

// Is there a syslog daemon listening on /dev/log? (glibc's syslog() drops messages
// silently when there is none.)
constexpr const char* k_syslog_path = "/dev/log";
bool syslog_reachable() {
  const char* test_path = std::getenv("TR7_TEST_SYSLOG_PATH");  // tests: a path without a daemon
  const char* path = test_path && *test_path ? test_path : k_syslog_path;
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      continue;
    }
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    close(fd);
    if (rc == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

void log_init(bool to_stderr, LogLevel level, const char* ident) {
  g_stderr = to_stderr;
  g_level = level;
  g_ident = ident;
  event_set_log_callback(&libevent_log);
  if (!to_stderr) {
    if (!syslog_reachable()) {
      g_stderr = true;
      log_msg(LogLevel::Warning, "syslog is not reachable (%s): logging to stderr", k_syslog_path);
      return;
    }
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  }
}

bool log_to_stderr() { return g_stderr; }

void log_set_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

bool parse_log_level(const char* s, LogLevel& out) {
  for (LogLevel l : {LogLevel::Error, LogLevel::Warning, LogLevel::Info, LogLevel::Debug}) {
    if (std::strcmp(s, level_name(l)) == 0) {
      out = l;
      return true;
    }
  }
  return false;
}

void log_vmsg(LogLevel level, const char* fmt, va_list ap) {
  if (level > g_level) {
    return;
  }
  char msg[1024];
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  // Never let a peer's bytes put control characters into a log line.
  for (char* p = msg; *p; ++p) {
    if (static_cast<unsigned char>(*p) < 0x20 || *p == 0x7f) {
      *p = '?';
    }
  }
  if (!g_stderr) {
    syslog(syslog_priority(level), "%s", msg);
    return;
  }
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char when[40];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &t);
  std::fprintf(stderr, "%s.%06ldZ %s[%d]: %s: %s\n", when, ts.tv_nsec / 1000, g_ident, static_cast<int>(getpid()),
               level_name(level), msg);
}

void log_msg(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(level, fmt, ap);
  va_end(ap);
}

}  // namespace tr7::daemon
