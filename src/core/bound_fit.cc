// Delay-bounded line fit (see bound_fit.h).
#include "core/bound_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tr7::core {

namespace {

// Slopes searched: far beyond any clock the discipline accepts (max_freq_ppm).
constexpr double k_max_slope = 1e-2;
constexpr int k_golden_steps = 90;
// The widening beyond the minimal one, as a fraction of it: the observed minimum delay
// is above the true one, so the true slack is larger than the minimal one (simulated on
// the bench's path, 0.5 gave the smallest errors; 0 and 1 are within 10 %).
constexpr double k_extra_slack = 0.5;
// And at least this much (numerical room: a polygon, not a point).
constexpr double k_margin_s = 1e-9;

struct HalfPlane {
  double a, b, c;  // a * x + b * y <= c
};

// Sutherland-Hodgman for one half-plane; `out` must hold n + 1 vertices.
template <class V>
size_t clip(const V* in, size_t n, V* out, const HalfPlane& h) {
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    const V& p = in[i];
    const V& q = in[(i + 1) % n];
    double fp = h.a * p.x + h.b * p.y - h.c;
    double fq = h.a * q.x + h.b * q.y - h.c;
    if (fp <= 0) {
      out[m++] = p;
    }
    if ((fp < 0 && fq > 0) || (fp > 0 && fq < 0)) {
      double s = fp / (fp - fq);
      out[m++] = V{p.x + s * (q.x - p.x), p.y + s * (q.y - p.y)};
    }
  }
  return m;
}

}  // namespace

void BoundFit::clear() {
  m_n = 0;
  m_head = 0;
  m_valid = false;
  m_nv = 0;
}

double BoundFit::newest_time() const { return m_n ? at(m_n - 1).t : 0.0; }
double BoundFit::oldest_time() const { return m_n ? at(0).t : 0.0; }

void BoundFit::add(double t, double z, double delay_s) {
  if (!std::isfinite(t) || !std::isfinite(z) || !std::isfinite(delay_s) || delay_s < 0) {
    return;
  }
  if (m_n > 0 && t < newest_time()) {
    return;
  }
  if (m_n == m_cap) {
    m_head = (m_head + 1) % k_max_points;
    --m_n;
  }
  m_pts[(m_head + m_n) % k_max_points] = Point{t, z, delay_s};
  ++m_n;
  solve();
}

void BoundFit::keep_newest(size_t n) {
  if (n >= m_n) {
    return;
  }
  m_head = (m_head + (m_n - n)) % k_max_points;
  m_n = n;
  solve();
}

bool BoundFit::keep_since(double t) {
  size_t drop = 0;
  while (m_n - drop > k_min_points && at(drop).t < t) {
    ++drop;
  }
  if (drop == 0) {
    return false;
  }
  keep_newest(m_n - drop);
  return true;
}

void BoundFit::shift(double delta_s) {
  for (size_t i = 0; i < m_n; ++i) {
    m_pts[(m_head + i) % k_max_points].z += delta_s;
  }
  solve();
}

double BoundFit::half_width(const Point& p) const {
  double age = m_t_ref - p.t;
  return (p.d - m_min_delay) / 2 + m_floor + std::sqrt(m_wander * age * age * age / 3);
}

double BoundFit::width_excess(double y) const {
  // U(y) = max(z_i - w_i - u_i y), L(y) = min(z_i + w_i - u_i y): the set of offsets at
  // t_ref allowed by every sample, for the slope y, is [U, L]; its half-width is negative
  // when the set is empty.
  double up = -std::numeric_limits<double>::infinity();
  double lo = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < m_n; ++i) {
    const Point& p = at(i);
    double w = half_width(p);
    double r = p.z - (p.t - m_t_ref) * y;
    up = std::max(up, r - w);
    lo = std::min(lo, r + w);
  }
  return (up - lo) / 2;
}

