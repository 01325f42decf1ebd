// The compliance history and its report (see history.h).
#include "core/history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/strutil.h"

namespace tr7::core {

namespace {

constexpr int k_max_bucket = 160;  // 1 ns * 2^40: far beyond any offset served

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.12g", v);
  return buf;
}

Result<double> real(std::string_view s) {
  auto d = parse_double(s, -1e300, 1e300);
  if (!d) {
    return unexpected(d.error());
  }
  return *d;
}

Result<int64_t> integer(std::string_view s) { return parse_int(s, INT64_MIN / 2, INT64_MAX / 2); }

// Splits "a,b,c" (empty and "-" give nothing).
std::vector<std::string_view> items(std::string_view s) {
  std::vector<std::string_view> out;
  if (s.empty() || s == "-") {
    return out;
  }
  size_t start = 0;
  while (true) {
    size_t c = s.find(',', start);
    out.push_back(s.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start));
    if (c == std::string_view::npos) {
      return out;
    }
    start = c + 1;
  }
}

bool plain_word(std::string_view w) {
  if (w.empty() || w.size() > 255) {
    return false;
  }
  for (char c : w) {
    if (static_cast<unsigned char>(c) <= ' ' || c == ',' || c == 0x7F) {
      return false;
    }
  }
  return true;
}

}  // namespace

int offset_bucket(double a) {
  if (!(a > 1e-9)) {
    return 0;
  }
  int b = static_cast<int>(std::floor(4 * std::log2(a / 1e-9)));
  return std::clamp(b, 0, k_max_bucket);
}

double bucket_upper_s(int b) { return 1e-9 * std::exp2((b + 1) / 4.0); }

void IntervalAccumulator::start(int64_t start_s, double mono_s) {
  m_cur = SyncInterval{start_s};
  m_last_mono = mono_s;
}

void IntervalAccumulator::credit(double until) {
  if (!m_last || until <= m_last_mono) {
    m_last_mono = std::max(m_last_mono, until);
    return;
  }
  auto ms = static_cast<uint64_t>(std::llround((until - m_last_mono) * 1000));
  m_last_mono = until;
  if (ms == 0) {
    return;
  }
  const SyncObservation& o = *m_last;
  m_cur.observed_ms += ms;
  if (!o.synced || !std::isfinite(o.offset_s)) {
    return;
  }
  m_cur.synced_ms += ms;
  double a = std::fabs(o.offset_s);
  m_cur.max_abs_offset_s = std::max(m_cur.max_abs_offset_s, a);
  if (std::isfinite(o.root_distance_s)) {
    m_cur.max_root_distance_s = std::max(m_cur.max_root_distance_s, o.root_distance_s);
  }
  m_cur.hist[offset_bucket(a)] += ms;
  if (!o.source.empty()) {
    for (auto& s : m_cur.sources) {
      if (s.address == o.source) {
        s.selected_ms += ms;
        s.stratum = o.stratum;
        return;
      }
    }
    m_cur.sources.push_back(SourceShare{o.source, o.stratum, ms});
  }
}

void IntervalAccumulator::add(const SyncObservation& o, double mono_s) {
  credit(mono_s);
  m_last = o;
  m_last_mono = mono_s;
}

SyncInterval IntervalAccumulator::finish(double mono_s, int64_t dur_s) {
  credit(mono_s);
  SyncInterval v = m_cur;
  v.dur_s = dur_s;
  return v;
}

std::string encode(const SyncInterval& v) {
  std::string hist;
  for (const auto& [b, n] : v.hist) {
    hist += (hist.empty() ? "" : ",") + std::to_string(b) + ":" + std::to_string(n);
  }
  std::string src;
  for (const auto& s : v.sources) {
    src += (src.empty() ? "" : ",") + s.address + "/" + std::to_string(s.stratum) + "/" + std::to_string(s.selected_ms);
  }
  return "S1 " + std::to_string(v.start_s) + " " + std::to_string(v.dur_s) + " " + std::to_string(v.observed_ms) + " " +
         std::to_string(v.synced_ms) + " " + num(v.max_abs_offset_s) + " " + num(v.max_root_distance_s) + " " +
         (hist.empty() ? "-" : hist) + " " + (src.empty() ? "-" : src);
}

