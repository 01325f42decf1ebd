// The NTP client as the control socket sees it (see client_provider.h).
#include "daemon/client_provider.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

namespace {

const char* leap_name(core::Leap l) {
  switch (l) {
    case core::Leap::None:
      return "none";
    case core::Leap::Insert:
      return "insert";
    case core::Leap::Delete:
      return "delete";
    case core::Leap::Unsynchronised:
      return "unsynchronised";
  }
  return "none";
}

std::string refid_dotted(uint32_t refid) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", refid >> 24, (refid >> 16) & 255, (refid >> 8) & 255, refid & 255);
  return buf;
}

std::string address_of(const SourceView& v) { return v.resolving ? std::string() : v.address.ip.to_string(); }

// Did the last selection find an intersection (truechimers exist)?
bool intersection_found(const core::TrackingSnapshot& t) { return t.truechimers > 0; }

}  // namespace

ctl::TrackingStatus map_tracking(const core::TrackingSnapshot& t, const core::ReferenceState& served,
                                 const std::vector<SourceView>& sources, core::Timestamp now,
                                 const std::string& clock_mode) {
  ctl::TrackingStatus r;
  if (!t.synchronised) {
    // Never synchronised, or past the holdover bound: the served reference says what
    // we are (local_stratum or unsynchronised), exactly as without a client.
    r = tracking_from_reference(served, now, clock_mode);
    if (t.ever_synchronised) {
      r.last_offset_s = t.last_offset_s;
      r.rms_offset_s = t.rms_offset_s;
      r.freq_ppm = t.frequency_ppm;
      r.skew_ppm = t.skew_ppm;
      r.update_interval_s = t.update_interval_s;
    }
  } else {
    r = tracking_from_reference(t.reference, now, clock_mode);
    r.state = t.current_selection == core::SelectStatus::Ok ? "synchronised" : "holdover";
    r.ref_name = refid_dotted(t.reference.refid);
    for (const auto& v : sources) {
      if (!v.resolving && v.state.id == t.ref_source) {
        r.ref_name = v.address.ip.to_string();
      }
    }
    r.offset_s = t.current_offset_s;
    r.last_offset_s = t.last_offset_s;
    r.rms_offset_s = t.rms_offset_s;
    r.freq_ppm = t.frequency_ppm;
    r.residual_freq_ppm = t.residual_freq_ppm;
    r.skew_ppm = t.skew_ppm;
    r.update_interval_s = t.update_interval_s;
  }
  if (t.held) {
    r.held = ctl::HeldCorrection{t.held_id, t.held_offset_s, t.held_since};
  }
  return r;
}

std::string source_state(const SourceView& v, const core::TrackingSnapshot& t) {
  const core::SourceSnapshot& s = v.state;
  if (v.resolving) {
    return "resolving";
  }
  if (s.retired) {
    return "kod";
  }
  if (s.reach == 0) {
    return "unreachable";
  }
  if (s.best) {
    return "selected";
  }
  if (s.survivor && t.selection == core::SelectStatus::Ok) {
    return "combined";
  }
  if (s.truechimer) {
    return "candidate";
  }
  if (s.usability == core::Usability::Jitter) {
    return "jittery";
  }
  if (s.usability != core::Usability::Usable) {
    return "unselectable";
  }
  if (s.in_selection && intersection_found(t)) {
    return "falseticker";
  }
  return "unselectable";  // no majority at all, or not in a selection yet
}

std::string select_reasons(const SourceView& v, const core::TrackingSnapshot& t) {
  const core::SourceSnapshot& s = v.state;
  std::vector<std::string> r;
  if (v.resolving) {
    r.emplace_back("resolving");
    if (!v.dns_error.empty()) {
      r.emplace_back("dns_failed");
    }
  } else if (s.retired) {
    r.emplace_back("kod");
  } else if (s.reach == 0) {
    r.emplace_back("unreachable");
  } else if (s.best) {
    // selected: no reason
  } else if (s.truechimer) {
    if (t.selection == core::SelectStatus::TooFew) {
      r.emplace_back("too_few");
    } else if (t.selection == core::SelectStatus::NoMajority) {
      r.emplace_back("no_majority");
    } else if (s.survivor) {
      r.emplace_back("combined");
    } else {
      r.emplace_back("clustered_out");
    }
  } else if (s.usability != core::Usability::Usable) {
    r.emplace_back(core::to_string(s.usability));
  } else if (!s.in_selection) {
    r.emplace_back("not_yet_selected");
  } else if (intersection_found(t)) {
    r.emplace_back("falseticker");
  } else {
    r.emplace_back("no_majority");
  }
  std::string out;
  for (const auto& x : r) {
    out += (out.empty() ? "" : ",") + x;
  }
  return out;
}

