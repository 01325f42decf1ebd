// NTP server decision logic (see ntp_server.h).
#include "core/ntp_server.h"

#include <cmath>
#include <utility>

namespace tr7::core {

namespace {

// The mode of our answer: mode 2 to mode 1 (RFC 5905 §9: symmetric passive), mode 0 to
// NTPv1's mode 0, mode 4 to a client.
Mode reply_mode(Mode req) {
  switch (req) {
    case Mode::Reserved:
      return Mode::Reserved;
    case Mode::SymmetricActive:
      return Mode::SymmetricPassive;
    default:
      return Mode::Server;
  }
}

}  // namespace

const char* to_string(DropReason r) {
  switch (r) {
    case DropReason::TooShort:
      return "too_short";
    case DropReason::TooLong:
      return "too_long";
    case DropReason::BadVersion:
      return "bad_version";
    case DropReason::BadFormat:
      return "bad_format";
    case DropReason::BadMode:
      return "bad_mode";
    case DropReason::BadSource:
      return "bad_source";
    case DropReason::Denied:
      return "denied";
    case DropReason::RateLimited:
      return "rate_limited";
    case DropReason::Count:
      break;
  }
  return "?";
}

uint64_t ServerStats::dropped_total() const {
  uint64_t n = 0;
  for (uint64_t d : dropped) {
    n += d;
  }
  return n;
}

void ServerStats::add(const ServerStats& o) {
  received += o.received;
  answered += o.answered;
  kod_rate += o.kod_rate;
  kod_deny += o.kod_deny;
  leaked += o.leaked;
  for (size_t i = 0; i < k_drop_reasons; ++i) {
    dropped[i] += o.dropped[i];
  }
}

NtpServer::NtpServer(ServerPolicy policy, SipKey hash_key, uint64_t rng_seed, int8_t precision)
    : m_policy(std::move(policy)),
      m_hash_key(hash_key),
      m_clients(m_policy.max_clients, hash_key),
      m_rng(rng_seed),
      m_precision(precision) {}

void NtpServer::set_policy(ServerPolicy policy) {
  if (policy.max_clients != m_policy.max_clients) {
    m_clients = ClientTable(policy.max_clients, m_hash_key);
  }
  m_policy = std::move(policy);
}

Verdict NtpServer::handle(std::span<const uint8_t> request, const SockAddr& from, const IpAddr& to, Timestamp rx,
                          int64_t mono_ns,
                          const ReferenceState& ref, std::span<uint8_t, k_header_len> out) {
  ++m_stats.received;
  auto pkt = decode(request);
  if (!pkt) {
    switch (pkt.error()) {
      case DecodeError::TooShort:
        ++m_stats.drop(DropReason::TooShort);
        break;
      case DecodeError::TooLong:
        ++m_stats.drop(DropReason::TooLong);
        break;
      case DecodeError::BadVersion:
        ++m_stats.drop(DropReason::BadVersion);
        break;
      case DecodeError::BadExtension:
        ++m_stats.drop(DropReason::BadFormat);
        break;
    }
    return Verdict::Drop;
  }
  const NtpHeader& req = pkt->header;
  // Mode 3 (client), NTPv1's mode 0, and mode 1 (symmetric active, as Windows' w32time
  // and HA peers send it): answered statelessly in mode 2, as chronyd does; no
  // association is ever made for a stranger.
  bool client_mode =
      req.mode == Mode::Client || req.mode == Mode::SymmetricActive || (req.mode == Mode::Reserved && req.version == 1);
  if (!client_mode) {
    ++m_stats.drop(DropReason::BadMode);
    return Verdict::Drop;
  }
  bool spoofed_loopback = from.ip.is_loopback() && to.family != IpAddr::Family::None && !to.is_loopback();
  if (from.port == 0 || from.ip.is_bad_source() || spoofed_loopback) {
    ++m_stats.drop(DropReason::BadSource);
    return Verdict::Drop;
  }

  if (!m_policy.access.allowed(from.ip)) {
    if (!m_policy.deny_kod) {
      ++m_stats.drop(DropReason::Denied);
      return Verdict::Drop;
    }
    // KoD DENY tells a well-behaved client to stop; throttled per client so it cannot
    // be used to reflect a flood at a spoofed victim.
    ClientRecord& c = m_clients.touch(from.ip, mono_ns);
    ++c.denied;
    int64_t interval_ns = static_cast<int64_t>(std::llround(m_policy.ratelimit.interval_s * 1e9));
    if (!kod_allowed(c, mono_ns, interval_ns)) {
      ++m_stats.drop(DropReason::Denied);
      return Verdict::Drop;
    }
    c.last_kod_ns = mono_ns;
    ++c.kod;
    ++m_stats.kod_deny;
    build_kod(req, rx, kiss_code("DENY"), out);
    return Verdict::KodDeny;
  }

  ClientRecord& c = m_clients.touch(from.ip, mono_ns);
  switch (rate_decide(c, mono_ns, m_policy.ratelimit, m_rng.next_u32())) {
    case RateDecision::Pass:
      break;
    case RateDecision::Leak:
      ++m_stats.leaked;
      break;
    case RateDecision::Drop:
      ++c.limited;
      ++m_stats.drop(DropReason::RateLimited);
      return Verdict::Drop;
    case RateDecision::Kod:
      ++c.limited;
      ++m_stats.kod_rate;
      build_kod(req, rx, kiss_code("RATE"), out);
      return Verdict::KodRate;
  }
  ++c.answered;
  ++m_stats.answered;
  build_reply(req, rx, ref, out);
  return Verdict::Reply;
}

void NtpServer::build_reply(const NtpHeader& req, Timestamp rx, const ReferenceState& ref,
                            std::span<uint8_t, k_header_len> out) const {
  NtpHeader h;
  h.version = req.version;
  h.mode = reply_mode(req.mode);
  h.poll = req.poll;
  h.precision = m_precision;
  if (ref.synchronised) {
    h.leap = ref.leap;
    h.stratum = ref.stratum;
    h.refid = ref.refid;
    h.reference = to_ntp(ref.reference_time);
    h.root_delay = to_ntp_short(ref.root_delay_s);
    h.root_dispersion = to_ntp_short(ref.root_dispersion_at(rx));
  } else {
    // RFC 5905: LI=3 "clock unsynchronised"; stratum 0 and no reference. Clients
    // (chrony test6, ntpd, sntp) refuse such replies.
    h.leap = Leap::Unsynchronised;
    h.stratum = 0;
  }
  h.origin = req.transmit;  // RFC 5905 §9.2: origin = the client's transmit, bit for bit
  h.receive = to_ntp(rx);
  h.transmit = h.receive;  // overwritten by the caller just before the send
  encode_header(h, out);
}

void NtpServer::build_kod(const NtpHeader& req, Timestamp rx, uint32_t code,
                          std::span<uint8_t, k_header_len> out) const {
  NtpHeader h;
  h.leap = Leap::Unsynchronised;
  h.version = req.version;
  h.mode = reply_mode(req.mode);
  h.stratum = 0;  // RFC 5905 §7.4: stratum 0 + kiss code in refid
  h.poll = req.poll;
  h.precision = m_precision;
  h.refid = code;
  h.origin = req.transmit;  // so the client can tell it is a KoD for its own request
  h.receive = to_ntp(rx);
  h.transmit = h.receive;
  encode_header(h, out);
}

}  // namespace tr7::core
