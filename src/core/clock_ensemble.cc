// The joint clock filter over the selected sources (see clock_ensemble.h).
#include "core/clock_ensemble.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tr7::core {

namespace {

constexpr double k_phase_noise = 1e-15;  // s^2 per s: a white-frequency floor (as the source filter)
constexpr double k_q0 = 1e-24;           // the bank's smallest wander rate
constexpr double k_q_step = 100.0;       // and the factor between neighbours
constexpr double k_miss_cap = 4.0;       // a miss counts at most as a 2-sigma one in the likelihood

double bank_q(size_t k) { return k_q0 * std::pow(k_q_step, static_cast<double>(k)); }

}  // namespace

int ClockEnsemble::slot_of(uint32_t id) const {
  for (size_t s = 0; s < k_max_members; ++s) {
    if (m_used[s] && m_ids[s] == id) {
      return static_cast<int>(s);
    }
  }
  return -1;
}

int ClockEnsemble::free_slot() const {
  for (size_t s = 0; s < k_max_members; ++s) {
    if (!m_used[s]) {
      return static_cast<int>(s);
    }
  }
  return -1;
}

size_t ClockEnsemble::members() const { return static_cast<size_t>(std::count(m_used.begin(), m_used.end(), true)); }

void ClockEnsemble::clear_slot(Model& m, size_t s) const {
  size_t a = 2 + s;
  for (size_t j = 0; j < k_dim; ++j) {
    m.p[a * k_dim + j] = 0;
    m.p[j * k_dim + a] = 0;
  }
  m.x[a] = 0;
}

