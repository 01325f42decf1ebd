// The NTP client of the daemon: its sources, their filters, selection, the discipline,
// leap seconds and the reference state the server publishes. Sans-IO: the daemon and
// the simulator drive the same object.
//
// No I/O, no clock reads: every call takes the time. Two time scales (see ntp_source.h):
// `mono` seconds for scheduling, served Timestamps for measurements.
//
// Driving it:
//   for each id in due(mono): bytes = make_request(id, mono); send (fresh socket);
//                             request_sent(id, t1_served)
//   on a datagram from the source's address: on_response(id, bytes, t4_served, mono)
//   at next_event(mono, now) at the latest: tick(mono, now)
//   the server asks reference(now) for every reply.
//
// Start: every source's first request goes out at once. The clock is synchronised as
// soon as min_sources sources agree (their correctness intervals intersect, with a
// majority) and every source has answered or k_startup_wait_s has passed; the first
// update may step (makestep), the bursts then refine.
//
// Holdover: without a selectable majority the clock keeps its frequency; the reference
// keeps the last values, its root dispersion growing at PHI; once the root distance
// passes holdover_max_distance_s the reference is unsynchronised (the daemon may then
// serve local_stratum). Recovery slews (steps are over after makestep_limit updates).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/discipline.h"
#include "core/ntp_source.h"
#include "core/random.h"
#include "core/reference.h"
#include "core/selection.h"
#include "core/source_filter.h"

namespace tr7::core {

using SourceId = uint32_t;

struct ClientOptions {
  size_t min_sources = 1;
  DisciplineOptions discipline;
  double holdover_max_distance_s = 1.5;  // root distance beyond which we stop serving
  std::optional<double> drift_ppm;       // from the drift file, if any
  int8_t precision = -20;                // our clock's precision, log2 s
  double startup_wait_s = 1.0;           // wait this long for all sources' first answers
};

struct SourceSnapshot {
  SourceId id = 0;
  uint32_t refid = 0;  // how the server names this source in replies
  int8_t poll = 0;
  uint8_t reach = 0;
  bool retired = false;
  bool truechimer = false;
  bool survivor = false;
  bool best = false;
  size_t filter_samples = 0;
  std::optional<Sample> last;  // last accepted sample
  double offset_s = 0;         // filtered, server - served clock, now
  double offset_sd_s = 0;
  double freq_ppm = 0;         // server - raw clock
  double jitter_s = 0;
  double distance_s = 0;       // root distance, now
  double wander = 0;           // filter's frequency random walk, (s/s)^2 per s
  double noise_scale = 0;      // filter's measurement noise scale
  SourceStats stats;
};

struct TrackingSnapshot {
  bool synchronised = false;  // reference usable (false: LI=3 or local stratum)
  bool ever_synchronised = false;
  ReferenceState reference;
  SelectStatus selection = SelectStatus::NoCandidates;
  size_t candidates = 0;
  size_t falsetickers = 0;
  double last_offset_s = 0;     // last correction asked for
  double system_offset_s = 0;   // combined estimate at the last update
  double frequency_ppm = 0;     // base frequency (what the drift file keeps)
  double current_freq_ppm = 0;  // including a slew in progress
  bool held = false;
  double held_offset_s = 0;
  int updates = 0;
  uint64_t steps = 0;
  Leap leap_armed = Leap::None;
  Timestamp leap_at;
};

class NtpClient {
 public:
  NtpClient(const ClientOptions& opt, ClockControl& control, Timestamp now, double mono, uint64_t seed);

  // `refid`: the identity the server publishes when this source is the reference (its
  // IPv4 address, or a hash of the IPv6 one).
  SourceId add_source(const SourceOptions& opt, uint32_t refid, double mono);
  void remove_source(SourceId id);
  bool has_source(SourceId id) const { return m_sources.count(id) != 0; }
  const NtpSource* source(SourceId id) const;
  std::vector<SourceId> source_ids() const;

  // Sources whose request is due.
  std::vector<SourceId> due(double mono) const;
  std::array<uint8_t, k_header_len> make_request(SourceId id, double mono);
  void request_sent(SourceId id, Timestamp t1);
  ResponseResult on_response(SourceId id, std::span<const uint8_t> data, Timestamp t4, double mono);
  // Housekeeping: slew ends, leap seconds, the startup wait.
  void tick(double mono, Timestamp now);
  // The next mono time anything is due (a request or a tick).
  double next_event(double mono, Timestamp now) const;
  void burst(double mono);  // a burst on every source

  ReferenceState reference(Timestamp now) const;
  TrackingSnapshot tracking(Timestamp now) const;
  std::vector<SourceSnapshot> sources(Timestamp now) const;
  bool approve() { return m_discipline.approve(); }
  double frequency_ppm() const { return m_discipline.frequency_ppm(); }
  const Discipline& discipline() const { return m_discipline; }
  void set_discipline_options(const DisciplineOptions& d) { m_discipline.set_options(d); }
  void set_min_sources(size_t n) { m_opt.min_sources = n; }

  // Events worth a log line, drained by the daemon (the core does not log).
  struct Event {
    enum Kind : uint8_t { Synchronised, Stepped, Held, Released, NoMajority, Lost, LeapArmed, LeapApplied, Retired };
    Kind kind;
    double value = 0;
    SourceId source = 0;
  };
  std::vector<Event> take_events() { return std::exchange(m_events, {}); }

 private:
  struct Entry {
    SourceId id;
    NtpSource src;
    SourceFilter filt;
    uint32_t refid;
    bool truechimer = false;
    bool survivor = false;
    bool retire_reported = false;
    size_t at_poll = 0;                         // samples since the last poll change
    std::optional<int8_t> poll_before_backoff;  // set while backing off an unreachable source
  };

  std::optional<Candidate> candidate(const Entry& e, Timestamp now) const;
  double distance(const Entry& e, Timestamp now) const;
  void adapt_poll(Entry& e, Timestamp now);
  void select_and_update(Timestamp now, double mono, const Entry* from);
  void check_leap(double mono, Timestamp now);
  void vote_leap(double mono, Timestamp now);
  void event(Event::Kind k, double v = 0, SourceId s = 0) { m_events.push_back(Event{k, v, s}); }

  ClientOptions m_opt;
  ClockControl& m_control;
  Discipline m_discipline;
  Rng m_rng;
  std::map<SourceId, Entry> m_sources;
  SourceId m_next_id = 1;
  double m_start_mono;
  bool m_startup_done = false;
  bool m_ever_synced = false;
  Selection m_last_sel;
  size_t m_candidates = 0;
  double m_system_offset = 0;
  bool m_alarm = false;
  bool m_lost = false;  // past the holdover bound (reported once)
  // Reference state at the last clock update.
  ReferenceState m_ref;
  // Leap second.
  Leap m_leap = Leap::None;
  Timestamp m_leap_at;
  double m_leap_mono = 0;
  std::vector<Event> m_events;
};

}  // namespace tr7::core
