// The compliance history on disk (see history_store.h).
#include "daemon/history_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/tz.h"
#include "daemon/log.h"
#include "daemon/runtime_state.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {

constexpr const char* k_history_dir = "history";
constexpr size_t k_max_file = 256 << 20;
constexpr double k_history_sync_s = 3600;  // the longest a synchronised interval waits for its fsync

double mono_s() { return static_cast<double>(sys::monotonic_ns()) / 1e9; }
int64_t real_s() { return sys::realtime_now().ns / core::k_ns_per_s; }
int64_t day_of(int64_t unix_s) { return unix_s >= 0 ? unix_s / 86400 : (unix_s - 86399) / 86400; }

// The day of a history file name "KIND-YYYY-MM-DD", if it is one.
std::optional<int64_t> file_day(const std::string& name) {
  size_t dash = name.find('-');
  if (dash == std::string::npos || name.size() != dash + 11) {
    return std::nullopt;
  }
  int y = 0, m = 0, d = 0;
  char tail = 0;
  if (std::sscanf(name.c_str() + dash + 1, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 ||
      d > 31) {
    return std::nullopt;
  }
  return core::days_from_civil(y, m, d);
}

}  // namespace

std::string history_file(const char* kind, int64_t day) {
  int64_t y = 0;
  int m = 0, d = 0;
  core::civil_from_days(day, y, m, d);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s-%04lld-%02d-%02d", kind, static_cast<long long>(y), m, d);
  return buf;
}

HistoryStore::HistoryStore(event_base* base, const StateDir& dir, HistorySettings s, ObserveFn observe,
                           ClientsFn clients)
    : m_dir(dir),
      m_s(s),
      m_observe(std::move(observe)),
      m_clients(std::move(clients)),
      m_interval_timer(base, -1, 0, [this](evutil_socket_t, short) { on_timer(); }) {
  m_interval_start_mono = mono_s();
  m_acc.start(real_s(), m_interval_start_mono);
  m_ledger_day = day_of(real_s());
  // Today's clients from before a restart go on in the same ledger.
  if (m_dir.valid()) {
    int fd = openat(m_dir.fd(), k_history_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0) {
      m_hdir.reset(fd);
      auto text = read_small_file(fd, history_file("clients", m_ledger_day).c_str(), k_max_file);
      if (text && *text) {
        std::string_view all = **text;
        size_t start = 0;
        while (start < all.size()) {
          size_t nl = all.find('\n', start);
          auto c = core::decode_client(all.substr(start, nl == std::string_view::npos ? nl : nl - start));
          if (c) {
            m_ledger[{c->tenant, c->address}] = *c;
          }
          if (nl == std::string_view::npos) {
            break;
          }
          start = nl + 1;
        }
      }
    }
  }
  this->observe();  // (the parameter of the same name is moved from)
  arm();
}

HistoryStore::~HistoryStore() = default;

