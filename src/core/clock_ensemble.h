// The local clock estimated jointly from every selected source's samples.
//
// No I/O. Like the sources' filters (source_filter.h), it works on the client's *raw*
// time line: t in seconds since the client's epoch on the uncorrected clock, z the offset
// server - raw clock of one sample.
//
// Why: every source measures the same local clock, whose frequency wanders; each source
// adds its own independent noise and a fixed bias (the asymmetry of its path, its server's
// own error). Filtering each source alone and averaging the results leaves the wander
// tracked N times with N times less data each: the errors of the separate estimates are
// correlated (a correlation of 0.5-0.7 between three sources under clknetsim), and the
// average keeps that common part whole. One filter over all the samples follows the
// wander with all the data: in the clknetsim base scenario (3 sources, exp(1 ms) delays),
// the offset error of the estimate fell from 56-69 us to 42 us RMS over six seeds.
//
// Model (a Kalman filter): state = [x, f, b_1 .. b_n]: x the offset server time - raw
// clock of the consensus, f its frequency (a random walk), b_i the constant bias of
// member i, so that a sample of member i is z = x + b_i + noise (variance r, from the
// source's own filter: the delay-weighted measurement variance). The data only tell
// x + b_i; the level of x is what the members agree on: a perfect linear constraint,
// the weighted sum of the biases of the members at seed() is zero (the selection's
// weights), so x is their weighted mean, as the selection's combined offset is. A
// Kalman update keeps such a constraint (its direction has no variance), so it is
// applied once; when one of those members leaves, again over the rest. Priors on the
// biases would not do: they are never revised, and the seed time's estimation errors
// (hundreds of microseconds) stayed in the consensus for good. A member that joins
// later is free (its bias is its difference from x): it sharpens x, never moves it.
//
// Process noise: like the source filter, a bank of the same filter with fixed wander
// rates 1e-24 to 1e-12 (s/s)^2/s, weighted by their predictive likelihoods (forgetting
// k_forget per sample: N sources feed it N times as often as one source's filter, so its
// memory is longer); the estimate is their likelihood-weighted mixture.
//
// The caller keeps the ensemble honest: it seeds it from the selection and seeds it
// again when the two disagree beyond their uncertainties (all sources moved together, a
// member's bias changed): the selection is the authority on what the consensus is, the
// ensemble only a better-smoothed estimate of it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tr7::core {

struct EnsembleEstimate {
  double offset_s = 0;    // x: server - raw clock at the requested time
  double freq = 0;        // s/s (positive: raw clock slow)
  double offset_var = 0;  // s^2 (of the mixture)
  double freq_var = 0;    // (s/s)^2
};

class ClockEnsemble {
 public:
  static constexpr size_t k_max_members = 16;

  struct Seed {
    uint32_t id = 0;
    double offset_s = 0;  // the member's own estimate of z at the seed time
    double weight = 0;    // its weight in the consensus (the selection's, > 0)
  };
  // Starts over at raw time t from the combined estimate (offset, its variance,
  // frequency, its variance) and the members' own estimates (at most k_max_members):
  // the consensus is the members' weighted mean (their biases' weighted sum is held at
  // zero: see the model above).
  void seed(double t, double offset_s, double offset_var, double freq, double freq_var, const Seed* members, size_t n);
  void reset() { m_seeded = false; }
  bool seeded() const { return m_seeded; }

  // A sample of a member: raw time t (not before the last one; older ones are ignored),
  // offset z, measurement variance r > 0. A sample more than k_outlier_sigma from the
  // prediction is not used. Unknown members join (bias: the sample's
  // difference from the prediction, with the prediction's and the sample's variance as
  // its own); when no slot is free the sample is ignored. Returns whether it was used.
  bool add(uint32_t id, double t, double z, double r);
  // The member's bias is unknown again (its server or path moved): its bias variance
  // grows by var_s2 and it no longer correlates with the rest.
  void forget_bias(uint32_t id, double var_s2);
  // A member leaves; if it was one of the consensus' members, the consensus becomes the
  // weighted mean of the rest of them (none left: seeded() turns false).
  void remove(uint32_t id);
  bool has(uint32_t id) const { return slot_of(id) >= 0; }
  size_t members() const;
  uint64_t samples() const { return m_samples; }  // since the last seed

  EnsembleEstimate estimate_at(double t) const;
  // The member's bias estimate (b_i) and its variance; false if not a member.
  bool bias(uint32_t id, double& b, double& var) const;
  double process_noise() const;  // the mixture's (geometric) wander rate, (s/s)^2/s
  // A known jump of the servers' time scale relative to ours (a leap second).
  void shift(double delta_s);

  static constexpr double k_forget = 1.0 / 256;
  static constexpr double k_outlier_sigma = 5.0;

 private:
  static constexpr size_t k_dim = 2 + k_max_members;
  static constexpr size_t k_models = 7;
  struct Model {
    std::array<double, k_dim> x{};
    std::array<double, k_dim * k_dim> p{};
    double loglik = 0;
  };
  int slot_of(uint32_t id) const;
  int free_slot() const;
  void predict(Model& m, double q, double dt) const;
  void clear_slot(Model& m, size_t s) const;
  void constrain();  // sum of m_weight[s] * b_s = 0 over the consensus members
  bool outlier(size_t a, double dt, double z, double r) const;

  bool m_seeded = false;
  double m_t = 0;
  uint64_t m_samples = 0;
  std::array<uint32_t, k_max_members> m_ids{};
  std::array<bool, k_max_members> m_used{};
  std::array<double, k_max_members> m_weight{};  // > 0: a consensus member
  std::array<Model, k_models> m_bank{};
};

}  // namespace tr7::core