void ClockEnsemble::seed(double t, double offset_s, double offset_var, double freq, double freq_var,
                         const Seed* members, size_t n) {
  m_used.fill(false);
  m_weight.fill(0);
  n = std::min(n, k_max_members);
  // Each bias starts loose around its member's difference from the combined offset;
  // the constraint then ties their weighted sum (zero by construction when the
  // combined offset is the same weighted mean) and the data do the rest.
  double spread = 0, wsum = 0;
  for (size_t i = 0; i < n; ++i) {
    double w = members[i].weight > 0 && std::isfinite(members[i].weight) ? members[i].weight : 0;
    spread += w * std::pow(members[i].offset_s - offset_s, 2);
    wsum += w;
  }
  double loose = std::max(offset_var, 0.0) + (wsum > 0 ? spread / wsum : 0.0) + 1e-8;
  for (auto& m : m_bank) {
    m.x.fill(0);
    m.p.fill(0);
    m.loglik = 0;
    m.x[0] = offset_s;
    m.x[1] = freq;
    m.p[0] = loose;
    m.p[k_dim + 1] = std::max(freq_var, 0.0);
    for (size_t i = 0; i < n; ++i) {
      size_t a = 2 + i;
      m.x[a] = members[i].offset_s - offset_s;
      m.p[a * k_dim + a] = loose;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    m_ids[i] = members[i].id;
    m_used[i] = true;
    m_weight[i] = members[i].weight > 0 && std::isfinite(members[i].weight) ? members[i].weight : 0;
  }
  m_t = t;
  m_samples = 0;
  m_seeded = true;
  constrain();
}

void ClockEnsemble::constrain() {
  // The pseudo-measurement 0 = c . b with no noise: c the consensus weights.
  double csum = 0;
  for (size_t s = 0; s < k_max_members; ++s) {
    csum += m_used[s] ? m_weight[s] : 0.0;
  }
  if (!(csum > 0)) {
    m_seeded = false;
    return;
  }
  for (auto& m : m_bank) {
    auto& p = m.p;
    std::array<double, k_dim> pc{};
    for (size_t i = 0; i < k_dim; ++i) {
      for (size_t s = 0; s < k_max_members; ++s) {
        if (m_used[s] && m_weight[s] > 0) {
          pc[i] += p[i * k_dim + 2 + s] * m_weight[s] / csum;
        }
      }
    }
    double sv = 0, cb = 0;
    for (size_t s = 0; s < k_max_members; ++s) {
      if (m_used[s] && m_weight[s] > 0) {
        sv += pc[2 + s] * m_weight[s] / csum;
        cb += m.x[2 + s] * m_weight[s] / csum;
      }
    }
    if (!(sv > 1e-30)) {
      continue;  // already holds
    }
    for (size_t i = 0; i < k_dim; ++i) {
      m.x[i] -= pc[i] / sv * cb;
    }
    for (size_t i = 0; i < k_dim; ++i) {
      for (size_t j = 0; j < k_dim; ++j) {
        p[i * k_dim + j] -= pc[i] * pc[j] / sv;
      }
    }
  }
}

void ClockEnsemble::predict(Model& m, double q, double dt) const {
  // F = I except F[0][1] = dt: rows then columns.
  auto& p = m.p;
  m.x[0] += m.x[1] * dt;
  for (size_t j = 0; j < k_dim; ++j) {
    p[j] += dt * p[k_dim + j];
  }
  for (size_t i = 0; i < k_dim; ++i) {
    p[i * k_dim] += dt * p[i * k_dim + 1];
  }
  p[0] += q * dt * dt * dt / 3 + k_phase_noise * dt;
  p[1] += q * dt * dt / 2;
  p[k_dim] += q * dt * dt / 2;
  p[k_dim + 1] += q * dt;
}

bool ClockEnsemble::add(uint32_t id, double t, double z, double r) {
  if (!m_seeded || !std::isfinite(t) || !std::isfinite(z) || !(r > 0) || !std::isfinite(r) || t < m_t) {
    return false;
  }
  int s = slot_of(id);
  bool join = s < 0;
  if (join) {
    s = free_slot();
    if (s < 0) {
      return false;
    }
  }
  double dt = t - m_t;
  size_t a = 2 + static_cast<size_t>(s);
  if (!join && outlier(a, dt, z, r)) {
    return false;
  }
  m_t = t;
  for (size_t k = 0; k < k_models; ++k) {
    Model& m = m_bank[k];
    predict(m, bank_q(k), dt);
    auto& p = m.p;
    if (join) {
      // b = z - x: this sample says nothing of x, all of the new bias (exact
      // conditioning: its covariances are those of -x, plus the sample's noise).
      clear_slot(m, static_cast<size_t>(s));
      m.x[a] = z - m.x[0];
      for (size_t j = 0; j < k_dim; ++j) {
        p[a * k_dim + j] = -p[j];
        p[j * k_dim + a] = -p[j];
      }
      p[a * k_dim + a] = p[0] + r;
      continue;
    }
    // H = e_0 + e_a.
    std::array<double, k_dim> ph{};
    for (size_t i = 0; i < k_dim; ++i) {
      ph[i] = p[i * k_dim] + p[i * k_dim + a];
    }
    double sv = ph[0] + ph[a] + r;
    if (!(sv > 0)) {
      continue;
    }
    double nu = z - m.x[0] - m.x[a];
    m.loglik = (1 - k_forget) * m.loglik - 0.5 * (std::log(sv) + std::min(nu * nu / sv, k_miss_cap));
    for (size_t i = 0; i < k_dim; ++i) {
      m.x[i] += ph[i] / sv * nu;
    }
    for (size_t i = 0; i < k_dim; ++i) {
      double ki = ph[i] / sv;
      for (size_t j = 0; j < k_dim; ++j) {
        p[i * k_dim + j] -= ki * ph[j];
      }
    }
  }
  if (join) {
    m_ids[static_cast<size_t>(s)] = id;
    m_used[static_cast<size_t>(s)] = true;
    m_weight[static_cast<size_t>(s)] = 0;
  } else {
    ++m_samples;
  }
  return true;
}

bool ClockEnsemble::outlier(size_t a, double dt, double z, double r) const {
  // The most likely model's prediction of this member's sample: a miss beyond
  // k_outlier_sigma of it is not used (a source's own filter may accept a sample its
  // weaker prediction cannot judge; the ensemble knows the clock better).
  size_t best = 0;
  for (size_t k = 1; k < k_models; ++k) {
    if (m_bank[k].loglik > m_bank[best].loglik) {
      best = k;
    }
  }
  Model m = m_bank[best];
  predict(m, bank_q(best), dt);
  double sv = m.p[0] + 2 * m.p[a] + m.p[a * k_dim + a] + r;
  double nu = z - m.x[0] - m.x[a];
  return nu * nu > k_outlier_sigma * k_outlier_sigma * sv;
}

void ClockEnsemble::forget_bias(uint32_t id, double var_s2) {
  int s = slot_of(id);
  if (s < 0) {
    return;
  }
  size_t a = 2 + static_cast<size_t>(s);
  for (auto& m : m_bank) {
    double d = m.p[a * k_dim + a];
    for (size_t j = 0; j < k_dim; ++j) {
      m.p[a * k_dim + j] = 0;
      m.p[j * k_dim + a] = 0;
    }
    m.p[a * k_dim + a] = d + std::max(var_s2, 0.0);
  }
}

void ClockEnsemble::remove(uint32_t id) {
  int s = slot_of(id);
  if (s < 0) {
    return;
  }
  for (auto& m : m_bank) {
    clear_slot(m, static_cast<size_t>(s));
  }
  m_used[static_cast<size_t>(s)] = false;
  if (m_weight[static_cast<size_t>(s)] > 0) {
    m_weight[static_cast<size_t>(s)] = 0;
    constrain();
  }
}

EnsembleEstimate ClockEnsemble::estimate_at(double t) const {
  EnsembleEstimate e;
  if (!m_seeded) {
    return e;
  }
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& m : m_bank) {
    best = std::max(best, m.loglik);
  }
  double dt = t - m_t, adt = std::fabs(dt);
  std::array<double, k_models> w{}, x{}, f{}, vx{}, vf{};
  double wsum = 0;
  for (size_t k = 0; k < k_models; ++k) {
    const Model& m = m_bank[k];
    double q = bank_q(k);
    w[k] = std::exp(m.loglik - best);
    wsum += w[k];
    x[k] = m.x[0] + m.x[1] * dt;
    f[k] = m.x[1];
    vx[k] = m.p[0] + 2 * m.p[1] * dt + m.p[k_dim + 1] * dt * dt + k_phase_noise * adt + q * adt * adt * adt / 3;
    vf[k] = m.p[k_dim + 1] + q * adt;
  }
  for (size_t k = 0; k < k_models; ++k) {
    e.offset_s += w[k] / wsum * x[k];
    e.freq += w[k] / wsum * f[k];
  }
  for (size_t k = 0; k < k_models; ++k) {
    e.offset_var += w[k] / wsum * (vx[k] + (x[k] - e.offset_s) * (x[k] - e.offset_s));
    e.freq_var += w[k] / wsum * (vf[k] + (f[k] - e.freq) * (f[k] - e.freq));
  }
  return e;
}

bool ClockEnsemble::bias(uint32_t id, double& b, double& var) const {
  int s = slot_of(id);
  if (s < 0 || !m_seeded) {
    return false;
  }
  size_t a = 2 + static_cast<size_t>(s);
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& m : m_bank) {
    best = std::max(best, m.loglik);
  }
  double wsum = 0;
  b = 0;
  var = 0;
  for (const auto& m : m_bank) {
    double w = std::exp(m.loglik - best);
    wsum += w;
    b += w * m.x[a];
    var += w * m.p[a * k_dim + a];
  }
  b /= wsum;
  var /= wsum;
  return true;
}

double ClockEnsemble::process_noise() const {
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& m : m_bank) {
    best = std::max(best, m.loglik);
  }
  double wsum = 0, lsum = 0;
  for (size_t k = 0; k < k_models; ++k) {
    double w = std::exp(m_bank[k].loglik - best);
    wsum += w;
    lsum += w * std::log(bank_q(k));
  }
  return std::exp(lsum / wsum);
}

void ClockEnsemble::shift(double delta_s) {
  for (auto& m : m_bank) {
    m.x[0] += delta_s;
  }
}

}  // namespace tr7::core