ctl::SourceStatus map_source(const SourceView& v, const core::TrackingSnapshot& t, core::Timestamp now) {
  ctl::SourceStatus r;
  const core::SourceSnapshot& s = v.state;
  r.name = v.name;
  r.address = address_of(v);
  r.port = v.address.port;
  r.mode = v.pool ? "pool" : "server";
  r.state = source_state(v, t);
  if (v.resolving) {
    return r;
  }
  r.poll = s.poll;
  r.reach = s.reach;
  if (s.last) {
    r.stratum = s.last->stratum;
    r.last_rx_ago_s = std::max(0.0, core::diff_s(now, s.last->time));
    r.delay_s = s.last->delay_s;
    if (s.filter_samples > 0) {
      r.offset_s = s.offset_s;  // filtered, now (server - our clock)
      r.error_s = s.offset_sd_s;
    } else {
      r.offset_s = s.last->offset_s;
      r.error_s = s.last->delay_s / 2 + s.last->dispersion_s;
    }
  }
  r.jitter_s = s.jitter_s;
  return r;
}

ctl::SourceStats map_source_stats(const SourceView& v, double base_freq_ppm) {
  ctl::SourceStats r;
  const core::SourceSnapshot& s = v.state;
  r.name = v.name;
  r.address = address_of(v);
  r.port = v.address.port;
  if (v.resolving || s.filter_samples == 0) {
    return r;
  }
  r.samples = static_cast<int>(s.filter_samples);
  r.runs = 0;  // a Kalman filter has no residual runs test
  r.span_s = s.span_s;
  r.freq_ppm = s.freq_ppm - base_freq_ppm;
  r.freq_skew_ppm = std::sqrt(std::max(0.0, s.freq_var)) * 1e6;
  r.offset_s = s.offset_s;
  r.std_dev_s = s.jitter_s;
  return r;
}

ctl::SelectStatus map_select(const SourceView& v, const core::TrackingSnapshot& t) {
  ctl::SelectStatus r;
  const core::SourceSnapshot& s = v.state;
  r.name = v.name;
  r.address = address_of(v);
  r.port = v.address.port;
  r.state = source_state(v, t);
  r.reasons = select_reasons(v, t);
  if (v.resolving || !s.last) {
    return r;
  }
  r.stratum = s.last->stratum;
  r.leap = leap_name(s.last->leap);
  if (s.filter_samples > 0) {
    r.root_distance_s = s.distance_s;
    r.lower_s = s.offset_s - s.distance_s;
    r.upper_s = s.offset_s + s.distance_s;
  }
  return r;
}

ctl::ActivityStatus map_activity(const std::vector<SourceView>& sources) {
  ctl::ActivityStatus a;
  for (const auto& v : sources) {
    if (v.resolving) {
      ++a.unresolved;
    } else if (v.state.retired) {
      ++a.offline;
    } else if (v.state.in_burst) {
      ++a.burst_online;
    } else {
      ++a.online;
    }
  }
  return a;
}

ctl::NtpDataStatus map_ntp_data(const SourceView& v, const std::string& local_address) {
  ctl::NtpDataStatus d;
  const core::SourceSnapshot& s = v.state;
  d.address = address_of(v);
  d.remote_port = v.address.port;
  d.local_address = local_address;
  d.tx = s.stats.sent;
  d.rx = s.stats.received;
  d.valid_rx = s.stats.accepted;
  d.kod_rx = s.stats.rejected_count(core::Reject::KodRate) + s.stats.rejected_count(core::Reject::KodDeny) +
             s.stats.rejected_count(core::Reject::KodOther);
  if (!s.last) {
    return d;
  }
  const core::Sample& x = *s.last;
  d.version = x.version;
  d.mode = static_cast<int>(core::Mode::Server);
  d.stratum = x.stratum;
  d.poll = x.poll;
  d.precision = x.precision;
  d.leap = leap_name(x.leap);
  d.ref_id = x.refid;
  d.reference_time = x.reference_time;
  d.root_delay_s = x.root_delay_s;
  d.root_dispersion_s = x.root_dispersion_s;
  d.offset_s = x.offset_s;
  d.delay_s = x.delay_s;
  d.dispersion_s = x.dispersion_s;
  d.response_time_s = x.response_time_s;
  return d;
}

