// tr7ntp-benchpath: the measurement path of the accuracy benchmark (sync-bench.sh), in C++
// so that the bench's own timing noise stays far below what it measures.
//
//   tr7ntp-benchpath server ADDR PORT --offset S --rate PPM --epoch SEC.NSEC
//                    [--duration S] [--stats FILE] [--rt]
//       A fake upstream NTP server whose clock is exactly
//           true(t) = t + offset + rate * 1e-6 * (t - epoch)      (t: CLOCK_REALTIME)
//       T2 is the kernel's receive timestamp (SO_TIMESTAMPNS), T3 is read right before
//       the send.
//   tr7ntp-benchpath relay LADDR LPORT UADDR UPORT [--delay S] [--jitter S] [--seed N]
//                    [--duration S] [--stats FILE] [--rt]
//       A UDP relay that adds delay + uniform(-jitter, +jitter) to every datagram in each
//       direction (default 10 ms +- 2 ms), the same model as udprelay.py: one draw per
//       datagram in arrival order from a seeded generator. The delay runs from the
//       kernel's receive timestamp (not from when this process got to read it); for the
//       send it sleeps until 1.5 ms before it is due (timers wake up 0.1-1 ms late on a
//       loaded VM) and spins the rest; how late each send was is reported (--stats: JSON
//       with requests, replies and lateness percentiles).
//       Each client address gets its own upstream socket, so replies find their way back.
//   tr7ntp-benchpath probe --target NAME=HOST:PORT ... --offset S --rate PPM
//                    --epoch SEC.NSEC [--duration S] [--interval S] [--skip S] [--tries N]
//                    [--samples FILE] [--rt]
//       Every interval, asks each target `tries` times back to back and keeps the reply
//       with the smallest round trip (a probe or daemon that was preempted mid-exchange
//       shows a longer one): served - system = ((T2 - t1) + (T3 - t4)) / 2, t4 the
//       kernel's receive timestamp, t1 read right before the send. The error is served -
//       true at the midpoint of t1 and t4. Prints JSON: per target samples, lost, rms, max
//       and mean |error| over the samples after `skip` seconds; --samples writes every
//       observation (CSV: t, target, error, rtt).
//
// --rt: run with SCHED_FIFO priority 10 when allowed (the bench's path, not the daemons
// under test: it sleeps almost all the time, and its timing is what the bench relies on).
// Everything runs for a bounded time (--duration, default 600 s) and stops on SIGTERM.
// Loopback or a test's own namespace only; never touches the system clock.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <vector>

#include "core/ntp_packet.h"
#include "core/random.h"
#include "core/time.h"

namespace {

using tr7::core::NtpHeader;
using tr7::core::NtpTimestamp;
using tr7::core::Timestamp;

volatile sig_atomic_t g_stop = 0;
// The relay wakes this long before a send is due and spins the rest.
constexpr int64_t k_spin_ns = 1'500'000;
void on_signal(int) { g_stop = 1; }

[[noreturn]] __attribute__((format(printf, 1, 2))) void die(const char* fmt, ...) {
  std::fprintf(stderr, "tr7ntp-benchpath: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  std::exit(2);
}

int64_t now_ns(clockid_t c = CLOCK_REALTIME) {
  timespec ts{};
  clock_gettime(c, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

double parse_double(const char* s, const char* what) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !std::isfinite(v)) {
    die("bad number for %s", what);
  }
  return v;
}

// "SEC[.FRACTION]" -> ns, exactly (a double would round the epoch to 0.24 us).
int64_t parse_epoch_ns(const char* s) {
  const char* dot = std::strchr(s, '.');
  std::string sec(s, dot ? static_cast<size_t>(dot - s) : std::strlen(s));
  if (sec.empty() || sec.size() > 12 || sec.find_first_not_of("0123456789") != std::string::npos) {
    die("bad --epoch %s (SEC.NSEC)", s);
  }
  int64_t ns = std::stoll(sec) * 1'000'000'000;
  if (dot) {
    std::string frac(dot + 1);
    if (frac.find_first_not_of("0123456789") != std::string::npos) {
      die("bad --epoch %s (SEC.NSEC)", s);
    }
    frac = (frac + "000000000").substr(0, 9);
    ns += std::stoll(frac);
  }
  return ns;
}

sockaddr_in parse_addr(const std::string& host, const std::string& port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1 || *end != '\0' || p <= 0 || p > 65535) {
    die("bad IPv4 address or port: %s", (host + ":" + port).c_str());
  }
  a.sin_port = htons(static_cast<uint16_t>(p));
  return a;
}

int udp_socket(const sockaddr_in* bind_to) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    die("socket: %s", std::strerror(errno));
  }
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
    die("SO_TIMESTAMPNS: %s", std::strerror(errno));
  }
  if (bind_to && bind(fd, reinterpret_cast<const sockaddr*>(bind_to), sizeof *bind_to) != 0) {
    die("bind: %s", std::strerror(errno));
  }
  return fd;
}

