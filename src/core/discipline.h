// Clock discipline: turns the selected estimate into clock commands, under the step/slew
// policy and the offset tolerance, and keeps an exact model of what it has done.
//
// No I/O: commands go through core::ClockControl (virtual clock, kernel, simulator).
// Sign conventions: offset_s = server - local (positive: local clock behind, so the clock
// is moved forward by offset_s); frequencies are corrections in s/s (positive: the clock
// runs faster), as in clock.h.
//
// The correction model K(t): the sum of every correction applied, so that
// raw(t) = served(t) - K(t) is the clock as it would be without this daemon. Steps
// add to K at once; a frequency correction f makes K grow at f per raw second. The
// discipline only ever steps and sets frequencies (a slew is a temporary frequency
// offset for a computed time), so K is known exactly, and the sources' filters work on
// the raw time line, unaffected by our own corrections.
//
// Policy:
//  * steps: only while updates <= makestep_limit and |offset| > makestep_threshold;
//    afterwards slew only, so the served time never jumps (backward or forward) while
//    running;
//  * slews: frequency = base + offset / tau for tau (raw) seconds, |offset / tau| <=
//    max_slew_ppm, tau >= min_slew_s; base frequency bounded by max_freq_ppm.
//    tau = k * I, I the update interval (the system peer's poll, or the time since the
//    last update if longer). k grows from min_slew_intervals (1/4) to
//    max_slew_intervals (5) over the first slew_ramp_updates (32) rounds of updates:
//    early corrections are real (a first step's error, a frequency still being
//    learned) and are made fast; later ones are mostly the estimate's own noise, and
//    correcting them over 5 intervals keeps the rate changes, which every client of ours
//    inherits, small. An offset beyond slew_fast_sd (4) standard deviations of its
//    uncertainty is no noise (the clock was stepped from outside, the sources moved):
//    tau shrinks in proportion, so the rate grows with offset^2, as with chronyd's
//    corrtimeratio rule, up to max_slew_ppm. A slew not done by the next update is
//    replaced by it (the rest is in the new offset: the model K knows what was
//    applied), so the loop's gain per update is at most 1: no overshoot. (chronyd's rule
//    itself, tau = 1.5 * sd * I / |offset|, made every estimate jump of a few sd a rate
//    change of a ppm: a max frequency error 1.1-2.2 times chronyd's under clknetsim;
//    with this rule it is 0.1-0.9 times, and convergence is faster, 0.7-1.0 times);
//  * offset tolerance (after the first synchronisation): a correction above it is not
//    applied; after tolerance_updates in a row it is "held" (flagged) until the
//    sources come back within tolerance or approve() is called; approve applies it by
//    a forward step or a slew backwards (never a backward step).
#pragma once

#include <cstdint>
#include <optional>

#include "core/clock.h"
#include "core/time.h"

namespace tr7::core {

inline constexpr double k_default_max_slew_ppm = 1e6 / 12;  // 83333.333 ppm, as chronyd
inline constexpr double k_max_slew_limit_ppm = 1e6 / 12;    // the most max_slew_ppm may be

struct DisciplineOptions {
  double makestep_threshold_s = 0.128;
  int makestep_limit = 3;  // steps allowed in the first N updates (0: never)
  // chronyd's maxslewrate default: the kernel reaches it with ADJ_TICK (kernel_clock.h).
  double max_slew_ppm = k_default_max_slew_ppm;
  double max_freq_ppm = 500;
  double offset_tolerance_s = 0;  // 0: off
  int tolerance_updates = 3;
  double min_slew_s = 1.0;  // shortest slew
  // The slew time in update intervals: from the first to the second over the first
  // slew_ramp_updates rounds of updates (see the policy above).
  double min_slew_intervals = 0.25;
  double max_slew_intervals = 5.0;
  int slew_ramp_updates = 32;
  // ... but no longer than this or one interval, whichever is longer (at long polls, a
  // slew over several intervals lags the clock by the estimate's real changes).
  double max_slew_time_s = 320;
  // An offset beyond this many standard deviations of its own uncertainty is slewed
  // faster, in proportion.
  double slew_fast_sd = 4.0;
};

enum class UpdateAction : uint8_t {
  Stepped,
  Slewed,
  Pending,  // over the tolerance, not (yet) held
  Held,     // over the tolerance, held
  Failed,   // the clock refused the command
};
const char* to_string(UpdateAction a);

struct UpdateResult {
  UpdateAction action = UpdateAction::Slewed;
  double applied_s = 0;   // the step or slew amount
  bool approved = false;  // this update applied a correction an admin approved
};

class Discipline {
 public:
  // `freq_ppm`: the frequency correction to start with (drift file, or the clock's own).
  Discipline(const DisciplineOptions& opt, ClockControl& control, Timestamp now, double freq_ppm);

