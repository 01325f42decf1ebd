// The worker's end of the helper channel (see helper_client.h).
#include "daemon/helper_client.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "daemon/log.h"
#include "sys/seqpacket.h"
#include "sys/udp.h"

namespace tr7::daemon {

namespace ps = core::privsep;

HelperClient::HelperClient(sys::Fd chan, int timeout_ms) : m_chan(std::move(chan)), m_timeout_ms(timeout_ms) {}

std::string HelperClient::describe(int32_t status) {
  if (status == 0) {
    return "ok";
  }
  if (status < 0) {
    int r = -status;
    if (r >= 1 && r <= ps::k_refusals) {
      return std::string("refused: ") + ps::to_string(static_cast<ps::Refusal>(r));
    }
    return "refused (" + std::to_string(r) + ")";
  }
  return std::string("failed: ") + std::strerror(status);
}

Result<HelperClient::Reply, std::string> HelperClient::fail(std::string why) {
  if (!m_broken) {
    log_err("helper channel: %s", why.c_str());
  }
  m_broken = true;
  return unexpected("helper channel broken: " + why);
}

Result<HelperClient::Reply, std::string> HelperClient::call(const ps::Request& req) {
  std::vector<uint8_t> msg(sizeof req);
  std::memcpy(msg.data(), &req, sizeof req);
  return call_message(std::move(msg));
}

Result<HelperClient::Reply, std::string> HelperClient::call_message(std::vector<uint8_t> msg) {
  if (m_broken) {
    return unexpected(std::string("helper channel broken"));
  }
  ps::Request req;
  std::memcpy(&req, msg.data(), sizeof req);
  req.seq = ++m_seq;
  std::memcpy(msg.data(), &req, sizeof req);
  int err = sys::send_message(m_chan.get(), std::span<const uint8_t>(msg.data(), msg.size()));
  if (err != 0) {
    return fail(std::string("send: ") + std::strerror(err));
  }
  int w = sys::wait_readable(m_chan.get(), m_timeout_ms);
  if (w == 0) {
    return fail("no reply within " + std::to_string(m_timeout_ms) + " ms");
  }
  if (w < 0) {
    return fail(std::string("poll: ") + std::strerror(errno));
  }
  uint8_t buf[sizeof(ps::Response) + 1];
  sys::Message m;
  err = sys::receive_message(m_chan.get(), std::span<uint8_t>(buf, sizeof buf), m, MSG_DONTWAIT);
  if (err != 0) {
    return fail(std::string("receive: ") + std::strerror(err));
  }
  if (m.eof) {
    return fail("the helper has exited");
  }
  if (m.truncated) {
    return fail("reply too long");
  }
  auto resp = ps::parse_response(std::span<const uint8_t>(buf, m.len), static_cast<ps::Op>(req.op), req.seq);
  if (!resp) {
    return fail(resp.error());
  }
  if (m.ctrunc) {
    // The reply itself arrived whole (one datagram: the channel is still in step), but
    // the descriptor with it did not fit: this process is out of descriptors for now.
    // This call fails; the channel stays usable.
    log_warn("helper channel: the descriptor of a %s reply was lost (MSG_CTRUNC: out of descriptors?)",
             ps::to_string(static_cast<ps::Op>(req.op)));
    return unexpected(std::string(ps::to_string(static_cast<ps::Op>(req.op))) +
                      ": the descriptor in the reply was lost (out of descriptors?)");
  }
  if (m.fds.size() != resp->has_fd) {
    return fail("reply with " + std::to_string(m.fds.size()) + " descriptor(s), " + std::to_string(resp->has_fd) +
                " announced");
  }
  Reply r{*resp, {}};
  if (!m.fds.empty()) {
    r.fd = std::move(m.fds.front());
  }
  return r;
}

Result<HelperClient::Reply, std::string> HelperClient::call_ok(const ps::Request& req) {
  auto r = call(req);
  if (!r) {
    return r;
  }
  if (r->resp.status != 0) {
    return unexpected(std::string(ps::to_string(static_cast<ps::Op>(req.op))) + ": " + describe(r->resp.status));
  }
  return r;
}

Result<sys::Fd, std::string> HelperClient::open_udp(std::string_view netns, const core::SockAddr& addr) {
  auto req = ps::make_open_udp(0, netns, addr);
  if (!req) {
    return unexpected(std::string("open-udp: ") + ps::to_string(req.error()));
  }
  auto r = call_ok(*req);
  if (!r) {
    return unexpected(r.error());
  }
  if (!r->fd.valid()) {
    return unexpected(std::string("open-udp: no descriptor in the reply"));
  }
  // Trust nothing: the descriptor must be what was asked for.
  int fd = r->fd.get();
  int domain = 0;
  int type = 0;
  socklen_t len = sizeof domain;
  int want_domain = addr.ip.is_v4() ? AF_INET : AF_INET6;
  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != want_domain) {
    return unexpected(std::string("open-udp: the descriptor is not an ") + (addr.ip.is_v4() ? "IPv4" : "IPv6") +
                      " socket");
  }
  len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_DGRAM) {
    return unexpected(std::string("open-udp: the descriptor is not a datagram socket"));
  }
  core::SockAddr bound;
  try {
    bound = sys::local_address(fd);
  } catch (const std::exception& e) {
    return unexpected(std::string("open-udp: ") + e.what());
  }
  bool ok = bound.ip == addr.ip && (addr.port == 0 ? bound.port != 0 : bound.port == addr.port);
  if (!ok) {
    return unexpected("open-udp: the socket is bound to " + bound.to_string() + ", not " + addr.to_string());
  }
  return std::move(r->fd);
}

