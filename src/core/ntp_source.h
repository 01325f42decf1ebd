// One upstream NTP server, as the client sees it: poll scheduling, requests and the
// validation of replies (sans-IO: events in, decisions out).
//
// No I/O, no clock reads. The caller passes two time scales:
//  * `mono_s`: a monotonic clock in seconds (CLOCK_MONOTONIC in the daemon, true time in
//    the simulator) for scheduling only; steps of the served clock never disturb polling;
//  * Timestamps on the served time scale for T1 (request sent) and T4 (reply received).
//
// Requests (THREATS.md "Off-path time shifting"): mode 3, version 4, every header field
// zero except the poll, and a random 64-bit transmit timestamp that says nothing about
// our clock; the reply must echo it as its origin. At most one reply per request is
// accepted. Replies are checked in this order, each failure counted per reason:
// malformed, not mode 4, no request outstanding (duplicate / unsolicited), origin
// mismatch (a spoof: the request stays outstanding), then, for a reply that is known to
// answer our request: KoD (RATE backs off, DENY/RSTR retire the source), zero
// timestamps, replayed transmit timestamp, LI=3 / stratum 0 or >= 16, a timing loop (the
// server's refid is ours: refid.h), root distance, and delay sanity (finite, server time
// not negative, delay within bounds).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "core/ntp_packet.h"
#include "core/random.h"
#include "core/time.h"

namespace tr7::core {

inline constexpr int8_t k_min_poll = -6;  // 1/64 s: LAN use only
inline constexpr int8_t k_max_poll = 17;  // 36 h
inline constexpr int k_burst_count = 4;   // requests of an iburst/burst (the first included)
// Each regular interval is longer by up to this fraction, at random (a fleet started
// together does not poll its upstreams in lockstep; chronyd spreads its polls alike).
inline constexpr double k_poll_spread = 0.02;

struct SourceOptions {
  int8_t minpoll = 6;  // log2 s
  int8_t maxpoll = 10;
  bool iburst = false;  // a burst of k_burst_count requests at start
  // Smallest spacing between two requests to this source, also inside a burst. Below
  // 2 s only for a server one owns (`burst_interval`).
  double min_interval_s = 2.0;
  double max_delay_s = 3.0;     // replies with a larger round trip are refused
  double max_distance_s = 3.0;  // root delay / 2 + root dispersion of the server
  int8_t precision = -20;       // our clock's precision (log2 s)
};

enum class Reject : uint8_t {
  Malformed,       // codec refused it (length, version, extension layout)
  BadMode,         // not a server reply
  NotRequested,    // no request outstanding: a duplicate or unsolicited reply
  BadOrigin,       // origin is not our last transmit timestamp (spoof or stale)
  KodRate,         // KoD RATE: accepted as a back-off signal, no sample
  KodDeny,         // KoD DENY or RSTR: the source retires
  KodOther,        // stratum 0 with an unknown kiss code
  ZeroTimestamp,   // receive or transmit timestamp zero
  Replay,          // transmit timestamp equal to the previous reply's
  Unsynchronised,  // LI=3
  BadStratum,      // stratum >= 16
  RootDistance,    // root delay / 2 + root dispersion above max_distance_s
  BadDelay,        // not finite, negative server time, or round trip out of bounds
  SyncLoop,        // the server is synchronised to us (its refid is our address's)
  Count
};
inline constexpr size_t k_reject_reasons = static_cast<size_t>(Reject::Count);
const char* to_string(Reject r);  // "malformed", ... (stable: used in reports)

// One measurement (RFC 5905 §8), on the served time scale.
struct Sample {
  Timestamp time;           // local time of the measurement (midpoint of T1 and T4)
  double offset_s = 0;      // server - local: positive when the local clock is behind
  double delay_s = 0;       // round trip minus the server's processing time, >= 0
  double dispersion_s = 0;  // precision of both ends + PHI * round trip
  Leap leap = Leap::None;
  uint8_t stratum = 0;
  uint32_t refid = 0;
  double root_delay_s = 0;
  double root_dispersion_s = 0;
  // The rest of the reply, for reports (`ntpdata`).
  uint8_t version = 0;
  int8_t poll = 0;
  int8_t precision = 0;
  Timestamp reference_time;    // the server's reference time (zero: none given)
  double response_time_s = 0;  // T3 - T2: the server's processing time
};

struct SourceStats {
  uint64_t sent = 0;
  uint64_t received = 0;  // datagrams handed in
  uint64_t accepted = 0;  // samples produced
  uint64_t timeouts = 0;  // requests never answered
  std::array<uint64_t, k_reject_reasons> rejected{};
  uint64_t& reject(Reject r) { return rejected[static_cast<size_t>(r)]; }
  uint64_t rejected_count(Reject r) const { return rejected[static_cast<size_t>(r)]; }
};

// The outcome of one received datagram.
struct ResponseResult {
  std::optional<Sample> sample;  // set when accepted
  std::optional<Reject> reject;  // set when refused
};

class NtpSource {
 public:
  // `mono_s`: when the source is added; the first request is due at once.
  NtpSource(const SourceOptions& opt, double mono_s);

