// Intersection, clustering and combining (RFC 5905 §11.2).
#include "core/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tr7::core {

const char* to_string(SelectStatus s) {
  switch (s) {
    case SelectStatus::Ok:
      return "ok";
    case SelectStatus::NoCandidates:
      return "no_candidates";
    case SelectStatus::TooFew:
      return "too_few";
    case SelectStatus::NoMajority:
      return "no_majority";
  }
  return "?";
}

namespace {

struct Edge {
  double v;
  int type;  // -1 low end, +1 high end
};

// Marzullo: the largest number of intervals sharing a point, and that region.
// Returns the count; low/high bound the region where the count is reached (the
// union of such regions' extremes, as RFC 5905 does with its two sweeps).
bool intersect(const std::vector<Candidate>& c, size_t need, double& low, double& high) {
  std::vector<Edge> e;
  e.reserve(c.size() * 2);
  for (const auto& x : c) {
    e.push_back({x.offset_s - x.distance_s, -1});
    e.push_back({x.offset_s + x.distance_s, +1});
  }
  // Low ends before high ends at equal values: touching intervals intersect.
  std::sort(e.begin(), e.end(),
            [](const Edge& a, const Edge& b) { return a.v < b.v || (a.v == b.v && a.type < b.type); });
  size_t n = 0;
  bool found_low = false;
  for (const auto& x : e) {
    if (x.type < 0) {
      ++n;
      if (n >= need) {
        low = x.v;
        found_low = true;
        break;
      }
    } else {
      --n;
    }
  }
  if (!found_low) {
    return false;
  }
  n = 0;
  for (auto it = e.rbegin(); it != e.rend(); ++it) {
    if (it->type > 0) {
      ++n;
      if (n >= need) {
        high = it->v;
        break;
      }
    } else {
      --n;
    }
  }
  return low <= high;
}

}  // namespace

Selection select_sources(const std::vector<Candidate>& cands, size_t min_sources) {
  Selection sel;
  size_t n = cands.size();
  if (n == 0) {
    sel.status = SelectStatus::NoCandidates;
    return sel;
  }
  min_sources = std::max<size_t>(min_sources, 1);
  double low = 0, high = 0;
  bool ok = false;
  size_t f = 0;
  // RFC 5905: allow f falsetickers while f < n / 2 (a strict majority agrees).
  for (f = 0; 2 * f < n; ++f) {
    if (intersect(cands, n - f, low, high)) {
      ok = true;
      break;
    }
  }
  if (!ok) {
    sel.status = SelectStatus::NoMajority;
    return sel;
  }
  sel.low_s = low;
  sel.high_s = high;
  std::vector<const Candidate*> tc;
  for (const auto& c : cands) {
    if (c.offset_s + c.distance_s >= low && c.offset_s - c.distance_s <= high) {
      tc.push_back(&c);
      sel.truechimers.push_back(c.id);
    }
  }
  sel.falsetickers = n - tc.size();
  if (2 * tc.size() <= n) {
    sel.status = SelectStatus::NoMajority;
    return sel;
  }
  if (tc.size() < min_sources) {
    sel.status = SelectStatus::TooFew;
    return sel;
  }
  // Clustering: drop the candidate with the largest selection jitter while it exceeds
  // the smallest own jitter and more than k_min_cluster remain.
  std::vector<const Candidate*> sv = tc;
  while (sv.size() > k_min_cluster) {
    double max_sj = -1;
    size_t max_i = 0;
    double min_pj = std::numeric_limits<double>::max();
    for (size_t i = 0; i < sv.size(); ++i) {
      double sum = 0;
      for (size_t j = 0; j < sv.size(); ++j) {
        double d = sv[i]->offset_s - sv[j]->offset_s;
        sum += d * d;
      }
      double sj = std::sqrt(sum / static_cast<double>(sv.size() - 1));
      if (sj > max_sj) {
        max_sj = sj;
        max_i = i;
      }
      min_pj = std::min(min_pj, std::max(sv[i]->jitter_s, std::sqrt(sv[i]->offset_var)));
    }
    if (max_sj <= min_pj) {
      break;
    }
    sv.erase(sv.begin() + static_cast<long>(max_i));
  }
  // Combining.
  double wsum = 0, osum = 0, fsum = 0, fwsum = 0;
  double best_d = std::numeric_limits<double>::max();
  for (const auto* c : sv) {
    sel.survivors.push_back(c->id);
    double w = 1.0 / (c->offset_var + std::pow(c->distance_s / 4, 2) + 1e-18);
    wsum += w;
    osum += w * c->offset_s;
    double fw = 1.0 / (c->freq_var + 1e-24);
    fwsum += fw;
    fsum += fw * c->freq;
    if (c->distance_s < best_d) {
      best_d = c->distance_s;
      sel.best = c->id;
    }
  }
  sel.offset_s = osum / wsum;
  sel.freq = fsum / fwsum;
  sel.freq_var = 1.0 / fwsum;
  double spread = 0, evar = 0;
  for (const auto* c : sv) {
    double d2 = std::pow(c->offset_s - sel.offset_s, 2);
    spread += d2;
    evar += (c->offset_var + d2) / (c->offset_var + std::pow(c->distance_s / 4, 2) + 1e-18);
  }
  sel.estimate_var = evar / wsum;
  sel.jitter_s = std::sqrt(spread / static_cast<double>(sv.size()));
  sel.offset_var = 1.0 / wsum;
  sel.status = SelectStatus::Ok;
  return sel;
}

}  // namespace tr7::core
