// tr7ntpc's blocking control-socket client (see client.h).
#include "tools/tr7ntpc/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tr7::tools {

namespace {

double mono_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

Result<void, ClientError> CtlClient::connect(const std::string& path, double timeout_s) {
  m_timeout_s = timeout_s;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) {
    return unexpected(ClientError{true, "socket path too long: " + path});
  }
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  m_fd.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!m_fd.valid()) {
    return unexpected(ClientError{true, std::string("socket: ") + std::strerror(errno)});
  }
  if (::connect(m_fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int e = errno;
    struct stat st {};
    if (e == ECONNREFUSED && stat(path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      return unexpected(ClientError{true, "cannot connect to " + path + ": not a socket"});
    }
    if (e == ECONNREFUSED || e == ENOENT) {
      return unexpected(ClientError{true,
                                    "tr7ntpd is not running (" + path +
                                        (e == ENOENT ? " does not exist)" : ": nothing listens on it, a stale socket)"),
                                    true});
    }
    return unexpected(ClientError{true, "cannot connect to " + path + ": " + std::strerror(e)});
  }
  auto g = read_line();
  if (!g) {
    return unexpected(g.error());
  }
  auto v = ctl::parse_greeting(*g);
  if (!v) {
    // A busy daemon greets, then refuses: show its reason.
    return unexpected(ClientError{true, path + ": " + v.error()});
  }
  if (*v != ctl::k_protocol_version) {
    return unexpected(ClientError{true, "unsupported protocol version " + std::to_string(*v)});
  }
  m_server = *g;
  return {};
}

Result<std::string, ClientError> CtlClient::read_line() {
  double deadline = mono_s() + m_timeout_s;
  while (true) {
    size_t nl = m_buf.find('\n');
    if (nl != std::string::npos) {
      std::string line = m_buf.substr(0, nl);
      m_buf.erase(0, nl + 1);
      return line;
    }
    if (m_buf.size() > ctl::k_max_reply_line) {
      return unexpected(ClientError{true, "reply line too long"});
    }
    double left = deadline - mono_s();
    if (left <= 0) {
      return unexpected(ClientError{true, "no answer from the daemon within " + std::to_string(m_timeout_s) + " s"});
    }
    pollfd p{m_fd.get(), POLLIN, 0};
    int rc = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc <= 0) {
      continue;  // the deadline check above ends it
    }
    char buf[65536];
    ssize_t n = recv(m_fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return unexpected(ClientError{true, n == 0 ? "the daemon closed the connection" : std::strerror(errno)});
    }
    m_buf.append(buf, static_cast<size_t>(n));
  }
}

Result<ctl::Reply, ClientError> CtlClient::call(const std::string& line) {
  std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = send(m_fd.get(), out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return unexpected(ClientError{true, std::string("send: ") + std::strerror(errno)});
    }
    done += static_cast<size_t>(n);
  }
  ctl::ReplyReader rr;
  while (true) {
    auto l = read_line();
    if (!l) {
      return unexpected(l.error());
    }
    auto r = rr.feed_line(*l);
    if (!r) {
      return unexpected(ClientError{true, r.error().text});
    }
    if (r->has_value()) {
      return std::move(**r);
    }
  }
}

}  // namespace tr7::tools
