// Parsing of replies and the client side of the protocol (see snapshot.h).
#include "tools/tr7top/snapshot.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/strutil.h"
#include "tools/tr7top/format.h"

namespace tr7::top {

namespace {

// Field access with type checks. An absent field keeps the default; a present one must
// parse. Errors name the field, for the status line.
class Fields {
 public:
  explicit Fields(const ctl::Record& r) : m_r(r) {}

  void str(std::string_view key, std::string& out) const {
    if (const std::string* v = ctl::find(m_r, key)) {
      out = clean(*v);
    }
  }
  // Doubles as ctl::format_double writes them, including nan/inf; "" keeps `out`.
  void num(std::string_view key, double& out) {
    const std::string* v = ctl::find(m_r, key);
    if (!v || v->empty()) {
      return;
    }
    if (*v == "nan") {
      out = NAN;
      return;
    }
    if (*v == "inf" || *v == "-inf") {
      out = *v == "inf" ? HUGE_VAL : -HUGE_VAL;
      return;
    }
    errno = 0;
    char* end = nullptr;
    double d = std::strtod(v->c_str(), &end);
    if (end != v->c_str() + v->size() || errno == ERANGE || v->size() > 40) {
      bad(key, *v);
      return;
    }
    out = d;
  }
  template <class I>
  void integer(std::string_view key, I& out, int64_t min, int64_t max) {
    const std::string* v = ctl::find(m_r, key);
    if (!v || v->empty()) {
      return;
    }
    auto n = core::parse_int(*v, min, max);
    if (!n) {
      bad(key, *v);
      return;
    }
    out = static_cast<I>(*n);
  }
  void counter(std::string_view key, uint64_t& out) {
    const std::string* v = ctl::find(m_r, key);
    if (!v || v->empty()) {
      return;
    }
    if (v->size() > 20 || v->find_first_not_of("0123456789") != std::string::npos ||
        (v->size() > 1 && (*v)[0] == '0')) {
      bad(key, *v);
      return;
    }
    errno = 0;
    unsigned long long n = std::strtoull(v->c_str(), nullptr, 10);
    if (errno == ERANGE) {
      bad(key, *v);
      return;
    }
    out = n;
  }
  void time(std::string_view key, core::Timestamp& out) {
    const std::string* v = ctl::find(m_r, key);
    if (!v || v->empty()) {
      return;
    }
    auto t = ctl::parse_rfc3339(*v);
    if (!t) {
      bad(key, *v);
      return;
    }
    out = *t;
  }
  void refid(std::string_view key, uint32_t& out) {
    const std::string* v = ctl::find(m_r, key);
    if (!v || v->empty()) {
      return;
    }
    std::string_view h = *v;
    if (h.substr(0, 2) == "0x" || h.substr(0, 2) == "0X") {
      h.remove_prefix(2);
    }
    if (h.empty() || h.size() > 8 || h.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) {
      bad(key, *v);
      return;
    }
    out = static_cast<uint32_t>(std::strtoul(std::string(h).c_str(), nullptr, 16));
  }
  bool yes(std::string_view key, bool dflt) const {
    const std::string* v = ctl::find(m_r, key);
    return v ? (*v == "yes" || *v == "true" || *v == "1") : dflt;
  }
  bool has(std::string_view key) const {
    const std::string* v = ctl::find(m_r, key);
    return v && !v->empty();
  }

  Result<void> status() const {
    if (m_error.empty()) {
      return {};
    }
    return unexpected(m_error);
  }

