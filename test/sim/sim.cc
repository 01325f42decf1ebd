// The simulator (see sim.h).
#include "sim.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/leap.h"

namespace tr7::sim {

using core::Timestamp;

namespace {
Timestamp at_seconds(Timestamp start, double s) { return Timestamp{start.ns + std::llround(s * 1e9)}; }
}  // namespace

SimClock::SimClock(const ClockParams& p, Timestamp start, uint64_t seed)
    : m_p(p), m_start(start), m_rng(seed), m_raw_off(p.offset_s), m_err(p.freq_ppm * 1e-6) {}

void SimClock::advance(double tau) {
  while (m_tau < tau) {
    double seg_end = std::min(tau, std::floor(m_tau) + 1.0);
    if (m_p.step_at_s >= 0 && !m_stepped && m_p.step_at_s > m_tau) {
      seg_end = std::min(seg_end, m_p.step_at_s);
    }
    double dt = seg_end - m_tau;
    m_raw_off += m_err * dt;
    m_k += m_f * (1 + m_err) * dt;
    m_tau = seg_end;
    if (m_tau == std::floor(m_tau) && m_p.wander_ppm > 0) {
      m_err += m_p.wander_ppm * 1e-6 / 60.0 * m_rng.next_gaussian();  // sd per sqrt(hour)
    }
    if (m_p.step_at_s >= 0 && !m_stepped && m_tau >= m_p.step_at_s) {
      m_stepped = true;
      m_raw_off += m_p.step_s;
    }
    if (m_leap != core::Leap::None) {
      Timestamp now = served();
      if (m_leap == core::Leap::Insert && now >= m_leap_at) {
        m_k -= 1.0;
        m_leap = core::Leap::None;
        ++m_leaps_applied;
      } else if (m_leap == core::Leap::Delete && now >= Timestamp{m_leap_at.ns - core::k_ns_per_s}) {
        m_k += 1.0;
        m_leap = core::Leap::None;
        ++m_leaps_applied;
      }
    }
  }
}

Timestamp SimClock::served() const { return at_seconds(m_start, m_tau + m_raw_off + m_k); }

double SimClock::true_posix_s() const { return m_tau - m_true_leaps; }

double SimClock::served_minus_true() const { return m_raw_off + m_k + m_true_leaps; }

tr7::Result<void> SimClock::step(double delta_s) {
  if (!std::isfinite(delta_s)) {
    return tr7::unexpected(std::string("not finite"));
  }
  m_k += delta_s;
  return {};
}

tr7::Result<void> SimClock::slew(double) { return tr7::unexpected(std::string("the simulated clock does not slew")); }

tr7::Result<void> SimClock::set_frequency(double ppm) {
  if (!std::isfinite(ppm) || std::fabs(ppm) > 100000) {
    return tr7::unexpected(std::string("frequency out of range"));
  }
  m_f = ppm * 1e-6;
  return {};
}

tr7::Result<void> SimClock::set_leap(core::Leap leap) {
  if (leap == core::Leap::Insert || leap == core::Leap::Delete) {
    m_leap = leap;
    m_leap_at = core::next_midnight(served());
  } else {
    m_leap = core::Leap::None;  // an applied leap is already part of K
  }
  return {};
}

double RunResult::rms(double from_tau, double to_tau) const {
  double sum = 0;
  size_t n = 0;
  for (const auto& s : samples) {
    if (s.tau >= from_tau && s.tau <= to_tau) {
      sum += s.error_s * s.error_s;
      ++n;
    }
  }
  return n ? std::sqrt(sum / static_cast<double>(n)) : 0.0;
}

double RunResult::max_abs(double from_tau, double to_tau) const {
  double m = 0;
  for (const auto& s : samples) {
    if (s.tau >= from_tau && s.tau <= to_tau) {
      m = std::max(m, std::fabs(s.error_s));
    }
  }
  return m;
}

double RunResult::settled_tau(double bound) const {
  double t = -1;
  for (const auto& s : samples) {
    if (std::fabs(s.error_s) >= bound || !s.synchronised) {
      t = -1;
    } else if (t < 0) {
      t = s.tau;
    }
  }
  return t;
}

Simulation::Simulation(const ClockParams& clock, const core::ClientOptions& copt, Timestamp start, uint64_t seed)
    : m_start(start), m_clock(clock, start, seed ^ 0x5151), m_rng(seed) {
  if (const char* t = std::getenv("TR7_SIM_TRACE")) {
    m_trace = std::atof(t);
  }
  m_client = std::make_unique<core::NtpClient>(copt, m_clock, m_clock.served(), 0.0, seed ^ 0xC11E);
}

void Simulation::add_server(const ServerParams& sp, const core::SourceOptions& so) {
  uint32_t refid = 0x0A000001 + static_cast<uint32_t>(m_servers.size());
  core::SourceId id = m_client->add_source(so, refid, m_clock.tau());
  m_servers.push_back(Server{sp, id});
}

void Simulation::push(double tau, std::function<void()> fn) { m_q.push(Ev{tau, m_seq++, std::move(fn)}); }

void Simulation::at(double tau, std::function<void()> fn) { push(tau, std::move(fn)); }

void Simulation::set_leap_at(Timestamp midnight) {
  m_leap_tau = core::diff_s(midnight, m_start);
  push(m_leap_tau, [this] { m_clock.leap_inserted_by_true_time(); });
}

double Simulation::server_time(const Server& s, double tau) const {
  double t = tau + s.p.offset_s + s.p.freq_ppm * 1e-6 * tau;
  if (m_leap_tau >= 0 && tau >= m_leap_tau) {
    t -= 1.0;
  }
  if (s.p.jump_at_s >= 0 && tau >= s.p.jump_at_s) {
    t += s.p.jump_s;
  }
  return t;
}

double Simulation::leg_delay(const ServerParams& p, bool out) {
  double base = out ? p.delay_out_s : p.delay_in_s;
  double j = p.jitter_gauss ? p.jitter_s * m_rng.next_gaussian() : p.jitter_s * (2 * m_rng.next_double() - 1);
  if (p.extra_mean_s > 0 && m_rng.next_double() < p.extra_p) {
    j -= p.extra_mean_s * std::log(1.0 - m_rng.next_double());
  }
  return std::max(1e-6, base + j);
}

void Simulation::send(size_t si, std::array<uint8_t, core::k_header_len> req, double tau) {
  ++m_requests;
  Server& s = m_servers[si];
  if (m_rng.next_double() < s.p.loss) {
    return;
  }
  double t2 = tau + leg_delay(s.p, true);
  push(t2, [this, si, req, t2] {
    Server& srv = m_servers[si];
    if (t2 >= srv.p.dead_from_s && t2 < srv.p.dead_until_s && srv.p.dead_from_s >= 0) {
      return;
    }
    core::NtpHeader q = core::decode_header(std::span<const uint8_t, core::k_header_len>(req.data(), req.size()));
    const double proc = 20e-6;
    core::NtpHeader h;
    bool announce =
        srv.p.leap_announce_from_s >= 0 && t2 >= srv.p.leap_announce_from_s && (m_leap_tau < 0 || t2 < m_leap_tau);
    h.leap = announce ? srv.p.leap_kind : core::Leap::None;
    h.version = 4;
    h.mode = core::Mode::Server;
    h.stratum = srv.p.stratum;
    h.poll = q.poll;
    h.precision = srv.p.precision;
    h.root_delay = core::to_ntp_short(srv.p.root_delay_s);
    h.root_dispersion = core::to_ntp_short(srv.p.root_dispersion_s);
    h.refid = 0x47505300;
    double st2 = server_time(srv, t2);
    h.reference = core::to_ntp(at_seconds(m_start, st2 - 8));
    h.origin = q.transmit;
    h.receive = core::to_ntp(at_seconds(m_start, st2));
    h.transmit = core::to_ntp(at_seconds(m_start, server_time(srv, t2 + proc)));
    if (srv.p.mangle) {
      srv.p.mangle(h, t2);
    }
    std::array<uint8_t, core::k_header_len> rep{};
    core::encode_header(h, std::span<uint8_t, core::k_header_len>(rep.data(), rep.size()));
    if (m_rng.next_double() < srv.p.loss) {
      return;
    }
    double t4 = t2 + proc + leg_delay(srv.p, false);
    core::SourceId id = srv.id;
    push(t4, [this, id, rep, t4] {
      m_client->on_response(id, rep, m_clock.served(), t4);
      schedule_wake();
    });
  });
}

void Simulation::wake() {
  double tau = m_clock.tau();
  for (core::SourceId id : m_client->due(tau)) {
    auto req = m_client->make_request(id, tau);
    m_client->request_sent(id, m_clock.served());
    for (size_t i = 0; i < m_servers.size(); ++i) {
      if (m_servers[i].id == id) {
        send(i, req, tau);
      }
    }
  }
  m_client->tick(tau, m_clock.served());
  schedule_wake();
}

void Simulation::schedule_wake() {
  double tau = m_clock.tau();
  double t = std::max(m_client->next_event(tau, m_clock.served()), tau + 1e-6);
  if (m_wake_at <= tau || t < m_wake_at) {
    m_wake_at = t;
    push(t, [this] { wake(); });
  }
}

RunResult Simulation::run(double tau_end, double probe_s) {
  RunResult res;
  for (double t = 0; t <= tau_end; t += probe_s) {
    push(t, [this, &res] {
      Timestamp now = m_clock.served();
      core::ReferenceState ref = m_client->reference(now);
      Sample s{m_clock.tau(),   m_clock.served_minus_true(), ref.synchronised, ref.root_dispersion_at(now), ref.leap,
               ref.root_delay_s};
      if (!res.samples.empty()) {
        double served_prev = res.samples.back().tau + res.samples.back().error_s;
        double served_now = s.tau + s.error_s;
        res.max_backward_s = std::max(res.max_backward_s, served_prev - served_now);
      }
      if (s.synchronised && res.sync_tau < 0) {
        res.sync_tau = s.tau;
      }
      res.samples.push_back(s);
      if (m_trace > 0 && std::fmod(s.tau, m_trace) < 1e-9) {
        auto tr = m_client->tracking(now);
        std::printf("# t=%7.0f err=%9.1fus freq=%9.4fppm(true %9.4f) sel=%s", s.tau, s.error_s * 1e6, tr.frequency_ppm,
                    m_clock.freq_error_ppm(), core::to_string(tr.selection));
        for (const auto& src : m_client->sources(now)) {
          std::printf(" [p%d n%zu off%.1f sd%.1f j%.1f q%.0e r%.2f]", src.poll, src.filter_samples, src.offset_s * 1e6,
                      src.offset_sd_s * 1e6, src.jitter_s * 1e6, src.wander, src.noise_scale);
        }
        std::printf("\n");
      }
    });
  }
  push(0, [this] { wake(); });
  while (!m_q.empty() && m_q.top().tau <= tau_end) {
    Ev ev = m_q.top();
    m_q.pop();
    m_clock.advance(ev.tau);
    ev.fn();
    for (auto& e : m_client->take_events()) {
      if (e.kind == core::NtpClient::Event::Synchronised && res.sync_tau < 0) {
        res.sync_tau = m_clock.tau();
      }
      m_events.push_back(e);
    }
  }
  res.steps = m_client->tracking(m_clock.served()).steps;
  res.requests = m_requests;
  return res;
}

}  // namespace tr7::sim
