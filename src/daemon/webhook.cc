// The alert webhook (see webhook.h).
#include "daemon/webhook.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/digest.h"
#include "daemon/log.h"
#include "sys/fd.h"

namespace tr7::daemon {

Result<std::string, std::string> read_webhook_secret(const std::string& path) {
  sys::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return unexpected("webhook_secret_file " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return unexpected("webhook_secret_file " + path + ": not a regular file");
  }
  if (st.st_mode & S_IROTH) {
    return unexpected("webhook_secret_file " + path + " is world-readable (chmod o-r it)");
  }
  std::string key(4097, '\0');
  ssize_t n = read(fd.get(), key.data(), key.size());
  if (n < 0) {
    return unexpected("webhook_secret_file " + path + ": " + std::strerror(errno));
  }
  if (n > 4096) {
    return unexpected("webhook_secret_file " + path + ": longer than 4096 bytes");
  }
  key.resize(static_cast<size_t>(n));
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) {
    key.pop_back();
  }
  if (key.empty()) {
    return unexpected("webhook_secret_file " + path + " is empty");
  }
  return key;
}

std::string webhook_signature(const std::string& key, const std::string& body) {
  return "sha256=" + core::to_hex(core::hmac_sha256(key, body));
}

Webhook::Webhook(event_base* base, HttpUrl url, std::string key, double timeout_s)
    : m_base(base),
      m_url(std::move(url)),
      m_key(std::move(key)),
      m_timeout_s(timeout_s),
      m_retry(base, -1, 0, [this](evutil_socket_t, short) { pump(); }),
      m_alive(std::make_shared<bool>(true)) {
  if (!core::parse_ip(m_url.host)) {
    m_dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (m_dns == nullptr) {
      m_dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
      if (m_dns != nullptr) {
        evdns_base_load_hosts(m_dns, nullptr);
      }
    }
  }
}

Webhook::~Webhook() {
  *m_alive = false;
  if (m_conn != nullptr) {
    evhttp_connection_free(m_conn);  // a request in flight is cancelled
  }
  if (m_dns != nullptr) {
    evdns_base_free(m_dns, 0);
  }
  if (!m_queue.empty()) {
    log_warn("alert webhook: %zu message(s) not delivered at exit", m_queue.size());
  }
}

void Webhook::post(std::string body) {
  if (m_queue.size() >= k_max_queue) {
    // The oldest waiting one goes (not the one in flight).
    m_queue.erase(m_in_flight ? m_queue.begin() + 1 : m_queue.begin());
    ++m_stats.dropped;
    log_warn("alert webhook: queue full (%zu): the oldest message dropped", k_max_queue);
  }
  m_queue.push_back(Message{std::move(body), 0});
  pump();
}

void Webhook::pump() {
  if (m_in_flight || m_queue.empty() || m_retry.pending()) {
    return;
  }
  send_front();
}

void Webhook::send_front() {
  if (m_conn == nullptr) {
    m_conn = evhttp_connection_base_new(m_base, m_dns, m_url.host.c_str(), m_url.port);
    if (m_conn == nullptr) {
      log_err("alert webhook: cannot create a connection to %s", m_url.text.c_str());
      finished(0);
      return;
    }
    evhttp_connection_set_retries(m_conn, 0);  // the retries are ours, with backoff
    timeval tv{static_cast<time_t>(m_timeout_s), static_cast<suseconds_t>(std::fmod(m_timeout_s, 1.0) * 1e6)};
    evhttp_connection_set_timeout_tv(m_conn, &tv);
  }
  Message& m = m_queue.front();
  ++m.attempts;
  struct Ctx {
    Webhook* self;
    std::shared_ptr<bool> alive;
  };
  auto* ctx = new Ctx{this, m_alive};
  evhttp_request* req = evhttp_request_new(
      [](evhttp_request* r, void* arg) {
        std::unique_ptr<Ctx> c(static_cast<Ctx*>(arg));
        if (!*c->alive) {
          return;
        }
        try {
          c->self->finished(r != nullptr ? evhttp_request_get_response_code(r) : 0);
        } catch (const std::exception& e) {
          log_err("alert webhook: %s", e.what());
        }
      },
      ctx);
  if (req == nullptr) {
    delete ctx;
    finished(0);
    return;
  }
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  std::string host = m_url.host.find(':') != std::string::npos ? "[" + m_url.host + "]" : m_url.host;
  if (m_url.port != 80) {
    host += ":" + std::to_string(m_url.port);
  }
  evhttp_add_header(h, "Host", host.c_str());
  evhttp_add_header(h, "Content-Type", "application/json");
  evhttp_add_header(h, "User-Agent", "tr7ntpd");
  evhttp_add_header(h, "X-Tr7-Signature", webhook_signature(m_key, m.body).c_str());
  evbuffer_add(evhttp_request_get_output_buffer(req), m.body.data(), m.body.size());
  m_in_flight = true;
  if (evhttp_make_request(m_conn, req, EVHTTP_REQ_POST, m_url.path.c_str()) != 0) {
    // libevent has freed the request without calling back: ctx is left (a few bytes,
    // on a failure that does not happen with a valid connection).
    finished(0);
  }
}

void Webhook::finished(int status) {
  m_in_flight = false;
  m_stats.last_status = static_cast<uint64_t>(std::max(status, 0));
  if (m_queue.empty()) {
    return;
  }
  Message& m = m_queue.front();
  if (status >= 200 && status < 300) {
    ++m_stats.delivered;
    m_queue.pop_front();
    pump();
    return;
  }
  ++m_stats.failed_attempts;
  if (m.attempts >= k_max_attempts) {
    ++m_stats.dropped;
    log_warn("alert webhook %s: giving up a message after %d attempts (last: %s)", m_url.text.c_str(), m.attempts,
             status > 0 ? ("HTTP " + std::to_string(status)).c_str() : "no answer");
    m_queue.pop_front();
    pump();
    return;
  }
  double backoff = std::min(k_max_backoff_s, std::pow(2.0, m.attempts - 1));
  log_warn("alert webhook %s: attempt %d failed (%s); retry in %.0f s", m_url.text.c_str(), m.attempts,
           status > 0 ? ("HTTP " + std::to_string(status)).c_str() : "no answer", backoff);
  // The same connection object: evhttp connects again for the next request (it must not
  // be freed here, inside its own callback).
  m_retry.add(backoff);
}

}  // namespace tr7::daemon
