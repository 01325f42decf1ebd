#include "core/reference.h"

#include <cmath>

namespace tr7::core {

double ReferenceState::root_dispersion_at(Timestamp now) const {
  double age = diff_s(now, reference_time);
  double slew_left = diff_s(slew_end, now);
  return root_dispersion_s + (age > 0 ? age * k_phi : 0.0) +
         (slew_left > 0 ? std::fabs(slew_rate_s_per_s) * slew_left : 0.0);
}

ReferenceState served_reference(const ReferenceState& r, Timestamp now) {
  ReferenceState s = r;
  if (s.local) {
    s.reference_time = now;
  }
  return s;
}

ReferenceState unsynchronised_reference() { return ReferenceState{}; }

ReferenceState local_reference(uint8_t stratum, Timestamp now, double precision_s) {
  ReferenceState r;
  r.synchronised = true;
  r.leap = Leap::None;
  r.stratum = stratum;
  r.refid = k_refid_local;
  r.reference_time = now;
  r.root_delay_s = 0.0;
  r.root_dispersion_s = precision_s;
  r.local = true;
  return r;
}

}  // namespace tr7::core
