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
#include "core/clock_ensemble.h"
#include "core/discipline.h"
#include "core/ntp_source.h"
#include "core/random.h"
#include "core/reference.h"
#include "core/result.h"
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

// Why a source is not a candidate for selection right now (Usable: it is).
enum class Usability : uint8_t {
  Usable,
  Retired,      // KoD DENY/RSTR: no more requests
  Unreachable,  // no valid reply in the last 8 polls
  NoSamples,    // no sample in the filter yet
  Distance,     // root distance above the source's max_distance_s
  Jitter,       // ... and its own jitter is what puts it over
};
const char* to_string(Usability u);  // "usable", "retired", ... (stable: used in reports)

struct SourceSnapshot {
  SourceId id = 0;
  uint32_t refid = 0;  // how the server names this source in replies
  int8_t poll = 0;
  uint8_t reach = 0;
  bool retired = false;
  bool truechimer = false;
  bool survivor = false;
  bool best = false;
  bool in_selection = false;  // a candidate in the last selection
  size_t filter_samples = 0;
  std::optional<Sample> last;  // last accepted sample
  double offset_s = 0;         // filtered, server - served clock, now
  double offset_sd_s = 0;
  double freq_ppm = 0;  // server - raw clock
  double freq_var = 0;  // its variance, (s/s)^2
  double jitter_s = 0;
  double distance_s = 0;   // root distance, now
  double wander = 0;       // filter's frequency random walk, (s/s)^2 per s
  double noise_scale = 0;  // filter's measurement noise scale
  SourceStats stats;
  Usability usability = Usability::NoSamples;  // as a candidate now
  double max_distance_s = 0;                   // the source's bound on distance_s
  bool in_burst = false;
  double span_s = 0;  // raw time from the filter's first to its last sample
};

struct TrackingSnapshot {
  bool synchronised = false;  // reference usable (false: LI=3 or local stratum)
  bool ever_synchronised = false;
  ReferenceState reference;
  SelectStatus selection = SelectStatus::NoCandidates;
  size_t candidates = 0;
  size_t falsetickers = 0;
  size_t truechimers = 0;       // of the last selection
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
  // The held correction's identity: the Unix second it was first held, or one more
  // than the previous id if that is larger (unique and increasing also across
  // restarts while the clock is sane); 0 while nothing is held.
  int64_t held_id = 0;
  Timestamp held_since;
  // The selection at `now` (the last one may be old when sources went silent):
  // current_selection != Ok means nothing to follow (holdover, or not yet).
  SelectStatus current_selection = SelectStatus::NoCandidates;
  double current_offset_s = 0;   // its combined offset (the last known one when not Ok)
  double skew_ppm = 0;           // standard deviation of the combined frequency
  double residual_freq_ppm = 0;  // combined source frequency minus the one applied
  SourceId ref_source = 0;       // the system peer of the last update (0: none)
  Timestamp last_update;         // served time of the last clock update (zero: none)
  double update_interval_s = 0;  // between the last two updates
  double rms_offset_s = 0;       // of the update offsets (exponential average)
};

