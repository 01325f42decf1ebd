#include "sys/event.h"

#include <cmath>
#include <stdexcept>

namespace tr7::sys {

namespace {
void default_error(const char*) noexcept {}
}  // namespace

void (*g_callback_error)(const char* what) noexcept = default_error;

Callback::Callback(event_base* base, evutil_socket_t fd, short what, Fn fn) : m_fn(std::move(fn)) {
  m_ev.reset(event_new(base, fd, what, &Callback::trampoline, this));
  if (!m_ev) {
    throw std::runtime_error("event_new failed");
  }
}

void Callback::add(double timeout_s) {
  if (timeout_s < 0) {
    event_add(m_ev.get(), nullptr);
    return;
  }
  timeval tv{};
  double whole = std::floor(timeout_s);
  tv.tv_sec = static_cast<time_t>(whole);
  tv.tv_usec = static_cast<suseconds_t>((timeout_s - whole) * 1e6);
  event_add(m_ev.get(), &tv);
}

void Callback::del() {
  if (m_ev) {
    event_del(m_ev.get());
  }
}

bool Callback::pending() const {
  return m_ev && event_pending(m_ev.get(), EV_READ | EV_WRITE | EV_TIMEOUT | EV_SIGNAL, nullptr);
}

void Callback::trampoline(evutil_socket_t fd, short what, void* arg) noexcept {
  auto* self = static_cast<Callback*>(arg);
  try {
    self->m_fn(fd, what);
  } catch (const std::exception& e) {
    g_callback_error(e.what());
  } catch (...) {
    g_callback_error("unknown exception");
  }
}

}  // namespace tr7::sys
