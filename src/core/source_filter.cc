// The sample filter of one source (see source_filter.h for the model).
#include "core/source_filter.h"

#include <algorithm>
#include <cmath>

namespace tr7::core {

namespace {

constexpr double k_outlier_sigma2 = 25.0;  // 5 sigma
constexpr double k_q_min = 1e-24;
constexpr double k_q_max = 1e-12;
constexpr double k_phase_noise = 1e-15;  // s^2 per s: a white-frequency floor
constexpr double k_adapt = 1.0 / 32;     // averaging weight of the noise statistics
constexpr size_t k_adapt_after = 12;     // samples before the noise estimates adapt
constexpr double k_prior_weight = 2.0;   // pseudo-samples of the measurement noise prior
// How far above the true minimum the observed minimum delay may be, in delay spreads:
// the smallest of 32 round trips is within about a quarter spread of the floor for
// exponential queueing. A whole spread (before) lost the delay weighting: under
// clknetsim, samples near the minimum were claimed to 385 us and were good to 45 us.
constexpr double k_floor_uncertainty = 0.25;
constexpr size_t k_weight_after = 16;       // delays needed before weighting by delay
constexpr double k_split_adapt = 1.0 / 16;  // averaging weight of the split-half disagreement
constexpr double k_adapt_x = 1.0 / 16;      // ... of the delay model's normalised innovations
constexpr double k_x_scale_max = 1e4;       // the delay model may be off by this much (variance)

}  // namespace

SourceFilter::SourceFilter(double freq0, double freq0_sd, double precision_s)
    : m_freq0(freq0),
      m_freq0_sd(freq0_sd),
      m_precision_s(precision_s),
      m_bound(precision_s),
      m_halves{BoundFit(precision_s, BoundFit::k_max_points / 2), BoundFit(precision_s, BoundFit::k_max_points / 2)} {}

void SourceFilter::bound_clear() {
  m_bound.clear();
  m_halves[0].clear();
  m_halves[1].clear();
  m_bound_count = 0;
  m_split_var = -1;
  m_split_fvar = -1;
}

void SourceFilter::bound_add(double t, double z, double delay_s) {
  m_bound.set_wander(m_q_freq);
  m_bound.add(t, z, delay_s);
  BoundFit& h = m_halves[m_bound_count % 2];
  h.set_wander(m_q_freq);
  h.add(t, z, delay_s);
  ++m_bound_count;
  if (m_count > k_adapt_after) {
    // The fit is a straight line: keep it to the span over which the frequency's wander
    // moves the offset by no more than the measurement noise, sqrt(q T^3 / 3) = sigma.
    // Over a longer window its line is bent by the wander, and its split halves, bent
    // alike, do not show it: under clknetsim with 10 us jitter a 128-sample window
    // (8192 s at poll 6, 16 horizons) was 17 us off while claiming 2.
    double sigma = std::sqrt(base_var() * m_r_scale);
    double horizon = std::cbrt(3 * sigma * sigma / std::max(m_q_freq, 1e-30));
    m_bound.keep_since(t - horizon);
    m_halves[0].keep_since(t - horizon);
    m_halves[1].keep_since(t - horizon);
  }
  if (m_halves[0].valid() && m_halves[1].valid()) {
    // Two independent estimates from half the samples each, over the same span: the
    // mean square of their difference is twice the variance of a half-window estimate,
    // at least twice that of the whole window's (more for bounded jitter, where the
    // error falls as 1/n rather than 1/sqrt(n)).
    double d = m_halves[0].centre_at(t) - m_halves[1].centre_at(t);
    double fd = m_halves[0].slope_centre() - m_halves[1].slope_centre();
    if (m_split_var < 0) {
      m_split_var = d * d;
      m_split_fvar = fd * fd;
    } else {
      m_split_var += k_split_adapt * (d * d - m_split_var);
      m_split_fvar += k_split_adapt * (fd * fd - m_split_fvar);
    }
  }
}

namespace {

constexpr double k_bank_q0 = 1e-24;         // the bank's smallest process noise
constexpr double k_bank_step = 100.0;       // and the factor between neighbours
constexpr double k_bank_forget = 1.0 / 32;  // of the log-likelihoods, per sample
constexpr double k_bank_miss_cap = 4.0;     // the most one miss counts, in squared sigmas

double bank_q(size_t k) { return k_bank_q0 * std::pow(k_bank_step, static_cast<double>(k)); }

// One step of the two-state filter (offset, frequency): the prediction dt seconds on with
// frequency random walk q, and the correction by an innovation nu of variance s.
struct Prediction {
  double x0, x1, p00, p01, p11;
};

Prediction predict(const std::array<double, 2>& x, const std::array<double, 4>& p, double q, double dt) {
  return {x[0] + x[1] * dt, x[1], p[0] + 2 * p[1] * dt + p[3] * dt * dt + k_phase_noise * dt + q * dt * dt * dt / 3,
          p[1] + p[3] * dt + q * dt * dt / 2, p[3] + q * dt};
}

void correct(const Prediction& pr, double nu, double s, std::array<double, 2>& x, std::array<double, 4>& p) {
  double k0 = pr.p00 / s;
  double k1 = pr.p01 / s;
  x = {pr.x0 + k0 * nu, pr.x1 + k1 * nu};
  p = {(1 - k0) * pr.p00, (1 - k0) * pr.p01, (1 - k0) * pr.p01, pr.p11 - k1 * pr.p01};
}

}  // namespace

void SourceFilter::bank_restart() {
  for (auto& m : m_bank) {
    m.x = m_x;
    m.p = m_p;
    m.loglik = 0;
  }
}

void SourceFilter::bank_update(double dt, double z, double r) {
  double best = -1e300;
  for (size_t k = 0; k < k_models; ++k) {
    Model& m = m_bank[k];
    Prediction pr = predict(m.x, m.p, bank_q(k), dt);
    double nu = z - pr.x0;
    double s = pr.p00 + r;
    // A miss counts at most as a 2-sigma one: a few spikes must not decide (heavy-tailed
    // noise, counted in full, made the widest model win and q rise 1e4-fold).
    double e = std::min(nu * nu / s, k_bank_miss_cap);
    m.loglik = (1 - k_bank_forget) * m.loglik - 0.5 * (std::log(s) + e);
    correct(pr, nu, s, m.x, m.p);
    best = std::max(best, m.loglik);
  }
  if (m_count <= k_adapt_after) {
    return;
  }
  double wsum = 0, lsum = 0;
  for (size_t k = 0; k < k_models; ++k) {
    double w = std::exp(m_bank[k].loglik - best);
    wsum += w;
    lsum += w * std::log(bank_q(k));
  }
  m_q_freq = std::clamp(std::exp(lsum / wsum), k_q_min, k_q_max);
}

void SourceFilter::reset() {
  bound_clear();
  m_count = 0;
  m_outliers = 0;
  m_nis = 1.0;
}

double SourceFilter::min_delay_s() const {
  if (m_delay_n == 0) {
    return 0;
  }
  double m = m_delays[0];
  for (size_t i = 1; i < m_delay_n; ++i) {
    m = std::min(m, m_delays[i]);
  }
  return m;
}

void SourceFilter::push_delay(double d) {
  m_delays[m_delay_pos] = d;
  m_delay_pos = (m_delay_pos + 1) % k_delays;
  m_delay_n = std::min(m_delay_n + 1, k_delays);
  size_t n = m_delay_n;
  if (n < 2) {
    m_delay_sd = 0;
    return;
  }
  std::array<double, k_delays> v{};
  std::copy_n(m_delays.begin(), n, v.begin());

  if (n < 8) {
    // Few samples: the plain standard deviation (a median of 3 deviations says little).
    double mean = 0;
    for (size_t i = 0; i < n; ++i) {
      mean += v[i];
    }
    mean /= static_cast<double>(n);
    double ss = 0;
    for (size_t i = 0; i < n; ++i) {
      ss += (v[i] - mean) * (v[i] - mean);
    }
    m_delay_sd = std::sqrt(ss / static_cast<double>(n - 1));
    return;
  }
  // Robust spread: the median absolute deviation from the median, scaled to a standard
  // deviation (one popcorn spike must not inflate it).
  std::nth_element(v.begin(), v.begin() + static_cast<long>(n / 2), v.begin() + static_cast<long>(n));
  double med = v[n / 2];
  for (size_t i = 0; i < n; ++i) {
    v[i] = std::fabs(v[i] - med);
  }
  std::nth_element(v.begin(), v.begin() + static_cast<long>(n / 2), v.begin() + static_cast<long>(n));
  m_delay_sd = 1.4826 * v[n / 2];
}

double SourceFilter::base_var() const {
  // The delay spread says how noisy offsets are (a quarter of the delay variance for
  // independent jitter on both legs); until there are enough delays, it is blended with
  // a cautious prior: an eighth of the round trip as standard deviation.
  double prior = std::pow(min_delay_s() / 8, 2);
  double n = static_cast<double>(m_delay_n < 2 ? 0 : m_delay_n);
  double from_delays = m_delay_sd * m_delay_sd / 4;
  double v = (k_prior_weight * prior + n * from_delays) / (k_prior_weight + n);
  return std::max(v, m_precision_s * m_precision_s);
}

double SourceFilter::measurement_var(double delay_s) const {
  double base = base_var() * m_r_scale;
  if (m_delay_n < k_weight_after) {
    // Too few delays to weight by them, but a round trip far above the shortest one seen
    // still bounds this sample's asymmetry only by half its excess: spread evenly, a
    // variance of excess^2 / 12. Without it the second sample of a source, if slow, was
    // trusted like the first and set the frequency alone (80 ppm off on loopback).
    double excess = std::max(0.0, delay_s - min_delay_s());
    return base + excess * excess / 12;
  }
  // The asymmetry of one exchange is at most its delay above the path's minimum: a
  // sample near the minimum delay is far better than the average one (the reason for
  // NTP's minimum-delay clock filter). Variance of an error spread evenly over
  // +-excess/2: excess^2 / 12, never below a floor (the minimum itself is estimated).
  double d_min = min_delay_s();
  // Once the minimum is established (k_weight_after round trips), one far below it is no
  // better for it: either the path changed (then the old minimum says nothing) or one
  // leg was cut short, its error up to the whole difference (a packet of the clknetsim
  // loss model that arrived 0.6 ms early was trusted to 0.1 ms and moved the filter by
  // 2 ms). Both directions count. (Before that, a lower round trip is just a better
  // one: the first samples may have queued.)
  double x = std::fabs(delay_s - d_min) + k_floor_uncertainty * m_delay_sd;
  // The delay model has its own scale, calibrated by the normalised innovations of the
  // samples it decided (add()): where the round trip says little about the error (noise
  // that is not queueing: a server's timestamps, a symmetric path), trusting the
  // shortest round trips alone was overconfident (white noise of 200 us, delays unrelated
  // to it: 100-230 us off after 200 samples where a plain average is 30 us off).
  double v = std::min(base, (x * x / 12 + m_precision_s * m_precision_s) * m_x_scale);
  // A delay far above the usual spread (one leg queued): its offset may be off by up to
  // half of the excess.
  double excess = delay_s - (d_min + 2 * m_delay_sd);
  if (excess > 0) {
    v += excess * excess / 4;
  }
  return v;
}

void SourceFilter::restart(double t, double z, double delay_s) {
  m_count = 1;
  m_t = t;
  m_t0 = t;
  m_x = {z, m_count == 1 && m_freq0_sd > 0 ? m_freq0 : 0.0};
  double r = measurement_var(delay_s);
  m_p = {r, 0.0, 0.0, m_freq0_sd * m_freq0_sd};
  m_outliers = 0;
  m_nis = 1.0;
  bound_clear();
  bound_add(t, z, delay_s);
  bank_restart();
}

FilterEstimate SourceFilter::kalman_at(double t) const {
  FilterEstimate e;
  double dt = t - m_t;
  e.offset_s = m_x[0] + m_x[1] * dt;
  e.freq = m_x[1];
  double adt = std::fabs(dt);
  e.offset_var = m_p[0] + 2 * m_p[1] * dt + m_p[3] * dt * dt + k_phase_noise * adt + m_q_freq * adt * adt * adt / 3;
  e.freq_var = m_p[3] + m_q_freq * adt;
  e.jitter_s = std::sqrt(base_var() * m_r_scale);
  return e;
}

FilterEstimate SourceFilter::estimate_at(double t) const {
  FilterEstimate e = kalman_at(t);
  if (m_bound.valid() && m_split_var >= 0) {
    // The delay-bounded fit is far more precise on a path whose jitter is bounded below
    // (queueing), less so when the jitter is symmetric; early on, the Kalman filter's
    // prior (drift file) may know more. The two are blended by inverse variance (a
    // choice would make the output jump when they swap); they share their samples, so
    // the blend's variance is taken as the harmonic mean of theirs, not as if they
    // were independent.
    double bdt = std::fabs(t - m_bound.newest_time());
    double var = bound_var() + k_phase_noise * bdt + m_q_freq * bdt * bdt * bdt / 3 + m_precision_s * m_precision_s;
    double fvar = bound_freq_var() + m_q_freq * bdt;
    if (e.offset_var + var > 0) {
      double w = e.offset_var / (e.offset_var + var);
      e.offset_s += w * (m_bound.centre_at(t) - e.offset_s);
      e.offset_var = w * var + (1 - w) * e.offset_var;
    }
    if (e.freq_var + fvar > 0) {
      double w = e.freq_var / (e.freq_var + fvar);
      e.freq += w * (m_bound.slope_centre() - e.freq);
      e.freq_var = w * fvar + (1 - w) * e.freq_var;
    }
  }
  return e;
}

void SourceFilter::reset_from_run(double freq, double freq_var) {
  // Restart from the run and feed it the rest. The old frequency is the prior only as far
  // as the run does not contradict it: its variance grows by the square of its
  // disagreement with the run's own slope, so a wrong but confident frequency (the usual
  // reason for such a run) does not survive the reset. The run's first sample may be a
  // lone spike that happened to precede the move (a miss on the same side): with enough
  // of them, the run starts from its second.
  int from = m_outliers >= 3 ? 1 : 0;
  const Pending first = m_run[static_cast<size_t>(from)];
  const Pending last = m_run[static_cast<size_t>(m_outliers - 1)];
  double span = last.t - first.t;
  double var = std::max(freq_var, 1e-12);
  if (span > 0) {
    double slope = (last.z - first.z) / span;
    var += (slope - freq) * (slope - freq);
  }
  int n = m_outliers;
  std::array<Pending, k_reset_after> run = m_run;
  push_delay(first.delay);
  restart(first.t, first.z, first.delay);
  m_x[1] = freq;
  m_p[3] = std::min(var, std::max(m_freq0_sd * m_freq0_sd, 1e-12));
  bank_restart();
  for (int i = from + 1; i < n; ++i) {
    const Pending& p = run[static_cast<size_t>(i)];
    (void)add(p.t, p.z, p.delay);
  }
}

FilterVerdict SourceFilter::add(double t, double z, double delay_s) {
  if (!std::isfinite(t) || !std::isfinite(z) || !std::isfinite(delay_s)) {
    return FilterVerdict::Outlier;
  }
  if (m_count == 0) {
    push_delay(delay_s);
    restart(t, z, delay_s);
    return FilterVerdict::First;
  }
  if (t < m_t) {
    return FilterVerdict::Outlier;
  }
  double dt = t - m_t;
  Prediction pr = predict(m_x, m_p, m_q_freq, dt);
  double r = measurement_var(delay_s);
  m_last_var = r;
  bool delay_decided = m_delay_n >= k_weight_after && r < base_var() * m_r_scale;
  double nu = z - pr.x0;
  double s = pr.p00 + r;
  // The blend (estimate_at) predicts better than the Kalman filter alone, whose own
  // variance can be wide enough to let a 10-sigma miss of the blend through (under
  // clknetsim's loss model, a 2 ms miss moved the source, the selection and the
  // frequency by 3.5 ppm): a sample is judged by both.
  FilterEstimate blend = estimate_at(t);
  double nub = z - blend.offset_s;
  bool blend_miss = nub * nub > k_outlier_sigma2 * (blend.offset_var + r);
  if (nu * nu > k_outlier_sigma2 * s || blend_miss) {
    // Keep it aside: several in a row that agree among themselves (within their own noise,
    // on the current frequency) or that all miss the prediction on the same side mean
    // the model is wrong: the server's time moved, or the frequency is off (then the
    // misses grow). Random spikes rarely do either several times in a row.
    const Pending* prev = m_outliers > 0 ? &m_run[static_cast<size_t>(m_outliers - 1)] : nullptr;
    bool agrees = prev != nullptr && (std::fabs((z - prev->z) - pr.x1 * (t - prev->t)) <
                                          5 * std::sqrt(r + measurement_var(prev->delay)) + 1e-3 * std::fabs(nu) ||
                                      (nu > 0) == (prev->nu > 0));
    if (!agrees) {
      m_outliers = 0;
    }
    m_run[static_cast<size_t>(m_outliers)] = {t, z, delay_s, nu};
    ++m_outliers;
    if (m_outliers >= k_reset_after) {
      reset_from_run(pr.x1, pr.p11);
      return FilterVerdict::Reset;
    }
    return FilterVerdict::Outlier;
  }
  m_outliers = 0;
  push_delay(delay_s);
  bound_add(t, z, delay_s);
  correct(pr, nu, s, m_x, m_p);
  m_t = t;
  ++m_count;
  bank_update(dt, z, r);

  // Noise adaptation: the measurement noise's scale from the normalised innovations (the
  // process noise comes from the bank, above).
  double nn = nu / std::sqrt(s);
  if (m_count > 2) {
    m_nis += k_adapt * (nn * nn - m_nis);
  }
  if (delay_decided) {
    m_nis_x += k_adapt_x * (std::min(nn * nn, k_outlier_sigma2) - m_nis_x);
    if (m_nis_x > 1.6) {
      m_x_scale = std::min(m_x_scale * 1.1, k_x_scale_max);
    } else if (m_nis_x < 0.6) {
      m_x_scale = std::max(m_x_scale / 1.1, 0.1);
    }
  }
  if (m_count > k_adapt_after) {
    if (m_nis > 1.6) {
      m_r_scale = std::min(m_r_scale * 1.05, 100.0);
    } else if (m_nis < 0.6) {
      m_r_scale = std::max(m_r_scale / 1.05, 0.05);
    }
  }
  return FilterVerdict::Used;
}

}  // namespace tr7::core
