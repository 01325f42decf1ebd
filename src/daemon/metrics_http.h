// The optional HTTP listener for /metrics ([metrics] listen): a minimal HTTP/1.x
// server on the event loop, one request per connection.
//
// GET (or HEAD) /metrics only; any other path is 404, any other method 405. The answer
// is OpenMetrics when the request's Accept header asks for
// application/openmetrics-text, Prometheus text 0.0.4 otherwise; every reply says
// "Connection: close" and the connection is closed once it is written.
//
// Limits (Limits): the request head (request line and headers) within 8 KiB (else 431)
// and within 5 s of the connection (else it is closed); at most 32 connections. A 33rd
// connection takes the place of the oldest one still waiting for its request (a slow
// or silent client); when all are writing replies, accept() pauses until one ends, so the
// listening socket never keeps the loop spinning. Running out of descriptors (EMFILE,
// ENFILE) pauses accept() for a second. None of this is logged per connection: one
// summary line at most every 10 s (a flood must not flood the log; issue 19 item 1).
// The socket is bound in the constructor (before any privilege drop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "ctl/metrics.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

class MetricsHttp {
 public:
  using Render = std::function<std::string(ctl::MetricsFormat)>;
  struct Limits {
    size_t max_connections = 32;
    size_t max_head_bytes = 8192;
    double timeout_s = 5.0;
  };
  struct Stats {
    uint64_t accepted = 0;
    uint64_t requests = 0;       // answered with 200
    uint64_t errors = 0;         // answered 400/404/405/431
    uint64_t timeouts = 0;       // closed: no complete request in time
    uint64_t evicted = 0;        // closed to make room for a new connection
    uint64_t accept_errors = 0;  // accept() failed (out of descriptors, ...)
    uint64_t accept_paused = 0;  // times accept() was paused (cap reached or error)
  };
  // Throws std::runtime_error when the address cannot be bound.
  MetricsHttp(event_base* base, const core::SockAddr& addr, Render render);
  MetricsHttp(event_base* base, const core::SockAddr& addr, Render render, Limits limits);
  ~MetricsHttp();
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;
  const core::SockAddr& address() const { return m_addr; }
  uint64_t requests() const { return m_stats.requests; }
  const Stats& stats() const { return m_stats; }
  size_t connections() const { return m_conns.size(); }

 private:
  struct Conn;
  void on_accept();
  void pause_accept(double seconds);
  void on_readable(Conn& c);
  void on_writable(Conn& c);
  void on_timeout(Conn& c);
  void handle(Conn& c, const std::string& head);
  void reply(Conn& c, int status, const char* reason, const char* content_type, const std::string& body, bool head,
             const char* extra_header = nullptr);
  void flush(Conn& c);
  void close_conn(Conn& c);
  bool evict_one();
  void note(const char* what);

  event_base* m_base;
  core::SockAddr m_addr;
  Render m_render;
  Limits m_limits;
  sys::Fd m_listen;
  std::unique_ptr<sys::Callback> m_accept_ev;
  std::unique_ptr<sys::Callback> m_resume;  // re-enables accept() after a pause
  std::unique_ptr<sys::Callback> m_reaper;
  bool m_accepting = false;
  std::map<uint64_t, std::unique_ptr<Conn>> m_conns;
  std::vector<std::unique_ptr<Conn>> m_dead;
  uint64_t m_next_id = 1;
  Stats m_stats;
  int64_t m_last_note_ns = 0;
  uint64_t m_noted_events = 0;
};

}  // namespace tr7::daemon
