// The helper protocol's validator (see privsep.h).
#include "core/privsep.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

namespace tr7::core::privsep {

const char* to_string(Op op) {
  switch (op) {
    case Op::Query:
      return "query";
    case Op::Slew:
      return "slew";
    case Op::SetFreq:
      return "set-frequency";
    case Op::Step:
      return "step";
    case Op::SetLeap:
      return "set-leap";
    case Op::ReadRtc:
      return "read-rtc";
    case Op::WriteRtc:
      return "write-rtc";
    case Op::OpenUdp:
      return "open-udp";
    case Op::OpenConfig:
      return "open-config";
    case Op::NetnsId:
      return "netns-id";
    case Op::SetSync:
      return "set-sync";
    case Op::AuditAppend:
      return "audit-append";
    case Op::OpenAuthFile:
      return "open-auth-file";
  }
  return "unknown";
}

const char* to_string(Refusal r) {
  switch (r) {
    case Refusal::BadSize:
      return "bad size";
    case Refusal::BadVersion:
      return "bad version";
    case Refusal::UnknownOp:
      return "unknown operation";
    case Refusal::NotCanonical:
      return "unused field not zero";
    case Refusal::NotFinite:
      return "value not finite";
    case Refusal::OutOfRange:
      return "value out of range";
    case Refusal::Disabled:
      return "not permitted by the configuration";
    case Refusal::BadNetnsName:
      return "bad network namespace name";
    case Refusal::NotConfigured:
      return "address not configured";
    case Refusal::RateLimited:
      return "rate limited";
    case Refusal::BudgetSpent:
      return "clock budget of the last 24 h spent";
  }
  return "unknown refusal";
}

bool valid_netns_name(std::string_view name) {
  if (name.empty() || name.size() > k_netns_max || name == "." || name == "..") {
    return false;
  }
  for (char c : name) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

void peek_ids(std::span<const uint8_t> msg, uint32_t& op, uint32_t& seq) {
  op = 0;
  seq = 0;
  if (msg.size() >= offsetof(Request, seq) + sizeof(uint32_t)) {
    std::memcpy(&op, msg.data() + offsetof(Request, op), sizeof op);
    std::memcpy(&seq, msg.data() + offsetof(Request, seq), sizeof seq);
  }
}

Request make_request(Op op, uint32_t seq, double value) {
  Request r;
  std::memset(&r, 0, sizeof r);
  r.version = k_version;
  r.op = static_cast<uint32_t>(op);
  r.seq = seq;
  if (op == Op::Slew || op == Op::SetFreq || op == Op::Step) {
    r.value = value;
  }
  return r;
}

Request make_set_leap(uint32_t seq, Leap leap) {
  Request r = make_request(Op::SetLeap, seq);
  r.leap = static_cast<uint32_t>(leap);
  return r;
}

Request make_set_sync(uint32_t seq, bool synchronised, double est_error_s, double max_error_s) {
  // + 0.0: -0.0 becomes +0.0, the one encoding of zero the helper accepts.
  auto clamp = [](double v) {
    return std::isnan(v) ? k_max_sync_error_s : std::clamp(v, 0.0, k_max_sync_error_s) + 0.0;
  };
  Request r = make_request(Op::SetSync, seq);
  if (synchronised) {
    r.leap = 1;
    r.value = clamp(max_error_s);
    r.value2 = clamp(est_error_s);
  }
  return r;
}

Result<Request, Refusal> make_open_udp(uint32_t seq, std::string_view netns, const SockAddr& addr) {
  if (!netns.empty() && !valid_netns_name(netns)) {
    return unexpected(Refusal::BadNetnsName);
  }
  if (!addr.ip.is_v4() && !addr.ip.is_v6()) {
    return unexpected(Refusal::OutOfRange);
  }
  Request r = make_request(Op::OpenUdp, seq);
  r.family = addr.ip.is_v4() ? 4 : 6;
  r.port = addr.port;
  std::memcpy(r.addr, addr.ip.bytes.data(), addr.ip.is_v4() ? 4 : 16);
  std::memcpy(r.netns, netns.data(), netns.size());
  return r;
}

Result<Request, Refusal> make_netns_id(uint32_t seq, std::string_view netns) {
  if (!valid_netns_name(netns)) {
    return unexpected(Refusal::BadNetnsName);
  }
  Request r = make_request(Op::NetnsId, seq);
  std::memcpy(r.netns, netns.data(), netns.size());
  return r;
}

bool audit_record_ok(std::string_view record) {
  if (record.size() < 2 || record.size() > k_max_audit_record || record.front() != '{' || record.back() != '}') {
    return false;
  }
  for (char c : record) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return false;
    }
  }
  return true;
}

Result<std::vector<uint8_t>, Refusal> make_audit_append(uint32_t seq, std::string_view record) {
  if (!audit_record_ok(record)) {
    return unexpected(Refusal::OutOfRange);
  }
  Request r = make_request(Op::AuditAppend, seq);
  std::vector<uint8_t> m(sizeof r + record.size());
  std::memcpy(m.data(), &r, sizeof r);
  std::memcpy(m.data() + sizeof r, record.data(), record.size());
  return m;
}

