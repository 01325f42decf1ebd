// Logging for the daemon: stderr (foreground, -d) or syslog. Runtime errors are logged
// and the daemon carries on; nothing in src/core logs.
#pragma once

#include <cstdarg>

namespace tr7::daemon {

enum class LogLevel { Error = 0, Warning = 1, Info = 2, Debug = 3 };

// to_stderr: one line per message with an RFC 3339 UTC time; otherwise syslog(3) with
// LOG_DAEMON. Messages above `level` are discarded.
// When syslog cannot be reached (no /dev/log: a container, a chroot), the log goes to
// stderr instead, so that no error is lost (log_to_stderr() then says true).
void log_init(bool to_stderr, LogLevel level, const char* ident);
bool log_to_stderr();
void log_set_level(LogLevel level);
LogLevel log_level();
bool parse_log_level(const char* s, LogLevel& out);

void log_msg(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(LogLevel level, const char* fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define TR7_LOG_FN(name, lvl)                                         \
  inline void name(const char* fmt, ...) __attribute__((format(printf, 1, 2))); \
  inline void name(const char* fmt, ...) {                           \
    va_list ap;                                                       \
    va_start(ap, fmt);                                                \
    log_vmsg(lvl, fmt, ap);                                           \
    va_end(ap);                                                       \
  }
TR7_LOG_FN(log_err, LogLevel::Error)
TR7_LOG_FN(log_warn, LogLevel::Warning)
TR7_LOG_FN(log_info, LogLevel::Info)
TR7_LOG_FN(log_debug, LogLevel::Debug)
#undef TR7_LOG_FN

}  // namespace tr7::daemon
