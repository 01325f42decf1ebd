// tr7ntp-bench: NTP load generator and latency probe, and the minimal reflector that is
// the floor of the kernel path. Used by `make bench` (contrib/bench/server-bench.sh).
//
//   tr7ntp-bench load --server ADDR:PORT [options]
//       Sends NTPv4 client requests from many source ports (--sockets) and many 127.x
//       source addresses (--addrs, via IP_PKTINFO), in batches (sendmmsg), either open
//       loop at a fixed rate (--rate) or closed loop with N requests in flight
//       (--inflight), for a fixed time (--warmup, then --duration). Prints one line
//       "RESULT key=value ..." for scripts and a readable summary on stderr.
//   tr7ntp-bench reflect --listen ADDR:PORT [--threads N]
//       Answers every datagram of >= 48 bytes with a minimal mode-4 reply (origin =
//       the request's transmit, receive = transmit = one clock read per batch):
//       recvmmsg/sendmmsg and nothing else, the floor any NTP server is compared with.
//
// What is measured (all on the host's CLOCK_REALTIME, which server and loader share):
//   T1  loader: the clock read just before the sendmmsg call of the request's batch
//       (so RTT includes the loader's own send call and the request's place in its
//       batch, alike for every server); with --txstamp the kernel's software transmit
//       timestamp of the request (SO_TIMESTAMPING, read back from the error queue),
//       which makes rtt and offset exact at the cost of loader CPU (for latency probes)
//   T2, T3  from the reply (receive and transmit timestamps)
//   T4  loader: kernel receive timestamp (SO_TIMESTAMPNS) of the reply
//   rtt = T4 - T1, server time = T3 - T2, reply lag = T4 - T3 (from the transmit
//   timestamp to the reply's arrival: a transmit timestamp taken long before the reply
//   really left shows here), offset = ((T2 - T1) + (T3 - T4)) / 2. With one
//   clock on both sides the offset would be 0 for exact timestamps on a symmetric path:
//   it shows how well T2 and T3 reflect when the request arrived and the reply left.
//   A reply is valid when it is 48+ bytes, mode 4, origin = a request we sent and
//   still wait for, stratum 1..15 and LI != 3. Requests without a valid reply within
//   --timeout-ms count as lost; replies after that as late.
//   With --requests FILE, the requests are not made here but taken in turn from FILE:
//   prepared ones (NTS-authenticated, from tr7ntp-ntsbench templates), each a 16-bit
//   big-endian length and the bytes; a reply is matched by its origin to the prepared
//   request's own transmit timestamp, and so to the last time that one was sent.
//   With --pid, the server process's CPU time (utime+stime of all threads, from
//   /proc/PID/stat) over the measured interval, per valid reply, its per-thread split,
//   and its RSS at the end.
//
// Only for loopback benchmarks: every socket is bound to the loopback device.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

constexpr int64_t k_ns = 1'000'000'000;
constexpr uint64_t k_ntp_unix_s = 2'208'988'800ULL;
constexpr size_t k_req_len = 48;
constexpr size_t k_max_batch = 64;

[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "tr7ntp-bench: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(2);
}

int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * k_ns + ts.tv_nsec;
}
int64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
int64_t real_ns() { return clock_ns(CLOCK_REALTIME); }

uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = v << 8 | p[i];
  }
  return v;
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

// NTP 32.32 wire time -> Unix ns, in the era closest to `pivot_ns`.
int64_t ntp_to_ns(uint64_t raw, int64_t pivot_ns) {
  uint64_t pivot_ntp_s = static_cast<uint64_t>(pivot_ns / k_ns) + k_ntp_unix_s;
  uint32_t sec = static_cast<uint32_t>(raw >> 32);
  // Signed distance of sec from the pivot's seconds, modulo 2^32.
  int64_t dsec = static_cast<int32_t>(sec - static_cast<uint32_t>(pivot_ntp_s));
  int64_t unix_s = static_cast<int64_t>(pivot_ntp_s - k_ntp_unix_s) + dsec;
  int64_t frac_ns = static_cast<int64_t>(((raw & 0xFFFFFFFFULL) * static_cast<uint64_t>(k_ns) + (1ULL << 31)) >> 32);
  return unix_s * k_ns + frac_ns;
}
uint64_t ns_to_ntp(int64_t ns) {
  uint64_t s = static_cast<uint64_t>(ns / k_ns) + k_ntp_unix_s;
  uint64_t frac = ((static_cast<uint64_t>(ns % k_ns) << 32) + k_ns / 2) / k_ns;
  return (s << 32) | (frac & 0xFFFFFFFFULL);
}

// splitmix64: deterministic per seed, good enough for a request key.
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

