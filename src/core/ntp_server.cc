// NTP server decision logic (see ntp_server.h).
#include "core/ntp_server.h"

#include <cmath>
#include <cstring>
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
    case DropReason::AuthFailed:
      return "auth_failed";
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
  auth_mac += o.auth_mac;
  auth_nts += o.auth_nts;
  nak_crypto += o.nak_crypto;
  nak_nts += o.nak_nts;
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
                          int64_t mono_ns, const ReferenceState& ref, std::span<uint8_t, k_header_len> out) {
  uint8_t buf[k_max_packet_len];
  size_t len = 0;
  ReplySeal seal;
  Verdict v = handle(request, from, to, rx, mono_ns, ref, std::span<uint8_t>(buf, sizeof buf), len, seal);
  if (v != Verdict::Drop) {
    seal_reply(std::span<uint8_t>(buf, sizeof buf), len, seal, to_ntp(rx));
    std::memcpy(out.data(), buf, k_header_len);
  }
  return v;
}

Verdict NtpServer::handle(std::span<const uint8_t> request, const SockAddr& from, const IpAddr& to, Timestamp rx,
                          int64_t mono_ns, const ReferenceState& ref, std::span<uint8_t> out, size_t& out_len,
                          ReplySeal& seal) {
  ++m_stats.received;
  seal = ReplySeal{};
  out_len = 0;
  auto pkt = decode(request);
  if (!pkt) {
    switch (pkt.error()) {
      case DecodeError::TooShort:
        return drop(DropReason::TooShort);
      case DecodeError::TooLong:
        return drop(DropReason::TooLong);
      case DecodeError::BadVersion:
        return drop(DropReason::BadVersion);
      case DecodeError::BadExtension:
        return drop(DropReason::BadFormat);
    }
    return Verdict::Drop;
  }
  if (out.size() < k_header_len + 4 || out.size() < request.size()) {
    return drop(DropReason::TooLong);  // the caller's buffer: never with the listener's
  }
  const NtpHeader& req = pkt->header;
  // Mode 3 (client), NTPv1's mode 0, and mode 1 (symmetric active, as Windows' w32time
  // and HA peers send it): answered statelessly in mode 2, as chronyd does; no
  // association is ever made for a stranger.
  bool client_mode =
      req.mode == Mode::Client || req.mode == Mode::SymmetricActive || (req.mode == Mode::Reserved && req.version == 1);
  if (!client_mode) {
    return drop(DropReason::BadMode);
  }
  bool spoofed_loopback = from.ip.is_loopback() && to.family != IpAddr::Family::None && !to.is_loopback();
  if (from.port == 0 || from.ip.is_bad_source() || spoofed_loopback) {
    return drop(DropReason::BadSource);
  }
  std::span<uint8_t, k_header_len> head = out.first<k_header_len>();

  if (!m_policy.access.allowed(from.ip)) {
    if (!m_policy.deny_kod) {
      return drop(DropReason::Denied);
    }
    // KoD DENY tells a well-behaved client to stop; throttled per client so it cannot
    // be used to reflect a flood at a spoofed victim. Never authenticated: no crypto is
    // spent on a client we do not serve.
    ClientRecord& c = m_clients.touch(from.ip, mono_ns);
    ++c.denied;
    int64_t interval_ns = static_cast<int64_t>(std::llround(m_policy.ratelimit.interval_s * 1e9));
    if (!kod_allowed(c, mono_ns, interval_ns)) {
      return drop(DropReason::Denied);
    }
    c.last_kod_ns = mono_ns;
    ++c.kod;
    ++m_stats.kod_deny;
    build_kod(req, rx, kiss_code("DENY"), head);
    out_len = k_header_len;
    return Verdict::KodDeny;
  }

  ClientRecord& c = m_clients.touch(from.ip, mono_ns);
  bool kod_rate = false;
  switch (rate_decide(c, mono_ns, m_policy.ratelimit, m_rng.next_u32())) {
    case RateDecision::Pass:
      break;
    case RateDecision::Leak:
      ++m_stats.leaked;
      break;
    case RateDecision::Drop:
      ++c.limited;
      return drop(DropReason::RateLimited);
    case RateDecision::Kod:
      ++c.limited;
      kod_rate = true;
      break;
  }
  auto answer = [&]() {
    if (kod_rate) {
      ++m_stats.kod_rate;
      build_kod(req, rx, kiss_code("RATE"), head);
      return Verdict::KodRate;
    }
    ++c.answered;
    ++m_stats.answered;
    build_reply(req, rx, ref, head);
    return Verdict::Reply;
  };

  if (pkt->auth == Auth::Mac) {
    // RFC 5905 §7.3 / RFC 8573: the MAC covers everything before it.
    const SymmetricKey* key = nullptr;
    MacCheck mc = m_policy.keys ? check_mac(request, request.size() - pkt->mac_len, req.version, *m_policy.keys, &key)
                                : MacCheck::UnknownKey;
    if (mc != MacCheck::Ok) {
      // A crypto-NAK: key id 0 and nothing else, in a KoD that carries no time.
      ++m_stats.nak_crypto;
      build_kod(req, rx, kiss_code("CRYP"), head);
      std::memset(out.data() + k_header_len, 0, 4);
      out_len = k_header_len + 4;
      return Verdict::Nak;
    }
    Verdict v = answer();
    ++m_stats.auth_mac;
    seal.kind = ReplySeal::Kind::Mac;
    seal.key = key;
    seal.version = req.version;
    out_len = k_header_len;
    return v;
  }
  if (req.version == 4 && pkt->extension_count > 0) {
    auto nts = parse_nts_request(request);
    if (!nts) {
      if (nts.error() == NtsParse::Malformed) {
        return drop(DropReason::AuthFailed);
      }
      // No NTS field: extension fields we do not know are ignored (RFC 7822).
    } else {
      if (!m_policy.nts || !m_policy.random) {
        return drop(DropReason::AuthFailed);
      }
      NtsKeys keys;
      switch (check_nts_request(request, *nts, *m_policy.nts, keys)) {
        case NtsCheck::Drop:
          return drop(DropReason::AuthFailed);
        case NtsCheck::Nak:
          // RFC 8915 §5.7: a KoD NTSN with the unique identifier, unauthenticated.
          ++m_stats.nak_nts;
          build_kod(req, rx, kiss_code("NTSN"), head);
          out_len = build_nts_nak(out, *nts);
          return out_len == 0 ? drop(DropReason::AuthFailed) : Verdict::Nak;
        case NtsCheck::Ok:
          break;
      }
      Verdict v = answer();
      size_t len = build_nts_reply(out, *nts, keys, *m_policy.nts, *m_policy.random, request.size(), seal.nts);
      if (len == 0) {
        return drop(DropReason::AuthFailed);
      }
      ++m_stats.auth_nts;
      seal.kind = ReplySeal::Kind::Nts;
      out_len = len;
      return v;
    }
  }
  Verdict v = answer();
  out_len = k_header_len;
  return v;
}

size_t seal_reply(std::span<uint8_t> out, size_t len, const ReplySeal& seal, NtpTimestamp tx) {
  if (len < k_header_len || len > out.size()) {
    return 0;
  }
  encode_transmit(out.first<k_header_len>(), tx);
  switch (seal.kind) {
    case ReplySeal::Kind::None:
      return len;
    case ReplySeal::Kind::Mac:
      return seal.key ? append_mac(out, len, *seal.key, seal.version) : 0;
    case ReplySeal::Kind::Nts:
      return seal_nts_reply(out, seal.nts) ? seal.nts.length : 0;
  }
  return 0;
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
