// tr7ntp-ntsbench: the NTS side of `make bench` (contrib/bench/nts-bench.sh).
//
//   tr7ntp-ntsbench templates --ke ADDR:PORT --name NAME --ca FILE --count N --out FILE
//       One NTS-KE (TLS 1.3, ALPN ntske/1, the certificate checked for NAME against
//       the CAs of FILE), then N NTS-authenticated NTP requests made with its keys and
//       cookies (each with its own unique identifier, nonce and random transmit
//       timestamp, no placeholders), written for `tr7ntp-bench load --requests FILE`.
//       Prints "RESULT ntp=ADDR:PORT cookies=C request_bytes=B".
//   tr7ntp-ntsbench handshakes --ke ADDR:PORT --name NAME --ca FILE --duration S
//                              [--threads T] [--pid PID]...
//       Whole NTS-KE sessions one after the other (T threads at once) for S seconds:
//       connect, TLS 1.3 handshake with certificate check, request, response with
//       cookies, key export, close. With --pid, the CPU time of those processes and of
//       their children (chronyd's NTS-KE helpers) over the run. Prints
//       "RESULT handshakes=N failed=F per_s=R server_cpu_s=C server_cpu_us_per_handshake=U".
//
// A benchmark tool for loopback: it never touches the clock.
#include <arpa/inet.h>
#include <dirent.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/ntp_packet.h"
#include "core/nts_ke.h"
#include "core/nts_ntp.h"

namespace {

using namespace tr7::core;

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "tr7ntp-ntsbench: %s\n", m.c_str());
  std::exit(1);
}

double mono_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Options {
  std::string mode, ke, name = "localhost", ca, out;
  int count = 4096;
  double duration = 3;
  int threads = 1;
  std::vector<int> pids;
};

sockaddr_in parse_v4(const std::string& s) {
  size_t c = s.rfind(':');
  if (c == std::string::npos) {
    die("expected ADDR:PORT, not " + s);
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(s.c_str() + c + 1)));
  if (inet_pton(AF_INET, s.substr(0, c).c_str(), &a.sin_addr) != 1) {
    die("bad address " + s);
  }
  return a;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    die("cannot read " + path);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct KeResult {
  bool ok = false;
  std::string error;
  KeClientResult result;
  NtsKeys keys;
};

// One whole NTS-KE session, blocking.
KeResult ke_session(const sockaddr_in& to, const std::string& name, gnutls_certificate_credentials_t creds) {
  KeResult r;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) {
    r.error = std::string("connect: ") + std::strerror(errno);
    if (fd >= 0) {
      close(fd);
    }
    return r;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  gnutls_session_t s = nullptr;
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(k_ke_alpn)), 7};
  int e = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NO_TICKETS);
  if (e >= 0) e = gnutls_priority_set_direct(s, "NORMAL:-VERS-ALL:+VERS-TLS1.3", nullptr);
  if (e >= 0) e = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, creds);
  if (e >= 0) e = gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (e >= 0) e = gnutls_server_name_set(s, GNUTLS_NAME_DNS, name.data(), name.size());
  if (e >= 0) {
    gnutls_session_set_verify_cert(s, name.c_str(), 0);
    gnutls_transport_set_int(s, fd);
    do {
      e = gnutls_handshake(s);
    } while (e < 0 && !gnutls_error_is_fatal(e));
  }
  if (e >= 0) {
    std::vector<uint8_t> req = ke_build_request();
    e = static_cast<int>(gnutls_record_send(s, req.data(), req.size()));
  }
  std::vector<uint8_t> in;
  while (e >= 0) {
    uint8_t buf[4096];
    ssize_t n = gnutls_record_recv(s, buf, sizeof buf);
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      continue;
    }
    if (n <= 0) {
      e = n == 0 ? GNUTLS_E_PREMATURE_TERMINATION : static_cast<int>(n);
      break;
    }
    in.insert(in.end(), buf, buf + n);
    auto m = parse_ke_message(in);
    if (!m) {
      r.error = "bad response";
      break;
    }
    if (m->has_value()) {
      auto res = ke_parse_response(**m);
      if (!res) {
        r.error = res.error();
        break;
      }
      r.result = std::move(*res);
      r.keys.aead = r.result.aead;
      for (bool s2c : {false, true}) {
        auto ctx = ke_exporter_context(r.result.aead, s2c);
        auto& out = s2c ? r.keys.s2c : r.keys.c2s;
        gnutls_prf_rfc5705(s, std::strlen(k_ke_exporter_label), k_ke_exporter_label, ctx.size(),
                           reinterpret_cast<const char*>(ctx.data()), out.size(), reinterpret_cast<char*>(out.data()));
      }
      r.ok = true;
      break;
    }
  }
  if (!r.ok && r.error.empty()) {
    r.error = gnutls_strerror(e);
  }
  gnutls_bye(s, GNUTLS_SHUT_WR);
  gnutls_deinit(s);
  close(fd);
  return r;
}

