// The virtual clock (see virtual_clock.h).
#include "core/virtual_clock.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/leap.h"

namespace tr7::core {

double VirtualClock::correction_at(Timestamp raw) const {
  double dt = diff_s(raw, m_anchor);
  if (dt < 0) {
    dt = 0;  // the raw clock went back (an external step): keep the correction
  }
  double slewed = std::copysign(std::min(std::fabs(m_slew_left), k_slew_rate * dt), m_slew_left);
  double c = m_phase + m_freq * dt + slewed;
  return c + leap_part(raw, c);
}

double VirtualClock::leap_part(Timestamp raw, double base_corr) const {
  if (m_leap == Leap::Insert) {
    return add_s(raw, base_corr) >= m_leap_at ? -1.0 : 0.0;
  }
  if (m_leap == Leap::Delete) {
    return add_s(raw, base_corr) >= Timestamp{m_leap_at.ns - k_ns_per_s} ? 1.0 : 0.0;
  }
  return 0.0;
}

void VirtualClock::rebase(Timestamp raw) {
  double dt = std::max(0.0, diff_s(raw, m_anchor));
  double slewed = std::copysign(std::min(std::fabs(m_slew_left), k_slew_rate * dt), m_slew_left);
  m_phase += m_freq * dt + slewed;
  m_slew_left -= slewed;
  double lp = leap_part(raw, m_phase);
  if (lp != 0) {
    // The leap has happened: it becomes part of the phase.
    m_phase += lp;
    m_leap = Leap::None;
  }
  m_anchor = raw;
}

Result<void> VirtualClock::step(double delta_s) {
  if (!std::isfinite(delta_s) || std::fabs(delta_s) > k_max_step_s) {
    return unexpected(std::string("step out of range"));
  }
  rebase(m_raw_now(m_ctx));
  m_phase += delta_s;
  return {};
}

Result<void> VirtualClock::slew(double delta_s) {
  if (!std::isfinite(delta_s) || std::fabs(delta_s) > k_max_step_s) {
    return unexpected(std::string("slew out of range"));
  }
  rebase(m_raw_now(m_ctx));
  m_slew_left += delta_s;
  return {};
}

Result<void> VirtualClock::set_frequency(double ppm) {
  if (!std::isfinite(ppm) || std::fabs(ppm) > k_max_freq_ppm) {
    return unexpected(std::string("frequency out of range"));
  }
  rebase(m_raw_now(m_ctx));
  m_freq = ppm * 1e-6;
  return {};
}

Result<void> VirtualClock::set_leap(Leap leap) {
  Timestamp raw = m_raw_now(m_ctx);
  rebase(raw);  // an applied leap is folded in first
  if (leap == Leap::Insert || leap == Leap::Delete) {
    m_leap = leap;
    m_leap_at = next_midnight(add_s(raw, m_phase));
  } else {
    m_leap = Leap::None;
  }
  return {};
}

}  // namespace tr7::core
