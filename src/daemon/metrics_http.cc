// /metrics over HTTP (see metrics_http.h).
#include "daemon/metrics_http.h"

#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

struct MetricsHttp::Conn {
  uint64_t id = 0;
  sys::Fd fd;
  std::string in;
  std::string out;
  size_t out_off = 0;
  bool writing = false;  // a reply is queued: no more reading
  bool dead = false;
  int64_t since_ns = 0;
  std::unique_ptr<sys::Callback> rd, wr, timer;
};

MetricsHttp::MetricsHttp(event_base* base, const core::SockAddr& addr, Render render)
    : MetricsHttp(base, addr, std::move(render), Limits{}) {}

MetricsHttp::MetricsHttp(event_base* base, const core::SockAddr& addr, Render render, Limits limits)
    : m_base(base), m_addr(addr), m_render(std::move(render)), m_limits(limits) {
  sockaddr_storage ss{};
  unsigned len = addr.to_sockaddr(ss);
  m_listen.reset(socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!m_listen.valid()) {
    throw std::runtime_error(std::string("metrics listener: socket: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(m_listen.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) {
    setsockopt(m_listen.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(m_listen.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(m_listen.get(), 64) != 0) {
    throw std::runtime_error("metrics listener: cannot listen on " + addr.to_string() + ": " + std::strerror(errno));
  }
  m_accept_ev = std::make_unique<sys::Callback>(m_base, m_listen.get(), EV_READ | EV_PERSIST,
                                                [this](evutil_socket_t, short) { on_accept(); });
  m_resume = std::make_unique<sys::Callback>(m_base, -1, 0, [this](evutil_socket_t, short) {
    if (!m_accepting && m_conns.size() < m_limits.max_connections) {
      m_accepting = true;
      m_accept_ev->add();
    }
  });
  m_reaper = std::make_unique<sys::Callback>(m_base, -1, 0, [this](evutil_socket_t, short) { m_dead.clear(); });
  m_accepting = true;
  m_accept_ev->add();
}

MetricsHttp::~MetricsHttp() {
  m_conns.clear();
  m_dead.clear();
}

void MetricsHttp::note(const char* what) {
  // At most one line per 10 s, whatever a flood does.
  ++m_noted_events;
  int64_t now = sys::monotonic_ns();
  if (m_last_note_ns != 0 && now - m_last_note_ns < 10 * core::k_ns_per_s) {
    return;
  }
  log_warn("metrics listener %s: %s (%llu such events; accepted=%llu evicted=%llu timeouts=%llu accept_errors=%llu)",
           m_addr.to_string().c_str(), what, static_cast<unsigned long long>(m_noted_events),
           static_cast<unsigned long long>(m_stats.accepted), static_cast<unsigned long long>(m_stats.evicted),
           static_cast<unsigned long long>(m_stats.timeouts), static_cast<unsigned long long>(m_stats.accept_errors));
  m_last_note_ns = now;
  m_noted_events = 0;
}

void MetricsHttp::pause_accept(double seconds) {
  if (m_accepting) {
    m_accepting = false;
    m_accept_ev->del();
    ++m_stats.accept_paused;
  }
  if (seconds >= 0) {
    m_resume->add(seconds);
  }
}

bool MetricsHttp::evict_one() {
  // The oldest connection still waiting for its request: a slow or silent client.
  Conn* victim = nullptr;
  for (const auto& [id, c] : m_conns) {
    if (!c->writing && !c->dead && (!victim || c->since_ns < victim->since_ns)) {
      victim = c.get();
    }
  }
  if (!victim) {
    return false;
  }
  ++m_stats.evicted;
  close_conn(*victim);
  return true;
}

void MetricsHttp::on_accept() {
  for (int i = 0; i < 64; ++i) {
    if (m_conns.size() >= m_limits.max_connections && !evict_one()) {
      // Every connection is writing a reply: wait for one to end (close_conn resumes).
      pause_accept(-1);
      note("connection limit reached, accept paused");
      return;
    }
    int fd = accept4(m_listen.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) {
        return;
      }
      // Out of descriptors or memory: the listening socket stays readable, so accept()
      // would fail again at once; it is paused instead.
      ++m_stats.accept_errors;
      pause_accept(1.0);
      note(std::strerror(err));
      return;
    }
    ++m_stats.accepted;
    auto c = std::make_unique<Conn>();
    Conn* cp = c.get();
    c->id = m_next_id++;
    c->fd.reset(fd);
    c->since_ns = sys::monotonic_ns();
    c->rd = std::make_unique<sys::Callback>(m_base, fd, EV_READ | EV_PERSIST,
                                            [this, cp](evutil_socket_t, short) { on_readable(*cp); });
    c->wr = std::make_unique<sys::Callback>(m_base, fd, EV_WRITE | EV_PERSIST,
                                            [this, cp](evutil_socket_t, short) { on_writable(*cp); });
    c->timer = std::make_unique<sys::Callback>(m_base, -1, 0, [this, cp](evutil_socket_t, short) { on_timeout(*cp); });
    m_conns.emplace(c->id, std::move(c));
    cp->rd->add();
    cp->timer->add(m_limits.timeout_s);
  }
}

void MetricsHttp::close_conn(Conn& c) {
  if (c.dead) {
    return;
  }
  c.dead = true;
  c.rd->del();
  c.wr->del();
  c.timer->del();
  c.fd.reset();
  auto it = m_conns.find(c.id);
  if (it != m_conns.end()) {
    m_dead.push_back(std::move(it->second));  // freed after the running callback
    m_conns.erase(it);
  }
  m_reaper->add(0.0);
  if (!m_accepting && !m_resume->pending()) {
    m_resume->add(0.0);  // paused at the connection limit: room again
  }
}

void MetricsHttp::on_timeout(Conn& c) {
  ++m_stats.timeouts;
  close_conn(c);
}

void MetricsHttp::on_readable(Conn& c) {
  char buf[4096];
  ssize_t n = recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      close_conn(c);
    }
    return;
  }
  if (n == 0) {
    close_conn(c);  // closed before a whole request
    return;
  }
  c.in.append(buf, static_cast<size_t>(n));
  size_t end = c.in.find("\r\n\r\n");
  size_t end_lf = c.in.find("\n\n");
  size_t head_end = std::min(end == std::string::npos ? std::string::npos : end + 4,
                             end_lf == std::string::npos ? std::string::npos : end_lf + 2);
  if (head_end == std::string::npos) {
    if (c.in.size() > m_limits.max_head_bytes) {
      ++m_stats.errors;
      reply(c, 431, "Request Header Fields Too Large", "text/plain", "request head too large\n", false);
    }
    return;
  }
  if (head_end > m_limits.max_head_bytes) {
    ++m_stats.errors;
    reply(c, 431, "Request Header Fields Too Large", "text/plain", "request head too large\n", false);
    return;
  }
  handle(c, c.in.substr(0, head_end));
}

namespace {

// The value of header `name` (case-insensitive), "" if absent.
std::string header_value(std::string_view head, std::string_view name) {
  size_t pos = head.find('\n');
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    size_t start = pos + 1;
    size_t eol = head.find('\n', start);
    std::string_view line = head.substr(start, eol == std::string_view::npos ? std::string_view::npos : eol - start);
    if (line.size() > name.size() && line[name.size()] == ':' &&
        strncasecmp(line.data(), name.data(), name.size()) == 0) {
      std::string_view v = line.substr(name.size() + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
        v.remove_prefix(1);
      }
      while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) {
        v.remove_suffix(1);
      }
      return std::string(v);
    }
    pos = eol;
  }
  return {};
}

}  // namespace

