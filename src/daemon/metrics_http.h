// The optional HTTP listener for /metrics ([metrics] listen), with libevent's evhttp.
//
// GET (or HEAD) /metrics only; everything else is 404/405. The answer is OpenMetrics
// when the request's Accept header asks for application/openmetrics-text, Prometheus
// text 0.0.4 otherwise. Limits: 8 KiB of headers, no body, 5 s per connection. The
// socket is bound in the constructor (before any privilege drop).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/netaddr.h"
#include "ctl/metrics.h"
#include "sys/event.h"

struct evhttp;
struct evhttp_request;

namespace tr7::daemon {

class MetricsHttp {
 public:
  using Render = std::function<std::string(ctl::MetricsFormat)>;
  // Throws std::runtime_error when the address cannot be bound.
  MetricsHttp(event_base* base, const core::SockAddr& addr, Render render);
  ~MetricsHttp();
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;
  const core::SockAddr& address() const { return m_addr; }
  uint64_t requests() const { return m_requests; }

 private:
  static void on_request(evhttp_request* req, void* arg) noexcept;
  void handle(evhttp_request* req);
  core::SockAddr m_addr;
  Render m_render;
  evhttp* m_http = nullptr;
  uint64_t m_requests = 0;
};

}  // namespace tr7::daemon
