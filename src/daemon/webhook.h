// The alert webhook: JSON bodies POSTed to an http:// URL with libevent's evhttp client,
// each signed with header `X-Tr7-Signature: sha256=<hex HMAC-SHA256 of the body>`.
//
// Never blocks the event loop (and so never the NTP service, whose threads do not wait
// for it anyway): name resolution through evdns, connect, send and receive are all
// asynchronous, with a timeout per attempt. One request is in flight at a time, so the
// receiver sees the transitions in order. The queue is bounded: when it is full the
// oldest message is dropped (counted, logged). A failed attempt (no connection, timeout,
// a status other than 2xx) is retried after 1, 2, 4, ... s (at most 60 s between two),
// k_max_attempts times in all, then dropped (counted, logged).
//
// The key is the secret file's bytes with trailing whitespace removed; the file must be
// a regular file that is not world-readable (read once at start, before any chroot).
#pragma once

#include <event2/dns.h>
#include <event2/http.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "core/result.h"
#include "daemon/config.h"
#include "sys/event.h"

namespace tr7::daemon {

// Reads the webhook key (see above); an error names what is wrong with the file.
Result<std::string, std::string> read_webhook_secret(const std::string& path);
// "sha256=<hex>": the X-Tr7-Signature header value for `body`.
std::string webhook_signature(const std::string& key, const std::string& body);

struct WebhookStats {
  uint64_t delivered = 0;        // 2xx answers
  uint64_t failed_attempts = 0;  // attempts that failed (each retry counts)
  uint64_t dropped = 0;          // messages given up (queue full, or attempts used up)
  uint64_t last_status = 0;      // HTTP status of the last answer (0: none)
};

class Webhook {
 public:
  static constexpr size_t k_max_queue = 64;
  static constexpr int k_max_attempts = 8;
  static constexpr double k_max_backoff_s = 60;

  // Creates its own resolver now (before any chroot: /etc/resolv.conf, /etc/hosts).
  Webhook(event_base* base, HttpUrl url, std::string key, double timeout_s);
  ~Webhook();
  Webhook(const Webhook&) = delete;
  Webhook& operator=(const Webhook&) = delete;

  void post(std::string body);
  const WebhookStats& stats() const { return m_stats; }
  size_t queued() const { return m_queue.size(); }
  const HttpUrl& url() const { return m_url; }

 private:
  struct Message {
    std::string body;
    int attempts = 0;
  };
  void pump();
  void send_front();
  void finished(int status);
  static void on_response(evhttp_request* req, void* arg);

  event_base* m_base;
  HttpUrl m_url;
  std::string m_key;
  double m_timeout_s;
  evdns_base* m_dns = nullptr;
  evhttp_connection* m_conn = nullptr;
  std::deque<Message> m_queue;
  bool m_in_flight = false;
  sys::Callback m_retry;
  WebhookStats m_stats;
  std::shared_ptr<bool> m_alive;
};

}  // namespace tr7::daemon
