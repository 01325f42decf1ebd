// Per-source sample filter: a two-state Kalman filter (offset, frequency) over the
// source's measurements, with adaptive noise estimates and outlier handling, blended with
// a delay-bounded line fit (bound_fit.h) over the last k_window samples.
//
// No I/O. Everything here is on the client's *raw* time line: `t` is seconds since the
// client's epoch on the uncorrected clock, `z` the offset server - raw clock. The client
// converts served-clock samples to raw by adding back the corrections it applied, so the
// filter never sees the daemon's own steps and slews (no sample re-writing needed).
//
// Model: offset(t) = offset(t0) + freq * (t - t0) + phase noise; freq is a random walk.
//  * Measurement noise: from the spread of the source's round-trip delays (for
//    independent jitter on both legs the offset error variance is a quarter of the
//    delay variance), scaled by an adaptive factor that keeps the normalised
//    innovations at 1. Once enough delays are known, a sample is weighted by its delay
//    above the path's minimum (its asymmetry can be no larger: the reason for NTP's
//    minimum-delay filter), and a delay far above the usual spread (one leg queued) is
//    penalised by half its excess.
//  * Process noise (frequency wander): a bank of the same filter with fixed process noises
//    1e-24 to 1e-12 (s/s)^2/s, a factor 100 apart, runs on the same samples; each one's
//    predictive log-likelihood (forgetting 1/32 per sample) weighs it, and the process
//    noise used is their weighted geometric mean. It replaced a rule on the innovations'
//    lag-1 correlation whose chance excursions (its estimate has a spread of about 0.13)
//    raised the noise 1.3-fold per sample with nothing to stop it, and which followed a
//    real wander too slowly (sim_bench, 1 ppm/sqrt(h) at poll 64-1024 s: RMS 904 ->
//    419 us; on a LAN, poll 4-64 s: 41 -> 28 us; no wander, same or better).
//  * Outliers (|innovation| > 5 sigma) are dropped; k_reset_after in a row that agree
//    with each other, or all miss on the same side, mean the model is wrong (the server
//    moved, or the frequency is off): the filter restarts from them, keeping the old
//    frequency only as far as the run's own slope does not contradict it.
//  * Until enough delays are known to weight by them, a sample's variance still grows
//    with its delay above the shortest seen (its asymmetry bound).
//  * The delay-bounded fit (every accepted sample, the newest k_window): of the lines
//    consistent with each sample's bound (offset +- (delay - min delay) / 2), the
//    centre. Its variance is measured, not modelled: the same fit runs over the even and
//    over the odd samples; the mean square of their difference is twice the variance of
//    a half, which is 2 (averaging) to 4 (bounded jitter, error falling as 1/n) times
//    the variance of the whole: the divisor used is 8, the bounded case. The output
//    blends the Kalman filter's estimate and the fit's by inverse variance, for the
//    offset and for the frequency.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bound_fit.h"

namespace tr7::core {

struct FilterEstimate {
  double offset_s = 0;    // server - raw clock at the requested time
  double freq = 0;        // d(offset)/dt, s/s (positive: raw clock slow)
  double offset_var = 0;  // s^2
  double freq_var = 0;    // (s/s)^2
  double jitter_s = 0;    // measurement noise (standard deviation), s
};

enum class FilterVerdict : uint8_t { Used, First, Outlier, Reset };

class SourceFilter {
 public:
  // Prior for the frequency at the first sample: freq0 with standard deviation freq0_sd.
  explicit SourceFilter(double freq0 = 0.0, double freq0_sd = 500e-6, double precision_s = 1e-6);

  // One measurement at raw time t (must not go backwards; older samples are ignored as
  // outliers). delay_s >= 0.
  FilterVerdict add(double t, double z, double delay_s);

  bool ready() const { return m_count > 0; }
  size_t samples() const { return m_count; }  // samples used since the last reset
  // The delay-bounded fit's window holds as many samples as it can.
  bool window_full() const { return m_bound.full(); }
  static constexpr size_t k_window = BoundFit::k_max_points;
  double last_time() const { return m_t; }
  double first_time() const { return m_t0; }  // of the first sample since the last reset
  FilterEstimate estimate_at(double t) const;
  // Diagnostics: the Kalman filter's own estimate, and the delay-bounded fit.
  FilterEstimate kalman_at(double t) const;
  const BoundFit& bound() const { return m_bound; }
  // Its variance, as its two interleaved halves disagree (< 0: not known yet).
  double bound_var() const { return m_split_var / 8; }
  double bound_freq_var() const { return m_split_fvar / 8; }

  // The server's time scale moved by delta_s relative to ours in a known way (a leap
  // second applied at both ends is not a jump): shift the state.
  void shift(double delta_s) {
    m_x[0] += delta_s;
    for (auto& m : m_bank) {
      m.x[0] += delta_s;
    }
    m_bound.shift(delta_s);
    m_halves[0].shift(delta_s);
    m_halves[1].shift(delta_s);
  }
  void reset();

  // Diagnostics.
  double process_noise() const { return m_q_freq; }
  double noise_scale() const { return m_r_scale; }
  double min_delay_s() const;
  double delay_sd_s() const { return m_delay_sd; }
  // The measurement variance of the last sample add() judged (s^2).
  double last_measurement_var() const { return m_last_var; }

  static constexpr int k_reset_after = 4;
  static constexpr size_t k_delays = 32;

 private:
  double base_var() const;
  double measurement_var(double delay_s) const;
  void push_delay(double d);
  void restart(double t, double z, double delay_s);

  double m_freq0;
  double m_freq0_sd;
  double m_precision_s;
  size_t m_count = 0;
  double m_t = 0;
  double m_t0 = 0;
  std::array<double, 2> m_x{};  // offset, freq
  std::array<double, 4> m_p{};  // covariance, row major
  double m_q_freq = 1e-20;      // (s/s)^2 per second: frequency random walk
  double m_r_scale = 1.0;
  double m_nis = 1.0;  // average normalised innovation squared
  double m_last_var = 0;
  double m_x_scale = 1.0;  // the delay model's variance scale (measurement_var)
  double m_nis_x = 1.0;    // the normalised innovations of the samples it decided
  // The process noise's estimator: the same two-state filter run with each of
  // k_models fixed process noises, a factor 100 apart; each one's predictive
  // log-likelihood with forgetting weighs it.
  static constexpr size_t k_models = 7;
  struct Model {
    std::array<double, 2> x{};
    std::array<double, 4> p{};
    double loglik = 0;
  };
  std::array<Model, k_models> m_bank{};
  void bank_restart();
  void bank_update(double dt, double z, double r);
  std::array<double, k_delays> m_delays{};
  size_t m_delay_n = 0;
  size_t m_delay_pos = 0;
  double m_delay_sd = 0;
  // Pending outliers (candidates for a reset): the current run.
  struct Pending {
    double t, z, delay, nu;
  };
  void reset_from_run(double freq, double freq_var);
  int m_outliers = 0;
  std::array<Pending, k_reset_after> m_run{};
  // The delay-bounded fit over the window, and the same fit over its even and odd
  // samples: their disagreement measures its precision.
  void bound_clear();
  void bound_add(double t, double z, double delay_s);
  BoundFit m_bound;
  std::array<BoundFit, 2> m_halves;
  size_t m_bound_count = 0;
  double m_split_var = -1;   // mean squared disagreement of the halves (offset, s^2); < 0: none yet
  double m_split_fvar = -1;  // the same for the slope
};

}  // namespace tr7::core
