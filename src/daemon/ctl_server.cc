// The control socket (see ctl_server.h).
#include "daemon/ctl_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

void grant(Peer& p, const CtlAccessGroups& g) {
  auto member = [&](std::optional<uint32_t> gid) {
    if (!gid) {
      return false;
    }
    return p.caller.gid == *gid || std::find(p.groups.begin(), p.groups.end(), *gid) != p.groups.end();
  };
  p.may_admin = p.caller.uid == 0 || member(g.admin_gid);
  p.may_read = p.may_admin || member(g.monitor_gid);
}

// --- socket creation ---

namespace {

bool fill_sun(const std::string& path, sockaddr_un& sa) {
  std::memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    return false;
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return true;
}

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Binds `fd` as `name` in directory `dir` with `mode` (umask at bind) and `group`
// (the effective group at bind when it can be set, else fchownat in that directory).
Result<void> bind_with_mode(int fd, const std::string& dir, const std::string& name, unsigned mode,
                            std::optional<uint32_t> group) {
  sockaddr_un sa{};
  if (!fill_sun(dir + "/" + name, sa)) {
    return unexpected("socket path " + dir + "/" + name + " is too long");
  }
  // The file gets its group at creation, from the effective gid (CAP_SETGID, which the
  // daemon has at start; a chown needs CAP_CHOWN, which the systemd unit does not grant).
  gid_t old_egid = getegid();
  bool group_set = group && static_cast<gid_t>(*group) == old_egid;
  bool egid_changed = false;
  if (group && !group_set && setegid(static_cast<gid_t>(*group)) == 0) {
    group_set = egid_changed = true;
  }
  mode_t old = umask(static_cast<mode_t>(~mode & 0777));
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int bind_errno = errno;
  umask(old);
  if (egid_changed && setegid(old_egid) != 0) {
    throw std::runtime_error(errno_text("cannot restore the effective group"));
  }
  if (rc != 0) {
    errno = bind_errno;
    return unexpected(errno_text("cannot bind the control socket " + dir + "/" + name));
  }
  if (group && !group_set) {
    // Only in the private directory: nobody else can put anything under this name.
    sys::Fd d(open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!d.valid() ||
        fchownat(d.get(), name.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*group), AT_SYMLINK_NOFOLLOW) != 0) {
      return unexpected(errno_text("cannot give the control socket to group " + std::to_string(*group)));
    }
  }
  return {};
}

}  // namespace

Result<struct stat> bind_private_then_rename(int fd, const std::string& path, const std::string& dir, unsigned mode,
                                             std::optional<uint32_t> group) {
  std::string base = path.substr(path.rfind('/') + 1);
  std::string tmpl = (dir.empty() ? std::string() : dir) + "/.tr7ntpd.XXXXXX";
  std::vector<char> t(tmpl.begin(), tmpl.end());
  t.push_back('\0');
  if (mkdtemp(t.data()) == nullptr) {
    return unexpected(errno_text("cannot make a private directory beside " + path));
  }
  std::string priv(t.data());
  auto cleanup = [&] {
    unlinkat(AT_FDCWD, (priv + "/s").c_str(), 0);
    rmdir(priv.c_str());
  };
  auto b = bind_with_mode(fd, priv, "s", mode, group);
  if (!b) {
    cleanup();
    return unexpected(b.error());
  }
  // Its identity now, while only we can reach it (a rename keeps the inode).
  struct stat st {};
  if (lstat((priv + "/s").c_str(), &st) != 0) {
    std::string e = errno_text("control socket " + priv + "/s");
    cleanup();
    return unexpected(e);
  }
  // Never over anything: a file that appeared since the check is not ours to replace.
  if (renameat2(AT_FDCWD, (priv + "/s").c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    std::string e = errno == EEXIST ? path + " appeared while the socket was made: not replacing it"
                                    : errno_text("cannot move the control socket to " + path);
    cleanup();
    return unexpected(e);
  }
  rmdir(priv.c_str());
  return st;
}

Result<ControlSocket> open_control_socket(const std::string& path, unsigned mode, std::optional<uint32_t> group) {
  sockaddr_un sa{};
  if (path.empty() || path[0] != '/' || !fill_sun(path, sa)) {
    return unexpected("control socket path '" + path + "' is not an absolute path that fits a socket address");
  }
  std::string dir = path.substr(0, path.rfind('/'));
  if (!dir.empty()) {
    struct stat ds {};
    if (stat(dir.c_str(), &ds) != 0) {
      if (errno != ENOENT || mkdir(dir.c_str(), 0755) != 0) {
        return unexpected(errno_text("cannot create the control socket's directory " + dir));
      }
    } else if (!S_ISDIR(ds.st_mode)) {
      return unexpected(dir + " is not a directory");
    }
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      // Never delete what is not ours (ntpd-rs NTP-058).
      return unexpected(path + " exists and is not a socket: not removing it");
    }
    sys::Fd probe(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe.valid() && connect(probe.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      return unexpected(path + " is in use by a running daemon");
    }
    if (unlink(path.c_str()) != 0) {
      return unexpected(errno_text("cannot remove the stale socket " + path));
    }
  }
  sys::Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return unexpected(errno_text("socket(AF_UNIX)"));
  }
  // Nothing is done by path to the socket where others may reach it (no chmod or chown
  // after bind: the name could be swapped for a link to something else in between). It
  // is bound in a private directory made for the purpose (0700, ours), given its mode
  // (umask at bind) and group there, then renamed into place, never over anything.
  auto made = bind_private_then_rename(fd.get(), path, dir, mode, group);
  if (!made) {
    return unexpected(made.error());
  }
  if (listen(fd.get(), 64) != 0) {
    std::string e = errno_text("listen on the control socket");
    unlink(path.c_str());
    return unexpected(e);
  }
  ControlSocket s;
  s.dev = made->st_dev;
  s.ino = made->st_ino;
  s.fd = std::move(fd);
  s.path = path;
  return s;
}