int HistoryStore::dirfd() {
  if (m_hdir.valid() || !m_dir.valid()) {
    return m_hdir.get();
  }
  if (mkdirat(m_dir.fd(), k_history_dir, 0750) != 0 && errno != EEXIST) {
    if (!m_warned) {
      log_warn("history: cannot make %s/%s: %s", m_dir.path().c_str(), k_history_dir, std::strerror(errno));
      m_warned = true;
    }
    return -1;
  }
  m_hdir.reset(openat(m_dir.fd(), k_history_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  return m_hdir.get();
}

Result<void> HistoryStore::append(const std::string& name, const std::string& lines, bool fsync) {
  int d = dirfd();
  if (d < 0) {
    return unexpected(std::string("no history directory"));
  }
  sys::Fd fd(openat(d, name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640));
  if (!fd.valid()) {
    return unexpected(name + ": " + std::strerror(errno));
  }
  if (write(fd.get(), lines.data(), lines.size()) != static_cast<ssize_t>(lines.size()) ||
      (fsync && ::fsync(fd.get()) != 0)) {
    return unexpected(name + ": " + std::strerror(errno));
  }
  return {};
}

void HistoryStore::observe() {
  double now = mono_s();
  if (close_due(now)) {
    housekeeping();
    arm();  // clients may have come or gone: the timer follows
  }
  if (m_observe) {
    m_acc.add(m_observe(), now);
  }
}

bool HistoryStore::close_due(double now) {
  bool closed = false;
  // (Bounded: a loop starved for longer writes its last interval long, not thousands.)
  for (int i = 0; i < 1000 && now >= m_interval_start_mono + m_s.interval_s; ++i) {
    close_interval(m_interval_start_mono + m_s.interval_s, now, false);
    closed = true;
  }
  return closed;
}

void HistoryStore::close_interval(double end, double now, bool force_sync) {
  core::SyncInterval v = m_acc.finish(end, std::max<int64_t>(1, std::llround(end - m_interval_start_mono)));
  if (!m_acc.empty()) {
    bool sync = force_sync || v.synced_ms < v.observed_ms || end - m_last_sync_mono >= k_history_sync_s;
    if (sync) {
      m_last_sync_mono = end;
    }
    if (auto r = append(history_file("sync", day_of(v.start_s)), core::encode(v) + "\n", sync); !r && !m_warned) {
      log_warn("history: %s", r.error().c_str());
      m_warned = true;
    }
  }
  // The next interval starts where this one ended (whole seconds, so the lines tile
  // the day), unless the real clock was stepped meanwhile: then from the real clock.
  int64_t next_start = v.start_s + v.dur_s;
  int64_t real_start = real_s() - std::llround(now - end);
  m_acc.start(std::llabs(real_start - next_start) <= 2 ? next_start : real_start, end);
  m_interval_start_mono = end;
}

void HistoryStore::housekeeping() {
  snapshot_clients(real_s(), sys::monotonic_ns());
  write_clients();
  if (day_of(real_s()) != m_last_prune_day) {
    prune();
  }
}

void HistoryStore::arm() {
  double now = mono_s();
  double in = m_interval_start_mono + m_s.interval_s - now;
  if (m_seen.empty()) {
    // No client of our server in the last read: the NTP client's events close the
    // intervals (observe()); this timer only makes sure a silent daemon writes its
    // history at least hourly (and keeps the ledger and the pruning going).
    in = std::max(in, k_history_sync_s);
  }
  m_interval_timer.add(std::max(in, 0.0) + 0.001);
}

void HistoryStore::on_timer() {
  close_due(mono_s());
  housekeeping();
  arm();
}

void HistoryStore::flush() {
  double now = mono_s();
  close_due(now);
  if (m_observe) {
    m_acc.add(m_observe(), now);  // the state now closes the interval
  }
  close_interval(now, now, true);
  housekeeping();
  arm();
}

void HistoryStore::snapshot_clients(int64_t now_real_s, int64_t mono_ns) {
  if (!m_clients) {
    return;
  }
  int64_t today = day_of(now_real_s);
  if (today != m_ledger_day) {
    write_clients();  // the day that ended, complete
    m_ledger.clear();
    m_ledger_day = today;
  }
  int64_t day_start = today * 86400;
  auto to_real = [&](int64_t m) { return now_real_s - (mono_ns - m) / core::k_ns_per_s; };
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, uint64_t>> seen;
  m_clients([&](const std::string& tenant, const std::vector<core::ClientRecord>& recs) {
    for (const auto& r : recs) {
      core::IpAddr a = r.key.addr();
      std::string addr = a.is_v6() ? core::Prefix{a, 64}.to_string() : a.to_string();
      auto key = std::make_pair(tenant, addr);
      auto prev = m_seen.find(key);
      uint64_t delta = r.requests;
      if (prev != m_seen.end() && prev->second.first == r.first_seen_ns) {
        delta = r.requests >= prev->second.second ? r.requests - prev->second.second : r.requests;
      }
      seen[key] = {r.first_seen_ns, r.requests};
      int64_t last = to_real(r.last_seen_ns);
      if (delta == 0 || last < day_start) {
        continue;  // nothing new today
      }
      auto& c = m_ledger[key];
      if (c.address.empty()) {
        c = core::ClientDay{tenant, addr, std::max(day_start, to_real(r.first_seen_ns)), last, 0};
      }
      c.first_s = std::min(c.first_s, std::max(day_start, to_real(r.first_seen_ns)));
      c.last_s = std::max(c.last_s, last);
      c.requests += delta;
    }
  });
  m_seen = std::move(seen);
  if (m_ledger.size() > m_s.max_clients_per_day) {
    // Keep the most recently seen.
    std::vector<std::pair<int64_t, std::pair<std::string, std::string>>> by_age;
    for (const auto& [k, c] : m_ledger) {
      by_age.emplace_back(c.last_s, k);
    }
    std::sort(by_age.begin(), by_age.end());
    for (size_t i = 0; i + m_s.max_clients_per_day < by_age.size(); ++i) {
      m_ledger.erase(by_age[i].second);
    }
  }
}

void HistoryStore::write_clients() {
  if (m_ledger.empty()) {
    return;
  }
  int d = dirfd();
  if (d < 0) {
    return;
  }
  std::string text;
  for (const auto& [k, c] : m_ledger) {
    text += core::encode(c) + "\n";
  }
  if (auto r = write_file_atomic(d, history_file("clients", m_ledger_day).c_str(), text); !r && !m_warned) {
    log_warn("history: %s", r.error().c_str());
    m_warned = true;
  }
}

void HistoryStore::record_alert(const core::AlertTransition& a) {
  if (auto r = append(history_file("alerts", day_of(a.time_ns / core::k_ns_per_s)), core::encode(a) + "\n");
      !r && !m_warned) {
    log_warn("history: %s", r.error().c_str());
    m_warned = true;
  }
}

namespace {

struct Entry {
  std::string name;
  int64_t day;
  uint64_t size;
};

std::vector<Entry> list_files(int dirfd) {
  std::vector<Entry> out;
  int fd = dup(dirfd);
  if (fd < 0) {
    return out;
  }
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return out;
  }
  rewinddir(d);
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    auto day = file_day(name);
    struct stat st {};
    if (day && fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      out.push_back(Entry{name, *day, static_cast<uint64_t>(st.st_size)});
    }
  }
  closedir(d);
  return out;
}

}  // namespace