// One datagram with its kernel receive timestamp (CLOCK_REALTIME ns).
struct Datagram {
  std::vector<uint8_t> data;
  sockaddr_in from{};
  int64_t rx_ns = 0;
};

std::optional<Datagram> receive(int fd) {
  Datagram d;
  d.data.resize(2048);
  iovec iov{d.data.data(), d.data.size()};
  alignas(cmsghdr) char ctrl[256];
  msghdr m{};
  m.msg_name = &d.from;
  m.msg_namelen = sizeof d.from;
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = ctrl;
  m.msg_controllen = sizeof ctrl;
  ssize_t n = recvmsg(fd, &m, 0);
  int64_t fallback = now_ns();
  if (n < 0) {
    return std::nullopt;
  }
  d.data.resize(static_cast<size_t>(n));
  d.rx_ns = fallback;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
      timespec ts{};
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      d.rx_ns = static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }
  }
  return d;
}

void realtime_priority(bool rt) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // wake up on time, not up to 50 us late
  if (!rt) {
    return;
  }
  sched_param sp{};
  sp.sched_priority = 10;
  if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
    std::fprintf(stderr, "tr7ntp-benchpath: SCHED_FIFO not available (%s); normal priority\n", std::strerror(errno));
  }
}

// Sleeps until the absolute CLOCK_REALTIME deadline or until fd is readable.
void wait_until(const std::vector<pollfd>& fds_in, int64_t deadline_ns, std::vector<pollfd>& fds) {
  fds = fds_in;
  int64_t left = deadline_ns - now_ns();
  if (left <= 0) {
    for (auto& p : fds) {
      p.revents = 0;
    }
    poll(fds.data(), fds.size(), 0);
    return;
  }
  timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
  ppoll(fds.data(), fds.size(), &ts, nullptr);
}

struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::vector<std::string>> opt;
  bool has(const std::string& k) const { return opt.count(k) != 0; }
  const char* get(const std::string& k, const char* def = nullptr) const {
    auto it = opt.find(k);
    if (it == opt.end() || it->second.empty()) {
      if (!def) {
        die("missing %s", k.c_str());
      }
      return def;
    }
    return it->second.back().c_str();
  }
};

Args parse_args(int argc, char** argv, const std::vector<std::string>& flags) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      if (std::find(flags.begin(), flags.end(), s) != flags.end()) {
        a.opt[s];
      } else if (i + 1 < argc) {
        a.opt[s].push_back(argv[++i]);
      } else {
        die("%s needs a value", s.c_str());
      }
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

// The upstream's clock, in ns, from a CLOCK_REALTIME instant.
struct TrueClock {
  double offset_s = 0;
  double rate_ppm = 0;
  int64_t epoch_ns = 0;
  Timestamp at(int64_t t_ns) const {
    double since = static_cast<double>(t_ns - epoch_ns) / 1e9;
    return Timestamp{t_ns + std::llround((offset_s + rate_ppm * 1e-6 * since) * 1e9)};
  }
  double offset_at(int64_t t_ns) const {  // true - system, seconds
    return offset_s + rate_ppm * 1e-6 * (static_cast<double>(t_ns - epoch_ns) / 1e9);
  }
};