Result<SyncInterval> decode_sync(std::string_view line) {
  auto w = split_words(line);
  if (w.size() != 9 || w[0] != "S1") {
    return unexpected(std::string("not a sync record"));
  }
  SyncInterval v;
  auto start = integer(w[1]);
  auto dur = parse_int(w[2], 0, 86400);
  auto observed = parse_int(w[3], 0, 86400'000);
  auto synced = parse_int(w[4], 0, 86400'000);
  auto off = real(w[5]);
  auto dist = real(w[6]);
  if (!start || !dur || !observed || !synced || !off || !dist || *synced > *observed) {
    return unexpected(std::string("bad sync record"));
  }
  v.start_s = *start;
  v.dur_s = *dur;
  v.observed_ms = static_cast<uint64_t>(*observed);
  v.synced_ms = static_cast<uint64_t>(*synced);
  v.max_abs_offset_s = *off;
  v.max_root_distance_s = *dist;
  for (auto it : items(w[7])) {
    size_t c = it.find(':');
    if (c == std::string_view::npos) {
      return unexpected(std::string("bad histogram"));
    }
    auto b = parse_int(it.substr(0, c), 0, k_max_bucket);
    auto n = parse_int(it.substr(c + 1), 0, INT64_MAX / 2);
    if (!b || !n) {
      return unexpected(std::string("bad histogram"));
    }
    v.hist[static_cast<int>(*b)] += static_cast<uint64_t>(*n);
  }
  for (auto it : items(w[8])) {
    size_t a = it.rfind('/');
    size_t b = a == std::string_view::npos || a == 0 ? std::string_view::npos : it.rfind('/', a - 1);
    if (b == std::string_view::npos) {
      return unexpected(std::string("bad source share"));
    }
    auto st = parse_int(it.substr(b + 1, a - b - 1), 0, 255);
    auto n = parse_int(it.substr(a + 1), 0, INT64_MAX / 2);
    if (!st || !n) {
      return unexpected(std::string("bad source share"));
    }
    v.sources.push_back(SourceShare{std::string(it.substr(0, b)), static_cast<int>(*st), static_cast<uint64_t>(*n)});
  }
  return v;
}

std::string encode(const ClientDay& c) {
  return "C1 " + c.tenant + " " + c.address + " " + std::to_string(c.first_s) + " " + std::to_string(c.last_s) + " " +
         std::to_string(c.requests);
}

Result<ClientDay> decode_client(std::string_view line) {
  auto w = split_words(line);
  if (w.size() != 6 || w[0] != "C1" || !plain_word(w[1]) || !plain_word(w[2])) {
    return unexpected(std::string("not a client record"));
  }
  auto first = integer(w[3]);
  auto last = integer(w[4]);
  auto req = parse_int(w[5], 0, INT64_MAX / 2);
  if (!first || !last || !req) {
    return unexpected(std::string("bad client record"));
  }
  return ClientDay{w[1], w[2], *first, *last, static_cast<uint64_t>(*req)};
}

std::string encode(const AlertTransition& a) {
  return "A1 " + std::to_string(a.time_ns) + " " + a.alert + " " + (a.subject.empty() ? "-" : a.subject) + " " +
         (a.firing ? "firing" : "resolved") + " " + num(a.value) + " " + num(a.threshold);
}

Result<AlertTransition> decode_alert(std::string_view line) {
  auto w = split_words(line);
  if (w.size() != 7 || w[0] != "A1" || !plain_word(w[2]) || !plain_word(w[3]) ||
      (w[4] != "firing" && w[4] != "resolved")) {
    return unexpected(std::string("not an alert record"));
  }
  auto t = integer(w[1]);
  auto v = real(w[5]);
  auto th = real(w[6]);
  if (!t || !v || !th) {
    return unexpected(std::string("bad alert record"));
  }
  return AlertTransition{*t, w[2], w[3] == "-" ? std::string() : w[3], w[4] == "firing", *v, *th};
}

Report make_report(const ReportInput& in) {
  Report r;
  r.from_s = in.from_s;
  r.to_s = in.to_s;
  r.node = in.node;
  r.config_sha256 = in.config_sha256;
  double period = static_cast<double>(std::max<int64_t>(1, in.to_s - in.from_s));

  // Sync: the observed and synchronised time of the intervals that start in the period.
  double covered = 0, synced = 0;
  std::map<int, uint64_t> hist;
  std::map<std::string, ReportSource> sources;
  std::map<std::string, uint64_t> selected;
  for (const auto& v : in.intervals) {
    if (v.start_s < in.from_s || v.start_s >= in.to_s || v.observed_ms == 0) {
      continue;
    }
    covered += static_cast<double>(v.observed_ms) / 1000;
    synced += static_cast<double>(v.synced_ms) / 1000;
    r.max_abs_offset_s = std::max(r.max_abs_offset_s, v.max_abs_offset_s);
    r.max_root_distance_s = std::max(r.max_root_distance_s, v.max_root_distance_s);
    for (const auto& [b, n] : v.hist) {
      hist[b] += n;
    }
    for (const auto& s : v.sources) {
      sources[s.address].address = s.address;
      sources[s.address].stratum = s.stratum;
      selected[s.address] += s.selected_ms;
    }
  }
  r.observed_s = covered;
  r.coverage_fraction = std::min(1.0, covered / period);
  r.synchronised_fraction = std::min(1.0, synced / period);
  uint64_t total = 0;
  for (const auto& [b, n] : hist) {
    total += n;
  }
  uint64_t need = total - total / 100;  // 99 % of the synchronised time is at or below
  uint64_t cum = 0;
  for (const auto& [b, n] : hist) {
    cum += n;
    if (cum >= need && total > 0) {
      r.p99_abs_offset_s = std::min(bucket_upper_s(b), r.max_abs_offset_s);
      break;
    }
  }
  for (auto& [a, s] : sources) {
    s.selected_fraction = covered > 0 ? static_cast<double>(selected[a]) / 1000 / covered : 0;
    r.sources.push_back(s);
  }
  std::sort(r.sources.begin(), r.sources.end(),
            [](const ReportSource& a, const ReportSource& b) { return a.selected_fraction > b.selected_fraction; });

  // Clients: the days that overlap the period, merged per tenant and address.
  std::map<std::string, std::map<std::string, ReportClient>> by_tenant;
  auto wanted = [&](const std::string& t) { return !in.tenant || *in.tenant == t; };
  for (const auto& t : in.tenants) {
    if (wanted(t)) {
      by_tenant[t];
    }
  }
  for (const auto& c : in.clients) {
    if (c.last_s < in.from_s || c.first_s >= in.to_s || !wanted(c.tenant)) {
      continue;
    }
    auto& m = by_tenant[c.tenant];
    auto it = m.find(c.address);
    if (it == m.end()) {
      m.emplace(c.address, ReportClient{c.address, c.first_s, c.last_s, c.requests});
    } else {
      it->second.first_s = std::min(it->second.first_s, c.first_s);
      it->second.last_s = std::max(it->second.last_s, c.last_s);
      it->second.requests += c.requests;
    }
  }
  for (auto& [name, m] : by_tenant) {
    ReportTenant t;
    t.name = name;
    t.clients_distinct = m.size();
    for (auto& [a, c] : m) {
      t.requests += c.requests;
      t.clients.push_back(c);
    }
    if (t.clients.size() > in.max_clients) {
      std::partial_sort(t.clients.begin(), t.clients.begin() + static_cast<long>(in.max_clients), t.clients.end(),
                        [](const ReportClient& a, const ReportClient& b) { return a.requests > b.requests; });
      t.clients.resize(in.max_clients);
      t.clients_truncated = true;
      std::sort(t.clients.begin(), t.clients.end(),
                [](const ReportClient& a, const ReportClient& b) { return a.address < b.address; });
    }
    r.tenants.push_back(std::move(t));
  }

  int64_t from_ns = in.from_s * 1'000'000'000;
  int64_t to_ns = in.to_s * 1'000'000'000;
  for (const auto& a : in.audit) {
    if (a.time_ns < from_ns || a.time_ns >= to_ns) {
      continue;
    }
    r.changes.push_back(a);
    if (a.command == "correction held") {
      ++r.corrections_held;
    } else if (a.command == "correction released") {
      ++r.corrections_released;
    } else if (a.command == "approve" || a.command.rfind("approve ", 0) == 0) {
      r.approvals += a.json.find("\"result\":\"ok") != std::string::npos;
    }
  }
  for (const auto& a : in.alerts) {
    // With a tenant: the tenant's own alerts and the daemon-wide ones, not other tenants'.
    bool other_tenant = in.tenant && a.alert == "tenant_down" && a.subject != *in.tenant;
    if (a.time_ns >= from_ns && a.time_ns < to_ns && !other_tenant) {
      r.alerts.push_back(a);
    }
  }
  return r;
}

}  // namespace tr7::core