void remove_control_socket(const ControlSocket& s) {
  struct stat st {};
  if (!s.path.empty() && lstat(s.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s.dev &&
      st.st_ino == s.ino) {
    unlink(s.path.c_str());
  }
}

// --- connections ---

struct CtlServer::Conn {
  uint64_t id = 0;
  sys::Fd fd;
  Peer peer;
  ctl::LineReader reader;
  std::string out;
  size_t out_off = 0;
  uint64_t seq = 0;
  bool eof = false;      // the peer half-closed: answer what is in, then close
  bool closing = false;  // close once the output is written
  bool dead = false;
  bool reading = true;
  bool in_process = false;  // process_lines() is on the stack
  int64_t last_activity_ns = 0;
  int64_t partial_since_ns = 0;
  int64_t write_stall_since_ns = 0;
  std::unique_ptr<sys::Callback> rd, wr, timer, resume;

  size_t pending() const { return out.size() - out_off; }
};

CtlServer::CtlServer(event_base* base, ControlSocket sock, CtlAccessGroups groups, CtlLimits limits, Handler handler,
                     RefusedHook refused, std::string version)
    : m_base(base),
      m_sock(std::move(sock)),
      m_groups(groups),
      m_limits(limits),
      m_handler(std::move(handler)),
      m_refused(std::move(refused)),
      m_greeting(ctl::greeting(version) + "\n") {
  m_accept_ev = std::make_unique<sys::Callback>(m_base, m_sock.fd.get(), EV_READ | EV_PERSIST,
                                                [this](evutil_socket_t, short) { on_accept(); });
  m_accept_ev->add();
  m_accept_pause =
      std::make_unique<sys::Callback>(m_base, -1, 0, [this](evutil_socket_t, short) { m_accept_ev->add(); });
  m_reaper = std::make_unique<sys::Callback>(m_base, -1, 0, [this](evutil_socket_t, short) { reap(); });
}

CtlServer::~CtlServer() {
  m_conns.clear();
  m_dead.clear();
  remove_control_socket(m_sock);
}

void CtlServer::on_accept() {
  for (int i = 0; i < 16; ++i) {
    int fd = accept4(m_sock.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of fds: the listening socket would stay readable and spin the loop.
        log_warn("control socket: accept: %s; pausing accept for 1 s", std::strerror(errno));
        m_accept_ev->del();
        m_accept_pause->add(1.0);
      }
      return;
    }
    sys::Fd cfd(fd);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) {
      continue;  // cfd closes
    }
    Peer peer;
    peer.caller.known = true;
    peer.caller.uid = cred.uid;
    peer.caller.gid = cred.gid;
    peer.caller.pid = cred.pid;
    peer.caller.via = "control";
    socklen_t glen = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, nullptr, &glen) != 0 && errno == ERANGE && glen > 0 &&
        glen <= 65536 * sizeof(gid_t)) {
      std::vector<gid_t> gs(glen / sizeof(gid_t));
      if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, gs.data(), &glen) == 0) {
        gs.resize(glen / sizeof(gid_t));
        peer.groups.assign(gs.begin(), gs.end());
      }
    }
    grant(peer, m_groups);
    int rank = cred.uid == 0 ? 2 : peer.may_admin ? 1 : 0;
    if (!make_room(rank, cred.uid)) {
      ++m_stats.busy;
      std::string bye = m_greeting + ctl::frame_error(1, ctl::ErrCode::Busy, "too many connections, try later");
      ssize_t n = send(fd, bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)n;
      continue;
    }
    ++m_stats.accepted;
    auto c = std::make_unique<Conn>();
    Conn* cp = c.get();
    c->id = m_next_id++;
    c->fd = std::move(cfd);
    c->peer = std::move(peer);
    c->last_activity_ns = sys::monotonic_ns();
    c->rd = std::make_unique<sys::Callback>(m_base, fd, EV_READ | EV_PERSIST,
                                            [this, cp](evutil_socket_t, short) { on_readable(*cp); });
    c->wr = std::make_unique<sys::Callback>(m_base, fd, EV_WRITE | EV_PERSIST,
                                            [this, cp](evutil_socket_t, short) { on_writable(*cp); });
    c->timer = std::make_unique<sys::Callback>(m_base, -1, 0, [this, cp](evutil_socket_t, short) { on_timer(*cp); });
    c->resume =
        std::make_unique<sys::Callback>(m_base, -1, 0, [this, cp](evutil_socket_t, short) { process_lines(*cp); });
    m_conns.emplace(c->id, std::move(c));
    cp->rd->add();
    queue(*cp, m_greeting);
    if (!cp->dead) {
      arm_timer(*cp);
    }
  }
}