sockaddr_in parse_v4(const std::string& s, bool need_port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  std::string host = s;
  size_t colon = s.rfind(':');
  if (colon != std::string::npos) {
    host = s.substr(0, colon);
    char* end = nullptr;
    long p = std::strtol(s.c_str() + colon + 1, &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      die("bad port in '%s'", s.c_str());
    }
    a.sin_port = htons(static_cast<uint16_t>(p));
  } else if (need_port) {
    die("expected ADDRESS:PORT, not '%s'", s.c_str());
  }
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
    die("bad IPv4 address '%s'", host.c_str());
  }
  return a;
}

void set_int(int fd, int level, int opt, int v, const char* name) {
  if (setsockopt(fd, level, opt, &v, sizeof v) < 0) {
    die("setsockopt %s: %s", name, std::strerror(errno));
  }
}

void bind_to_loopback(int fd) {
  // Best effort: keeps a wildcard-bound socket on the loopback device.
  const char lo[] = "lo";
  (void)setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, lo, sizeof lo);
}

// ---------------------------------------------------------------- /proc readings

struct ProcCpu {
  bool ok = false;
  int64_t total_ticks = 0;              // utime + stime, all threads
  std::map<int, int64_t> thread_ticks;  // tid -> utime + stime
};

bool read_stat_ticks(const std::string& path, int64_t& ticks) {
  FILE* f = std::fopen(path.c_str(), "re");
  if (!f) {
    return false;
  }
  char buf[2048];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may contain spaces and parentheses: fields start after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p) {
    return false;
  }
  // Fields after ')': state(3) ... utime(14) stime(15): skip 11 fields to utime.
  long long utime = 0, stime = 0;
  int field = 2;
  char* save = nullptr;
  for (char* tok = strtok_r(p + 1, " ", &save); tok; tok = strtok_r(nullptr, " ", &save)) {
    ++field;
    if (field == 14) {
      utime = std::atoll(tok);
    } else if (field == 15) {
      stime = std::atoll(tok);
      break;
    }
  }
  ticks = utime + stime;
  return field == 15;
}

ProcCpu read_proc_cpu(int pid) {
  ProcCpu c;
  if (pid <= 0) {
    return c;
  }
  c.ok = read_stat_ticks("/proc/" + std::to_string(pid) + "/stat", c.total_ticks);
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') {
        continue;
      }
      int64_t t = 0;
      if (read_stat_ticks(dir + "/" + e->d_name + "/stat", t)) {
        c.thread_ticks[std::atoi(e->d_name)] = t;
      }
    }
    closedir(d);
  }
  return c;
}

long read_rss_kb(int pid) {
  if (pid <= 0) {
    return -1;
  }
  FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "re");
  if (!f) {
    return -1;
  }
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kb = std::atol(line + 6);
    }
  }
  std::fclose(f);
  return kb;
}

// ---------------------------------------------------------------- options

struct Options {
  std::string mode;
  std::string server = "127.0.0.1:123";
  std::string listen;
  std::string src = "127.1.0.1";
  double rate = 0;    // requests/s (open loop); 0 = closed loop
  int inflight = 64;  // closed loop
  double duration_s = 5;
  double warmup_s = 1;
  int sockets = 16;
  uint32_t addrs = 1;
  int batch = 16;
  int timeout_ms = 500;
  int pid = 0;
  uint64_t seed = 1;
  int threads = 1;
  bool reflect_timestamps = false;
  bool txstamp = false;
  bool spin = false;
  std::string label;
  std::string requests;  // prepared requests (--requests FILE)
};

void usage() {
  std::fprintf(stderr,
               "usage: tr7ntp-bench load --server ADDR:PORT [--rate R | --inflight N] [--duration S]\n"
               "           [--warmup S] [--sockets P] [--addrs A] [--src FIRST_ADDR] [--batch B]\n"
               "           [--timeout-ms T] [--pid SERVER_PID] [--seed N] [--label TEXT] [--txstamp]\n"
               "           [--spin] [--requests FILE]\n"
               "       tr7ntp-bench reflect --listen ADDR:PORT [--threads N] [--timestamps]\n");
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  if (argc < 2) {
    usage();
  }
  Options o;
  o.mode = argv[1];
  if (o.mode != "load" && o.mode != "reflect") {
    usage();
  }
  auto num = [](const char* name, const char* v, double lo, double hi) {
    char* end = nullptr;
    double d = std::strtod(v, &end);
    if (end == v || *end != '\0' || !std::isfinite(d) || d < lo || d > hi) {
      die("%s: '%s' is not a number in [%g, %g]", name, v, lo, hi);
    }
    return d;
  };
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--timestamps") {
      o.reflect_timestamps = true;
      continue;
    }
    if (k == "--txstamp") {
      o.txstamp = true;
      continue;
    }
    if (k == "--spin") {
      o.spin = true;
      continue;
    }
    if (i + 1 >= argc) {
      die("%s needs a value", k.c_str());
    }
    const char* v = argv[++i];
    if (k == "--server") {
      o.server = v;
    } else if (k == "--listen") {
      o.listen = v;
    } else if (k == "--src") {
      o.src = v;
    } else if (k == "--rate") {
      o.rate = num("--rate", v, 0, 1e8);
    } else if (k == "--inflight") {
      o.inflight = static_cast<int>(num("--inflight", v, 1, 1 << 20));
    } else if (k == "--duration") {
      o.duration_s = num("--duration", v, 0.01, 3600);
    } else if (k == "--warmup") {
      o.warmup_s = num("--warmup", v, 0, 3600);
    } else if (k == "--sockets") {
      o.sockets = static_cast<int>(num("--sockets", v, 1, 1024));
    } else if (k == "--addrs") {
      o.addrs = static_cast<uint32_t>(num("--addrs", v, 1, 16'000'000));
    } else if (k == "--batch") {
      o.batch = static_cast<int>(num("--batch", v, 1, k_max_batch));
    } else if (k == "--timeout-ms") {
      o.timeout_ms = static_cast<int>(num("--timeout-ms", v, 1, 60000));
    } else if (k == "--pid") {
      o.pid = static_cast<int>(num("--pid", v, 1, 1 << 30));
    } else if (k == "--seed") {
      o.seed = static_cast<uint64_t>(num("--seed", v, 0, 9e15));
    } else if (k == "--threads") {
      o.threads = static_cast<int>(num("--threads", v, 1, 256));
    } else if (k == "--label") {
      o.label = v;
    } else if (k == "--requests") {
      o.requests = v;
    } else {
      die("unknown option %s", k.c_str());
    }
  }
  return o;
}