void HistoryStore::prune() {
  int d = dirfd();
  if (d < 0) {
    return;
  }
  int64_t today = day_of(real_s());
  m_last_prune_day = today;
  auto files = list_files(d);
  std::sort(files.begin(), files.end(), [](const Entry& a, const Entry& b) { return a.day < b.day; });
  uint64_t total = 0;
  for (const auto& f : files) {
    total += f.size;
  }
  size_t removed = 0;
  for (const auto& f : files) {
    bool too_old = f.day < today - static_cast<int64_t>(m_s.keep_days);
    bool too_big = total > m_s.max_size && f.day < today;
    if (!too_old && !too_big) {
      continue;
    }
    if (unlinkat(d, f.name.c_str(), 0) == 0) {
      total -= f.size;
      ++removed;
    }
  }
  if (removed) {
    log_info("history: %zu old file(s) removed (keep_days %u, max_size %llu bytes; %llu bytes now)", removed,
             m_s.keep_days, static_cast<unsigned long long>(m_s.max_size), static_cast<unsigned long long>(total));
  }
}

uint64_t HistoryStore::disk_bytes() const {
  uint64_t n = 0;
  if (m_hdir.valid()) {
    for (const auto& f : list_files(m_hdir.get())) {
      n += f.size;
    }
  }
  return n;
}

core::ReportInput HistoryStore::load(int64_t from_s, int64_t to_s) const {
  core::ReportInput in;
  in.from_s = from_s;
  in.to_s = to_s;
  if (!m_hdir.valid() || to_s <= from_s) {
    return in;
  }
  auto each_line = [&](const std::string& name, const auto& f) {
    auto text = read_small_file(m_hdir.get(), name.c_str(), k_max_file);
    if (!text || !*text) {
      return;
    }
    std::string_view all = **text;
    size_t start = 0;
    while (start < all.size()) {
      size_t nl = all.find('\n', start);
      f(all.substr(start, nl == std::string_view::npos ? nl : nl - start));
      if (nl == std::string_view::npos) {
        break;
      }
      start = nl + 1;
    }
  };
  int64_t first = day_of(from_s);
  int64_t last = day_of(to_s - 1);
  // No more days than are kept (a period from 1970 reads only what exists).
  first = std::max(first, day_of(real_s()) - static_cast<int64_t>(m_s.keep_days) - 1);
  for (int64_t day = first; day <= last; ++day) {
    each_line(history_file("sync", day), [&](std::string_view l) {
      if (auto v = core::decode_sync(l)) {
        in.intervals.push_back(std::move(*v));
      }
    });
    each_line(history_file("clients", day), [&](std::string_view l) {
      if (auto c = core::decode_client(l)) {
        in.clients.push_back(std::move(*c));
      }
    });
    each_line(history_file("alerts", day), [&](std::string_view l) {
      if (auto a = core::decode_alert(l)) {
        in.alerts.push_back(std::move(*a));
      }
    });
  }
  return in;
}

}  // namespace tr7::daemon
