// RAII for libevent handles, and the noexcept trampoline every callback goes through:
// exceptions must never unwind through libevent's C frames (STYLE.md §4).
#pragma once

#include <event2/event.h>

#include <exception>
#include <functional>
#include <memory>

#include "sys/fd.h"

namespace tr7::sys {

using EventBase = std::unique_ptr<event_base, CFree<event_base_free>>;
using Event = std::unique_ptr<event, CFree<event_free>>;

// Reports an exception escaping a callback; set by the daemon to its logger.
extern void (*g_callback_error)(const char* what) noexcept;

// An event whose callback is a std::function, owned together with the event.
class Callback {
 public:
  using Fn = std::function<void(evutil_socket_t, short)>;
  Callback() = default;
  Callback(event_base* base, evutil_socket_t fd, short what, Fn fn);
  Callback(Callback&&) = delete;
  Callback& operator=(Callback&&) = delete;
  ~Callback() = default;

  event* get() const { return m_ev.get(); }
  // Arms the event; timeout_s < 0 means no timeout.
  void add(double timeout_s = -1.0);
  void del();
  bool pending() const;

 private:
  static void trampoline(evutil_socket_t fd, short what, void* arg) noexcept;
  Fn m_fn;
  Event m_ev;
};

}  // namespace tr7::sys