Request make_open_auth_file(uint32_t seq, AuthFile which) {
  Request r = make_request(Op::OpenAuthFile, seq);
  r.leap = static_cast<uint32_t>(which);
  return r;
}

namespace {

// The canonical encoding of what was decoded: any difference from the message means a
// byte the op does not use was set.
bool canonical(const Request& got, const Request& want) { return std::memcmp(&got, &want, sizeof got) == 0; }

Result<Valid, Refusal> check_open_udp(const Request& r, const Policy& policy, Valid v) {
  // The name: everything up to the first NUL; the rest must be zero (checked by canonical()).
  size_t n = 0;
  while (n < sizeof r.netns && r.netns[n] != '\0') {
    ++n;
  }
  if (n == sizeof r.netns || n > k_netns_max) {
    return unexpected(Refusal::BadNetnsName);
  }
  std::string_view name(r.netns, n);
  if (n > 0 && !valid_netns_name(name)) {
    return unexpected(Refusal::BadNetnsName);
  }
  SockAddr addr;
  if (r.family == 4) {
    addr.ip.family = IpAddr::Family::V4;
    std::memcpy(addr.ip.bytes.data(), r.addr, 4);
  } else if (r.family == 6) {
    std::array<uint8_t, 16> b{};
    std::memcpy(b.data(), r.addr, 16);
    addr.ip = IpAddr::v6(b);
    if (!addr.ip.is_v6()) {
      return unexpected(Refusal::NotCanonical);  // IPv4-mapped: ask for IPv4 instead
    }
  } else {
    return unexpected(Refusal::OutOfRange);
  }
  addr.port = r.port;
  auto want = make_open_udp(r.seq, name, addr);
  if (!want || !canonical(r, *want)) {
    return unexpected(Refusal::NotCanonical);
  }
  v.target = BindTarget{std::string(name), addr};
  for (const auto& t : policy.bind_targets) {
    if (t == v.target) {
      return v;
    }
  }
  if (!name.empty() && runtime_bind_allowed(policy.runtime_rules, name, addr)) {
    return v;
  }
  return unexpected(Refusal::NotConfigured);
}

Result<Valid, Refusal> check_netns_id(const Request& r, const Policy& policy, Valid v) {
  size_t n = 0;
  while (n < sizeof r.netns && r.netns[n] != '\0') {
    ++n;
  }
  if (n == 0 || n == sizeof r.netns || n > k_netns_max) {
    return unexpected(Refusal::BadNetnsName);
  }
  std::string_view name(r.netns, n);
  auto want = make_netns_id(r.seq, name);
  if (!want) {
    return unexpected(want.error());
  }
  if (!canonical(r, *want)) {
    return unexpected(Refusal::NotCanonical);
  }
  v.target.netns = std::string(name);
  for (const auto& t : policy.bind_targets) {
    if (t.netns == name) {
      return v;
    }
  }
  for (const auto& rule : policy.runtime_rules) {
    if (glob_match(rule.netns_glob, name)) {
      return v;
    }
  }
  return unexpected(Refusal::NotConfigured);
}

}  // namespace

