// A deterministic simulator for the NTP client: virtual time, an event queue, a simulated
// clock (frequency error, wander, steps, leap seconds) and simulated servers behind a
// simulated network (delay, jitter, asymmetry, loss, per-server offset and rate). It
// drives the real core::NtpClient exactly as the daemon does: requests and replies are
// real encoded NTP packets.
//
// Time: `tau` is true time in seconds since the start of the run; the true POSIX time is
// start + tau, minus the leap seconds inserted so far. The client's mono clock is tau.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/ntp_client.h"
#include "core/random.h"

namespace tr7::sim {

struct ClockParams {
  double offset_s = 0;    // initial raw - true
  double freq_ppm = 0;    // raw clock frequency error (positive: runs fast)
  double wander_ppm = 0;  // random walk of the frequency: sd of its change over one hour (ppm)
  double step_at_s = -1;  // an external step of the raw clock at this tau (< 0: none)
  double step_s = 0;
};

// The simulated clock: raw(tau) follows the oscillator; served = raw + K, where K is
// what the client commands through ClockControl.
class SimClock final : public core::ClockControl {
 public:
  SimClock(const ClockParams& p, core::Timestamp start, uint64_t seed);
  void advance(double tau);
  core::Timestamp served() const;    // at the current tau
  double served_minus_true() const;  // served - true POSIX time, at the current tau
  double tau() const { return m_tau; }
  double freq_error_ppm() const { return m_err * 1e6; }  // of the raw oscillator
  void leap_inserted_by_true_time() { m_true_leaps += 1; }
  double true_posix_s() const;  // seconds since start, leap-adjusted

  tr7::Result<void> step(double delta_s) override;
  tr7::Result<void> slew(double delta_s) override;
  tr7::Result<void> set_frequency(double ppm) override;
  double frequency() const override { return m_f * 1e6; }
  tr7::Result<void> set_leap(core::Leap leap) override;
  core::Leap leap() const { return m_leap; }
  int leaps_applied() const { return m_leaps_applied; }
  // The sync status as a kernel would hold it (STA_UNSYNC, esterror, maxerror).
  tr7::Result<void> set_sync_status(bool synchronised, double est_error_s, double max_error_s) override {
    m_sync = SyncStatus{synchronised, est_error_s, max_error_s, m_sync.reports + 1};
    return {};
  }
  struct SyncStatus {
    bool synchronised = false;
    double est_error_s = 16;
    double max_error_s = 16;
    uint64_t reports = 0;
  };
  const SyncStatus& sync_status() const { return m_sync; }

 private:
  ClockParams m_p;
  core::Timestamp m_start;
  core::Rng m_rng;
  double m_tau = 0;
  double m_raw_off;  // raw - (start + tau)
  double m_err;      // current oscillator error (s/s)
  double m_k = 0;
  double m_f = 0;
  double m_wander_acc = 0;  // tau of the last wander update
  bool m_stepped = false;
  int m_true_leaps = 0;
  core::Leap m_leap = core::Leap::None;
  core::Timestamp m_leap_at;
  int m_leaps_applied = 0;
  SyncStatus m_sync;
};

struct ServerParams {
  double offset_s = 0;         // server time - true time
  double freq_ppm = 0;         // server's own rate error
  double delay_out_s = 0.005;  // base one-way delays
  double delay_in_s = 0.005;
  double jitter_s = 0.0005;   // per leg, uniform +- jitter (see jitter_gauss)
  bool jitter_gauss = false;  // gaussian with this sd instead
  // Per leg, an extra exponentially distributed delay with this mean, added with
  // probability extra_p (queueing, a late userspace relay): 0 for none.
  double extra_mean_s = 0;
  double extra_p = 1.0;
  double loss = 0;  // probability a request or reply is lost
  uint8_t stratum = 1;
  double root_delay_s = 0;
  double root_dispersion_s = 0.0001;
  int8_t precision = -24;
  double jump_at_s = -1;  // the server's time jumps by jump_s at this tau
  double jump_s = 0;
  double dead_from_s = -1;  // no replies in [dead_from_s, dead_until_s)
  double dead_until_s = 1e300;
  // Leap indicator announced: from this tau until the leap (< 0: never).
  double leap_announce_from_s = -1;
  core::Leap leap_kind = core::Leap::Insert;
  // Changes the reply header just before it is encoded (KoD, LI, ...); tau given.
  std::function<void(core::NtpHeader&, double)> mangle;
};

struct Sample {
  double tau;
  double error_s;     // served - true
  bool synchronised;  // reference usable
  double root_disp_s;
  core::Leap leap;
  double root_delay_s = 0;
  // The error within the root distance the client would be told (root delay / 2 + root
  // dispersion): what a client of ours may rely on.
  bool honest() const { return !synchronised || std::fabs(error_s) <= root_delay_s / 2 + root_disp_s; }
};

struct RunResult {
  std::vector<Sample> samples;
  double sync_tau = -1;  // first tau the reference was synchronised
  uint64_t steps = 0;
  uint64_t requests = 0;
  double max_backward_s = 0;  // largest backward jump of served time between probes
  double rms(double from_tau, double to_tau = 1e300) const;
  double max_abs(double from_tau, double to_tau = 1e300) const;
  // First tau after which |error| stays below `bound` until the end.
  double settled_tau(double bound) const;
};

class Simulation {
 public:
  Simulation(const ClockParams& clock, const core::ClientOptions& copt, core::Timestamp start, uint64_t seed);
  void add_server(const ServerParams& sp, const core::SourceOptions& so);
  // Runs until tau_end, probing every probe_s.
  RunResult run(double tau_end, double probe_s = 1.0);
  core::NtpClient& client() { return *m_client; }
  SimClock& clock() { return m_clock; }
  std::vector<core::NtpClient::Event>& events() { return m_events; }
  // Schedules an action at tau (e.g. change a server's parameters).
  void at(double tau, std::function<void()> fn);
  ServerParams& server(size_t i) { return m_servers[i].p; }
  void set_leap_at(core::Timestamp midnight);  // a true leap insertion at this POSIX time

 private:
  struct Server {
    ServerParams p;
    core::SourceId id;
  };
  struct Ev {
    double tau;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Ev& o) const { return tau > o.tau || (tau == o.tau && seq > o.seq); }
  };
  void push(double tau, std::function<void()> fn);
  void wake();
  void schedule_wake();
  void send(size_t server, std::array<uint8_t, core::k_header_len> req, double tau);
  double server_time(const Server& s, double tau) const;  // seconds since start
  double leg_delay(const ServerParams& p, bool out);

  core::Timestamp m_start;
  SimClock m_clock;
  core::Rng m_rng;
  std::unique_ptr<core::NtpClient> m_client;
  std::vector<Server> m_servers;
  std::priority_queue<Ev, std::vector<Ev>, std::greater<Ev>> m_q;
  uint64_t m_seq = 0;
  double m_wake_at = -1;
  double m_leap_tau = -1;  // true time of the leap (insertion)
  uint64_t m_requests = 0;
  double m_trace = 0;  // TR7_SIM_TRACE=seconds: print the state at this period
  std::vector<core::NtpClient::Event> m_events;
};

}  // namespace tr7::sim