namespace {
int rank_of(const Peer& p) { return p.caller.uid == 0 ? 2 : p.may_admin ? 1 : 0; }
}  // namespace

bool CtlServer::make_room(int rank, uint32_t uid) {
  size_t same_uid = 0;
  for (const auto& [id, c] : m_conns) {
    same_uid += c->peer.caller.uid == uid;
  }
  if (uid != 0 && same_uid >= m_limits.max_per_uid) {
    return false;
  }
  size_t may_use =
      m_limits.max_connections + (rank >= 1 ? m_limits.admin_reserved : 0) + (rank >= 2 ? m_limits.root_reserved : 0);
  if (m_conns.size() < may_use) {
    return true;
  }
  if (rank == 0) {
    return false;
  }
  // Root or an admin, and every slot it may use is taken: close the connection idle the
  // longest among those of callers with no more rights.
  int64_t now = sys::monotonic_ns();
  int64_t min_idle = static_cast<int64_t>(m_limits.evict_idle_s * 1e9);
  Conn* victim = nullptr;
  for (const auto& [id, c] : m_conns) {
    bool idle = !c->dead && !c->closing && c->pending() == 0 && !c->reader.partial() && c->reader.buffered() == 0 &&
                !c->resume->pending() && now - c->last_activity_ns >= min_idle;
    if (idle && rank_of(c->peer) <= rank && (!victim || c->last_activity_ns < victim->last_activity_ns)) {
      victim = c.get();
    }
  }
  if (!victim) {
    return false;
  }
  ++m_stats.evicted;
  log_debug("control: closing an idle connection of uid %u pid %d to make room for uid %u", victim->peer.caller.uid,
            victim->peer.caller.pid, uid);
  std::string bye =
      ctl::frame_error(++victim->seq, ctl::ErrCode::Busy,
                       std::string("idle connection closed to make room for ") + (rank == 2 ? "root" : "an admin"));
  ssize_t n = send(victim->fd.get(), bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)n;
  close_conn(*victim);
  return true;
}

void CtlServer::close_conn(Conn& c) {
  if (c.dead) {
    return;
  }
  c.dead = true;
  c.rd->del();
  c.wr->del();
  c.timer->del();
  c.resume->del();
  c.fd.reset();
  auto it = m_conns.find(c.id);
  if (it != m_conns.end()) {
    // Freed by the reaper, after the callback that is running now has returned.
    m_dead.push_back(std::move(it->second));
    m_conns.erase(it);
  }
  m_reaper->add(0.0);
}

void CtlServer::reap() { m_dead.clear(); }

void CtlServer::on_readable(Conn& c) {
  char buf[4096];
  ssize_t n = recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return;
    }
    close_conn(c);
    return;
  }
  if (n == 0) {
    c.eof = true;  // half-close: answer what came, then close (in process_lines)
    update_reading(c);
    if (!c.resume->pending()) {
      process_lines(c);
    }
    return;
  }
  c.reader.feed(std::string_view(buf, static_cast<size_t>(n)));
  if (!c.resume->pending()) {
    process_lines(c);
  } else {
    update_reading(c);
  }
}