void MetricsHttp::handle(Conn& c, const std::string& head) {
  // Request line: METHOD SP TARGET SP HTTP/1.x
  size_t eol = head.find('\n');
  std::string_view line(head.data(), eol == std::string::npos ? head.size() : eol);
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? std::string_view::npos : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.substr(sp2 + 1).substr(0, 7) != "HTTP/1.") {
    ++m_stats.errors;
    reply(c, 400, "Bad Request", "text/plain", "bad request\n", false);
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  bool is_head = method == "HEAD";
  if (method != "GET" && !is_head) {
    ++m_stats.errors;
    reply(c, 405, "Method Not Allowed", "text/plain", "only GET and HEAD\n", false, "Allow: GET, HEAD");
    return;
  }
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/metrics") {
    ++m_stats.errors;
    reply(c, 404, "Not Found", "text/plain", "only /metrics is served here\n", is_head);
    return;
  }
  std::string accept = header_value(head, "Accept");
  ctl::MetricsFormat f = accept.find("application/openmetrics-text") != std::string::npos
                             ? ctl::MetricsFormat::OpenMetrics
                             : ctl::MetricsFormat::Prometheus;
  ++m_stats.requests;
  reply(c, 200, "OK", ctl::content_type(f), m_render(f), is_head);
}

void MetricsHttp::reply(Conn& c, int status, const char* reason, const char* content_type, const std::string& body,
                        bool head, const char* extra_header) {
  c.writing = true;
  c.rd->del();
  c.out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + content_type +
          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (extra_header) {
    c.out += std::string(extra_header) + "\r\n";
  }
  c.out += "\r\n";
  if (!head) {
    c.out += body;
  }
  c.out_off = 0;
  flush(c);
}

void MetricsHttp::flush(Conn& c) {
  while (!c.dead && c.out_off < c.out.size()) {
    ssize_t n = send(c.fd.get(), c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!c.wr->pending()) {
        c.wr->add();
      }
      return;  // the timer still bounds the whole exchange
    }
    close_conn(c);
    return;
  }
  if (!c.dead) {
    shutdown(c.fd.get(), SHUT_WR);
    close_conn(c);
  }
}

void MetricsHttp::on_writable(Conn& c) { flush(c); }

}  // namespace tr7::daemon