// Why an admin's makestep was not done.
enum class StepRefusal : uint8_t {
  NoSelection,    // no selectable majority now (nothing measured to step by)
  Held,           // a correction is held: approve it instead
  OverTolerance,  // the offset is above offset_tolerance: approve it instead
  ClockRefused,   // the clock control refused the step
};
const char* to_string(StepRefusal r);

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
  // The refid of the local address source `id` is reached from (NtpSource: loop test).
  void set_local_refid(SourceId id, uint32_t refid);

  // Sources whose request is due.
  std::vector<SourceId> due(double mono) const;
  std::array<uint8_t, k_header_len> make_request(SourceId id, double mono);
  void request_sent(SourceId id, Timestamp t1);
  ResponseResult on_response(SourceId id, std::span<const uint8_t> data, Timestamp t4, double mono);
  // Housekeeping: slew ends, leap seconds, the startup wait.
  void tick(double mono, Timestamp now);
  // The next mono time anything is due (a request or a tick), also any change of
  // reference() that no packet brings: the leap indicator clearing at the leap, the
  // holdover bound passed. Between two such events reference() changes only by its root
  // dispersion's growth (ReferenceState::root_dispersion_at) and the shrinking
  // slew_remaining_s() it adds, so a snapshot taken at an event stays honest until the next.
  double next_event(double mono, Timestamp now) const;
  void burst(double mono);  // a burst on every source

  ReferenceState reference(Timestamp now) const;
  TrackingSnapshot tracking(Timestamp now) const;
  std::vector<SourceSnapshot> sources(Timestamp now) const;
  bool approve() { return m_discipline.approve(); }
  // Admin approval (the `approve` command): the held (or pending) correction is applied
  // at once from the current selection, or at the next update if there is none.
  bool approve(double mono, Timestamp now);
  // Admin step (the `makestep` command): steps by the current combined offset. Refused
  // while a correction is held or the offset is over the tolerance (after the first
  // synchronisation), without a selection, or when the clock refuses.
  Result<double, StepRefusal> make_step(double mono, Timestamp now);
  // The selection over the candidates at `now`, without changing any state.
  Selection current_selection(Timestamp now) const;
  double frequency_ppm() const { return m_discipline.frequency_ppm(); }
  const Discipline& discipline() const { return m_discipline; }
  void set_discipline_options(const DisciplineOptions& d) { m_discipline.set_options(d); }
  void set_min_sources(size_t n) { m_opt.min_sources = n; }

  // Events worth a log line, drained by the daemon (the core does not log).
  //  Stepped: by the makestep policy (value: the step); approved: applying an approved
  //           correction (id: the held one's, 0 if it was not held yet)
  //  ManualStep: an admin's makestep (value: the step)
  //  Held: a correction is held (value: the offset, id)
  //  Released: sources came back within tolerance (value: the held offset, id)
  //  Approved: an approved held correction was applied (value: the held offset, id)
  struct Event {
    enum Kind : uint8_t {
      Synchronised,
      Stepped,
      Held,
      Released,
      NoMajority,
      Lost,
      LeapArmed,
      LeapApplied,
      Retired,
      ManualStep,
      Approved,
      CommonJump  // every selected source jumped by value (s) at once: followed by slewing
    };
    Kind kind;
    double value = 0;
    SourceId source = 0;
    int64_t id = 0;
    bool approved = false;
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
    bool in_selection = false;
    bool retire_reported = false;
    double poll_score = 0;  // adapt_poll: in [0, 1) the poll stays
    struct Miss {
      double mono, jump_s, sd_s;
    };
    std::optional<Miss> miss;                   // the last sample, if its filter refused it (common_jump)
    std::optional<int8_t> poll_before_backoff;  // set while backing off an unreachable source
  };

  std::optional<Candidate> candidate(const Entry& e, Timestamp now, Usability* why = nullptr) const;
  double distance(const Entry& e, Timestamp now) const;
  void adapt_poll(Entry& e, Timestamp now);
  void move_poll_score(Entry& e, double adj);
  void select_and_update(Timestamp now, double mono, const Entry* from);
  void feed_ensemble(const Entry& e, FilterVerdict v, double t, double z);
  bool common_jump(Entry& e, double mono, double jump_s, double sd_s);
  struct SystemEstimate {
    double offset_s, freq, freq_var, offset_var;
  };
  SystemEstimate system_estimate(const Selection& sel, const std::vector<Candidate>& cands, Timestamp now);
  void check_leap(double mono, Timestamp now);
  void vote_leap(double mono, Timestamp now);
  void event(Event::Kind k, double v = 0, SourceId s = 0, int64_t id = 0, bool approved = false) {
    m_events.push_back(Event{k, v, s, id, approved});
  }

  ClientOptions m_opt;
  ClockControl& m_control;
  uint64_t m_sync_report_errors = 0;
  // The sync state for the clock's other readers (ClockControl::set_sync_status): not
  // synchronised at start and when the holdover bound passes; at every update otherwise.
  void report_sync(bool synchronised, double est_error_s, double max_error_s);
  Discipline m_discipline;
  ClockEnsemble m_ensemble;
  Rng m_rng;
  std::map<SourceId, Entry> m_sources;
  SourceId m_next_id = 1;
  double m_start_mono;
  bool m_startup_done = false;
  bool m_ever_synced = false;
  Selection m_last_sel;
  size_t m_candidates = 0;
  double m_system_offset = 0;
  double m_skew_ppm = 0;
  double m_rms_offset = 0;
  uint64_t m_slews_seen = 0;
  Timestamp m_last_update;
  double m_update_interval_s = 0;
  SourceId m_ref_source = 0;
  int64_t m_held_id = 0;  // the current (or last) held correction
  Timestamp m_held_since;
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