  const SourceOptions& options() const { return m_opt; }

  // When the next request is due (mono seconds).
  double next_poll_s() const { return m_next_poll_s; }
  bool due(double mono_s) const { return !m_retired && mono_s >= m_next_poll_s; }

  // Builds the next request and schedules the one after it. The transmit timestamp is
  // random; it becomes the expected origin. An unanswered previous request counts as a
  // timeout (reachability shifts in a 0).
  std::array<uint8_t, k_header_len> make_request(double mono_s, Rng& rng);
  // The local (served) time the request left, as late as possible (T1).
  void request_sent(Timestamp t1);

  // The local clock jumped by delta_s (a step or a leap second) while a request may be
  // outstanding: T1 is moved to the new time scale.
  void clock_stepped(double delta_s);

  // The refid of the local address this source is reached from (refid.h; 0: unknown).
  // A reply naming it as its reference is refused as a timing loop (chronyd's test D).
  void set_local_refid(uint32_t refid) { m_local_refid = refid; }
  uint32_t local_refid() const { return m_local_refid; }

  // A datagram that came from this source's address and port, received at local time
  // `t4` (kernel timestamp, served scale).
  ResponseResult on_response(std::span<const uint8_t> data, Timestamp t4, double mono_s);

  // Poll control by the client: raise or lower the poll exponent within
  // [minpoll, maxpoll]; takes effect from the next scheduled request.
  void set_poll(int8_t poll);
  int8_t poll() const { return m_poll; }
  // Starts a burst of k_burst_count requests (the `burst` command, or re-sync).
  void start_burst(double mono_s);
  bool in_burst() const { return m_burst_left > 0; }

  uint8_t reach() const { return m_reach; }  // last 8 polls, newest in bit 0
  bool reachable() const { return m_reach != 0; }
  // Polls in a row without a valid reply (for DNS re-resolution and pool replacement).
  unsigned unanswered() const { return m_unanswered; }
  bool retired() const { return m_retired; }  // KoD DENY/RSTR: stop polling
  uint32_t retire_code() const { return m_retire_code; }
  const SourceStats& stats() const { return m_stats; }
  const std::optional<Sample>& last_sample() const { return m_last; }
  // The interval from one request to the next at the current poll, seconds.
  double poll_interval_s() const;

 private:
  void schedule_next(double mono_s, double u);  // u in [0, 1): where in the spread

  SourceOptions m_opt;
  int8_t m_poll;
  double m_next_poll_s;
  int m_burst_left = 0;
  bool m_outstanding = false;
  NtpTimestamp m_expected_origin;
  Timestamp m_t1;
  bool m_t1_known = false;
  NtpTimestamp m_last_transmit;  // transmit timestamp of the last valid reply
  uint8_t m_reach = 0;
  bool m_answered = true;  // the last request produced a sample (or none was sent)
  unsigned m_unanswered = 0;
  bool m_retired = false;
  uint32_t m_retire_code = 0;
  SourceStats m_stats;
  std::optional<Sample> m_last;
  uint32_t m_local_refid = 0;
};

}  // namespace tr7::core
