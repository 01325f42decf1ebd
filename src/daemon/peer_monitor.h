// HA peers: the other nodes of a pair or group, polled and compared with our clock but
// never used to steer it (`peer` lines of [sources]).
//
// Kept apart from the NTP client on purpose: a peer never enters core::NtpClient, so it
// can neither be selected nor combined, whatever it says. Each peer is a core::NtpSource
// (the request and all the reply checks of the client, mode 3 requests from a fresh
// socket each time) plus a small estimate: of its last k_samples samples, the offset of
// the one with the shortest round trip (the clock filter's idea), on our served time
// scale (offset = peer - us). The poll stays at minpoll while it answers and doubles
// up to maxpoll while it does not. Names are resolved once with evdns (again after 8
// unanswered polls).
//
// The alert engine reads measured offsets (peer_disagreement); `tr7ntpc peers` shows
// the rows.
#pragma once

#include <event2/dns.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "core/ntp_source.h"
#include "core/random.h"
#include "daemon/config.h"
#include "daemon/system_clock.h"
#include "sys/event.h"
#include "sys/fd.h"
#include "sys/udp.h"

namespace tr7::daemon {

// One row of `peers`.
struct PeerRow {
  std::string name;     // as configured
  std::string address;  // resolved; "" while resolving
  uint16_t port = 123;
  // ok, unreachable (no answer in the last 8 polls), resolving, unsynchronised (it
  // answers LI=3 or stratum 16), refused (its replies fail the checks: see `reject`)
  std::string state;
  int stratum = 0;
  uint32_t refid = 0;
  uint8_t reach = 0;
  int poll = 0;
  double last_rx_ago_s = -1;
  bool measured = false;  // offset/delay below are from the last 8 polls
  double offset_s = 0;    // peer - us (served time scale)
  double delay_s = 0;
  size_t samples = 0;
  std::string reject;  // the reason of the last refused reply ("" if none)
};

class PeerMonitor {
 public:
  static constexpr size_t k_samples = 8;

  // Starts polling at once; the resolver is set up now (before any chroot).
  PeerMonitor(event_base* base, SystemClock& clock, const std::vector<PeerConfig>& peers, int8_t precision);
  ~PeerMonitor();
  PeerMonitor(const PeerMonitor&) = delete;
  PeerMonitor& operator=(const PeerMonitor&) = delete;

  std::vector<PeerRow> rows() const;
  size_t size() const { return m_peers.size(); }
  // Called after a reply or a poll (what rows() says may have changed).
  void set_on_change(std::function<void()> f) { m_on_change = std::move(f); }
  // Where the request sockets come from (AF_INET or AF_INET6, bound to the wildcard
  // address and an ephemeral port): under privilege separation the helper, as for the
  // NTP client's (the sandboxed worker may not open one). Unset: opened here.
  using SocketFn = std::function<Result<sys::Fd, std::string>(int family)>;
  void set_sockets(SocketFn f) { m_sockets = std::move(f); }

 private:
  struct Sample {
    double mono_s;
    double offset_s;
    double delay_s;
  };
  struct Peer {
    PeerConfig cfg;
    std::optional<core::SockAddr> addr;
    core::NtpSource src;
    std::deque<Sample> samples;
    std::optional<core::Sample> last;
    std::optional<core::Reject> last_reject;
    sys::Fd fd;
    std::unique_ptr<sys::Callback> ev;
    evdns_getaddrinfo_request* pending = nullptr;
    double last_rx_mono = -1;
    Peer(const PeerConfig& c, const core::SourceOptions& o, double mono) : cfg(c), src(o, mono) {}
  };
  struct ResolveToken;

  void on_timer();
  void schedule();
  void send(Peer& p, double mono);
  void on_readable(Peer& p);
  void resolve(Peer& p);
  static void on_resolved(int err, evutil_addrinfo* res, void* arg);

  event_base* m_base;
  SystemClock& m_clock;
  evdns_base* m_dns = nullptr;
  std::vector<std::unique_ptr<Peer>> m_peers;
  core::Rng m_rng;
  sys::UdpBatch m_rx;
  sys::Callback m_timer;
  std::shared_ptr<bool> m_alive;
  std::function<void()> m_on_change;
  SocketFn m_sockets;
};

}  // namespace tr7::daemon
