// /metrics over HTTP (see metrics_http.h).
#include "daemon/metrics_http.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "daemon/log.h"
#include "sys/fd.h"

namespace tr7::daemon {

MetricsHttp::MetricsHttp(event_base* base, const core::SockAddr& addr, Render render)
    : m_addr(addr), m_render(std::move(render)) {
  sockaddr_storage ss{};
  unsigned len = addr.to_sockaddr(ss);
  sys::Fd fd(socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    throw std::runtime_error(std::string("metrics listener: socket: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd.get(), 16) != 0) {
    throw std::runtime_error("metrics listener: cannot listen on " + addr.to_string() + ": " + std::strerror(errno));
  }
  m_http = evhttp_new(base);
  if (!m_http) {
    throw std::runtime_error("evhttp_new failed");
  }
  evhttp_set_max_headers_size(m_http, 8192);
  evhttp_set_max_body_size(m_http, 0);
  evhttp_set_timeout(m_http, 5);
  evhttp_set_allowed_methods(m_http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_gencb(m_http, &MetricsHttp::on_request, this);
  if (!evhttp_accept_socket_with_handle(m_http, fd.get())) {
    evhttp_free(m_http);
    m_http = nullptr;
    throw std::runtime_error("metrics listener: evhttp_accept_socket failed");
  }
  fd.release();  // owned by evhttp now (closed by evhttp_free)
}

MetricsHttp::~MetricsHttp() {
  if (m_http) {
    evhttp_free(m_http);
  }
}

void MetricsHttp::on_request(evhttp_request* req, void* arg) noexcept {
  try {
    static_cast<MetricsHttp*>(arg)->handle(req);
  } catch (const std::exception& e) {
    log_err("metrics request failed: %s", e.what());
    evhttp_send_error(req, HTTP_INTERNAL, nullptr);
  }
}

void MetricsHttp::handle(evhttp_request* req) {
  ++m_requests;
  const char* uri = evhttp_request_get_uri(req);
  const evhttp_uri* parsed = evhttp_request_get_evhttp_uri(req);
  const char* path = parsed ? evhttp_uri_get_path(parsed) : nullptr;
  if (!uri || !path || std::strcmp(path, "/metrics") != 0) {
    evhttp_send_error(req, HTTP_NOTFOUND, "only /metrics is served here");
    return;
  }
  const char* accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
  ctl::MetricsFormat f = accept && std::strstr(accept, "application/openmetrics-text") ? ctl::MetricsFormat::OpenMetrics
                                                                                       : ctl::MetricsFormat::Prometheus;
  std::string body = m_render(f);
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", ctl::content_type(f));
  evhttp_add_header(out, "Cache-Control", "no-store");
  evbuffer* buf = evbuffer_new();
  if (!buf) {
    evhttp_send_error(req, HTTP_INTERNAL, nullptr);
    return;
  }
  evbuffer_add(buf, body.data(), body.size());
  evhttp_send_reply(req, HTTP_OK, "OK", buf);
  evbuffer_free(buf);
}

}  // namespace tr7::daemon