void CtlServer::process_lines(Conn& c) {
  if (c.in_process || c.dead) {
    return;
  }
  c.in_process = true;
  bool consumed = false;
  size_t commands = 0;
  size_t start_out = c.pending();
  while (!c.dead && !c.closing && c.pending() < m_limits.pause_output_bytes) {
    if (commands >= m_limits.turn_commands ||
        c.pending() - std::min(start_out, c.pending()) >= m_limits.turn_output_bytes) {
      // The rest on a later turn of the loop: NTP packets are handled in between.
      if (!c.resume->pending()) {
        c.resume->add(0.0);
      }
      break;
    }
    auto l = c.reader.next();
    if (!l && c.eof) {
      // All complete lines answered; the peer half-closed: a last line without LF
      // is still a command, then the connection closes once the replies are out.
      l = c.reader.finish();
      if (!l) {
        c.closing = true;
        flush(c);
        break;
      }
    }
    if (!l) {
      break;
    }
    consumed = true;
    ++commands;
    if (!l->has_value()) {
      c.in_process = false;
      fail_and_close(c, l->error().code, l->error().text);
      return;
    }
    c.last_activity_ns = sys::monotonic_ns();
    answer(c, l->value());
  }
  c.in_process = false;
  if (c.dead) {
    return;
  }
  if (c.reader.partial()) {
    if (consumed || c.partial_since_ns == 0) {
      c.partial_since_ns = sys::monotonic_ns();
    }
  } else {
    c.partial_since_ns = 0;
  }
  update_reading(c);
  arm_timer(c);
}

void CtlServer::update_reading(Conn& c) {
  // Read only while the peer reads its replies and its unprocessed requests are few.
  bool want = !c.dead && !c.eof && !c.closing && c.pending() < m_limits.pause_output_bytes &&
              c.reader.buffered() < m_limits.max_input_bytes;
  if (want && !c.reading) {
    c.reading = true;
    c.rd->add();
  } else if (!want && c.reading) {
    c.reading = false;
    c.rd->del();
  }
}

void CtlServer::answer(Conn& c, const std::string& line) {
  uint64_t seq = ++c.seq;
  // Permission first: a caller without it learns nothing about its arguments.
  auto cmd = ctl::match_command(line);
  if (cmd) {
    const ctl::CmdInfo& ci = ctl::info(*cmd);
    bool allowed = ci.access == ctl::Access::Any || (ci.access == ctl::Access::Read && c.peer.may_read) ||
                   (ci.access == ctl::Access::Admin && c.peer.may_admin);
    if (!allowed) {
      ++m_stats.refused;
      std::string why = ci.access == ctl::Access::Admin
                            ? "permission denied: root or admin_group required"
                            : "permission denied: root, admin_group or monitor_group required";
      if (ci.access == ctl::Access::Admin && m_refused) {
        m_refused(c.peer, line, why);
      }
      queue(c, ctl::frame_error(seq, ctl::ErrCode::PermissionDenied, why));
      return;
    }
  }
  auto parsed = ctl::parse_command(line);
  if (!parsed) {
    ++m_stats.bad_requests;
    note_bad(c, parsed.error().text);
    if (cmd && ctl::info(*cmd).access == ctl::Access::Admin && m_refused) {
      m_refused(c.peer, line, parsed.error().text);
    }
    queue(c, ctl::frame_error(seq, parsed.error().code, parsed.error().text));
    return;
  }
  CtlOutcome out;
  try {
    out = m_handler(c.peer, *parsed);
  } catch (const std::exception& e) {
    log_err("control command '%s' failed: %s", parsed->to_line().c_str(), e.what());
    out = CtlOutcome::fail(ctl::ErrCode::Failed, std::string("internal error: ") + e.what());
  }
  ++m_stats.commands;
  ctl::Reply r;
  r.seq = seq;
  r.ok = out.ok;
  r.error = out.error;
  r.lines = std::move(out.lines);
  if (out.close) {
    c.closing = true;
  }
  queue(c, ctl::frame_reply(r));
}

void CtlServer::queue(Conn& c, const std::string& bytes) {
  if (c.dead) {
    return;
  }
  if (c.pending() + bytes.size() > m_limits.max_output_bytes) {
    log_debug("control: uid %u pid %d does not read its replies: dropped", c.peer.caller.uid, c.peer.caller.pid);
    ++m_stats.dropped;
    close_conn(c);
    return;
  }
  if (c.out_off > 0 && c.out_off == c.out.size()) {
    c.out.clear();
    c.out_off = 0;
  }
  if (c.pending() == 0) {
    c.write_stall_since_ns = sys::monotonic_ns();
  }
  c.out += bytes;
  flush(c);
}