// ---------------------------------------------------------------- reflector

std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_wakeups{0}, g_packets{0};

void reflect_thread(int fd, bool timestamps) {
  constexpr size_t n = 32;
  std::vector<uint8_t> bufs(n * 1100);
  std::vector<mmsghdr> rx(n), tx(n);
  std::vector<iovec> iov(n), tiov(n);
  std::vector<sockaddr_storage> peers(n);
  std::vector<uint8_t> ctl(n * 64);
  while (!g_stop.load(std::memory_order_relaxed)) {
    for (size_t i = 0; i < n; ++i) {
      iov[i] = {bufs.data() + i * 1100, 1100};
      msghdr& h = rx[i].msg_hdr;
      h = msghdr{};
      h.msg_name = &peers[i];
      h.msg_namelen = sizeof peers[i];
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      if (timestamps) {
        h.msg_control = ctl.data() + i * 64;
        h.msg_controllen = 64;
      }
    }
    int got = recvmmsg(fd, rx.data(), n, MSG_WAITFORONE, nullptr);
    if (got <= 0) {
      continue;  // EINTR, or the receive timeout (to look at g_stop)
    }
    g_wakeups.fetch_add(1, std::memory_order_relaxed);
    g_packets.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
    uint64_t now = ns_to_ntp(real_ns());
    int m = 0;
    for (int i = 0; i < got; ++i) {
      uint8_t* p = bufs.data() + static_cast<size_t>(i) * 1100;
      if (rx[i].msg_len < k_req_len) {
        continue;
      }
      uint64_t rxts = now;
      if (timestamps) {
        for (cmsghdr* c = CMSG_FIRSTHDR(&rx[i].msg_hdr); c; c = CMSG_NXTHDR(&rx[i].msg_hdr, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts;
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            rxts = ns_to_ntp(static_cast<int64_t>(ts.tv_sec) * k_ns + ts.tv_nsec);
          }
        }
      }
      p[0] = static_cast<uint8_t>((p[0] & 0x38) | 4);  // LI 0, version echoed, mode 4
      p[1] = 10;
      p[3] = static_cast<uint8_t>(-20);
      std::memcpy(p + 24, p + 40, 8);
      put64(p + 32, rxts);
      put64(p + 40, now);
      tiov[m] = {p, k_req_len};
      tx[m].msg_hdr = msghdr{};
      tx[m].msg_hdr.msg_name = &peers[i];
      tx[m].msg_hdr.msg_namelen = rx[i].msg_hdr.msg_namelen;
      tx[m].msg_hdr.msg_iov = &tiov[m];
      tx[m].msg_hdr.msg_iovlen = 1;
      ++m;
    }
    for (int pos = 0; pos < m;) {
      int r = sendmmsg(fd, tx.data() + pos, static_cast<unsigned>(m - pos), 0);
      pos += r > 0 ? r : 1;
    }
  }
}

void on_stop(int) { g_stop.store(true); }

