#include "core/busy_poll.h"

#include <algorithm>

namespace tr7::core {

void BusyPollWindow::on_batch(bool slept, int64_t first_rx_ns, int64_t now_ns) {
  if (m_max_ns == 0) {
    return;
  }
  if (slept && m_idle_since_ns != 0 && first_rx_ns != 0) {
    int64_t gap = first_rx_ns - m_idle_since_ns;
    if (gap >= 0 && gap <= m_max_ns) {
      // A poll this long would have caught it: cover such a gap (with a margin) next time.
      int64_t want = gap + gap / 4 + k_min_window_ns;
      m_window_ns = std::min(m_max_ns, std::max(want, 2 * m_window_ns));
    } else {
      m_window_ns /= 2;
      if (m_window_ns < k_min_window_ns) {
        m_window_ns = 0;
      }
    }
  }
  m_idle_since_ns = now_ns;
}

}  // namespace tr7::core