Result<SourceConfig, std::string> parse_source_command(const std::string& host, std::span<const std::string> options) {
  SourceConfig::Kind kind = SourceConfig::Kind::Server;
  std::string line = host;
  for (const auto& o : options) {
    if (o == "pool") {
      if (kind == SourceConfig::Kind::Pool) {
        return unexpected(std::string("'pool' given twice"));
      }
      kind = SourceConfig::Kind::Pool;
      continue;
    }
    line += " " + o;
  }
  return parse_source_line(line, kind);
}

ctl::TrackingStatus ClientProvider::tracking(core::Timestamp now) const {
  return map_tracking(m_client.tracking(), m_reference(now), m_client.sources(), now, m_clock_mode);
}

std::vector<ctl::SourceStatus> ClientProvider::sources(core::Timestamp now) const {
  core::TrackingSnapshot t = m_client.tracking();
  std::vector<ctl::SourceStatus> out;
  for (const auto& v : m_client.sources()) {
    out.push_back(map_source(v, t, now));
  }
  return out;
}

std::vector<ctl::SourceStats> ClientProvider::source_stats() const {
  core::TrackingSnapshot t = m_client.tracking();
  std::vector<ctl::SourceStats> out;
  for (const auto& v : m_client.sources()) {
    out.push_back(map_source_stats(v, t.frequency_ppm));
  }
  return out;
}

std::vector<ctl::SelectStatus> ClientProvider::select_data() const {
  core::TrackingSnapshot t = m_client.tracking();
  std::vector<ctl::SelectStatus> out;
  for (const auto& v : m_client.sources()) {
    out.push_back(map_select(v, t));
  }
  return out;
}

std::vector<ctl::AuthStatus> ClientProvider::auth_data() const {
  std::vector<ctl::AuthStatus> out;
  for (const auto& v : m_client.sources()) {
    out.push_back(map_auth(v));
  }
  return out;
}

ctl::AuthStatus map_auth(const SourceView& v) {
  ctl::AuthStatus a;
  a.name = v.name;
  a.address = v.resolving ? std::string() : v.address.ip.to_string();
  a.port = v.address.port;
  a.mode = v.auth.mode;
  a.key_id = v.auth.key_id;
  a.key_type = v.auth.key_type;
  a.key_bits = v.auth.key_bits;
  a.cookies = static_cast<int>(v.auth.cookies);
  a.cookie_len = static_cast<int>(v.auth.cookie_len);
  a.last_ke_ago_s = v.auth.last_ke_ago_s;
  a.ke_attempts = v.auth.ke_attempts;
  a.ke_ok = v.auth.ke_ok;
  a.ke_error = v.auth.ke_error;
  a.authenticated = v.auth.authenticated;
  a.failed = v.auth.failed;
  a.naks = v.auth.naks;
  a.not_sent = v.auth.not_sent;
  return a;
}

ctl::ActivityStatus ClientProvider::activity() const { return map_activity(m_client.sources()); }

std::optional<ctl::NtpDataStatus> ClientProvider::ntp_data(const core::IpAddr& addr) const {
  for (const auto& v : m_client.sources()) {
    if (v.resolving || !(v.address.ip == addr)) {
      continue;
    }
    // The local address the kernel picks for this source: connect a UDP socket (no
    // packet is sent) and ask.
    std::string local;
    // From where client sockets come (the helper under privilege separation).
    auto s = m_client.open_client_socket(addr.is_v6() ? AF_INET6 : AF_INET, "");
    sys::Fd fd = s ? std::move(*s) : sys::Fd();
    sockaddr_storage ss{};
    unsigned len = v.address.to_sockaddr(ss);
    if (fd.valid() && connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0) {
      sockaddr_storage me{};
      socklen_t ml = sizeof me;
      if (getsockname(fd.get(), reinterpret_cast<sockaddr*>(&me), &ml) == 0) {
        if (auto a = core::SockAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&me), static_cast<unsigned>(ml))) {
          local = a->ip.to_string();
        }
      }
    }
    return map_ntp_data(v, local);
  }
  return std::nullopt;
}

CommandResult ClientProvider::add_source(const std::string& host, std::span<const std::string> options) {
  auto sc = parse_source_command(host, options);
  if (!sc) {
    return unexpected(ctl::Error{ctl::ErrCode::InvalidArgument, sc.error()});
  }
  return m_client.add_source(*sc);
}

}  // namespace tr7::daemon