int run_reflect(const Options& o) {
  if (o.listen.empty()) {
    die("reflect needs --listen ADDR:PORT");
  }
  sockaddr_in a = parse_v4(o.listen, true);
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::vector<int> fds;
  for (int t = 0; t < o.threads; ++t) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      die("socket: %s", std::strerror(errno));
    }
    if (o.threads > 1) {
      set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT");
    }
    set_int(fd, SOL_SOCKET, SO_RCVBUF, 1 << 21, "SO_RCVBUF");
    if (o.reflect_timestamps) {
      set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
    }
    timeval tv{0, 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
      die("bind %s: %s", o.listen.c_str(), std::strerror(errno));
    }
    fds.push_back(fd);
  }
  std::fprintf(stderr, "tr7ntp-bench: reflector on %s, %d thread(s)%s\n", o.listen.c_str(), o.threads,
               o.reflect_timestamps ? ", kernel rx timestamps" : "");
  std::vector<std::thread> threads;
  for (size_t t = 1; t < fds.size(); ++t) {
    threads.emplace_back(reflect_thread, fds[t], o.reflect_timestamps);
  }
  reflect_thread(fds[0], o.reflect_timestamps);
  for (auto& t : threads) {
    t.join();
  }
  for (int fd : fds) {
    close(fd);
  }
  std::fprintf(stderr, "tr7ntp-bench: reflector: %" PRIu64 " datagrams in %" PRIu64 " batches\n", g_packets.load(),
               g_wakeups.load());
  return 0;
}

// ---------------------------------------------------------------- loader

struct Slot {
  uint64_t seq = UINT64_MAX;
  int64_t t1_ns = 0;      // realtime
  bool measured = false;  // sent inside the measured window
  bool done = true;
};

struct Percentiles {
  double p50 = NAN, p90 = NAN, p99 = NAN, max = NAN, mean = NAN;
};

Percentiles percentiles(std::vector<int64_t>& v) {
  Percentiles p;
  if (v.empty()) {
    return p;
  }
  auto at = [&](double q) {
    size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return static_cast<double>(v[k]) / 1000.0;  // us
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = static_cast<double>(*std::max_element(v.begin(), v.end())) / 1000.0;
  double sum = 0;
  for (int64_t x : v) {
    sum += static_cast<double>(x);
  }
  p.mean = sum / static_cast<double>(v.size()) / 1000.0;
  return p;
}

class Loader {
 public:
  explicit Loader(const Options& o) : m_o(o) {
    m_server = parse_v4(o.server, true);
    sockaddr_in first = parse_v4(o.src, false);
    m_src_base = ntohl(first.sin_addr.s_addr);
    if ((m_src_base >> 24) != 127 || static_cast<uint64_t>(m_src_base) + o.addrs > 0x7FFFFFFFULL) {
      die("--src/--addrs must stay inside 127.0.0.0/8 (loopback only)");
    }
    if ((ntohl(m_server.sin_addr.s_addr) >> 24) != 127) {
      die("--server must be a loopback address");
    }
    uint64_t s = o.seed;
    m_key = splitmix(s);
    if (!o.requests.empty()) {
      load_requests(o.requests);
      if (o.txstamp) {
        die("--txstamp does not go with --requests");
      }
    }
    size_t ring = 1;
    double max_out = o.rate > 0 ? o.rate * (o.timeout_ms / 1000.0) * 2 + 4096 : o.inflight * 2.0 + 4096;
    while (static_cast<double>(ring) < max_out) {
      ring <<= 1;
    }
    m_ring.resize(ring);
    m_mask = ring - 1;
    for (int i = 0; i < o.sockets; ++i) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        die("socket: %s", std::strerror(errno));
      }
      set_int(fd, SOL_SOCKET, SO_RCVBUF, 1 << 22, "SO_RCVBUF");
      set_int(fd, SOL_SOCKET, SO_SNDBUF, 1 << 22, "SO_SNDBUF");
      set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
      if (o.txstamp) {
        set_int(fd, SOL_SOCKET, SO_TIMESTAMPING, SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE,
                "SO_TIMESTAMPING");
      }
      sockaddr_in b{};
      b.sin_family = AF_INET;
      if (o.addrs == 1) {
        b.sin_addr.s_addr = htonl(m_src_base);
      } else {
        // Replies come back to many 127.x addresses: wildcard, but on lo only.
        b.sin_addr.s_addr = htonl(INADDR_ANY);
        bind_to_loopback(fd);
      }
      if (bind(fd, reinterpret_cast<sockaddr*>(&b), sizeof b) < 0) {
        die("bind: %s", std::strerror(errno));
      }
      m_fds.push_back(pollfd{fd, POLLIN, 0});
    }
    m_epoll = epoll_create1(EPOLL_CLOEXEC);
    if (m_epoll < 0) {
      die("epoll_create1: %s", std::strerror(errno));
    }
    for (size_t i = 0; i < m_fds.size(); ++i) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u32 = static_cast<uint32_t>(i);
      epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_fds[i].fd, &ev);
    }
    size_t n = k_max_batch;
    m_tx_pkts.resize(n * k_req_len);
    m_tx_hdrs.resize(n);
    m_tx_iov.resize(n);
    m_tx_ctl.resize(n * CMSG_SPACE(sizeof(in_pktinfo)));
    m_tx_seq.resize(n);
    m_rx_bufs.resize(n * 256);
    m_rx_hdrs.resize(n);
    m_rx_iov.resize(n);
    m_rx_ctl.resize(n * 128);
  }
  ~Loader() {
    for (auto& p : m_fds) {
      close(p.fd);
    }
    close(m_epoll);
  }

  int run();

 private:
  void send_batch(int n, int64_t now_mono);
  void load_requests(const std::string& path);
  // The sequence number a reply's origin belongs to; false if none.
  bool seq_of_origin(uint64_t origin, uint64_t& seq) const;
  void read_tx_timestamps(int fd);
  void receive(int fd);
  void expire(int64_t now_real, bool all);

  Options m_o;
  sockaddr_in m_server{};
  uint32_t m_src_base = 0;
  uint64_t m_key = 0;
  std::vector<std::vector<uint8_t>> m_reqs;            // --requests: prepared requests
  std::unordered_map<uint64_t, uint32_t> m_req_index;  // their transmit timestamps
  std::vector<pollfd> m_fds;
  int m_epoll = -1;
  std::vector<Slot> m_ring;
  size_t m_mask = 0;
  uint64_t m_next_seq = 0;  // next to send
  uint64_t m_lo = 0;        // oldest unresolved
  size_t m_outstanding = 0;
  size_t m_next_sock = 0;
  int64_t m_win_start_mono = 0, m_win_end_mono = 0;
  bool m_in_window = false;

  // Counters over requests sent in the measured window.
  uint64_t m_sent = 0, m_sent_total = 0, m_valid = 0, m_lost = 0, m_late = 0, m_invalid = 0, m_kod = 0, m_unsync = 0,
           m_dup = 0, m_send_fail = 0, m_tx_stamped = 0;
  std::vector<int64_t> m_rtt, m_srv, m_off, m_lag;

  std::vector<uint8_t> m_tx_pkts;
  std::vector<mmsghdr> m_tx_hdrs;
  std::vector<iovec> m_tx_iov;
  std::vector<uint8_t> m_tx_ctl;
  std::vector<uint64_t> m_tx_seq;
  std::vector<uint8_t> m_rx_bufs;
  std::vector<mmsghdr> m_rx_hdrs;
  std::vector<iovec> m_rx_iov;
  std::vector<uint8_t> m_rx_ctl;
};

