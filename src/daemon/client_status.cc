// The provider for a daemon without an NTP client (see client_status.h).
#include "daemon/client_status.h"

#include <cstdio>

namespace tr7::daemon {

std::string status_line(const ctl::TrackingStatus& t) {
  char buf[160];
  if (t.state == "synchronised" || t.state == "holdover") {
    std::snprintf(buf, sizeof buf, "%s %s %s, stratum %d, offset %+.6f s", t.state.c_str(),
                  t.state == "holdover" ? "on" : "to", t.ref_name.empty() ? "?" : t.ref_name.c_str(), t.stratum,
                  t.offset_s);
    return buf;
  }
  if (t.state == "local") {
    std::snprintf(buf, sizeof buf, "local stratum %d, no source", t.stratum);
    return buf;
  }
  return "unsynchronised";
}

ctl::TrackingStatus tracking_from_reference(const core::ReferenceState& ref, core::Timestamp now,
                                            const std::string& clock_mode) {
  ctl::TrackingStatus t;
  t.clock_mode = clock_mode;
  t.synchronised = ref.synchronised;
  if (!ref.synchronised) {
    t.state = "unsynchronised";
    t.leap = "unsynchronised";
    return t;
  }
  t.state = ref.local ? "local" : "synchronised";
  t.stratum = ref.stratum;
  t.ref_id = ref.refid;
  t.ref_name = ref.local ? "LOCAL" : "";
  t.reference_time = ref.reference_time;
  t.root_delay_s = ref.root_delay_s;
  t.root_dispersion_s = ref.root_dispersion_at(now);
  switch (ref.leap) {
    case core::Leap::None:
      t.leap = "none";
      break;
    case core::Leap::Insert:
      t.leap = "insert";
      break;
    case core::Leap::Delete:
      t.leap = "delete";
      break;
    case core::Leap::Unsynchronised:
      t.leap = "unsynchronised";
      break;
  }
  return t;
}

ctl::TrackingStatus NoClientProvider::tracking(core::Timestamp now) const {
  return tracking_from_reference(m_reference(now), now, m_clock_mode);
}

}  // namespace tr7::daemon
