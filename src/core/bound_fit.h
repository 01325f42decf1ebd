// Delay-bounded line fit: of all the lines offset(t) = x + y * (t - t_ref) (offset and
// frequency of one source against our raw clock), those consistent with the error bound
// of every recent sample, and the centre of that set.
//
// No I/O; pure arithmetic, no allocation after construction.
//
// Why: a sample's error is the asymmetry of its exchange, (out_delay - in_delay) / 2.
// Each leg's delay is its minimum plus a non-negative excess, and the excesses add up to
// round trip - minimum round trip, so the error lies within +- (delay - min_delay) / 2
// (plus the fixed asymmetry of the minimal path, which no client can see). A sample with
// a near-minimal round trip pins the offset down far better than an average one, and the
// intersection of many such bounds (propagated along a line) shrinks much faster than a
// least-squares average of the same samples (1/n against 1/sqrt(n) for bounded jitter).
//
// The minimum round trip is estimated as the smallest one in the window; the bias of that
// estimate (and any sample outside its bound: unbounded jitter, a clock that bends) is
// absorbed by `slack`: every half-width is widened by the smallest amount that makes the
// set non-empty (a minimax fit), then by half as much again (the true minimum is lower
// than the observed one). The estimate is the centroid of that set of lines (the mean
// of the lines consistent with every sample, if all of them are equally likely: the
// asymmetry of an exchange with a given delay is close to uniform for most queueing
// models); low_at/high_at bound the offset over the set.
//
// A clock that wanders makes old samples less informative: each half-width grows by
// the deviation a random-walk frequency with the given `wander` (s^2/s^3, as the Kalman
// filter's process noise) may cause over the sample's age.
//
// Units: t in seconds on the caller's time line (non-decreasing), z and delays in
// seconds, slopes in s/s.
#pragma once

#include <array>
#include <cstddef>

namespace tr7::core {

class BoundFit {
 public:
  static constexpr size_t k_max_points = 128;
  static constexpr size_t k_min_points = 4;  // before that: not valid()

  // `floor_s`: added to every half-width (precision of both clocks); `capacity`: the
  // window, in samples (at most k_max_points).
  explicit BoundFit(double floor_s = 1e-6, size_t capacity = k_max_points)
      : m_floor(floor_s),
        m_cap(capacity < k_min_points   ? k_min_points
              : capacity > k_max_points ? k_max_points
                                        : capacity) {}

  void clear();
  // Frequency random walk assumed for the widths of old samples, (s/s)^2 per second.
  void set_wander(double q) { m_wander = q; }
  // A sample at time t (not before the newest one; otherwise ignored): offset z with
  // round trip delay_s >= 0. The oldest sample leaves when the window is full.
  void add(double t, double z, double delay_s);
  // Keeps only the newest n samples.
  void keep_newest(size_t n);
  // Drops the samples older than t (but keeps at least k_min_points); true if any went.
  bool keep_since(double t);
  // Shifts every sample's offset (a known jump of the server's time scale).
  void shift(double delta_s);

  size_t size() const { return m_n; }
  bool full() const { return m_n == m_cap; }
  size_t capacity() const { return m_cap; }
  bool valid() const { return m_valid; }
  double newest_time() const;
  double oldest_time() const;

  // Over the lines of the set, at time t: [lo, hi] of the offset (valid() only).
  double low_at(double t) const;
  double high_at(double t) const;
  // The estimate: the centroid line of the set, at time t.
  double centre_at(double t) const { return m_cx + m_cy * (t - m_t_ref); }
  // Slope range of the set and its centroid, s/s.
  double slope_low() const { return m_slope_lo; }
  double slope_high() const { return m_slope_hi; }
  double slope_centre() const { return m_cy; }
  // The widening that made the set non-empty (s; may be negative when every bound had
  // room to spare) and the smallest round trip of the window.
  double slack_s() const { return m_slack; }
  double min_delay_s() const { return m_min_delay; }

 private:
  struct Point {
    double t, z, d;
  };
  struct Vertex {
    double x, y;  // offset at m_t_ref, slope
  };
  const Point& at(size_t i) const { return m_pts[(m_head + i) % k_max_points]; }
  void solve();
  double half_width(const Point& p) const;
  double width_excess(double y) const;  // (U(y) - L(y)) / 2
  void centroid();

  double m_floor;
  size_t m_cap;
  double m_wander = 0;
  std::array<Point, k_max_points> m_pts{};
  size_t m_head = 0;  // index of the oldest point
  size_t m_n = 0;
  bool m_valid = false;
  double m_t_ref = 0;
  double m_slack = 0;
  double m_min_delay = 0;
  double m_slope_lo = 0, m_slope_hi = 0;
  double m_cx = 0, m_cy = 0;  // centroid: offset at m_t_ref, slope
  // The feasible polygon: at most 4 + 2 * k_max_points vertices.
  std::array<Vertex, 4 + 2 * k_max_points + 4> m_poly{};
  size_t m_nv = 0;
};

}  // namespace tr7::core