void Loader::send_batch(int n, int64_t now_mono) {
  int fd = m_fds[m_next_sock].fd;
  m_next_sock = (m_next_sock + 1) % m_fds.size();
  bool measured = m_in_window && now_mono < m_win_end_mono;
  for (int k = 0; k < n; ++k) {
    uint64_t seq = m_next_seq + static_cast<uint64_t>(k);
    m_tx_seq[static_cast<size_t>(k)] = seq;
    if (!m_reqs.empty()) {
      std::vector<uint8_t>& r = m_reqs[seq % m_reqs.size()];
      m_tx_iov[static_cast<size_t>(k)] = {r.data(), r.size()};
    } else {
      uint8_t* p = m_tx_pkts.data() + static_cast<size_t>(k) * k_req_len;
      std::memset(p, 0, k_req_len);
      p[0] = 0x23;  // LI 0, version 4, mode 3
      p[2] = 6;     // poll 64 s
      p[3] = static_cast<uint8_t>(-20);
      put64(p + 40, seq ^ m_key);
      m_tx_iov[static_cast<size_t>(k)] = {p, k_req_len};
    }
    msghdr& h = m_tx_hdrs[static_cast<size_t>(k)].msg_hdr;
    h = msghdr{};
    h.msg_name = &m_server;
    h.msg_namelen = sizeof m_server;
    h.msg_iov = &m_tx_iov[static_cast<size_t>(k)];
    h.msg_iovlen = 1;
    if (m_o.addrs > 1) {
      uint8_t* ctl = m_tx_ctl.data() + static_cast<size_t>(k) * CMSG_SPACE(sizeof(in_pktinfo));
      std::memset(ctl, 0, CMSG_SPACE(sizeof(in_pktinfo)));
      h.msg_control = ctl;
      h.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi{};
      pi.ipi_spec_dst.s_addr = htonl(m_src_base + static_cast<uint32_t>(seq % m_o.addrs));
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
  }
  int64_t t_before = real_ns();
  int pos = 0;
  int64_t t_after = t_before;
  while (pos < n) {
    int r = sendmmsg(fd, m_tx_hdrs.data() + pos, static_cast<unsigned>(n - pos), 0);
    if (r <= 0) {
      if (r < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
        // Socket buffer full: the rest of this batch is not sent (counted, not lost).
        break;
      }
      ++pos;
      ++m_send_fail;
      continue;
    }
    pos += r;
  }
  t_after = real_ns();
  int sent = pos;
  if (sent < n) {
    m_send_fail += static_cast<uint64_t>(n - sent);
  }
  (void)t_after;
  for (int k = 0; k < sent; ++k) {
    uint64_t seq = m_tx_seq[static_cast<size_t>(k)];
    Slot& s = m_ring[seq & m_mask];
    if (!s.done) {
      // The ring wrapped over an unresolved request: it is lost.
      if (s.measured) {
        ++m_lost;
      }
      --m_outstanding;
    }
    s.seq = seq;
    s.t1_ns = t_before;
    s.measured = measured;
    s.done = false;
    ++m_outstanding;
    if (measured) {
      ++m_sent;
    }
  }
  m_sent_total += static_cast<uint64_t>(sent);
  m_next_seq += static_cast<uint64_t>(sent);
  if (m_o.txstamp) {
    // On loopback the transmit timestamps are queued during the send call itself, so
    // they are all there before any reply can be read.
    read_tx_timestamps(fd);
  }
}

void Loader::load_requests(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    die("%s: %s", path.c_str(), std::strerror(errno));
  }
  uint8_t lenb[2];
  while (std::fread(lenb, 1, 2, f) == 2) {
    size_t n = static_cast<size_t>(lenb[0]) << 8 | lenb[1];
    std::vector<uint8_t> r(n);
    if (n < k_req_len || n > 1068 || std::fread(r.data(), 1, n, f) != n) {
      die("%s: malformed request file", path.c_str());
    }
    if (!m_req_index.emplace(get64(r.data() + 40), static_cast<uint32_t>(m_reqs.size())).second) {
      die("%s: two requests with one transmit timestamp", path.c_str());
    }
    m_reqs.push_back(std::move(r));
  }
  std::fclose(f);
  if (m_reqs.empty()) {
    die("%s: no requests", path.c_str());
  }
}