TrueClock true_clock(const Args& a) {
  TrueClock c;
  c.offset_s = parse_double(a.get("--offset"), "--offset");
  c.rate_ppm = parse_double(a.get("--rate"), "--rate");
  c.epoch_ns = parse_epoch_ns(a.get("--epoch"));
  return c;
}

int cmd_server(const Args& a) {
  if (a.pos.size() != 2) {
    die("%s", "usage: server ADDR PORT --offset S --rate PPM --epoch SEC.NSEC");
  }
  TrueClock tc = true_clock(a);
  double duration = parse_double(a.get("--duration", "600"), "--duration");
  sockaddr_in addr = parse_addr(a.pos[0], a.pos[1]);
  int fd = udp_socket(&addr);
  realtime_priority(a.has("--rt"));
  uint64_t requests = 0, replies = 0;
  int64_t end = now_ns() + static_cast<int64_t>(duration * 1e9);
  std::vector<pollfd> base{{fd, POLLIN, 0}}, fds;
  while (!g_stop && now_ns() < end) {
    wait_until(base, std::min(end, now_ns() + 200'000'000), fds);
    if (!(fds[0].revents & POLLIN)) {
      continue;
    }
    for (int burst = 0; burst < 64; ++burst) {
      auto d = receive(fd);
      if (!d) {
        break;
      }
      if (d->data.size() < tr7::core::k_header_len || (d->data[0] & 7) != 3) {
        continue;
      }
      ++requests;
      NtpHeader q = tr7::core::decode_header(
          std::span<const uint8_t, tr7::core::k_header_len>(d->data.data(), tr7::core::k_header_len));
      NtpHeader h;
      h.leap = tr7::core::Leap::None;
      h.version = q.version >= 1 && q.version <= 4 ? q.version : 4;
      h.mode = tr7::core::Mode::Server;
      h.stratum = 1;
      h.poll = q.poll;
      h.precision = -20;
      h.root_delay = 0;
      h.root_dispersion = 64;
      h.refid = tr7::core::kiss_code("GPS\0");
      Timestamp t2 = tc.at(d->rx_ns);
      h.reference = tr7::core::to_ntp(Timestamp{t2.ns - 8'000'000'000});
      h.origin = q.transmit;
      h.receive = tr7::core::to_ntp(t2);
      std::array<uint8_t, tr7::core::k_header_len> out{};
      h.transmit = tr7::core::to_ntp(tc.at(now_ns()));
      tr7::core::encode_header(h, std::span<uint8_t, tr7::core::k_header_len>(out.data(), out.size()));
      if (sendto(fd, out.data(), out.size(), 0, reinterpret_cast<const sockaddr*>(&d->from), sizeof d->from) > 0) {
        ++replies;
      }
    }
  }
  if (a.has("--stats")) {
    if (FILE* f = std::fopen(a.get("--stats"), "w")) {
      std::fprintf(f, "{\"requests\": %" PRIu64 ", \"replies\": %" PRIu64 "}\n", requests, replies);
      std::fclose(f);
    }
  }
  close(fd);
  return 0;
}

struct Pending {
  int64_t due_ns;
  uint64_t seq;
  int fd;
  sockaddr_in to;
  std::vector<uint8_t> data;
  bool operator>(const Pending& o) const { return due_ns > o.due_ns || (due_ns == o.due_ns && seq > o.seq); }
};

std::string addr_key(const sockaddr_in& a) {
  return std::to_string(a.sin_addr.s_addr) + ":" + std::to_string(a.sin_port);
}

int cmd_relay(const Args& a) {
  if (a.pos.size() != 4) {
    die("%s", "usage: relay LADDR LPORT UADDR UPORT [--delay S] [--jitter S] [--seed N]");
  }
  double delay = parse_double(a.get("--delay", "0.010"), "--delay");
  double jitter = parse_double(a.get("--jitter", "0.002"), "--jitter");
  double duration = parse_double(a.get("--duration", "600"), "--duration");
  double seed = parse_double(a.get("--seed", "1"), "--seed");
  if (delay < 0 || jitter < 0 || jitter > delay || seed < 0) {
    die("%s", "need 0 <= jitter <= delay and seed >= 0");
  }
  tr7::core::Rng rng(static_cast<uint64_t>(seed));
  sockaddr_in laddr = parse_addr(a.pos[0], a.pos[1]);
  sockaddr_in up = parse_addr(a.pos[2], a.pos[3]);
  sockaddr_in up_bind = laddr;
  up_bind.sin_port = 0;
  int lfd = udp_socket(&laddr);
  realtime_priority(a.has("--rt"));
  struct Mapping {
    int fd;
    sockaddr_in client;
    int64_t last_ns;
  };
  std::map<std::string, Mapping> by_client;
  std::map<int, std::string> by_fd;
  std::priority_queue<Pending, std::vector<Pending>, std::greater<Pending>> q;
  uint64_t seq = 0, requests = 0, replies = 0;
  std::vector<double> late_us, send_us;
  int64_t end = now_ns() + static_cast<int64_t>(duration * 1e9);
  std::vector<pollfd> fds;
  auto later = [&](int64_t rx_ns) {
    double d = delay + jitter * (2 * rng.next_double() - 1);
    return rx_ns + std::llround(d * 1e9);
  };
  while (!g_stop) {
    int64_t now = now_ns();
    if (now >= end) {
      break;
    }
    // Send what is due first: that is the timing the bench depends on.
    while (!q.empty() && q.top().due_ns <= now) {
      const Pending& p = q.top();
      late_us.push_back(static_cast<double>(now_ns() - p.due_ns) / 1e3);
      int64_t before = now_ns();
      sendto(p.fd, p.data.data(), p.data.size(), 0, reinterpret_cast<const sockaddr*>(&p.to), sizeof p.to);
      send_us.push_back(static_cast<double>(now_ns() - before) / 1e3);
      q.pop();
      now = now_ns();
    }
    // Idle mappings (a daemon uses a fresh source port per request) are closed.
    for (auto it = by_client.begin(); it != by_client.end();) {
      if (now - it->second.last_ns > 30'000'000'000LL) {
        by_fd.erase(it->second.fd);
        close(it->second.fd);
        it = by_client.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<pollfd> base{{lfd, POLLIN, 0}};
    for (const auto& [fd, key] : by_fd) {
      base.push_back({fd, POLLIN, 0});
    }
    int64_t deadline = q.empty() ? now + 200'000'000 : q.top().due_ns;
    if (!q.empty() && deadline - now <= k_spin_ns) {
      // A timer wakes this VM's processes 0.1 ms late typically, a millisecond at
      // worst: sleep until shortly before the send, then spin the rest (bounded by
      // k_spin_ns, a few times per second).
      while (now_ns() < deadline) {
      }
      continue;
    }
    wait_until(base, std::min(deadline - k_spin_ns, end), fds);
    for (const auto& p : fds) {
      if (!(p.revents & POLLIN)) {
        continue;
      }
      for (int burst = 0; burst < 64; ++burst) {
        auto d = receive(p.fd);
        if (!d) {
          break;
        }
        if (p.fd == lfd) {
          std::string key = addr_key(d->from);
          auto it = by_client.find(key);
          if (it == by_client.end()) {
            if (by_client.size() >= 4096) {
              continue;  // bounded: a flood of new client ports is dropped
            }
            int ufd = udp_socket(&up_bind);
            it = by_client.emplace(key, Mapping{ufd, d->from, 0}).first;
            by_fd[ufd] = key;
          }
          it->second.last_ns = now_ns();
          ++requests;
          q.push(Pending{later(d->rx_ns), seq++, it->second.fd, up, std::move(d->data)});
        } else {
          auto k = by_fd.find(p.fd);
          if (k == by_fd.end()) {
            break;
          }
          ++replies;
          q.push(Pending{later(d->rx_ns), seq++, lfd, by_client.at(k->second).client, std::move(d->data)});
        }
      }
    }
  }
  if (a.has("--stats")) {
    if (FILE* f = std::fopen(a.get("--stats"), "w")) {
      auto pct = [](std::vector<double>& v, double p) {
        std::sort(v.begin(), v.end());
        return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
      };
      std::fprintf(f,
                   "{\"requests\": %" PRIu64 ", \"replies\": %" PRIu64
                   ", \"late_us_p50\": %.1f, \"late_us_p99\": %.1f, \"late_us_max\": %.1f"
                   ", \"sendto_us_p50\": %.1f, \"sendto_us_p99\": %.1f}\n",
                   requests, replies, pct(late_us, 0.5), pct(late_us, 0.99), pct(late_us, 1.0), pct(send_us, 0.5),
                   pct(send_us, 0.99));
      std::fclose(f);
    }
  }
  for (const auto& [fd, key] : by_fd) {
    close(fd);
  }
  close(lfd);
  return 0;
}

struct Target {
  std::string name;
  sockaddr_in addr{};
  int fd = -1;
  std::vector<double> errors;
  uint64_t lost = 0;
};

struct Observation {
  double offset_s;  // served - system
  double rtt_s;
  int64_t mid_ns;
  bool synchronised;
};

// One exchange with a target: nullopt when lost.
std::optional<Observation> ask(Target& t, double timeout_s) {
  std::array<uint8_t, tr7::core::k_header_len> req{};
  req[0] = (4 << 3) | 3;
  uint8_t tx[8];
  if (getrandom(tx, sizeof tx, 0) != static_cast<ssize_t>(sizeof tx)) {
    die("%s", "getrandom failed");
  }
  std::memcpy(&req[40], tx, sizeof tx);
  while (receive(t.fd)) {
    // a late reply to an earlier try: discard
  }
  int64_t t1 = now_ns();
  if (sendto(t.fd, req.data(), req.size(), 0, reinterpret_cast<const sockaddr*>(&t.addr), sizeof t.addr) < 0) {
    return std::nullopt;
  }
  int64_t end = t1 + static_cast<int64_t>(timeout_s * 1e9);
  std::vector<pollfd> base{{t.fd, POLLIN, 0}}, fds;
  while (now_ns() < end) {
    wait_until(base, end, fds);
    if (!(fds[0].revents & POLLIN)) {
      continue;
    }
    auto d = receive(t.fd);
    if (!d || d->data.size() < tr7::core::k_header_len || std::memcmp(&d->data[24], tx, sizeof tx) != 0) {
      continue;
    }
    NtpHeader h = tr7::core::decode_header(
        std::span<const uint8_t, tr7::core::k_header_len>(d->data.data(), tr7::core::k_header_len));
    int64_t t4 = d->rx_ns;
    NtpTimestamp t1n = tr7::core::to_ntp(Timestamp{t1});
    NtpTimestamp t4n = tr7::core::to_ntp(Timestamp{t4});
    Observation o;
    o.offset_s = (tr7::core::ntp_diff_s(h.receive, t1n) + tr7::core::ntp_diff_s(h.transmit, t4n)) / 2;
    o.rtt_s = static_cast<double>(t4 - t1) / 1e9 - tr7::core::ntp_diff_s(h.transmit, h.receive);
    o.mid_ns = t1 + (t4 - t1) / 2;
    o.synchronised = h.leap != tr7::core::Leap::Unsynchronised && h.stratum >= 1 && h.stratum <= 15;
    return o;
  }
  return std::nullopt;
}

int cmd_probe(const Args& a) {
  TrueClock tc = true_clock(a);
  double duration = parse_double(a.get("--duration", "180"), "--duration");
  double interval = parse_double(a.get("--interval", "0.5"), "--interval");
  double skip = parse_double(a.get("--skip", "60"), "--skip");
  double tries_d = parse_double(a.get("--tries", "3"), "--tries");
  if (duration <= 0 || duration > 86400 || interval < 0.01 || tries_d < 1 || tries_d > 16) {
    die("%s", "need 0 < duration <= 86400, interval >= 0.01, 1 <= tries <= 16");
  }
  int tries = static_cast<int>(tries_d);
  std::vector<Target> targets;
  auto it = a.opt.find("--target");
  if (it == a.opt.end()) {
    die("%s", "no --target NAME=HOST:PORT");
  }
  for (const auto& s : it->second) {
    size_t eq = s.find('='), colon = s.rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
      die("bad --target %s (NAME=HOST:PORT)", s.c_str());
    }
    Target t;
    t.name = s.substr(0, eq);
    t.addr = parse_addr(s.substr(eq + 1, colon - eq - 1), s.substr(colon + 1));
    t.fd = udp_socket(nullptr);
    targets.push_back(std::move(t));
  }
  FILE* samples = a.has("--samples") ? std::fopen(a.get("--samples"), "w") : nullptr;
  if (samples) {
    std::fprintf(samples, "t_s,target,error_us,rtt_us\n");
  }
  realtime_priority(a.has("--rt"));
  int64_t start = now_ns();
  for (uint64_t k = 0; !g_stop; ++k) {
    int64_t tick = start + static_cast<int64_t>(static_cast<double>(k) * interval * 1e9);
    if (tick - start > static_cast<int64_t>(duration * 1e9)) {
      break;
    }
    int64_t w = tick - now_ns();
    if (w > 0) {
      timespec ts{static_cast<time_t>(tick / 1'000'000'000), static_cast<long>(tick % 1'000'000'000)};
      clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, nullptr);
    }
    for (size_t j = 0; j < targets.size(); ++j) {
      // Alternate which target goes first, so neither is always probed a little later.
      Target& t = targets[(j + k) % targets.size()];
      std::optional<Observation> best;
      for (int i = 0; i < tries; ++i) {
        auto o = ask(t, 0.2);
        if (o && o->synchronised && (!best || o->rtt_s < best->rtt_s)) {
          best = o;
        }
      }
      if (!best) {
        ++t.lost;
        continue;
      }
      double err = best->offset_s - tc.offset_at(best->mid_ns);
      double since = static_cast<double>(best->mid_ns - start) / 1e9;
      if (since >= skip) {
        t.errors.push_back(err);
      }
      if (samples) {
        std::fprintf(samples, "%.3f,%s,%.2f,%.2f\n", since, t.name.c_str(), err * 1e6, best->rtt_s * 1e6);
      }
    }
  }
  if (samples) {
    std::fclose(samples);
  }
  std::printf("{");
  for (size_t j = 0; j < targets.size(); ++j) {
    const Target& t = targets[j];
    std::printf("%s\"%s\": {\"samples\": %zu, \"lost\": %" PRIu64, j ? ", " : "", t.name.c_str(), t.errors.size(),
                t.lost);
    if (!t.errors.empty()) {
      double ss = 0, sum = 0, mx = 0;
      for (double e : t.errors) {
        ss += e * e;
        sum += e;
        mx = std::max(mx, std::fabs(e));
      }
      double n = static_cast<double>(t.errors.size());
      std::printf(", \"rms\": %.9f, \"max\": %.9f, \"mean\": %.9f", std::sqrt(ss / n), mx, sum / n);
    }
    std::printf("}");
    close(t.fd);
  }
  std::printf("}\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: tr7ntp-benchpath server|relay|probe ... (see the source's header)\n");
    return 2;
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::string cmd = argv[1];
  Args a = parse_args(argc, argv, {"--rt"});
  if (cmd == "server") {
    return cmd_server(a);
  }
  if (cmd == "relay") {
    return cmd_relay(a);
  }
  if (cmd == "probe") {
    return cmd_probe(a);
  }
  die("unknown command %s (server, relay, probe)", cmd.c_str());
}
