// tr7top: the connection to the daemon's control socket, never blocking.
//
// Thin I/O around Conversation (snapshot.h): a non-blocking Unix stream socket, driven
// by the caller's poll() loop. A refresh that is not answered within the timeout closes
// the connection and is reported as a failure (a stopped or overloaded daemon must not
// freeze the dashboard); the next refresh connects afresh. A connection the daemon
// closes between refreshes (restart, idle timeout) is reopened on the next refresh,
// and the Connected event then says it was a reconnection.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "sys/fd.h"
#include "tools/tr7top/snapshot.h"

namespace tr7::top {

struct ClientEvent {
  enum class Kind : uint8_t { Connected, Snapshot, Failure } kind;
  std::string text;          // Connected: the daemon's version; Failure: why
  bool reconnected = false;  // Connected: the previous connection was closed by the daemon
  Snapshot snapshot;
};

class Client {
 public:
  Client(std::string path, double timeout_s) : m_path(std::move(path)), m_timeout_s(timeout_s) {}

  // Starts a refresh (connecting first if needed). Does nothing while one is running.
  void refresh(int64_t now_ns);
  bool busy() const { return m_conn.valid() && m_conv.busy(); }
  // For poll(): the socket (-1 when closed) and the events to wait for.
  int fd() const { return m_conn.get(); }
  short poll_events() const;
  // The socket is ready (revents from poll()).
  void on_ready(short revents, int64_t now_ns);
  // When the running refresh times out (0: none running).
  int64_t deadline_ns() const { return busy() ? m_deadline_ns : 0; }
  // Call when now >= deadline_ns(): fails the refresh and closes the connection.
  void on_timeout(int64_t now_ns);
  void close() { m_conn.reset(); }

  std::vector<ClientEvent> take_events() { return std::exchange(m_events, {}); }

 private:
  void fail(const std::string& why);
  void do_write();
  void do_read();

  std::string m_path;
  double m_timeout_s;
  sys::Fd m_conn;
  Conversation m_conv;
  std::string m_out;
  int64_t m_deadline_ns = 0;
  bool m_closed_by_peer = false;  // the last connection ended by the daemon's close
  std::vector<ClientEvent> m_events;
};

}  // namespace tr7::top
