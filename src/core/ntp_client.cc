// The client orchestration (see ntp_client.h).
#include "core/ntp_client.h"

#include <algorithm>
#include <cmath>

#include "core/leap.h"

namespace tr7::core {

namespace {
constexpr double k_far_s = 3600.0;
// Poll adaptation (see adapt_poll): the samples a source's model should span.
constexpr double k_poll_target = 8.0;
// A jump common to every survivor (common_jump): its estimates agree within this many
// (summed) standard deviations, and it is at least this many of the largest one.
constexpr double k_jump_agree = 5.0;
constexpr double k_jump_min_sd = 10.0;
constexpr double k_poll_missed_peer = 0.1;  // score per unanswered request: the system peer
constexpr double k_poll_missed = 0.25;      // any other source
// The ensemble (system_estimate): how far it may stray from the selection, in their
// combined standard deviations, and the samples it needs before it is followed.
constexpr double k_ensemble_agree = 4.0;
constexpr uint64_t k_ensemble_min_samples = 8;
constexpr double k_leap_margin_s = 1.0;
constexpr unsigned k_unreachable_polls = 8;  // unanswered requests before backing off
constexpr double k_rms_weight = 0.1;         // of a new offset in the RMS average
}  // namespace

const char* to_string(Usability u) {
  switch (u) {
    case Usability::Usable:
      return "usable";
    case Usability::Retired:
      return "retired";
    case Usability::Unreachable:
      return "unreachable";
    case Usability::NoSamples:
      return "no_samples";
    case Usability::Distance:
      return "distance";
    case Usability::Jitter:
      return "jitter";
  }
  return "?";
}

const char* to_string(StepRefusal r) {
  switch (r) {
    case StepRefusal::NoSelection:
      return "no_selection";
    case StepRefusal::Held:
      return "held";
    case StepRefusal::OverTolerance:
      return "over_tolerance";
    case StepRefusal::ClockRefused:
      return "clock_refused";
  }
  return "?";
}

NtpClient::NtpClient(const ClientOptions& opt, ClockControl& control, Timestamp now, double mono, uint64_t seed)
    : m_opt(opt),
      m_control(control),
      m_discipline(opt.discipline, control, now, opt.drift_ppm.value_or(control.frequency())),
      m_rng(seed),
      m_start_mono(mono) {
  // Whatever a previous daemon left in the kernel: not synchronised until we are.
  report_sync(false, 0, 0);
}

void NtpClient::report_sync(bool synchronised, double est_error_s, double max_error_s) {
  if (!m_control.set_sync_status(synchronised, est_error_s, max_error_s)) {
    ++m_sync_report_errors;
  }
}

SourceId NtpClient::add_source(const SourceOptions& opt, uint32_t refid, double mono) {
  SourceId id = m_next_id++;
  SourceOptions o = opt;
  o.precision = m_opt.precision;
  // The frequency prior: the drift file's value is good to a few ppm; without it, the
  // raw clock may be anywhere within the hardware tolerance.
  double f0 = m_discipline.frequency_ppm() * 1e-6;
  double sd = m_opt.drift_ppm ? 2e-6 : 500e-6;
  m_sources.emplace(id, Entry{id, NtpSource(o, mono), SourceFilter(f0, sd, log2_to_s(m_opt.precision)), refid});
  return id;
}

void NtpClient::remove_source(SourceId id) { m_sources.erase(id); }

const NtpSource* NtpClient::source(SourceId id) const {
  auto it = m_sources.find(id);
  return it == m_sources.end() ? nullptr : &it->second.src;
}

void NtpClient::set_local_refid(SourceId id, uint32_t refid) {
  if (auto it = m_sources.find(id); it != m_sources.end()) {
    it->second.src.set_local_refid(refid);
  }
}

std::vector<SourceId> NtpClient::source_ids() const {
  std::vector<SourceId> v;
  for (const auto& [id, e] : m_sources) {
    v.push_back(id);
  }
  return v;
}

std::vector<SourceId> NtpClient::due(double mono) const {
  std::vector<SourceId> v;
  for (const auto& [id, e] : m_sources) {
    if (e.src.due(mono)) {
      v.push_back(id);
    }
  }
  return v;
}

std::array<uint8_t, k_header_len> NtpClient::make_request(SourceId id, double mono) {
  auto it = m_sources.find(id);
  if (it == m_sources.end()) {
    return {};
  }
  Entry& e = it->second;
  // A source that stopped answering is asked less and less often, up to maxpoll (a
  // server that is down or overloaded); its first answer restores the poll.
  if (e.src.unanswered() >= k_unreachable_polls && e.src.poll() < e.src.options().maxpoll) {
    if (!e.poll_before_backoff) {
      e.poll_before_backoff = e.src.poll();
    }
    e.src.set_poll(static_cast<int8_t>(e.src.poll() + 1));
    e.poll_score = 0;
  }
  unsigned missed = e.src.unanswered();
  auto req = e.src.make_request(mono, m_rng);
  if (e.src.unanswered() > missed && m_discipline.synchronised() && !e.src.in_burst()) {
    // The last request went unanswered: ask a little less often (as chronyd does), the
    // system peer less so; a lossy path is not polled harder for its losses.
    bool peer = m_last_sel.status == SelectStatus::Ok && m_last_sel.best == e.id;
    move_poll_score(e, peer ? k_poll_missed_peer : k_poll_missed);
  }
  return req;
}

void NtpClient::request_sent(SourceId id, Timestamp t1) {
  auto it = m_sources.find(id);
  if (it != m_sources.end()) {
    it->second.src.request_sent(t1);
  }
}

Selection NtpClient::current_selection(Timestamp now) const {
  std::vector<Candidate> cands;
  for (const auto& [id, e] : m_sources) {
    if (auto c = candidate(e, now)) {
      cands.push_back(*c);
    }
  }
  return select_sources(cands, m_opt.min_sources);
}

bool NtpClient::approve(double mono, Timestamp now) {
  if (!m_discipline.approve()) {
    return false;
  }
  if (m_ever_synced) {
    select_and_update(now, mono, nullptr);
  }
  return true;
}

Result<double, StepRefusal> NtpClient::make_step(double mono, Timestamp now) {
  (void)mono;
  if (m_discipline.held()) {
    return unexpected(StepRefusal::Held);
  }
  Selection sel = current_selection(now);
  if (sel.status != SelectStatus::Ok) {
    return unexpected(StepRefusal::NoSelection);
  }
  double tol = m_discipline.options().offset_tolerance_s;
  if (m_discipline.synchronised() && tol > 0 && std::fabs(sel.offset_s) > tol) {
    return unexpected(StepRefusal::OverTolerance);
  }
  UpdateResult r = m_discipline.step_now(sel.offset_s, now);
  if (r.action != UpdateAction::Stepped) {
    return unexpected(StepRefusal::ClockRefused);
  }
  for (auto& [id, e] : m_sources) {
    e.src.clock_stepped(r.applied_s);
  }
  // Times of the past on the served scale move with it.
  if (!m_ref.reference_time.is_zero()) {
    m_ref.reference_time = add_s(m_ref.reference_time, r.applied_s);
  }
  if (!m_last_update.is_zero()) {
    m_last_update = add_s(m_last_update, r.applied_s);
  }
  m_system_offset = 0;
  event(Event::ManualStep, r.applied_s);
  return r.applied_s;
}

void NtpClient::burst(double mono) {
  for (auto& [id, e] : m_sources) {
    e.src.start_burst(mono);
  }
}

double NtpClient::distance(const Entry& e, Timestamp now) const {
  const auto& s = *e.src.last_sample();
  double age = std::max(0.0, diff_s(now, s.time));
  FilterEstimate est = e.filt.estimate_at(m_discipline.raw_s(now));
  return (s.root_delay_s + s.delay_s) / 2 + s.root_dispersion_s + s.dispersion_s + k_phi * age + est.jitter_s;
}

std::optional<Candidate> NtpClient::candidate(const Entry& e, Timestamp now, Usability* why) const {
  auto refuse = [&](Usability u) -> std::optional<Candidate> {
    if (why != nullptr) {
      *why = u;
    }
    return std::nullopt;
  };
  if (e.src.retired()) {
    return refuse(Usability::Retired);
  }
  if (!e.src.reachable()) {
    return refuse(Usability::Unreachable);
  }
  if (!e.filt.ready() || !e.src.last_sample()) {
    return refuse(Usability::NoSamples);
  }
  Candidate c;
  c.id = e.id;
  FilterEstimate est = e.filt.estimate_at(m_discipline.raw_s(now));
  c.offset_s = est.offset_s - m_discipline.correction_at(now);
  c.distance_s = distance(e, now);
  if (!(c.distance_s <= e.src.options().max_distance_s) || !std::isfinite(c.offset_s)) {
    bool jitter = std::isfinite(c.offset_s) && c.distance_s - est.jitter_s <= e.src.options().max_distance_s;
    return refuse(jitter ? Usability::Jitter : Usability::Distance);
  }
  c.offset_var = est.offset_var;
  c.freq = est.freq;
  c.freq_var = est.freq_var;
  c.jitter_s = est.jitter_s;
  c.stratum = e.src.last_sample()->stratum;
  if (why != nullptr) {
    *why = Usability::Usable;
  }
  return c;
}

void NtpClient::adapt_poll(Entry& e, Timestamp now) {
  if (!m_discipline.synchronised() || e.src.in_burst()) {
    return;
  }
  // How many samples at this interval the source's model (offset + frequency, the
  // frequency wandering at the filter's estimated rate q) describes: the samples since
  // the filter's last reset, but no more than fit in its horizon, the span over which
  // the wander's offset error, sqrt(q T^3 / 3), grows to the measurement noise. Longer
  // spans add no precision; fewer samples than the target in that span lose it.
  // The poll score moves by (n / target - 1) / target per sample (twice as fast
  // downwards), so the poll settles where the horizon holds about k_poll_target samples
  // (chronyd's polltarget rule, with our filter's horizon for its regression's length).
  FilterEstimate est = e.filt.kalman_at(m_discipline.raw_s(now));
  double sigma = std::max(est.jitter_s, log2_to_s(m_opt.precision));
  double q = std::max(e.filt.process_noise(), 1e-30);
  double horizon = std::cbrt(3 * sigma * sigma / q);
  double interval = e.src.poll_interval_s();
  double n = std::min(static_cast<double>(e.filt.samples()), horizon / interval);
  double adj = (n / k_poll_target - 1) / k_poll_target;
  if (n < k_poll_target) {
    adj *= 2;
  }
  move_poll_score(e, adj);
}

void NtpClient::move_poll_score(Entry& e, double adj) {
  e.poll_score += adj;
  int8_t poll = e.src.poll();
  int8_t lo = e.src.options().minpoll, hi = e.src.options().maxpoll;
  if (e.poll_score >= 1.0 && poll < hi) {
    e.src.set_poll(static_cast<int8_t>(poll + 1));
    e.poll_score -= 1.0;
  } else if (e.poll_score < 0.0 && poll > lo) {
    e.src.set_poll(static_cast<int8_t>(poll - 1));
    e.poll_score += 1.0;
  }
  // At the ends of the range the score waits at the edge of its band, so one sample the
  // other way moves the poll no sooner than from the middle.
  if (e.src.poll() <= lo && e.poll_score < 0.0) {
    e.poll_score = 0.0;
  }
  if (e.src.poll() >= hi && e.poll_score >= 1.0) {
    e.poll_score = 1.0 - 1e-9;
  }
}

ResponseResult NtpClient::on_response(SourceId id, std::span<const uint8_t> data, Timestamp t4, double mono) {
  check_leap(mono, t4);
  auto it = m_sources.find(id);
  if (it == m_sources.end()) {
    return {};
  }
  Entry& e = it->second;
  ResponseResult res = e.src.on_response(data, t4, mono);
  if (e.src.retired() && !e.retire_reported) {
    e.retire_reported = true;
    event(Event::Retired, 0, id);
  }
  if (!res.sample) {
    return res;
  }
  if (e.poll_before_backoff) {
    e.src.set_poll(*e.poll_before_backoff);
    e.poll_before_backoff.reset();
    e.poll_score = 0;
  }
  if (m_leap != Leap::None && mono > m_leap_mono - k_leap_margin_s) {
    return res;  // samples around a leap second are not trusted (either side may be off)
  }
  const Sample& s = *res.sample;
  double t = m_discipline.raw_s(s.time);
  double z = s.offset_s + m_discipline.correction_at(s.time);
  std::optional<FilterEstimate> before;
  if (e.filt.ready()) {
    before = e.filt.estimate_at(t);
  }
  FilterVerdict v = e.filt.add(t, z, s.delay_s);
  if (v == FilterVerdict::Outlier) {
    if (before &&
        common_jump(e, mono, z - before->offset_s, std::sqrt(before->offset_var + e.filt.last_measurement_var()))) {
      select_and_update(t4, mono, &e);
    }
    return res;
  }
  e.miss.reset();
  feed_ensemble(e, v, t, z);
  adapt_poll(e, t4);
  select_and_update(t4, mono, &e);
  return res;
}

bool NtpClient::common_jump(Entry& e, double mono, double jump_s, double sd_s) {
  // Every source that steers the clock missed its prediction by the same amount within
  // one poll: it is our clock that moved (someone stepped it; a suspend), or all of them
  // did together. Either way the new offset is the sources' consensus: waiting for each
  // filter's own restart (k_reset_after misses, four polls) left the clock 0.5 s off for
  // four minutes. The filters and the ensemble move by the jump, and the discipline
  // slews it out (a large offset far beyond its uncertainty is slewed fast).
  if (!e.survivor || !std::isfinite(jump_s) || !(sd_s > 0)) {
    return false;
  }
  e.miss = Entry::Miss{mono, jump_s, sd_s};
  size_t survivors = 0, agree = 0;
  double sum = 0, sd_max = 0;
  for (const auto& [id, o] : m_sources) {
    if (!o.survivor) {
      continue;
    }
    ++survivors;
    if (o.miss && mono - o.miss->mono <= 2 * o.src.poll_interval_s() &&
        std::fabs(o.miss->jump_s - jump_s) <= k_jump_agree * (o.miss->sd_s + sd_s)) {
      ++agree;
      sum += o.miss->jump_s;
      sd_max = std::max(sd_max, o.miss->sd_s);
    }
  }
  double mean = agree > 0 ? sum / static_cast<double>(agree) : 0;
  if (survivors < 2 || agree < survivors || std::fabs(mean) < k_jump_min_sd * sd_max) {
    return false;
  }
  for (auto& [id, o] : m_sources) {
    o.filt.shift(mean);
    o.miss.reset();
  }
  m_ensemble.shift(mean);
  event(Event::CommonJump, mean);
  return true;
}

void NtpClient::feed_ensemble(const Entry& e, FilterVerdict v, double t, double z) {
  if (!m_ensemble.seeded() || !e.survivor) {
    return;
  }
  if (v == FilterVerdict::Reset || v == FilterVerdict::First) {
    // The source moved (its filter restarted): its bias is another one now; it joins
    // again with this sample.
    m_ensemble.remove(e.id);
  }
  (void)m_ensemble.add(e.id, t, z, e.filt.last_measurement_var());
}

// The combined estimate the discipline follows: the ensemble's (clock_ensemble.h) while
// it has two members or more and agrees with the selection within their uncertainties;
// otherwise the selection's, and the ensemble is seeded from it again.
NtpClient::SystemEstimate NtpClient::system_estimate(const Selection& sel, const std::vector<Candidate>& cands,
                                                     Timestamp now) {
  SystemEstimate se{sel.offset_s, sel.freq, sel.freq_var, sel.estimate_var};
  double k_now = m_discipline.correction_at(now);
  double t = m_discipline.raw_s(now);
  // Members are the survivors.
  for (const auto& [id, e] : m_sources) {
    if (!e.survivor && m_ensemble.has(id)) {
      m_ensemble.remove(id);
    }
  }
  if (sel.survivors.size() < 2) {
    m_ensemble.reset();
    return se;
  }
  if (m_ensemble.seeded() && m_ensemble.members() >= 2) {
    EnsembleEstimate ens = m_ensemble.estimate_at(t);
    double off = ens.offset_s - k_now;
    double tol = k_ensemble_agree * std::sqrt(ens.offset_var + sel.estimate_var);
    if (std::fabs(off - sel.offset_s) <= tol && std::isfinite(off)) {
      if (m_ensemble.samples() >= k_ensemble_min_samples) {
        se = {off, ens.freq, ens.freq_var, ens.offset_var};
      }
      return se;
    }
  }
  std::vector<ClockEnsemble::Seed> seeds;
  for (const auto& c : cands) {
    if (std::find(sel.survivors.begin(), sel.survivors.end(), c.id) != sel.survivors.end()) {
      // The bias priors weigh the members as the selection combines them, so the
      // consensus the ensemble keeps is the selection's weighted mean (any other weights
      // would carry the seed time's estimation errors into it for good).
      seeds.push_back({static_cast<uint32_t>(c.id), c.offset_s + k_now,
                       1.0 / (c.offset_var + std::pow(c.distance_s / 4, 2) + 1e-18)});
    }
  }
  m_ensemble.seed(t, sel.offset_s + k_now, sel.estimate_var, sel.freq, sel.freq_var, seeds.data(), seeds.size());
  return se;
}

void NtpClient::select_and_update(Timestamp now, double mono, const Entry* from) {
  std::vector<Candidate> cands;
  for (const auto& [id, e] : m_sources) {
    if (auto c = candidate(e, now)) {
      cands.push_back(*c);
    }
  }
  m_candidates = cands.size();
  Selection sel = select_sources(cands, m_opt.min_sources);
  for (auto& [id, e] : m_sources) {
    e.in_selection = std::any_of(cands.begin(), cands.end(), [&, sid = id](const Candidate& c) { return c.id == sid; });
    e.truechimer = std::find(sel.truechimers.begin(), sel.truechimers.end(), id) != sel.truechimers.end();
    e.survivor = std::find(sel.survivors.begin(), sel.survivors.end(), id) != sel.survivors.end();
  }
  m_last_sel = sel;
  if (sel.status != SelectStatus::Ok) {
    if (!m_alarm && (m_ever_synced || sel.status == SelectStatus::NoMajority)) {
      event(Event::NoMajority, static_cast<double>(cands.size()));
    }
    m_alarm = true;
    return;
  }
  m_alarm = false;
  if (!m_ever_synced) {
    // Fast start: wait for every source's first answer, or the startup wait.
    bool all = true;
    for (const auto& [id, e] : m_sources) {
      all = all && (e.src.retired() || e.filt.ready());
    }
    if (!all && mono - m_start_mono < m_opt.startup_wait_s) {
      return;
    }
  } else if (from != nullptr && !from->survivor) {
    return;  // only the selected sources' samples move the clock
  }
  SystemEstimate se = system_estimate(sel, cands, now);
  m_system_offset = se.offset_s;
  bool was_held = m_discipline.held();
  double held_offset = m_discipline.held_offset_s();
  // The slew time scales with the system peer's poll interval, the rate at which new
  // information arrives, and stays within the wander's horizon (discipline.h).
  const Entry& peer = m_sources.at(static_cast<SourceId>(sel.best));
  double info_interval = peer.src.poll_interval_s();
  double sigma = std::max(peer.filt.kalman_at(m_discipline.raw_s(now)).jitter_s, log2_to_s(m_opt.precision));
  double q = m_ensemble.seeded() ? m_ensemble.process_noise() : peer.filt.process_noise();
  double horizon = std::cbrt(3 * sigma * sigma / std::max(q, 1e-30));
  UpdateResult r =
      m_discipline.update(se.offset_s, se.freq, now, std::sqrt(std::max(0.0, se.offset_var)), info_interval, horizon);
  if (r.action == UpdateAction::Stepped || r.action == UpdateAction::Slewed) {
    if (was_held) {
      event(r.approved ? Event::Approved : Event::Released, held_offset, 0, m_held_id);
    }
    if (!m_last_update.is_zero()) {
      m_update_interval_s = std::max(0.0, diff_s(now, m_last_update));
    }
    m_last_update = now;
    if (r.action == UpdateAction::Slewed) {  // a step's offset says nothing about the steady state
      m_rms_offset = m_slews_seen == 0 ? std::fabs(sel.offset_s)
                                       : std::sqrt((1 - k_rms_weight) * m_rms_offset * m_rms_offset +
                                                   k_rms_weight * sel.offset_s * sel.offset_s);
      ++m_slews_seen;
    }
    m_skew_ppm = std::sqrt(se.freq_var) * 1e6;
  }
  switch (r.action) {
    case UpdateAction::Stepped:
      for (auto& [id, e] : m_sources) {
        e.src.clock_stepped(r.applied_s);
      }
      now = add_s(now, r.applied_s);
      m_last_update = now;
      event(Event::Stepped, r.applied_s, 0, r.approved && was_held ? m_held_id : 0, r.approved);
      break;
    case UpdateAction::Held:
      if (!was_held) {
        int64_t sec = now.ns / k_ns_per_s;
        m_held_id = std::max<int64_t>(m_held_id + 1, std::max<int64_t>(sec, 1));
        m_held_since = now;
        event(Event::Held, m_discipline.held_offset_s(), 0, m_held_id);
      }
      vote_leap(mono, now);
      return;
    case UpdateAction::Pending:
    case UpdateAction::Failed:
      return;
    case UpdateAction::Slewed:
      break;
  }
  const Entry& best = m_sources.at(static_cast<SourceId>(sel.best));
  m_ref_source = best.id;
  const Sample& s = *best.src.last_sample();
  FilterEstimate est = best.filt.estimate_at(m_discipline.raw_s(now));
  m_ref.synchronised = true;
  m_ref.local = false;
  m_ref.stratum = static_cast<uint8_t>(std::min<int>(s.stratum + 1, 15));
  m_ref.refid = best.refid;
  m_ref.reference_time = now;
  m_lost = false;
  m_ref.root_delay_s = s.root_delay_s + s.delay_s;
  double age = std::max(0.0, diff_s(now, s.time));
  m_ref.root_dispersion_s = s.root_dispersion_s + s.dispersion_s + k_phi * age +
                            std::sqrt(sel.jitter_s * sel.jitter_s + est.offset_var + est.jitter_s * est.jitter_s);
  if (!m_ever_synced) {
    m_ever_synced = true;
    m_startup_done = true;
    event(Event::Synchronised, sel.offset_s);
  }
  // The kernel learns what we serve, at every update (as chronyd does). Estimated error:
  // how far the clock's offset estimate may be off (the filter's own uncertainty and the
  // sources' disagreement, plus what is still being slewed in), not one measurement's
  // noise (est.jitter_s: the filter averages it away; the root dispersion keeps it as
  // a bound). Maximum error: the root distance.
  ReferenceState served = reference(now);
  report_sync(served.synchronised,
              std::sqrt(sel.jitter_s * sel.jitter_s + est.offset_var) + std::fabs(m_discipline.slew_remaining_s(now)),
              served.root_delay_s / 2 + served.root_dispersion_at(now));
  vote_leap(mono, now);
}

void NtpClient::vote_leap(double mono, Timestamp now) {
  Leap v = Leap::None;
  if (is_leap_day(now)) {
    std::vector<Leap> votes;
    for (const auto& [id, e] : m_sources) {
      if (e.truechimer && e.src.last_sample()) {
        votes.push_back(e.src.last_sample()->leap);
      }
    }
    v = majority_leap(votes);
  }
  if (v != Leap::None) {
    Timestamp at = next_midnight(now);
    double until = diff_s(at, now);
    if (m_leap != v) {
      if (m_control.set_leap(v)) {
        m_leap = v;
        event(Event::LeapArmed, v == Leap::Insert ? 1 : -1);
      }
    }
    if (m_leap == v && until > 2.0) {
      // Re-estimated at every update: mono and served time drift apart slowly.
      m_leap_at = at;
      m_leap_mono = mono + until;
    }
  } else if (m_leap != Leap::None && diff_s(m_leap_at, now) > 2.0) {
    if (m_control.set_leap(Leap::None)) {
      m_leap = Leap::None;
    }
  }
}

void NtpClient::check_leap(double mono, Timestamp now) {
  (void)now;
  // Applied to the model a little after the predicted moment, when the clock has
  // certainly done it (mono and served time are only approximately in step).
  if (m_leap == Leap::None || mono < m_leap_mono + k_leap_margin_s) {
    return;
  }
  double delta = m_leap == Leap::Insert ? -1.0 : 1.0;
  // The clock applied it at m_leap_at (served); raw time stays continuous, and the
  // servers' time scale moved with ours.
  m_discipline.leap_applied(delta, m_leap_at);
  m_ensemble.shift(delta);
  for (auto& [id, e] : m_sources) {
    e.filt.shift(delta);
    e.src.clock_stepped(delta);
  }
  (void)m_control.set_leap(Leap::None);
  m_leap = Leap::None;
  event(Event::LeapApplied, delta);
}

void NtpClient::tick(double mono, Timestamp now) {
  check_leap(mono, now);
  m_discipline.tick(now);
  if (m_ever_synced) {
    bool usable = reference(now).synchronised;
    if (!usable && !m_lost) {
      event(Event::Lost);
      report_sync(false, 0, 0);
    }
    m_lost = !usable;
  }
  if (!m_ever_synced && !m_startup_done && mono - m_start_mono >= m_opt.startup_wait_s) {
    m_startup_done = true;
    select_and_update(now, mono, nullptr);
  }
}

double NtpClient::next_event(double mono, Timestamp now) const {
  double next = mono + k_far_s;
  for (const auto& [id, e] : m_sources) {
    if (!e.src.retired()) {
      next = std::min(next, e.src.next_poll_s());
    }
  }
  if (auto t = m_discipline.next_tick()) {
    next = std::min(next, mono + std::max(0.0, diff_s(*t, now)));
  }
  if (!m_startup_done) {
    next = std::min(next, m_start_mono + m_opt.startup_wait_s);
  }
  if (m_leap != Leap::None) {
    // The moment itself (the served leap indicator clears) and the model's update after it.
    next = std::min(next, mono < m_leap_mono ? m_leap_mono : m_leap_mono + k_leap_margin_s);
  }
  if (m_ever_synced && !m_lost) {
    // The holdover bound (reference()): the served state turns unsynchronised then, with
    // no packet to tell, so the caller must look (and publish) at that moment.
    double left = m_opt.holdover_max_distance_s - m_ref.root_delay_s / 2 - m_ref.root_dispersion_s;
    double until = diff_s(m_ref.reference_time, now) + std::max(0.0, left) / k_phi;
    next = std::min(next, mono + std::max(0.0, until) + 1e-3);
  }
  return next;
}

ReferenceState NtpClient::reference(Timestamp now) const {
  if (!m_ever_synced) {
    return unsynchronised_reference();
  }
  ReferenceState r = m_ref;
  if (!(r.root_delay_s / 2 + r.root_dispersion_at(now) <= m_opt.holdover_max_distance_s)) {
    return unsynchronised_reference();
  }
  if (m_discipline.held()) {
    // Honest: the sources disagree with our clock by this much, and we do not follow
    // them. Not counted against the holdover bound: our own clock is still disciplined.
    r.root_dispersion_s += std::fabs(m_discipline.held_offset_s());
  }
  // Honest too: a correction still being slewed in (after a first step from a sample
  // that queued, tens of milliseconds at up to max_slew_ppm) is error in what we serve;
  // root_dispersion_at() counts what is left of it at each moment.
  if (auto end = m_discipline.slew_end(); end && *end > now) {
    r.slew_rate_s_per_s = m_discipline.slew_rate();
    r.slew_end = *end;
  }
  r.leap = (m_leap != Leap::None && now < m_leap_at) ? m_leap : Leap::None;
  return r;
}

TrackingSnapshot NtpClient::tracking(Timestamp now) const {
  TrackingSnapshot t;
  t.reference = reference(now);
  t.synchronised = t.reference.synchronised;
  t.ever_synchronised = m_ever_synced;
  t.selection = m_last_sel.status;
  t.candidates = m_candidates;
  t.falsetickers = m_last_sel.falsetickers;
  t.truechimers = m_last_sel.truechimers.size();
  t.last_offset_s = m_discipline.last_offset_s();
  t.system_offset_s = m_system_offset;
  t.frequency_ppm = m_discipline.frequency_ppm();
  t.current_freq_ppm = m_discipline.current_freq_ppm();
  t.held = m_discipline.held();
  t.held_offset_s = m_discipline.held_offset_s();
  t.updates = m_discipline.updates();
  t.steps = m_discipline.steps();
  t.leap_armed = m_leap;
  t.leap_at = m_leap_at;
  if (t.held) {
    t.held_id = m_held_id;
    t.held_since = m_held_since;
  }
  Selection cur = current_selection(now);
  t.current_selection = cur.status;
  t.current_offset_s = cur.status == SelectStatus::Ok ? cur.offset_s : m_system_offset;
  if (cur.status == SelectStatus::Ok) {
    t.residual_freq_ppm = (cur.freq * 1e6) - m_discipline.frequency_ppm();
  }
  t.skew_ppm = m_skew_ppm;
  t.ref_source = m_ever_synced ? m_ref_source : 0;
  t.last_update = m_last_update;
  t.update_interval_s = m_update_interval_s;
  t.rms_offset_s = m_rms_offset;
  return t;
}

std::vector<SourceSnapshot> NtpClient::sources(Timestamp now) const {
  std::vector<SourceSnapshot> v;
  for (const auto& [id, e] : m_sources) {
    SourceSnapshot s;
    s.id = id;
    s.refid = e.refid;
    s.poll = e.src.poll();
    s.reach = e.src.reach();
    s.retired = e.src.retired();
    s.truechimer = e.truechimer;
    s.survivor = e.survivor;
    s.in_selection = e.in_selection;
    s.best = m_last_sel.status == SelectStatus::Ok && m_last_sel.best == id;
    s.filter_samples = e.filt.samples();
    s.last = e.src.last_sample();
    s.stats = e.src.stats();
    s.max_distance_s = e.src.options().max_distance_s;
    s.in_burst = e.src.in_burst();
    (void)candidate(e, now, &s.usability);
    if (e.filt.ready()) {
      s.span_s = std::max(0.0, e.filt.last_time() - e.filt.first_time());
    }
    if (e.filt.ready() && s.last) {
      FilterEstimate est = e.filt.estimate_at(m_discipline.raw_s(now));
      s.offset_s = est.offset_s - m_discipline.correction_at(now);
      s.offset_sd_s = std::sqrt(est.offset_var);
      s.freq_ppm = est.freq * 1e6;
      s.freq_var = est.freq_var;
      s.jitter_s = est.jitter_s;
      s.distance_s = distance(e, now);
      s.wander = e.filt.process_noise();
      s.noise_scale = e.filt.noise_scale();
    }
    v.push_back(s);
  }
  return v;
}

}  // namespace tr7::core