void CtlServer::flush(Conn& c) {
  while (!c.dead && c.pending() > 0) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.out_off, c.pending(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      c.write_stall_since_ns = sys::monotonic_ns();
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!c.wr->pending()) {
        c.wr->add();
      }
      arm_timer(c);
      return;
    }
    close_conn(c);  // EPIPE, ECONNRESET: the peer is gone
    return;
  }
  if (c.dead) {
    return;
  }
  c.out.clear();
  c.out_off = 0;
  c.write_stall_since_ns = 0;
  c.wr->del();
  if (c.closing) {
    close_conn(c);
    return;
  }
  if (!c.resume->pending() && (c.reader.buffered() > 0 || c.eof)) {
    process_lines(c);  // commands left waiting while the output was full
  } else {
    update_reading(c);
  }
}

void CtlServer::on_writable(Conn& c) { flush(c); }

void CtlServer::fail_and_close(Conn& c, ctl::ErrCode code, const std::string& text) {
  ++m_stats.bad_requests;
  ++m_stats.dropped;
  note_bad(c, text);
  c.closing = true;
  c.reading = false;
  c.rd->del();
  queue(c, ctl::frame_error(++c.seq, code, text));
  if (!c.dead) {
    arm_timer(c);
  }
}

void CtlServer::arm_timer(Conn& c) {
  if (c.dead) {
    return;
  }
  auto ns = [](double s) { return static_cast<int64_t>(s * 1e9); };
  int64_t deadline = INT64_MAX;
  if (c.pending() > 0) {
    deadline = std::min(deadline, c.write_stall_since_ns + ns(m_limits.write_timeout_s));
  }
  if (c.partial_since_ns != 0 && !c.closing) {
    deadline = std::min(deadline, c.partial_since_ns + ns(m_limits.line_timeout_s));
  }
  if (!c.closing) {
    deadline = std::min(deadline, c.last_activity_ns + ns(m_limits.idle_timeout_s));
  }
  if (deadline == INT64_MAX) {
    c.timer->del();
    return;
  }
  int64_t wait = deadline - sys::monotonic_ns();
  c.timer->add(wait > 0 ? static_cast<double>(wait) / 1e9 + 0.001 : 0.0);
}

void CtlServer::on_timer(Conn& c) {
  int64_t now = sys::monotonic_ns();
  auto ns = [](double s) { return static_cast<int64_t>(s * 1e9); };
  if (c.pending() > 0 && now - c.write_stall_since_ns >= ns(m_limits.write_timeout_s)) {
    ++m_stats.dropped;
    log_debug("control: uid %u pid %d: no write progress for %g s: dropped", c.peer.caller.uid, c.peer.caller.pid,
              m_limits.write_timeout_s);
    close_conn(c);
    return;
  }
  if (!c.closing && c.partial_since_ns != 0 && now - c.partial_since_ns >= ns(m_limits.line_timeout_s)) {
    char msg[80];
    std::snprintf(msg, sizeof msg, "request line not completed within %g s", m_limits.line_timeout_s);
    fail_and_close(c, ctl::ErrCode::Timeout, msg);
    return;
  }
  if (!c.closing && now - c.last_activity_ns >= ns(m_limits.idle_timeout_s)) {
    char msg[80];
    std::snprintf(msg, sizeof msg, "idle for %g s", m_limits.idle_timeout_s);
    c.closing = true;
    c.reading = false;
    c.rd->del();
    queue(c, ctl::frame_error(++c.seq, ctl::ErrCode::Timeout, msg));
    if (!c.dead) {
      arm_timer(c);
    }
    return;
  }
  arm_timer(c);
}

void CtlServer::note_bad(const Conn& c, const std::string& why) {
  // Junk must not flood the log: one summary line per 10 s at most.
  ++m_bad_since_log;
  int64_t now = sys::monotonic_ns();
  if (m_last_bad_log_ns == 0 || now - m_last_bad_log_ns >= 10 * core::k_ns_per_s) {
    log_warn("control: %llu bad request(s); latest from uid %u pid %d: %s",
             static_cast<unsigned long long>(m_bad_since_log), c.peer.caller.uid, c.peer.caller.pid,
             ctl::sanitize_text(why).c_str());
    m_bad_since_log = 0;
    m_last_bad_log_ns = now;
  }
}

}  // namespace tr7::daemon