// CPU ticks of a process (all its threads) and of its children.
long long proc_ticks(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  size_t rp = line.rfind(')');
  if (rp == std::string::npos) {
    return 0;
  }
  std::istringstream is(line.substr(rp + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && is >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return utime + stime;
}

long long tree_ticks(int pid) {
  long long t = proc_ticks(pid);
  std::ifstream c("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  int child;
  while (c >> child) {
    t += tree_ticks(child);
  }
  return t;
}

gnutls_certificate_credentials_t creds_for(const std::string& ca) {
  gnutls_certificate_credentials_t c;
  gnutls_certificate_allocate_credentials(&c);
  std::string pem = read_file(ca);
  gnutls_datum_t d{reinterpret_cast<unsigned char*>(pem.data()), static_cast<unsigned>(pem.size())};
  if (gnutls_certificate_set_x509_trust_mem(c, &d, GNUTLS_X509_FMT_PEM) <= 0) {
    die("no CA certificate in " + ca);
  }
  return c;
}

int templates(const Options& o) {
  auto creds = creds_for(o.ca);
  sockaddr_in to = parse_v4(o.ke);
  KeResult r = ke_session(to, o.name, creds);
  if (!r.ok) {
    die("NTS-KE with " + o.ke + ": " + r.error);
  }
  FILE* f = std::fopen(o.out.c_str(), "wb");
  if (f == nullptr) {
    die("cannot write " + o.out);
  }
  size_t len = 0;
  for (int i = 0; i < o.count; ++i) {
    std::vector<uint8_t> p(k_max_packet_len, 0);
    p[0] = 0x23;  // LI 0, NTPv4, client
    p[2] = 6;
    p[3] = static_cast<uint8_t>(-20);
    uint8_t rnd[8 + k_nts_uid_len + k_nts_nonce_len];
    gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd);
    std::memcpy(p.data() + 40, rnd, 8);
    const auto& cookie = r.result.cookies[static_cast<size_t>(i) % r.result.cookies.size()];
    len = build_nts_request(p, std::span<const uint8_t>(rnd + 8, k_nts_uid_len), cookie, 0, r.keys,
                            std::span<const uint8_t>(rnd + 8 + k_nts_uid_len, k_nts_nonce_len));
    if (len == 0) {
      die("cannot build a request");
    }
    uint8_t lb[2] = {static_cast<uint8_t>(len >> 8), static_cast<uint8_t>(len)};
    std::fwrite(lb, 1, 2, f);
    std::fwrite(p.data(), 1, len, f);
  }
  std::fclose(f);
  char addr[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &to.sin_addr, addr, sizeof addr);
  std::printf("RESULT ntp=%s:%u cookies=%zu request_bytes=%zu\n",
              r.result.server.empty() ? addr : r.result.server.c_str(), r.result.port.value_or(123),
              r.result.cookies.size(), len);
  return 0;
}

int handshakes(const Options& o) {
  auto creds = creds_for(o.ca);
  sockaddr_in to = parse_v4(o.ke);
  std::atomic<long> ok{0}, failed{0};
  std::atomic<bool> stop{false};
  std::string first_error;
  long long t0 = 0;
  for (int pid : o.pids) {
    t0 += tree_ticks(pid);
  }
  double start = mono_s();
  std::vector<std::thread> th;
  for (int i = 0; i < o.threads; ++i) {
    th.emplace_back([&] {
      while (!stop.load()) {
        KeResult r = ke_session(to, o.name, creds);
        (r.ok ? ok : failed).fetch_add(1);
      }
    });
  }
  while (mono_s() - start < o.duration) {
    usleep(10000);
  }
  stop = true;
  for (auto& t : th) {
    t.join();
  }
  double el = mono_s() - start;
  long long t1 = 0;
  for (int pid : o.pids) {
    t1 += tree_ticks(pid);
  }
  double cpu = static_cast<double>(t1 - t0) / static_cast<double>(sysconf(_SC_CLK_TCK));
  std::printf(
      "RESULT handshakes=%ld failed=%ld per_s=%.1f elapsed_s=%.3f server_cpu_s=%.3f "
      "server_cpu_us_per_handshake=%.1f\n",
      ok.load(), failed.load(), static_cast<double>(ok.load()) / el, el, o.pids.empty() ? -1.0 : cpu,
      o.pids.empty() || ok.load() == 0 ? -1.0 : cpu * 1e6 / static_cast<double>(ok.load()));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    die("usage: tr7ntp-ntsbench templates|handshakes --ke ADDR:PORT --ca FILE [...] (see the source's header)");
  }
  Options o;
  o.mode = argv[1];
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--ke")
      o.ke = v;
    else if (k == "--name")
      o.name = v;
    else if (k == "--ca")
      o.ca = v;
    else if (k == "--out")
      o.out = v;
    else if (k == "--count")
      o.count = std::atoi(v.c_str());
    else if (k == "--duration")
      o.duration = std::atof(v.c_str());
    else if (k == "--threads")
      o.threads = std::atoi(v.c_str());
    else if (k == "--pid")
      o.pids.push_back(std::atoi(v.c_str()));
    else
      die("unknown option " + k);
  }
  if (o.ke.empty() || o.ca.empty() || o.count < 1 || o.threads < 1) {
    die("need --ke and --ca");
  }
  gnutls_global_init();
  if (o.mode == "templates" && !o.out.empty()) {
    return templates(o);
  }
  if (o.mode == "handshakes") {
    return handshakes(o);
  }
  die("unknown mode " + o.mode);
}