bool Loader::seq_of_origin(uint64_t origin, uint64_t& seq) const {
  auto it = m_req_index.find(origin);
  if (it == m_req_index.end() || m_next_seq == 0 || it->second > m_next_seq - 1) {
    return false;
  }
  uint64_t last = m_next_seq - 1;
  seq = last - (last - it->second) % m_reqs.size();
  return true;
}

void Loader::read_tx_timestamps(int fd) {
  for (;;) {
    size_t n = k_max_batch;
    for (size_t i = 0; i < n; ++i) {
      m_rx_iov[i] = {m_rx_bufs.data() + i * 256, 256};
      msghdr& h = m_rx_hdrs[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &m_rx_iov[i];
      h.msg_iovlen = 1;
      h.msg_control = m_rx_ctl.data() + i * 128;
      h.msg_controllen = 128;
    }
    int got = recvmmsg(fd, m_rx_hdrs.data(), static_cast<unsigned>(n), MSG_ERRQUEUE | MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      return;
    }
    for (int i = 0; i < got; ++i) {
      // The looped-back packet (with its headers): its last 8 bytes are our transmit
      // timestamp field, which identifies the request.
      size_t len = m_rx_hdrs[i].msg_len;
      if (len < k_req_len) {
        continue;
      }
      uint64_t seq = get64(m_rx_bufs.data() + static_cast<size_t>(i) * 256 + len - 8) ^ m_key;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m_rx_hdrs[i].msg_hdr); c; c = CMSG_NXTHDR(&m_rx_hdrs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
          timespec ts[3];
          std::memcpy(ts, CMSG_DATA(c), sizeof ts);
          if (seq < m_next_seq && (ts[0].tv_sec || ts[0].tv_nsec)) {
            Slot& s = m_ring[seq & m_mask];
            if (s.seq == seq && !s.done) {
              s.t1_ns = static_cast<int64_t>(ts[0].tv_sec) * k_ns + ts[0].tv_nsec;
              ++m_tx_stamped;
            }
          }
        }
      }
    }
  }
}

void Loader::receive(int fd) {
  for (int round = 0; round < 8; ++round) {
    size_t n = k_max_batch;
    for (size_t i = 0; i < n; ++i) {
      m_rx_iov[i] = {m_rx_bufs.data() + i * 256, 256};
      msghdr& h = m_rx_hdrs[i].msg_hdr;
      h = msghdr{};
      h.msg_iov = &m_rx_iov[i];
      h.msg_iovlen = 1;
      h.msg_control = m_rx_ctl.data() + i * 128;
      h.msg_controllen = 128;
    }
    int got = recvmmsg(fd, m_rx_hdrs.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      return;
    }
    int64_t now = real_ns();
    for (int i = 0; i < got; ++i) {
      const uint8_t* p = m_rx_bufs.data() + static_cast<size_t>(i) * 256;
      int64_t t4 = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&m_rx_hdrs[i].msg_hdr); c; c = CMSG_NXTHDR(&m_rx_hdrs[i].msg_hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          t4 = static_cast<int64_t>(ts.tv_sec) * k_ns + ts.tv_nsec;
        }
      }
      if (t4 == 0) {
        t4 = now;
      }
      if (m_rx_hdrs[i].msg_len < k_req_len || (p[0] & 7) != 4) {
        ++m_invalid;
        continue;
      }
      uint64_t seq = get64(p + 24) ^ m_key;
      if (!m_reqs.empty() && !seq_of_origin(get64(p + 24), seq)) {
        ++m_invalid;
        continue;
      }
      if (seq >= m_next_seq) {
        ++m_invalid;
        continue;
      }
      Slot& s = m_ring[seq & m_mask];
      if (s.seq != seq) {
        ++m_late;  // slot reused: long expired
        continue;
      }
      if (s.done) {
        // Answered already (a duplicate) or expired (late).
        if (seq < m_lo || t4 - s.t1_ns > static_cast<int64_t>(m_o.timeout_ms) * 1'000'000) {
          ++m_late;
        } else {
          ++m_dup;
        }
        continue;
      }
      s.done = true;
      --m_outstanding;
      if (!s.measured) {
        continue;
      }
      uint8_t li = p[0] >> 6;
      uint8_t stratum = p[1];
      if (stratum == 0) {
        ++m_kod;
        continue;
      }
      if (li == 3 || stratum > 15) {
        ++m_unsync;
        continue;
      }
      int64_t t1 = s.t1_ns;
      int64_t t2 = ntp_to_ns(get64(p + 32), t1);
      int64_t t3 = ntp_to_ns(get64(p + 40), t1);
      ++m_valid;
      m_rtt.push_back(t4 - t1);
      m_srv.push_back(t3 - t2);
      m_off.push_back(((t2 - t1) + (t3 - t4)) / 2);
      m_lag.push_back(t4 - t3);
    }
    if (static_cast<size_t>(got) < n) {
      return;
    }
  }
}