Result<Valid, Refusal> validate(std::span<const uint8_t> msg, const Policy& policy, Timestamp now) {
  if (msg.size() < sizeof(Request)) {
    return unexpected(Refusal::BadSize);
  }
  Request r;
  std::memcpy(&r, msg.data(), sizeof r);
  if (msg.size() > sizeof(Request) && !(r.version == k_version && r.op == static_cast<uint32_t>(Op::AuditAppend))) {
    return unexpected(Refusal::BadSize);  // only an audit record follows a header
  }
  if (r.version != k_version) {
    return unexpected(Refusal::BadVersion);
  }
  if (r.op < k_op_min || r.op > k_op_max) {
    return unexpected(Refusal::UnknownOp);
  }
  Valid v;
  v.op = static_cast<Op>(r.op);
  v.seq = r.seq;
  switch (v.op) {
    case Op::Query:
    case Op::ReadRtc:
    case Op::WriteRtc:
    case Op::OpenConfig:
      if (!canonical(r, make_request(v.op, r.seq))) {
        return unexpected(Refusal::NotCanonical);
      }
      if (v.op == Op::ReadRtc && !policy.rtc) {
        return unexpected(Refusal::Disabled);
      }
      if (v.op == Op::WriteRtc && !(policy.rtc && policy.clock_control)) {
        return unexpected(Refusal::Disabled);
      }
      return v;
    case Op::Slew:
    case Op::SetFreq:
    case Op::Step: {
      // Compare bytes, not values: -0.0 and NaN payloads must round-trip exactly too.
      if (!canonical(r, make_request(v.op, r.seq, r.value))) {
        return unexpected(Refusal::NotCanonical);
      }
      if (!std::isfinite(r.value)) {
        return unexpected(Refusal::NotFinite);
      }
      if (!policy.clock_control) {
        return unexpected(Refusal::Disabled);
      }
      double mag = std::fabs(r.value);
      if (v.op == Op::SetFreq && mag > k_max_freq_ppm) {
        return unexpected(Refusal::OutOfRange);
      }
      if (v.op == Op::Slew && mag > k_max_slew_s) {
        return unexpected(Refusal::OutOfRange);
      }
      if (v.op == Op::Step) {
        if (mag > policy.max_step_s) {
          return unexpected(Refusal::OutOfRange);
        }
        // The target must stay in the plausible window: never before the build time or
        // the saved clock, never decades ahead.
        double target_s = now.to_seconds() + r.value;
        if (!policy.floor.is_zero() && target_s < policy.floor.to_seconds()) {
          return unexpected(Refusal::OutOfRange);
        }
        if (!policy.ceiling.is_zero() && target_s > policy.ceiling.to_seconds()) {
          return unexpected(Refusal::OutOfRange);
        }
      }
      v.value = r.value;
      return v;
    }
    case Op::SetLeap:
      if (r.leap > 2) {
        return unexpected(Refusal::OutOfRange);
      }
      v.leap = static_cast<Leap>(r.leap);
      if (!canonical(r, make_set_leap(r.seq, v.leap))) {
        return unexpected(Refusal::NotCanonical);
      }
      if (!policy.clock_control) {
        return unexpected(Refusal::Disabled);
      }
      return v;
    case Op::SetSync:
      if (!std::isfinite(r.value) || !std::isfinite(r.value2)) {
        return unexpected(Refusal::NotFinite);
      }
      if (r.leap > 1 || r.value < 0 || r.value > k_max_sync_error_s || r.value2 < 0 || r.value2 > k_max_sync_error_s) {
        return unexpected(Refusal::OutOfRange);
      }
      v.synchronised = r.leap == 1;
      // Bytes, not values (-0.0); not synchronised carries no bounds at all.
      if (!canonical(r, make_set_sync(r.seq, v.synchronised, r.value2, r.value))) {
        return unexpected(Refusal::NotCanonical);
      }
      if (!policy.clock_control) {
        return unexpected(Refusal::Disabled);
      }
      v.value = r.value;
      v.value2 = r.value2;
      return v;
    case Op::OpenAuthFile:
      if (r.leap < 1 || r.leap > k_auth_file_max) {
        return unexpected(Refusal::OutOfRange);
      }
      v.auth_file = static_cast<AuthFile>(r.leap);
      if (!canonical(r, make_open_auth_file(r.seq, v.auth_file))) {
        return unexpected(Refusal::NotCanonical);
      }
      if (policy.auth_files.size() < r.leap || policy.auth_files[r.leap - 1].empty()) {
        return unexpected(Refusal::NotConfigured);
      }
      return v;
    case Op::OpenUdp:
      return check_open_udp(r, policy, v);
    case Op::NetnsId:
      return check_netns_id(r, policy, v);
    case Op::AuditAppend: {
      if (!canonical(r, make_request(v.op, r.seq))) {
        return unexpected(Refusal::NotCanonical);
      }
      std::string_view rec(reinterpret_cast<const char*>(msg.data()) + sizeof r, msg.size() - sizeof r);
      if (rec.empty()) {
        return unexpected(Refusal::BadSize);
      }
      if (!audit_record_ok(rec)) {
        return unexpected(Refusal::OutOfRange);
      }
      if (!policy.audit) {
        return unexpected(Refusal::Disabled);
      }
      v.record = std::string(rec);
      return v;
    }
  }
  return unexpected(Refusal::UnknownOp);
}

bool StepBudget::take(int64_t mono_ns) {
  if (!m_started) {
    m_started = true;
    m_last_ns = mono_ns;
  }
  if (mono_ns > m_last_ns) {
    m_tokens += static_cast<double>(mono_ns - m_last_ns) / 1e9 / m_refill_s;
    if (m_tokens > m_burst) {
      m_tokens = m_burst;
    }
    m_last_ns = mono_ns;
  }
  if (m_tokens < 1.0) {
    return false;
  }
  m_tokens -= 1.0;
  return true;
}

Response make_response(uint32_t op, uint32_t seq, int32_t status) {
  Response r;
  std::memset(&r, 0, sizeof r);
  r.version = k_version;
  r.op = op;
  r.seq = seq;
  r.status = status;
  return r;
}

Response make_refusal(uint32_t op, uint32_t seq, Refusal why) {
  return make_response(op, seq, -static_cast<int32_t>(why));
}

Result<Response, std::string> parse_response(std::span<const uint8_t> msg, Op op, uint32_t seq) {
  if (msg.size() != sizeof(Response)) {
    return unexpected("helper reply of " + std::to_string(msg.size()) + " bytes, expected " +
                      std::to_string(sizeof(Response)));
  }
  Response r;
  std::memcpy(&r, msg.data(), sizeof r);
  if (r.version != k_version) {
    return unexpected("helper reply version " + std::to_string(r.version));
  }
  if (r.op != static_cast<uint32_t>(op) || r.seq != seq) {
    return unexpected(std::string("helper reply does not match the request"));
  }
  if (r.has_fd > 1 || r.reserved != 0) {
    return unexpected(std::string("malformed helper reply"));
  }
  return r;
}

}  // namespace tr7::core::privsep
