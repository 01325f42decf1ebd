// The reference state the server publishes: what the daemon's own clock is worth.
//
// No I/O. Filled by whoever disciplines the clock (the NTP client, or the local-stratum
// fallback); read by the server for every reply. Root dispersion grows with the time
// since the reference time at k_phi (RFC 5905 §7.3: PHI, 15 ppm), so a server that lost
// its sources keeps answering with an honest, growing error bound.
#pragma once

#include <cstdint>

#include "core/ntp_packet.h"
#include "core/time.h"

namespace tr7::core {

inline constexpr double k_phi = 15e-6;  // s/s, frequency tolerance (RFC 5905)
inline constexpr uint32_t k_refid_local = 0x7F7F0101;  // 127.127.1.1, the "local clock"

struct ReferenceState {
  bool synchronised = false;  // false: replies say LI=3, stratum 0 (do not use me)
  Leap leap = Leap::None;     // leap warning while synchronised
  uint8_t stratum = 0;        // our stratum (1..15) when synchronised
  uint32_t refid = 0;
  Timestamp reference_time;   // when the clock was last updated
  double root_delay_s = 0.0;
  double root_dispersion_s = 0.0;  // at reference_time; grows at k_phi afterwards
  bool local = false;              // served from local_stratum (no source)
  // A correction still being slewed in (discipline.h): until slew_end the served time is
  // off by up to |slew_rate_s_per_s| * (slew_end - now) more than the sources say, and
  // the root dispersion says so, shrinking as the slew proceeds.
  double slew_rate_s_per_s = 0.0;
  Timestamp slew_end;

  // Root dispersion at `now`, never below the value at the reference time: grows at
  // k_phi from the reference time, plus what the slew in progress has still to correct.
  double root_dispersion_at(Timestamp now) const;
};

// The state to serve at `now`: `r` itself, except that a local reference (local_stratum:
// our own clock is the reference) has its reference time at `now`, so a snapshot of it
// can be published once and served for ever without its root dispersion growing.
ReferenceState served_reference(const ReferenceState& r, Timestamp now);

// The reference state of an unsynchronised server.
ReferenceState unsynchronised_reference();
// The reference state of a server that serves its own clock at `stratum` (1..15), with no
// source: refid 127.127.1.1 (the conventional local clock), reference time `now`.
ReferenceState local_reference(uint8_t stratum, Timestamp now, double precision_s);

}  // namespace tr7::core
