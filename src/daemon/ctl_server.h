// The control socket: a Unix stream socket speaking tr7ntp-control(7) on the event loop.
//
// Thin I/O around ctl/: reads request lines with ctl::LineReader, parses them with
// ctl::parse_command, checks the caller's access from the command table, and hands the
// command to the handler; writes the framed replies. It never blocks the loop:
//  * the socket and every connection are non-blocking; replies are queued and written
//    as the peer reads them (send with MSG_NOSIGNAL);
//  * a peer that does not read: once pause_output_bytes are queued its further
//    pipelined commands wait (and its socket is not read); past max_output_bytes, or
//    with no write progress for write_timeout_s, the connection is dropped;
//  * pipelined commands are answered a few per loop turn (turn_commands,
//    turn_output_bytes), so one client cannot delay the NTP service;
//  * a request line must be complete within line_timeout_s of its first byte (slowloris)
//    and a connection idle for idle_timeout_s is closed;
//  * lines over ctl::k_max_request_line, NUL/control bytes and invalid UTF-8 get an error
//    and a close; unknown commands and bad arguments get an error (the peer may go on);
//  * more than max_connections (or max_per_uid for one non-root uid) get "busy" and a
//    close, except that admins and root have slots of their own and may evict an idle
//    connection (CtlLimits); running out of fds pauses accept() for a second.
// The caller is identified with SO_PEERCRED and SO_PEERGROUPS at accept().
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctl/command.h"
#include "ctl/protocol.h"
#include "daemon/audit.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

struct Peer {
  Caller caller;  // uid, gid, pid
  std::vector<uint32_t> groups;
  bool may_read = false;
  bool may_admin = false;
};

struct CtlAccessGroups {
  std::optional<uint32_t> admin_gid;
  std::optional<uint32_t> monitor_gid;
};
// Access of a peer: admin = root or in admin_group; read = admin or in monitor_group.
void grant(Peer& p, const CtlAccessGroups& g);

struct CtlOutcome {
  bool ok = true;
  ctl::Error error;
  std::vector<std::string> lines;  // body, already encoded (records or stuffed text)
  bool close = false;              // close the connection after this reply (quit)

  static CtlOutcome fail(ctl::ErrCode c, std::string text) {
    CtlOutcome o;
    o.ok = false;
    o.error = ctl::Error{c, std::move(text)};
    return o;
  }
};

struct CtlLimits {
  // Connections anyone may use (at most max_per_uid per non-root uid), plus slots only
  // admins (root or admin_group) may use, plus slots only root may use. When every slot
  // a root or admin caller may use is taken, the connection idle the longest (at least
  // evict_idle_s, nothing queued or half-read) of a caller with no more rights than it is
  // closed to make room, so neither monitors nor a root-owned flood of idle connections
  // can lock root out.
  size_t max_connections = 16;
  size_t max_per_uid = 4;  // non-root
  size_t admin_reserved = 4;
  size_t root_reserved = 4;
  double evict_idle_s = 1.0;
  double idle_timeout_s = 60;
  double line_timeout_s = 5;
  double write_timeout_s = 10;
  size_t max_output_bytes = 8 << 20;
  size_t pause_output_bytes = 256 << 10;
  size_t max_input_bytes = 64 << 10;  // unprocessed request bytes held per connection
  // Per event-loop turn and connection, so pipelined commands cannot hog the loop.
  size_t turn_commands = 8;
  size_t turn_output_bytes = 64 << 10;
};

struct CtlServerStats {
  uint64_t accepted = 0;
  uint64_t busy = 0;      // refused: too many connections
  uint64_t evicted = 0;   // idle connections closed to make room for root or an admin
  uint64_t commands = 0;  // answered
  uint64_t refused = 0;   // permission denied
  uint64_t bad_requests = 0;
  uint64_t dropped = 0;  // closed for a limit (timeout, output, encoding)
};

// Creates the listening socket at `path` (call before dropping privileges): the parent
// directory is created (0755) if missing; an existing socket is replaced only when no
// daemon answers on it; anything else at the path is an error (never unlinked). The
// socket gets `mode` and `group` when it is made, in a private directory beside `path`
// (bind_private_then_rename): nothing is changed by path where others can reach it.
struct ControlSocket {
  sys::Fd fd;
  std::string path;
  dev_t dev = 0;
  ino_t ino = 0;
};
Result<ControlSocket> open_control_socket(const std::string& path, unsigned mode, std::optional<uint32_t> group);
// Binds the Unix socket `fd` in a fresh 0700 directory made in `dir` (mkdtemp), gives it
// `mode` (umask at bind) and `group` there, and renames it to `path`, failing rather than
// replacing anything. Returns the socket file's stat. Throws only if the effective group
// cannot be restored.
Result<struct stat> bind_private_then_rename(int fd, const std::string& path, const std::string& dir, unsigned mode,
                                             std::optional<uint32_t> group);
// Unlinks the socket if the path still names the one we created.
void remove_control_socket(const ControlSocket& s);

class CtlServer {
 public:
  using Handler = std::function<CtlOutcome(const Peer&, const ctl::ParsedCommand&)>;
  // A change refused before the handler ran (permission, arguments): for the audit.
  using RefusedHook = std::function<void(const Peer&, const std::string& line, const std::string& reason)>;

  CtlServer(event_base* base, ControlSocket sock, CtlAccessGroups groups, CtlLimits limits, Handler handler,
            RefusedHook refused, std::string version);
  ~CtlServer();
  CtlServer(const CtlServer&) = delete;
  CtlServer& operator=(const CtlServer&) = delete;

  const CtlServerStats& stats() const { return m_stats; }
  size_t connections() const { return m_conns.size(); }
  const std::string& path() const { return m_sock.path; }

 private:
  struct Conn;
  void on_accept();
  // Whether a caller with these rights may have one more connection (after evicting an
  // idle one if need be). rank: 0 other, 1 admin, 2 root.
  bool make_room(int rank, uint32_t uid);
  void close_conn(Conn& c);
  void reap();
  void on_readable(Conn& c);
  void on_writable(Conn& c);
  void on_timer(Conn& c);
  void process_lines(Conn& c);
  void update_reading(Conn& c);
  void answer(Conn& c, const std::string& line);
  void queue(Conn& c, const std::string& bytes);
  void flush(Conn& c);
  void fail_and_close(Conn& c, ctl::ErrCode code, const std::string& text);
  void arm_timer(Conn& c);
  void note_bad(const Conn& c, const std::string& why);

  event_base* m_base;
  ControlSocket m_sock;
  CtlAccessGroups m_groups;
  CtlLimits m_limits;
  Handler m_handler;
  RefusedHook m_refused;
  std::string m_greeting;
  std::unique_ptr<sys::Callback> m_accept_ev;
  std::unique_ptr<sys::Callback> m_accept_pause;
  std::unique_ptr<sys::Callback> m_reaper;
  std::map<uint64_t, std::unique_ptr<Conn>> m_conns;
  std::vector<std::unique_ptr<Conn>> m_dead;
  uint64_t m_next_id = 1;
  CtlServerStats m_stats;
  int64_t m_last_bad_log_ns = 0;
  uint64_t m_bad_since_log = 0;
};

}  // namespace tr7::daemon