void Loader::expire(int64_t now_real, bool all) {
  int64_t limit = now_real - static_cast<int64_t>(m_o.timeout_ms) * 1'000'000;
  while (m_lo < m_next_seq) {
    Slot& s = m_ring[m_lo & m_mask];
    if (s.seq == m_lo && !s.done) {
      if (!all && s.t1_ns > limit) {
        break;
      }
      s.done = true;
      --m_outstanding;
      if (s.measured) {
        ++m_lost;
      }
    }
    ++m_lo;
  }
}

int Loader::run() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  const bool open_loop = m_o.rate > 0;
  int64_t t0 = mono_ns();
  m_win_start_mono = t0 + static_cast<int64_t>(m_o.warmup_s * 1e9);
  m_win_end_mono = m_win_start_mono + static_cast<int64_t>(m_o.duration_s * 1e9);
  int64_t drain_end = m_win_end_mono + static_cast<int64_t>(m_o.timeout_ms) * 1'000'000;
  ProcCpu cpu0, cpu1;
  rusage ru0{}, ru1{};
  uint64_t rate_sent = 0;  // open loop: sent since t0
  int64_t last_expire = 0;
  for (;;) {
    int64_t now = mono_ns();
    if (!m_in_window && now >= m_win_start_mono) {
      m_in_window = true;
      cpu0 = read_proc_cpu(m_o.pid);
      getrusage(RUSAGE_SELF, &ru0);
    }
    if (now >= drain_end || (now >= m_win_end_mono && m_outstanding == 0)) {
      break;
    }
    int timeout_ns = 1'000'000;
    if (now < m_win_end_mono) {
      if (open_loop) {
        double due = m_o.rate * static_cast<double>(now - t0) / 1e9;
        // Send whole batches as they fall due; a loader that falls behind catches up
        // at most 8 batches per round (it reports what it really sent).
        for (int b = 0; b < 8 && due - static_cast<double>(rate_sent) >= m_o.batch; ++b) {
          send_batch(m_o.batch, now);
          rate_sent += static_cast<uint64_t>(m_o.batch);
        }
        double next_due_s = (static_cast<double>(rate_sent) + m_o.batch) / m_o.rate;
        int64_t wait = t0 + static_cast<int64_t>(next_due_s * 1e9) - mono_ns();
        timeout_ns = static_cast<int>(std::clamp<int64_t>(wait, 0, 1'000'000));
      } else {
        while (m_outstanding + static_cast<size_t>(m_o.batch) <= static_cast<size_t>(m_o.inflight)) {
          send_batch(m_o.batch, now);
        }
        if (m_outstanding < static_cast<size_t>(m_o.inflight)) {
          send_batch(static_cast<int>(static_cast<size_t>(m_o.inflight) - m_outstanding), now);
        }
      }
    }
    if (m_o.spin) {
      // Never sleep: no wake-up costs on either side (a sleeping client would make the
      // server pay for waking it with every reply), at the price of the loader's core.
      epoll_event ev[64];
      int r = epoll_wait(m_epoll, ev, 64, 0);
      for (int i = 0; i < r; ++i) {
        receive(m_fds[ev[i].data.u32].fd);
      }
    } else {
      timespec ts{0, timeout_ns};
      int r = ppoll(m_fds.data(), m_fds.size(), &ts, nullptr);
      if (r > 0) {
        for (auto& p : m_fds) {
          if (p.revents & POLLIN) {
            receive(p.fd);
          }
        }
      }
    }
    int64_t real = real_ns();
    if (real - last_expire > 1'000'000) {
      expire(real, false);
      last_expire = real;
    }
  }
  expire(0, true);
  cpu1 = read_proc_cpu(m_o.pid);
  getrusage(RUSAGE_SELF, &ru1);
  long rss = read_rss_kb(m_o.pid);
  double elapsed_s = static_cast<double>(mono_ns() - m_win_start_mono) / 1e9;

  long hz = sysconf(_SC_CLK_TCK);
  double cpu_s = -1;
  std::string per_thread;
  if (cpu0.ok && cpu1.ok) {
    cpu_s = static_cast<double>(cpu1.total_ticks - cpu0.total_ticks) / static_cast<double>(hz);
    for (const auto& [tid, t] : cpu1.thread_ticks) {
      auto it = cpu0.thread_ticks.find(tid);
      int64_t d = t - (it == cpu0.thread_ticks.end() ? 0 : it->second);
      per_thread += (per_thread.empty() ? "" : ",") + std::to_string(static_cast<double>(d) / static_cast<double>(hz));
    }
  }
  auto tv_s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  double loader_cpu_s = tv_s(ru1.ru_utime) + tv_s(ru1.ru_stime) - tv_s(ru0.ru_utime) - tv_s(ru0.ru_stime);

  Percentiles rtt = percentiles(m_rtt), srv = percentiles(m_srv), off = percentiles(m_off), lag = percentiles(m_lag);
  for (auto& x : m_off) {
    x = std::llabs(x);
  }
  Percentiles aoff = percentiles(m_off);
  double replies_per_s = static_cast<double>(m_valid) / m_o.duration_s;
  double loss =
      m_sent ? static_cast<double>(m_sent - std::min(m_sent, m_valid + m_kod + m_unsync)) / static_cast<double>(m_sent)
             : 1.0;
  double cpu_us_per_reply = (cpu_s >= 0 && m_valid) ? cpu_s * 1e6 / static_cast<double>(m_valid) : -1;

  std::printf(
      "RESULT label=%s mode=%s rate=%.0f inflight=%d duration_s=%.3f sockets=%d addrs=%u batch=%d "
      "sent=%" PRIu64 " valid=%" PRIu64 " lost=%" PRIu64 " late=%" PRIu64 " invalid=%" PRIu64 " kod=%" PRIu64
      " unsync=%" PRIu64 " dup=%" PRIu64 " send_fail=%" PRIu64
      " sent_per_s=%.0f replies_per_s=%.0f loss=%.6f "
      "rtt_p50_us=%.2f rtt_p90_us=%.2f rtt_p99_us=%.2f rtt_max_us=%.1f "
      "srv_p50_us=%.3f srv_p90_us=%.3f srv_p99_us=%.3f srv_max_us=%.1f srv_mean_us=%.3f "
      "off_p50_us=%.3f absoff_p50_us=%.3f absoff_p99_us=%.3f lag_p50_us=%.3f lag_p99_us=%.3f "
      "server_cpu_s=%.3f cpu_us_per_reply=%.3f thread_cpu_s=%s rss_kb=%ld loader_cpu_s=%.3f elapsed_s=%.3f "
      "txstamp=%d tx_stamped=%" PRIu64 " spin=%d\n",
      m_o.label.empty() ? "-" : m_o.label.c_str(), open_loop ? "open" : "closed", m_o.rate,
      open_loop ? 0 : m_o.inflight, m_o.duration_s, m_o.sockets, m_o.addrs, m_o.batch, m_sent, m_valid, m_lost, m_late,
      m_invalid, m_kod, m_unsync, m_dup, m_send_fail, static_cast<double>(m_sent) / m_o.duration_s, replies_per_s, loss,
      rtt.p50, rtt.p90, rtt.p99, rtt.max, srv.p50, srv.p90, srv.p99, srv.max, srv.mean, off.p50, aoff.p50, aoff.p99,
      lag.p50, lag.p99, cpu_s, cpu_us_per_reply, per_thread.empty() ? "-" : per_thread.c_str(), rss, loader_cpu_s,
      elapsed_s, m_o.txstamp ? 1 : 0, m_tx_stamped, m_o.spin ? 1 : 0);
  std::fflush(stdout);
  std::fprintf(stderr,
               "%s: %s sent %" PRIu64 " valid %" PRIu64
               " (%.0f/s) loss %.4f%% | rtt p50 %.1f p99 %.1f us | "
               "T3-T2 p50 %.2f p99 %.2f us | cpu/reply %.3f us | rss %ld kB\n",
               m_o.label.empty() ? "load" : m_o.label.c_str(),
               open_loop ? ("open " + std::to_string(static_cast<long>(m_o.rate)) + "/s").c_str()
                         : ("closed " + std::to_string(m_o.inflight)).c_str(),
               m_sent, m_valid, replies_per_s, loss * 100, rtt.p50, rtt.p99, srv.p50, srv.p99, cpu_us_per_reply, rss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse_args(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  if (o.mode == "reflect") {
    return run_reflect(o);
  }
  if (o.rate <= 0 && o.inflight < 1) {
    die("need --rate R or --inflight N");
  }
  Loader l(o);
  return l.run();
}