Result<uint64_t, std::string> HelperClient::netns_id(std::string_view netns) {
  auto req = ps::make_netns_id(0, netns);
  if (!req) {
    return unexpected(std::string("netns-id: ") + ps::to_string(req.error()));
  }
  auto r = call(*req);
  if (!r) {
    return unexpected(r.error());
  }
  if (r->fd.valid()) {
    return unexpected(std::string("netns-id: unexpected descriptor in the reply"));
  }
  if (r->resp.status == ENOENT) {
    return uint64_t{0};
  }
  if (r->resp.status != 0) {
    return unexpected("netns-id " + std::string(netns) + ": " + describe(r->resp.status));
  }
  if (r->resp.time_ns <= 0) {
    return unexpected(std::string("netns-id: malformed reply"));
  }
  return static_cast<uint64_t>(r->resp.time_ns);
}

Result<sys::Fd, std::string> HelperClient::open_config() {
  auto r = call_ok(ps::make_request(ps::Op::OpenConfig, 0));
  if (!r) {
    return unexpected(r.error());
  }
  if (!r->fd.valid()) {
    return unexpected(std::string("open-config: no descriptor in the reply"));
  }
  return std::move(r->fd);
}

Result<sys::Fd, std::string> HelperClient::open_auth_file(ps::AuthFile which) {
  auto r = call_ok(ps::make_open_auth_file(0, which));
  if (!r) {
    return unexpected(r.error());
  }
  if (!r->fd.valid()) {
    return unexpected(std::string("open-auth-file: no descriptor in the reply"));
  }
  return std::move(r->fd);
}

Result<core::Timestamp, std::string> HelperClient::read_rtc() {
  auto r = call_ok(ps::make_request(ps::Op::ReadRtc, 0));
  if (!r) {
    return unexpected(r.error());
  }
  return core::Timestamp{r->resp.time_ns};
}

Result<void, std::string> HelperClient::write_rtc() {
  auto r = call_ok(ps::make_request(ps::Op::WriteRtc, 0));
  if (!r) {
    return unexpected(r.error());
  }
  return {};
}

Result<double, std::string> HelperClient::query_frequency() {
  auto r = call_ok(ps::make_request(ps::Op::Query, 0));
  if (!r) {
    return unexpected(r.error());
  }
  return r->resp.value;
}

Result<void, std::string> HelperClient::audit_append(std::string_view record) {
  auto msg = ps::make_audit_append(0, record);
  if (!msg) {
    return unexpected(std::string("audit record not sent: ") + ps::to_string(msg.error()));
  }
  auto r = call_message(std::move(*msg));
  if (!r) {
    return unexpected(r.error());
  }
  if (r->fd.valid()) {
    return unexpected(std::string("audit-append: unexpected descriptor in the reply"));
  }
  if (r->resp.status != 0) {
    return unexpected("audit log write failed (helper): " + describe(r->resp.status));
  }
  return {};
}

HelperClockControl::HelperClockControl(HelperClient& client) : m_client(client) {
  auto f = m_client.query_frequency();
  if (f) {
    m_freq_ppm = *f;
  } else {
    log_warn("cannot read the clock's frequency through the helper: %s", f.error().c_str());
  }
}

Result<void> HelperClockControl::value_op(ps::Op op, double value) {
  auto r = m_client.call(ps::make_request(op, 0, value));
  if (!r) {
    return unexpected(r.error());
  }
  if (r->resp.status != 0) {
    return unexpected(std::string(ps::to_string(op)) + ": " + HelperClient::describe(r->resp.status));
  }
  return {};
}

Result<void> HelperClockControl::step(double delta_s) { return value_op(ps::Op::Step, delta_s); }
Result<void> HelperClockControl::slew(double delta_s) { return value_op(ps::Op::Slew, delta_s); }

Result<void> HelperClockControl::set_frequency(double ppm) {
  auto r = value_op(ps::Op::SetFreq, ppm);
  if (r) {
    m_freq_ppm = ppm;
  }
  return r;
}

Result<void> HelperClockControl::set_sync_status(bool synchronised, double est_error_s, double max_error_s) {
  auto r = m_client.call(ps::make_set_sync(0, synchronised, est_error_s, max_error_s));
  if (!r) {
    return unexpected(r.error());
  }
  if (r->resp.status != 0) {
    return unexpected("set-sync: " + HelperClient::describe(r->resp.status));
  }
  return {};
}

Result<void> HelperClockControl::set_leap(core::Leap leap) {
  if (leap == core::Leap::Unsynchronised) {
    return unexpected(std::string("set-leap: 'unsynchronised' is not a leap second"));
  }
  auto r = m_client.call(ps::make_set_leap(0, leap));
  if (!r) {
    return unexpected(r.error());
  }
  if (r->resp.status != 0) {
    return unexpected("set-leap: " + HelperClient::describe(r->resp.status));
  }
  return {};
}

}  // namespace tr7::daemon
