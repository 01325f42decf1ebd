// The clock seam: everything that keeps or serves time reads and corrects it through
// these interfaces. No I/O here.
//
// Implementations: the daemon's system clock (src/daemon: mode `kernel`, corrections
// through the privileged helper or clock_adjtime; mode `none`, a virtual clock), and the
// simulator's clock (test/sim). The core itself never reads the time: callers pass
// Timestamps in.
//
// "raw" is the system clock as the kernel reports it (also the scale of kernel packet
// timestamps); "served" is the time scale this daemon keeps and serves. In kernel mode
// they are the same; in mode `none` the served time is raw plus the daemon's own
// accumulated correction, which is never applied to the system.
#pragma once

#include "core/ntp_packet.h"
#include "core/result.h"
#include "core/time.h"

namespace tr7::core {

// now() and cook() are called by every server thread at once (daemon/server_pool.h):
// implementations must be safe to read concurrently, e.g. from an immutable snapshot of
// their correction that a writer replaces, never from state updated in place.
class Clock {
 public:
  virtual ~Clock() = default;
  // The served time now.
  virtual Timestamp now() const = 0;
  // A raw (system clock) timestamp, e.g. a kernel receive timestamp, on the served scale.
  virtual Timestamp cook(Timestamp raw) const = 0;
};

// Corrections to a clock. Sign conventions (as chrony's local.h states them):
//  * step(delta_s) / slew(delta_s): delta_s is ADDED to the clock; positive moves the
//    clock forward (use it when the clock is behind true time).
//  * set_frequency(ppm): the clock's rate correction; positive makes the clock run faster.
// Implementations validate (finite, bounded) and may refuse; a refusal changes nothing.
class ClockControl {
 public:
  virtual ~ClockControl() = default;
  virtual Result<void> step(double delta_s) = 0;
  virtual Result<void> slew(double delta_s) = 0;
  virtual Result<void> set_frequency(double ppm) = 0;
  virtual double frequency() const = 0;  // the current correction, ppm
  virtual Result<void> set_leap(Leap leap) = 0;
  // What the clock is worth, for others on the host (the kernel's STA_UNSYNC, esterror
  // and maxerror, as adjtimex(2)/ntp_gettime(3) report them to timedatectl,
  // systemd-time-wait-sync, node_exporter): synchronised or not, the estimated error
  // and the maximum error (root distance), seconds, finite, >= 0. Implementations may
  // clamp (the kernel: 16 s). A clock nobody else reads (virtual, simulated) ignores it.
  virtual Result<void> set_sync_status(bool synchronised, double est_error_s, double max_error_s) {
    (void)synchronised;
    (void)est_error_s;
    (void)max_error_s;
    return {};
  }
};

}  // namespace tr7::core
