// The control socket connection (see client.h).
#include "tools/tr7top/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tr7::top {

short Client::poll_events() const {
  if (!m_conn.valid()) {
    return 0;
  }
  return static_cast<short>(POLLIN | (m_out.empty() ? 0 : POLLOUT));
}

void Client::fail(const std::string& why) {
  m_conn.reset();
  m_out.clear();
  m_closed_by_peer = false;
  m_events.push_back(ClientEvent{ClientEvent::Kind::Failure, why, false, {}});
}

void Client::refresh(int64_t now_ns) {
  if (busy()) {
    return;  // the previous refresh is still running; its deadline decides
  }
  if (!m_conn.valid()) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (m_path.size() >= sizeof sa.sun_path) {
      fail("socket path too long: " + m_path);
      return;
    }
    std::memcpy(sa.sun_path, m_path.c_str(), m_path.size() + 1);
    sys::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      fail(std::string("socket: ") + std::strerror(errno));
      return;
    }
    // A Unix stream connect completes at once or fails (EAGAIN: the listen queue is
    // full, as with a stopped daemon that many clients keep trying).
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
      int e = errno;
      fail("cannot connect to " + m_path + ": " +
           (e == EAGAIN ? std::string("the daemon does not accept connections") : std::strerror(e)));
      return;
    }
    m_conn = std::move(fd);
    m_conv = Conversation{};
    m_out.clear();
  }
  m_out += m_conv.start_cycle();
  m_deadline_ns = now_ns + static_cast<int64_t>(m_timeout_s * 1e9);
  do_write();
}

void Client::do_write() {
  while (m_conn.valid() && !m_out.empty()) {
    ssize_t n = ::send(m_conn.get(), m_out.data(), m_out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      m_out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;  // poll for POLLOUT
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    fail(std::string("connection lost: ") + (n < 0 ? std::strerror(errno) : "send failed"));
    return;
  }
}

void Client::do_read() {
  char buf[65536];
  for (int rounds = 0; rounds < 64 && m_conn.valid(); ++rounds) {
    ssize_t n = ::recv(m_conn.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    if (n <= 0) {
      if (n < 0) {
        fail(std::string("connection lost: ") + std::strerror(errno));
      } else if (m_conv.busy() || !m_conv.greeted()) {
        fail("the daemon closed the connection");
      } else {
        // Closed between refreshes (idle timeout, or the daemon went away): the next
        // refresh reconnects, or reports why it cannot.
        m_conn.reset();
        m_out.clear();
        m_closed_by_peer = true;
      }
      return;
    }
    for (auto& e : m_conv.feed(std::string_view(buf, static_cast<size_t>(n)))) {
      switch (e.kind) {
        case Conversation::Event::Kind::Greeting:
          m_events.push_back(ClientEvent{ClientEvent::Kind::Connected, e.text, m_closed_by_peer, {}});
          m_closed_by_peer = false;
          break;
        case Conversation::Event::Kind::Snapshot:
          m_events.push_back(ClientEvent{ClientEvent::Kind::Snapshot, {}, false, std::move(e.snapshot)});
          break;
        case Conversation::Event::Kind::Fatal:
          fail(e.text);
          return;
      }
    }
  }
}

void Client::on_ready(short revents, int64_t now_ns) {
  (void)now_ns;
  if (!m_conn.valid()) {
    return;
  }
  if (revents & POLLOUT) {
    do_write();
  }
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    do_read();
  }
}

void Client::on_timeout(int64_t now_ns) {
  if (busy() && now_ns >= m_deadline_ns) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "no reply within %gs", m_timeout_s);
    fail(buf);
  }
}

}  // namespace tr7::top
