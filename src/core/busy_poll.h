// The adaptive busy-poll window of a server thread (server_pool.h, `busy_poll`).
//
// No I/O: times are passed in. In the manner of the kernel's haltpoll governor: after a
// sleep that a window of at most max_ns would have spared (the next request arrived
// that soon after the previous batch was done), the window grows to cover such a gap
// next time; after a sleep that no allowed window would have spared, it halves (and
// ends below 2 us). So a thread polls only while requests come that densely, and stops
// by itself when they do not (between bursts, on an idle server) instead of burning
// its core.
#pragma once

#include <cstdint>

namespace tr7::core {

class BusyPollWindow {
 public:
  explicit BusyPollWindow(int64_t max_ns) : m_max_ns(max_ns < 0 ? 0 : max_ns) {}
  // How long to poll before the next sleep (0: sleep at once).
  int64_t window_ns() const { return m_window_ns; }
  // A batch was served. `slept`: the thread slept before it (its poll window, if any,
  // ran out); `first_rx_ns`: receive time of the batch's first request (0 if unknown);
  // `now_ns`: now, on the same clock. Gaps are measured from the end of one batch to
  // the arrival of the next one's first request, so the wake-up latency does not count.
  void on_batch(bool slept, int64_t first_rx_ns, int64_t now_ns);

  static constexpr int64_t k_min_window_ns = 2000;

 private:
  int64_t m_max_ns;
  int64_t m_window_ns = 0;
  int64_t m_idle_since_ns = 0;
};

}  // namespace tr7::core
