// Step/slew policy and the correction model (see discipline.h).
#include "core/discipline.h"

#include <algorithm>
#include <cmath>

namespace tr7::core {

namespace {
constexpr double k_max_slew_tau_s = 86400;
}  // namespace

const char* to_string(UpdateAction a) {
  switch (a) {
    case UpdateAction::Stepped:
      return "stepped";
    case UpdateAction::Slewed:
      return "slewed";
    case UpdateAction::Pending:
      return "over_tolerance";
    case UpdateAction::Held:
      return "held";
    case UpdateAction::Failed:
      return "failed";
  }
  return "?";
}

Discipline::Discipline(const DisciplineOptions& opt, ClockControl& control, Timestamp now, double freq_ppm)
    : m_opt(opt), m_control(control), m_epoch(now), m_k_time(now) {
  double f = std::isfinite(freq_ppm) ? freq_ppm * 1e-6 : 0.0;
  f = clamp_freq(f);
  m_base_freq = f;
  if (!set_freq(f, now)) {
    m_base_freq = m_freq;
  }
}

double Discipline::clamp_freq(double f) const {
  double lim = m_opt.max_freq_ppm * 1e-6;
  return std::clamp(f, -lim, lim);
}

double Discipline::correction_at(Timestamp t) const { return m_k + m_freq / (1 + m_freq) * diff_s(t, m_k_time); }

bool Discipline::set_freq(double f, Timestamp now) {
  if (!std::isfinite(f)) {
    return false;
  }
  auto r = m_control.set_frequency(f * 1e6);
  if (!r) {
    ++m_clock_errors;
    return false;
  }
  m_k = correction_at(now);
  m_k_time = now;
  m_freq = f;
  return true;
}

bool Discipline::step(double delta, Timestamp now) {
  auto r = m_control.step(delta);
  if (!r) {
    ++m_clock_errors;
    return false;
  }
  // The served clock jumped by delta at `now`: keep the model on the new time scale.
  m_k = correction_at(now) + delta;
  m_k_time = add_s(now, delta);
  ++m_steps;
  return true;
}

void Discipline::leap_applied(double delta_s, Timestamp at) {
  m_k = correction_at(at) + delta_s;
  m_k_time = add_s(at, delta_s);
}

bool Discipline::approve() {
  if (!m_held && m_over_tolerance == 0) {
    return false;
  }
  m_approved = true;
  return true;
}

UpdateResult Discipline::step_now(double offset_s, Timestamp now) {
  UpdateResult res;
  res.action = UpdateAction::Failed;
  tick(now);
  if (!std::isfinite(offset_s) || !step(offset_s, now)) {
    return res;
  }
  now = add_s(now, offset_s);
  if (m_slew_end && set_freq(m_base_freq, now)) {
    m_slew_end.reset();
  }
  m_last_offset = offset_s;
  res.action = UpdateAction::Stepped;
  res.applied_s = offset_s;
  return res;
}

std::optional<Timestamp> Discipline::next_tick() const { return m_slew_end; }

void Discipline::tick(Timestamp now) {
  if (m_slew_end && now >= *m_slew_end) {
    // End the slew at its planned end: the model follows the actual time of this call.
    if (set_freq(m_base_freq, now)) {
      m_slew_end.reset();
    }
  }
}

UpdateResult Discipline::update(double offset_s, double freq, Timestamp now, double offset_sd_s, double interval_s,
                                double horizon_s) {
  UpdateResult res;
  tick(now);
  if (!std::isfinite(offset_s) || !std::isfinite(freq)) {
    res.action = UpdateAction::Failed;
    return res;
  }
  ++m_updates;
  m_last_offset = offset_s;
  double mag = std::fabs(offset_s);

  // Offset tolerance: only once synchronised (the first synchronisation may need a
  // large step) and unless an admin approved this correction.
  if (m_synchronised && m_opt.offset_tolerance_s > 0 && mag > m_opt.offset_tolerance_s && !m_approved) {
    ++m_over_tolerance;
    m_held_offset = offset_s;
    if (m_over_tolerance >= m_opt.tolerance_updates) {
      m_held = true;
    }
    // Keep running on the last good frequency; end any slew.
    if (m_slew_end && set_freq(m_base_freq, now)) {
      m_slew_end.reset();
    }
    res.action = m_held ? UpdateAction::Held : UpdateAction::Pending;
    return res;
  }
  bool approved = m_approved;
  m_over_tolerance = 0;
  m_held = false;
  m_approved = false;
  m_held_offset = 0;

  double base = clamp_freq(freq);
  bool may_step = m_opt.makestep_limit > 0 && m_updates <= m_opt.makestep_limit;
  bool want_step = mag > m_opt.makestep_threshold_s && (may_step || (approved && offset_s > 0));
  m_base_freq = base;
  if (want_step) {
    if (!step(offset_s, now)) {
      res.action = UpdateAction::Failed;
      return res;
    }
    m_synchronised = true;
    res.action = UpdateAction::Stepped;
    res.applied_s = offset_s;
    res.approved = approved;
    now = add_s(now, offset_s);
    if (set_freq(base, now)) {
      m_slew_end.reset();
    }
    m_last_update = now;
    return res;
  }
  // Slew: frequency = base + offset / tau (discipline.h): tau = k * interval, k growing
  // from min_slew_intervals to max_slew_intervals over the first slew_ramp_updates
  // slews, shorter in proportion for an offset beyond slew_fast_sd of its uncertainty.
  double max_rate = std::max(m_opt.max_slew_ppm, 1e-3) * 1e-6;
  double interval = m_last_update ? std::max(0.0, diff_s(now, *m_last_update)) : 0.0;
  if (std::isfinite(interval_s)) {
    interval = std::max(interval, interval_s);
  }
  double ramp = m_opt.slew_ramp_updates > 0 ? std::min(1.0, static_cast<double>(m_slews) / m_opt.slew_ramp_updates) : 1;
  double k = m_opt.min_slew_intervals + (m_opt.max_slew_intervals - m_opt.min_slew_intervals) * ramp;
  double sd = std::isfinite(offset_sd_s) ? std::max(0.0, offset_sd_s) : 0.0;
  double fast = m_opt.slew_fast_sd * sd;
  double tau = std::min(k * interval, std::max(m_opt.max_slew_time_s, interval));
  if (horizon_s > 0 && std::isfinite(horizon_s)) {
    tau = std::min(tau, 0.5 * horizon_s);
  }
  if (mag > fast && mag > 0) {
    tau *= fast / mag;
  }
  // The ramp counts rounds of information, not updates: sources answering together are
  // one round (three updates within milliseconds had it done in a third of the time).
  if (!m_last_round || diff_s(now, *m_last_round) >= 0.5 * interval) {
    ++m_slews;
    m_last_round = now;
  }
  tau = std::max({m_opt.min_slew_s, mag / max_rate, tau});
  // A slew longer than a day would only be replaced anyway; keep the numbers sane.
  tau = std::min(tau, std::max(k_max_slew_tau_s, mag / max_rate));
  double f = base + offset_s / tau;
  if (!set_freq(f, now)) {
    res.action = UpdateAction::Failed;
    return res;
  }
  // tau is in raw seconds (the rate f is against the raw clock); the clock, and the
  // timer that ends the slew, run at 1 + f of it: a fast slew backwards (-8.3 %) ended
  // after 6 s of served time, 6.5 raw s, and overshot 0.5 s by 45 ms.
  m_slew_end = add_s(now, tau * (1 + f));
  m_synchronised = true;
  m_last_update = now;
  res.action = UpdateAction::Slewed;
  res.applied_s = offset_s;
  res.approved = approved;
  return res;
}

}  // namespace tr7::core