void BoundFit::centroid() {
  // Shoelace formula, relative to the first vertex (the polygon is small and far from
  // the origin); a degenerate polygon gives the mean of its vertices.
  const Vertex& o = m_poly[0];
  double a2 = 0, sx = 0, sy = 0, mx = 0, my = 0;
  for (size_t i = 0; i < m_nv; ++i) {
    const Vertex& p = m_poly[i];
    const Vertex& q = m_poly[(i + 1) % m_nv];
    double x0 = p.x - o.x, y0 = p.y - o.y, x1 = q.x - o.x, y1 = q.y - o.y;
    double c = x0 * y1 - x1 * y0;
    a2 += c;
    sx += (x0 + x1) * c;
    sy += (y0 + y1) * c;
    mx += x0;
    my += y0;
  }
  double n = static_cast<double>(m_nv);
  m_cx = o.x + mx / n;
  m_cy = o.y + my / n;
  if (std::fabs(a2) > 0) {
    double cx = o.x + sx / (3 * a2);
    double cy = o.y + sy / (3 * a2);
    if (std::isfinite(cx) && std::isfinite(cy)) {
      m_cx = cx;
      m_cy = cy;
    }
  }
}

void BoundFit::solve() {
  m_valid = false;
  m_nv = 0;
  if (m_n < k_min_points || !(newest_time() > oldest_time())) {
    return;
  }
  m_t_ref = newest_time();
  m_min_delay = at(0).d;
  for (size_t i = 1; i < m_n; ++i) {
    m_min_delay = std::min(m_min_delay, at(i).d);
  }
  // The smallest widening: minimise the convex g(y) = (U(y) - L(y)) / 2 over the slope
  // (golden section; g is piecewise linear and convex, so unimodal).
  const double r = (std::sqrt(5.0) - 1) / 2;
  double a = -k_max_slope, b = k_max_slope;
  double c = b - r * (b - a), d = a + r * (b - a);
  double gc = width_excess(c), gd = width_excess(d);
  for (int i = 0; i < k_golden_steps; ++i) {
    if (gc <= gd) {
      b = d;
      d = c;
      gd = gc;
      c = b - r * (b - a);
      gc = width_excess(c);
    } else {
      a = c;
      c = d;
      gc = gd;
      d = a + r * (b - a);
      gd = width_excess(d);
    }
  }
  m_slack = std::min(gc, gd);
  if (!std::isfinite(m_slack)) {
    return;
  }
  // The polygon of (x, y) for the widening slack + margin: start from the newest
  // sample's own bound on x (u = 0) and the slope box, clip by every sample's strip.
  double extra = m_slack + k_extra_slack * std::fabs(m_slack) + k_margin_s;
  for (int attempt = 0; attempt < 4; ++attempt, extra += std::max(1e-9, std::fabs(m_slack)) * 1e-3) {
    const Point& nw = at(m_n - 1);
    double w0 = half_width(nw) + extra;
    std::array<Vertex, 4 + 2 * k_max_points + 4> buf{};
    Vertex* cur = m_poly.data();
    Vertex* nxt = buf.data();
    cur[0] = {nw.z - w0, -k_max_slope};
    cur[1] = {nw.z + w0, -k_max_slope};
    cur[2] = {nw.z + w0, k_max_slope};
    cur[3] = {nw.z - w0, k_max_slope};
    size_t nv = 4;
    for (size_t i = 0; i + 1 < m_n && nv > 0; ++i) {
      const Point& p = at(i);
      double u = p.t - m_t_ref;
      double w = half_width(p) + extra;
      nv = clip(cur, nv, nxt, HalfPlane{1, u, p.z + w});
      std::swap(cur, nxt);
      if (nv == 0) {
        break;
      }
      nv = clip(cur, nv, nxt, HalfPlane{-1, -u, -(p.z - w)});
      std::swap(cur, nxt);
    }
    if (nv == 0) {
      continue;
    }
    if (cur != m_poly.data()) {
      std::copy_n(cur, nv, m_poly.data());
    }
    m_nv = nv;
    m_slope_lo = m_poly[0].y;
    m_slope_hi = m_poly[0].y;
    for (size_t i = 1; i < nv; ++i) {
      m_slope_lo = std::min(m_slope_lo, m_poly[i].y);
      m_slope_hi = std::max(m_slope_hi, m_poly[i].y);
    }
    centroid();
    m_valid = true;
    return;
  }
}

double BoundFit::low_at(double t) const {
  double v = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < m_nv; ++i) {
    v = std::min(v, m_poly[i].x + m_poly[i].y * (t - m_t_ref));
  }
  return v;
}

double BoundFit::high_at(double t) const {
  double v = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < m_nv; ++i) {
    v = std::max(v, m_poly[i].x + m_poly[i].y * (t - m_t_ref));
  }
  return v;
}

}  // namespace tr7::core