  const DisciplineOptions& options() const { return m_opt; }
  void set_options(const DisciplineOptions& opt) { m_opt = opt; }

  // K(t): total correction applied up to served time t (seconds).
  double correction_at(Timestamp t) const;
  // Raw time of a served timestamp, seconds since the epoch (for filters).
  double raw_s(Timestamp t) const { return diff_s(t, m_epoch) - correction_at(t); }
  Timestamp epoch() const { return m_epoch; }

  // One update from the selection at served time `now`: offset (server - served clock)
  // and frequency (server - raw clock, s/s); offset_sd_s: the offset's standard
  // uncertainty (0: unknown; the slew then takes min_slew_s, or longer at max_slew_ppm).
  // interval_s: the interval at which new information arrives (the system peer's poll
  // interval); the slew time scales with the larger of it and the time since the last
  // update (several sources answering in the same second must not each be slewed in a
  // second, as the time since the last update alone would have them).
  // horizon_s: the span over which the clock's wander moves the offset by as much as the
  // measurement noise (0: unknown); no slew lasts longer than half of it (a correction
  // that slow lags what really changes, as at long polls with a wandering clock).
  UpdateResult update(double offset_s, double freq, Timestamp now, double offset_sd_s = 0, double interval_s = 0,
                      double horizon_s = 0);
  // Ends a slew that is due; call at next_tick() (or any time).
  void tick(Timestamp now);
  std::optional<Timestamp> next_tick() const;
  // A leap second the clock applied at served time `at`: K jumps by delta_s (-1 insert,
  // +1 delete) so that raw time stays continuous.
  void leap_applied(double delta_s, Timestamp at);
  // Admin approval of a held correction: applied at the next update.
  bool approve();
  // An admin's step (`makestep`): the clock is stepped by offset_s now (either
  // direction; the ClockControl may refuse), any slew in progress ends (the offset it
  // was removing is part of offset_s) and the base frequency stays. Not an update: the
  // makestep_limit count and the tolerance state are unchanged. The caller refuses
  // while a correction is held or over the tolerance (approve is for that).
  // Returns Stepped or Failed.
  UpdateResult step_now(double offset_s, Timestamp now);

  bool synchronised() const { return m_synchronised; }
  int updates() const { return m_updates; }
  bool held() const { return m_held; }
  double held_offset_s() const { return m_held_offset; }
  double frequency_ppm() const { return m_base_freq * 1e6; }  // the base (drift) frequency
  double current_freq_ppm() const { return m_freq * 1e6; }    // including a slew
  bool slewing() const { return m_slew_end.has_value(); }
  // What the slew in progress has still to correct at served time `now` (seconds, signed
  // like an offset; 0 when none): until it is done, the served time is off by that much
  // more than the sources say.
  double slew_remaining_s(Timestamp now) const {
    if (!m_slew_end) {
      return 0;
    }
    double left = diff_s(*m_slew_end, now);
    return left > 0 ? (m_freq - m_base_freq) / (1 + m_freq) * left : 0;
  }
  // The slew in progress: its end (served time) and the rate it adds to the base
  // frequency (s/s, signed like an offset per second); nullopt / 0 when none.
  std::optional<Timestamp> slew_end() const { return m_slew_end; }
  double slew_rate() const { return m_slew_end ? m_freq - m_base_freq : 0.0; }
  double last_offset_s() const { return m_last_offset; }
  uint64_t steps() const { return m_steps; }
  uint64_t clock_errors() const { return m_clock_errors; }

 private:
  bool set_freq(double f, Timestamp now);
  bool step(double delta, Timestamp now);
  double clamp_freq(double f) const;

  DisciplineOptions m_opt;
  ClockControl& m_control;
  Timestamp m_epoch;
  // K(t) = m_k + m_freq / (1 + m_freq) * (t - m_k_time)
  double m_k = 0;
  Timestamp m_k_time;
  double m_freq = 0;       // current frequency correction (s/s), slew included
  double m_base_freq = 0;  // without the slew
  std::optional<Timestamp> m_slew_end;
  std::optional<Timestamp> m_last_update;  // of the last update that stepped or slewed
  bool m_synchronised = false;
  int m_updates = 0;
  int m_over_tolerance = 0;
  bool m_held = false;
  bool m_approved = false;
  double m_held_offset = 0;
  double m_last_offset = 0;
  uint64_t m_steps = 0;
  uint64_t m_slews = 0;                   // rounds of slews so far (the slew time's ramp)
  std::optional<Timestamp> m_last_round;  // the update that began the last one
  uint64_t m_clock_errors = 0;
};

}  // namespace tr7::core