 private:
  void bad(std::string_view key, std::string_view v) {
    if (m_error.empty()) {
      m_error = "bad value for " + std::string(key) + ": '" + clean(v, 40) + "'";
    }
  }
  const ctl::Record& m_r;
  std::string m_error;
};

template <class T>
Result<T> done(const Fields& f, T v) {
  if (auto s = f.status(); !s) {
    return unexpected(s.error());
  }
  return v;
}

}  // namespace

Result<ctl::TrackingStatus> parse_tracking(const ctl::Record& r) {
  Fields f(r);
  ctl::TrackingStatus t;
  f.str("state", t.state);
  t.synchronised = f.yes("synchronised", t.state == "synchronised" || t.state == "local");
  f.integer("stratum", t.stratum, 0, 255);
  f.refid("ref_id", t.ref_id);
  f.str("ref_name", t.ref_name);
  f.time("reference_time_utc", t.reference_time);
  f.num("offset_s", t.offset_s);
  f.num("last_offset_s", t.last_offset_s);
  f.num("rms_offset_s", t.rms_offset_s);
  f.num("freq_ppm", t.freq_ppm);
  f.num("residual_freq_ppm", t.residual_freq_ppm);
  f.num("skew_ppm", t.skew_ppm);
  f.num("root_delay_s", t.root_delay_s);
  f.num("root_dispersion_s", t.root_dispersion_s);
  f.num("update_interval_s", t.update_interval_s);
  f.str("leap", t.leap);
  f.str("clock_mode", t.clock_mode);
  if (f.has("held_id") || f.has("held_offset_s")) {
    ctl::HeldCorrection h;
    f.integer("held_id", h.id, 0, INT64_MAX);
    f.num("held_offset_s", h.offset_s);
    f.time("held_since_utc", h.since);
    t.held = h;
  }
  return done(f, std::move(t));
}

Result<ctl::SourceStatus> parse_source(const ctl::Record& r) {
  Fields f(r);
  ctl::SourceStatus s;
  f.str("name", s.name);
  f.str("address", s.address);
  f.str("mode", s.mode);
  f.str("state", s.state);
  f.integer("stratum", s.stratum, 0, 255);
  f.integer("poll", s.poll, -30, 30);
  if (const std::string* v = ctl::find(r, "reach"); v && !v->empty()) {
    int reach = parse_reach(*v);
    if (reach < 0) {
      return unexpected("bad value for reach: '" + clean(*v, 40) + "'");
    }
    s.reach = static_cast<uint8_t>(reach);
  }
  f.num("last_rx_ago_s", s.last_rx_ago_s);
  f.num("offset_s", s.offset_s);
  f.num("delay_s", s.delay_s);
  f.num("jitter_s", s.jitter_s);
  f.num("error_s", s.error_s);
  return done(f, std::move(s));
}

Result<ServerCounters> parse_server_counters(const ctl::Record& r) {
  Fields f(r);
  ServerCounters c;
  f.str("tenant", c.tenant);
  if (c.tenant.empty()) {
    f.str("name", c.tenant);
  }
  f.counter("received", c.received);
  f.counter("answered", c.answered);
  f.counter("kod_rate", c.kod_rate);
  f.counter("kod_deny", c.kod_deny);
  f.counter("leaked", c.leaked);
  f.counter("dropped", c.dropped);
  f.counter("send_errors", c.send_errors);
  for (const auto& [k, v] : r) {
    if (k.size() > 8 && k.compare(0, 8, "dropped_") == 0) {
      uint64_t n = 0;
      f.counter(k, n);
      c.dropped_by_reason[k.substr(8)] = n;
    }
  }
  if (f.has("clients")) {
    uint64_t n = 0;
    f.counter("clients", n);
    c.clients = n;
  }
  if (f.has("client_capacity")) {
    uint64_t n = 0;
    f.counter("client_capacity", n);
    c.client_capacity = n;
  }
  return done(f, std::move(c));
}

Result<ZoneInfo> parse_zone(const ctl::Record& r) {
  Fields f(r);
  ZoneInfo z;
  f.str("zone", z.zone);
  f.str("rule", z.rule);
  f.str("abbreviation", z.abbreviation);
  f.integer("utc_offset_s", z.utc_offset_s, -24 * 3600, 24 * 3600);
  if (z.zone.empty()) {
    return unexpected(std::string("timezone reply without a zone"));
  }
  return done(f, std::move(z));
}

Result<DaemonAlert> parse_daemon_alert(const ctl::Record& r) {
  Fields f(r);
  DaemonAlert a;
  std::string state;
  f.str("alert", a.alert);
  f.str("subject", a.subject);
  f.str("state", state);
  f.str("severity", a.severity);
  f.str("message", a.message);
  if (const std::string* t = ctl::find(r, "fired_utc"); t && !t->empty()) {
    if (auto ts = ctl::parse_rfc3339(*t)) {
      a.fired = *ts;
    }
  }
  if (a.alert.empty() || (state != "firing" && state != "resolved")) {
    return unexpected(std::string("alerts reply without alert or state"));
  }
  a.firing = state == "firing";
  a.alert = clean(a.alert, 40);
  a.subject = clean(a.subject, 64);
  a.message = clean(a.message, 200);
  return done(f, std::move(a));
}

const char* query_line(Query q) {
  switch (q) {
    case Query::Help:
      return "help";
    case Query::Tracking:
      return "tracking";
    case Query::Sources:
      return "sources";
    case Query::ServerStats:
      return "serverstats";
    case Query::Tenants:
      return "tenants";
    case Query::Timezone:
      return "timezone get";
    case Query::Alerts:
      return "alerts";
  }
  return "help";
}

std::string Conversation::start_cycle() {
  m_cur = Snapshot{};
  m_pending.clear();
  if (m_need_help) {
    m_pending.push_back(Query::Help);
    m_need_help = false;
  }
  m_pending.insert(m_pending.end(), {Query::Tracking, Query::Sources, Query::ServerStats, Query::Timezone});
  if (m_ask_tenants) {
    m_pending.push_back(Query::Tenants);
  }
  if (m_ask_alerts) {
    m_pending.push_back(Query::Alerts);
  }
  std::string text;
  for (Query q : m_pending) {
    text += query_line(q);
    text += '\n';
  }
  return text;
}

std::vector<Conversation::Event> Conversation::feed(std::string_view bytes) {
  std::vector<Event> out;
  if (m_failed) {
    return out;
  }
  m_buf.append(bytes);
  size_t pos = 0;
  while (!m_failed) {
    size_t nl = m_buf.find('\n', pos);
    if (nl == std::string::npos) {
      break;
    }
    std::string_view line(m_buf.data() + pos, nl - pos);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    on_line(line, out);
    pos = nl + 1;
  }
  m_buf.erase(0, pos);
  if (!m_failed && m_buf.size() > ctl::k_max_reply_line) {
    m_failed = true;
    out.push_back(Event{Event::Kind::Fatal, "reply line longer than the protocol allows", {}});
  }
  return out;
}

void Conversation::on_line(std::string_view line, std::vector<Event>& out) {
  if (!m_greeted) {
    auto v = ctl::parse_greeting(line);
    if (!v) {
      m_failed = true;
      out.push_back(Event{Event::Kind::Fatal, v.error(), {}});
      return;
    }
    if (*v != ctl::k_protocol_version) {
      m_failed = true;
      out.push_back(
          Event{Event::Kind::Fatal, "the daemon speaks protocol version " + std::to_string(*v) + ", not 1", {}});
      return;
    }
    auto words = core::split_words(line);
    m_version = words.size() >= 3 ? clean(words[2], 64) : "tr7ntpd";
    m_greeted = true;
    out.push_back(Event{Event::Kind::Greeting, m_version, {}});
    return;
  }
  auto r = m_reader.feed_line(line);
  if (!r) {
    m_failed = true;
    out.push_back(Event{Event::Kind::Fatal, r.error().text, {}});
    return;
  }
  if (r->has_value()) {
    if (m_pending.empty()) {
      // A reply nobody asked for: the "busy" refusal comes this way (seq 1 right after
      // the greeting), so keep its text.
      m_failed = true;
      std::string why = (*r)->ok ? "unexpected reply" : clean((*r)->error.text, 200);
      out.push_back(Event{Event::Kind::Fatal, "daemon: " + why, {}});
      return;
    }
    on_reply(std::move(**r), out);
  }
}

namespace {

ReplyError reply_error(const ctl::Reply& r) { return ReplyError{r.error.code, clean(r.error.text, 200)}; }
ReplyError bad_reply(const std::string& what) { return ReplyError{ctl::ErrCode::Failed, "bad reply: " + what}; }

}  // namespace

void Conversation::on_reply(ctl::Reply&& r, std::vector<Event>& out) {
  Query q = m_pending.front();
  m_pending.erase(m_pending.begin());
  auto records = [&]() -> Result<std::vector<ctl::Record>, ReplyError> {
    if (!r.ok) {
      return unexpected(reply_error(r));
    }
    std::vector<ctl::Record> v;
    for (const auto& l : r.lines) {
      auto rec = ctl::decode_record(l);
      if (!rec) {
        return unexpected(bad_reply(rec.error()));
      }
      v.push_back(std::move(*rec));
    }
    return v;
  }();
  switch (q) {
    case Query::Help:
      if (records) {
        for (const auto& rec : *records) {
          const std::string* c = ctl::find(rec, "command");
          if (c && *c == "tenants") {
            m_ask_tenants = true;
          }
          if (c && *c == "alerts") {
            m_ask_alerts = true;
          }
        }
      }
      break;
    case Query::Tracking:
      if (!records) {
        m_cur.tracking = unexpected(records.error());
      } else if (records->size() != 1) {
        m_cur.tracking = unexpected(bad_reply("tracking is not one record"));
      } else if (auto t = parse_tracking(records->front()); !t) {
        m_cur.tracking = unexpected(bad_reply(t.error()));
      } else {
        m_cur.tracking = std::move(*t);
      }
      break;
    case Query::Sources:
      if (!records) {
        m_cur.sources = unexpected(records.error());
      } else {
        std::vector<ctl::SourceStatus> v;
        for (const auto& rec : *records) {
          auto s = parse_source(rec);
          if (!s) {
            m_cur.sources = unexpected(bad_reply(s.error()));
            break;
          }
          v.push_back(std::move(*s));
        }
        if (m_cur.sources) {
          m_cur.sources = std::move(v);
        }
      }
      break;
    case Query::ServerStats:
      if (!records) {
        m_cur.server = unexpected(records.error());
      } else if (records->size() != 1) {
        m_cur.server = unexpected(bad_reply("serverstats is not one record"));
      } else if (auto c = parse_server_counters(records->front()); !c) {
        m_cur.server = unexpected(bad_reply(c.error()));
      } else {
        m_cur.server = std::move(*c);
        m_cur.server->tenant.clear();
      }
      break;
    case Query::Tenants:
      if (!r.ok && r.error.code == ctl::ErrCode::UnknownCommand) {
        m_ask_tenants = false;  // this daemon has no tenants: do not ask again
      } else if (!records) {
        m_cur.tenants = unexpected(records.error());
      } else {
        std::vector<ServerCounters> v;
        bool ok = true;
        for (const auto& rec : *records) {
          auto c = parse_server_counters(rec);
          if (!c) {
            m_cur.tenants = unexpected(bad_reply(c.error()));
            ok = false;
            break;
          }
          v.push_back(std::move(*c));
        }
        if (ok) {
          m_cur.tenants = std::move(v);
        }
      }
      break;
    case Query::Alerts:
      if (!r.ok && r.error.code == ctl::ErrCode::UnknownCommand) {
        m_ask_alerts = false;
      } else if (!records) {
        m_cur.alerts = unexpected(records.error());
      } else {
        std::vector<DaemonAlert> v;
        bool ok = true;
        for (const auto& rec : *records) {
          auto a = parse_daemon_alert(rec);
          if (!a) {
            m_cur.alerts = unexpected(bad_reply(a.error()));
            ok = false;
            break;
          }
          v.push_back(std::move(*a));
        }
        if (ok) {
          m_cur.alerts = std::move(v);
        }
      }
      break;
    case Query::Timezone:
      if (records && records->size() == 1) {
        if (auto z = parse_zone(records->front())) {
          m_cur.zone = std::move(*z);
        }
      }
      break;
  }
  if (m_pending.empty()) {
    out.push_back(Event{Event::Kind::Snapshot, {}, std::move(m_cur)});
    m_cur = Snapshot{};
  }
}

}  // namespace tr7::top
