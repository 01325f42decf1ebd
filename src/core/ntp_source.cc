// Per-source request/response logic (RFC 5905 §8 and §13, THREATS.md "Bogus packet
// tests", "KoD spoofing", "Off-path time shifting").
#include "core/ntp_source.h"

#include <algorithm>
#include <cmath>

#include "core/reference.h"
#include "core/refid.h"

namespace tr7::core {

namespace {

int8_t clamp_poll(int v, int8_t lo, int8_t hi) { return static_cast<int8_t>(std::clamp<int>(v, lo, hi)); }

}  // namespace

const char* to_string(Reject r) {
  switch (r) {
    case Reject::Malformed:
      return "malformed";
    case Reject::BadMode:
      return "bad_mode";
    case Reject::NotRequested:
      return "not_requested";
    case Reject::BadOrigin:
      return "bad_origin";
    case Reject::KodRate:
      return "kod_rate";
    case Reject::KodDeny:
      return "kod_deny";
    case Reject::KodOther:
      return "kod_other";
    case Reject::ZeroTimestamp:
      return "zero_timestamp";
    case Reject::Replay:
      return "replay";
    case Reject::Unsynchronised:
      return "unsynchronised";
    case Reject::BadStratum:
      return "bad_stratum";
    case Reject::RootDistance:
      return "root_distance";
    case Reject::BadDelay:
      return "bad_delay";
    case Reject::SyncLoop:
      return "sync_loop";
    case Reject::Count:
      break;
  }
  return "?";
}

NtpSource::NtpSource(const SourceOptions& opt, double mono_s) : m_opt(opt) {
  m_opt.minpoll = clamp_poll(m_opt.minpoll, k_min_poll, k_max_poll);
  m_opt.maxpoll = clamp_poll(m_opt.maxpoll, m_opt.minpoll, k_max_poll);
  if (!(m_opt.min_interval_s >= 0.001)) {
    m_opt.min_interval_s = 0.001;
  }
  m_poll = m_opt.minpoll;
  m_next_poll_s = mono_s;  // fast start: the first request goes out at once
  m_burst_left = m_opt.iburst ? k_burst_count : 0;
}

double NtpSource::poll_interval_s() const { return std::max(log2_to_s(m_poll), m_opt.min_interval_s); }

void NtpSource::set_poll(int8_t poll) { m_poll = clamp_poll(poll, m_opt.minpoll, m_opt.maxpoll); }

void NtpSource::start_burst(double mono_s) {
  if (m_retired) {
    return;
  }
  m_burst_left = k_burst_count;
  // Keep the spacing from the previous request.
  m_next_poll_s = std::min(m_next_poll_s, std::max(mono_s, m_next_poll_s - poll_interval_s() + m_opt.min_interval_s));
}

void NtpSource::schedule_next(double mono_s, double u) {
  if (m_burst_left > 0) {
    --m_burst_left;
  }
  m_next_poll_s = mono_s + (m_burst_left > 0 ? m_opt.min_interval_s : poll_interval_s() * (1 + k_poll_spread * u));
}

std::array<uint8_t, k_header_len> NtpSource::make_request(double mono_s, Rng& rng) {
  if (m_outstanding) {
    ++m_stats.timeouts;  // the previous request was never answered
  }
  if (!m_answered) {
    ++m_unanswered;
  }
  m_answered = false;
  m_reach = static_cast<uint8_t>(m_reach << 1);
  NtpHeader h;  // LI 0, stratum 0, refid 0, root values 0: nothing about our state
  h.leap = Leap::None;
  h.version = 4;
  h.mode = Mode::Client;
  h.poll = m_poll;
  uint64_t tx = rng.next_u64();
  if (tx == 0) {
    tx = 1;  // a zero transmit timestamp would make a zero origin acceptable
  }
  h.transmit = NtpTimestamp{tx};
  m_expected_origin = h.transmit;
  m_outstanding = true;
  m_t1_known = false;
  ++m_stats.sent;
  std::array<uint8_t, k_header_len> out{};
  encode_header(h, std::span<uint8_t, k_header_len>(out.data(), out.size()));
  schedule_next(mono_s, rng.next_double());
  return out;
}

void NtpSource::request_sent(Timestamp t1) {
  m_t1 = t1;
  m_t1_known = true;
}

void NtpSource::clock_stepped(double delta_s) {
  if (m_t1_known) {
    m_t1 = add_s(m_t1, delta_s);
  }
}

ResponseResult NtpSource::on_response(std::span<const uint8_t> data, Timestamp t4, double mono_s) {
  ++m_stats.received;
  ResponseResult res;
  auto refuse = [&](Reject r) {
    ++m_stats.reject(r);
    res.reject = r;
    return res;
  };
  auto decoded = decode(data);
  if (!decoded) {
    return refuse(Reject::Malformed);
  }
  const NtpHeader& h = decoded->header;
  if (h.mode != Mode::Server) {
    return refuse(Reject::BadMode);
  }
  // RFC 5905 §8 test 1/2 and chrony's valid_rx: one reply per request, matched by the
  // random transmit timestamp. A mismatch leaves the request outstanding, so a spoofed
  // reply can neither consume it nor change the schedule.
  if (!m_outstanding) {
    return refuse(Reject::NotRequested);
  }
  if (h.origin != m_expected_origin) {
    return refuse(Reject::BadOrigin);
  }
  m_outstanding = false;

  // A KoD is believed only now, after the origin check (CVE-2015-7704).
  if (h.stratum == 0) {
    if (h.refid == kiss_code("RATE")) {
      int8_t raised = clamp_poll(std::max<int>(m_poll + 2, h.poll), m_opt.minpoll, m_opt.maxpoll);
      m_poll = raised;
      m_burst_left = 0;
      m_next_poll_s = std::max(m_next_poll_s, mono_s + poll_interval_s());
      return refuse(Reject::KodRate);
    }
    if (h.refid == kiss_code("DENY") || h.refid == kiss_code("RSTR")) {
      m_retired = true;
      m_retire_code = h.refid;
      return refuse(Reject::KodDeny);
    }
    return refuse(Reject::KodOther);
  }
  if (h.receive.is_zero() || h.transmit.is_zero()) {
    return refuse(Reject::ZeroTimestamp);
  }
  if (h.transmit == m_last_transmit) {
    return refuse(Reject::Replay);
  }
  if (h.leap == Leap::Unsynchronised) {
    return refuse(Reject::Unsynchronised);
  }
  if (h.stratum >= 16) {
    return refuse(Reject::BadStratum);
  }
  if (is_sync_loop(h.stratum, h.refid, m_local_refid)) {
    return refuse(Reject::SyncLoop);
  }
  double root_delay = from_ntp_short(h.root_delay);
  double root_disp = from_ntp_short(h.root_dispersion);
  if (!(root_delay / 2 + root_disp <= m_opt.max_distance_s)) {
    return refuse(Reject::RootDistance);
  }
  if (!m_t1_known) {
    return refuse(Reject::BadDelay);
  }
  // RFC 5905 §8: offset = ((T2 - T1) + (T3 - T4)) / 2, delay = (T4 - T1) - (T3 - T2).
  // Differences of wire values are exact and era-independent.
  NtpTimestamp t1n = to_ntp(m_t1);
  NtpTimestamp t4n = to_ntp(t4);
  double server_time = ntp_diff_s(h.transmit, h.receive);
  double round_trip = diff_s(t4, m_t1);
  double offset = (ntp_diff_s(h.receive, t1n) + ntp_diff_s(h.transmit, t4n)) / 2;
  double delay = round_trip - server_time;
  double server_precision = log2_to_s(h.precision);
  double precision = log2_to_s(m_opt.precision) + server_precision;
  // T2 and T3 are read from the server's clock, which may fuzz the bits below its
  // precision (chronyd does), so T3 - T2 can be negative by up to one server precision
  // (chrony's check_packet allows the same). T1 and T4 are ours and unfuzzed: a negative
  // round trip is a step, not noise. A huge claimed precision buys nothing: the delay
  // bound below still applies, and the sample's dispersion carries it.
  if (!std::isfinite(offset) || !std::isfinite(delay) || server_time < -server_precision || round_trip < 0 ||
      round_trip > m_opt.max_delay_s || delay < -precision || delay > m_opt.max_delay_s) {
    return refuse(Reject::BadDelay);
  }
  m_last_transmit = h.transmit;
  m_reach |= 1;
  m_answered = true;
  m_unanswered = 0;
  ++m_stats.accepted;
  Sample s;
  s.time = Timestamp{m_t1.ns + (t4.ns - m_t1.ns) / 2};
  s.offset_s = offset;
  s.delay_s = std::max(delay, 0.0);
  s.dispersion_s = precision + k_phi * round_trip;
  s.leap = h.leap;
  s.stratum = h.stratum;
  s.refid = h.refid;
  s.root_delay_s = root_delay;
  s.root_dispersion_s = root_disp;
  s.version = h.version;
  s.poll = h.poll;
  s.precision = h.precision;
  s.reference_time = h.reference.is_zero() ? Timestamp{} : from_ntp(h.reference, t4);
  s.response_time_s = std::max(server_time, 0.0);
  m_last = s;
  res.sample = s;
  return res;
}

}  // namespace tr7::core
