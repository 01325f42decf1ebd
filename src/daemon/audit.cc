// The audit trail (see audit.h).
#include "daemon/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/privsep.h"
#include "core/tz.h"
#include "ctl/status.h"
#include "daemon/log.h"
#include "daemon/tzdb.h"

namespace tr7::daemon {

namespace {

// One process: the file itself.
class FileSink final : public AuditSink {
 public:
  explicit FileSink(AuditFile f) : m_file(std::move(f)) {}
  bool ready() const override { return m_file.is_open(); }
  Result<void> write_line(std::string_view line) override { return m_file.append(line); }
  Result<void> reopen() override { return m_file.open(); }
  Result<void> open() { return m_file.open(); }

 private:
  AuditFile m_file;
};

}  // namespace

AuditLog::~AuditLog() = default;

Result<void> AuditLog::open(int state_dirfd, uint64_t max_bytes, unsigned keep) {
  m_state_dirfd = state_dirfd;
  auto dir = open_audit_dir(state_dirfd, false);
  if (!dir) {
    return unexpected(dir.error());
  }
  auto sink = std::make_unique<FileSink>(AuditFile(std::move(*dir), max_bytes, keep));
  auto o = sink->open();
  m_sink = std::move(sink);
  return o;
}

void AuditLog::use_sink(std::unique_ptr<AuditSink> sink, int state_dirfd) {
  m_sink = std::move(sink);
  m_state_dirfd = state_dirfd;
}

Result<void> AuditLog::reopen() {
  if (!m_sink) {
    return unexpected(std::string("no audit log (state directory unavailable)"));
  }
  return m_sink->reopen();
}

namespace {

std::string cut(const std::string& v, size_t max = k_audit_value_max) {
  if (v.size() <= max) {
    return v;
  }
  std::string s = v.substr(0, max);
  return s + " ...(" + std::to_string(v.size() - max) + " bytes cut)";
}

}  // namespace

std::string AuditLog::format(const AuditEntry& e, core::Timestamp now) const {
  // A record is one message to the helper: its values are cut until it fits.
  std::string line;
  for (size_t max = k_audit_value_max; max >= 64; max /= 2) {
    line = format_cut(e, now, max);
    if (line.size() <= core::privsep::k_max_audit_record) {
      break;
    }
  }
  return line;
}

std::string AuditLog::format_cut(const AuditEntry& e, core::Timestamp now, size_t max) const {
  ctl::JsonObject o;
  o.str("time_utc", core::format_rfc3339(now));
  o.str("time_local", m_tz.format_local(m_zone, now));
  o.str("zone", m_zone);
  if (e.who.known) {
    o.num("uid", static_cast<long long>(e.who.uid));
    o.num("gid", static_cast<long long>(e.who.gid));
    o.num("pid", static_cast<long long>(e.who.pid));
  } else {
    o.null("uid").null("gid").null("pid");
  }
  o.str("via", e.who.via);
  o.str("command", cut(e.command, max));
  o.str("before", cut(e.before, max));
  o.str("after", cut(e.after, max));
  o.str("result", cut(e.result, max));
  return o.done();
}

Result<void> AuditLog::append(const AuditEntry& e, core::Timestamp now) {
  std::string line = format(e, now);
  log_info("audit: %s", line.c_str());
  if (!m_sink) {
    return unexpected(std::string("no audit log (state directory unavailable)"));
  }
  if (auto w = m_sink->write_line(line); !w) {
    log_err("%s", w.error().c_str());
    return w;
  }
  ++m_records;
  return {};
}

bool AuditLog::take_token(int64_t mono_ns) {
  if (!m_refill_started) {
    m_refill_started = true;
    m_last_refill_ns = mono_ns;
  }
  double add = static_cast<double>(mono_ns - m_last_refill_ns) / 1e9 / k_refusal_interval_s;
  if (add > 0) {
    m_tokens = std::min<double>(k_refusal_burst, m_tokens + add);
    m_last_refill_ns = mono_ns;
  }
  if (m_tokens >= 1.0) {
    m_tokens -= 1.0;
    return true;
  }
  return false;
}

void AuditLog::flush_suppressed(core::Timestamp now, int64_t mono_ns) {
  if (m_suppressed == 0 || !take_token(mono_ns)) {
    return;
  }
  AuditEntry s;
  s.who.via = "daemon";
  s.command = "(refusals not recorded one by one)";
  s.result =
      "refused: " + std::to_string(m_suppressed) + " more refused commands (rate limit), e.g. " + m_suppressed_example;
  m_suppressed = 0;
  m_suppressed_example.clear();
  if (!append(s, now)) {
    // Logged by append(); nothing else to do.
  }
}

void AuditLog::refusal(const AuditEntry& e, core::Timestamp now, int64_t mono_ns) {
  flush_suppressed(now, mono_ns);
  if (m_suppressed > 0 || !take_token(mono_ns)) {
    ++m_suppressed;
    ++m_suppressed_total;
    if (m_suppressed_example.empty()) {
      m_suppressed_example =
          "uid " + std::to_string(e.who.uid) + " pid " + std::to_string(e.who.pid) + ": " + e.command.substr(0, 80);
    }
    return;
  }
  if (!append(e, now)) {
    // Logged by append().
  }
}

Result<void> AuditLog::clock_step(double step_s, std::string_view reason, core::Timestamp now) {
  AuditEntry e;
  e.who.via = "ntp";
  e.command = "clock step";
  e.before = "";
  e.after = "step_s=" + ctl::format_double(step_s);
  e.result = "ok: " + std::string(reason);
  return append(e, now);
}

Result<void> AuditLog::correction_held(int64_t id, double offset_s, double tolerance_s, core::Timestamp now) {
  AuditEntry e;
  e.who.via = "ntp";
  e.command = "correction held";
  e.after = "id=" + std::to_string(id) + " offset_s=" + ctl::format_double(offset_s) +
            " tolerance_s=" + ctl::format_double(tolerance_s);
  e.result = "held: waiting for approve " + std::to_string(id);
  return append(e, now);
}

Result<void> AuditLog::correction_released(int64_t id, double offset_s, std::string_view how, core::Timestamp now) {
  AuditEntry e;
  e.who.via = "ntp";
  e.command = "correction released";
  e.before = "id=" + std::to_string(id) + " offset_s=" + ctl::format_double(offset_s);
  e.result = "ok: " + std::string(how);
  return append(e, now);
}

Result<std::vector<std::vector<ctl::JsonField>>> AuditLog::tail(size_t n) const {
  std::vector<std::vector<ctl::JsonField>> out;
  if (m_state_dirfd < 0) {
    return unexpected(std::string("no audit log (state directory unavailable)"));
  }
  // The current file (it may have been rotated since the last call), read only.
  sys::Fd rd(openat(m_state_dirfd, k_audit_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!rd.valid()) {
    if (errno == ENOENT) {
      return out;  // nothing recorded yet
    }
    return unexpected(std::string("cannot read the audit log: ") + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(rd.get(), &st) != 0) {
    return unexpected(std::string("cannot stat the audit log: ") + std::strerror(errno));
  }
  // Read backwards in chunks until n complete lines are in hand (or 16 MiB were read).
  constexpr size_t k_chunk = 65536;
  constexpr off_t k_max_read = 16 << 20;
  off_t end = st.st_size;
  off_t pos = end;
  std::string buf;
  while (pos > 0 && end - pos < k_max_read) {
    size_t want = static_cast<size_t>(std::min<off_t>(pos, k_chunk));
    pos -= static_cast<off_t>(want);
    std::string chunk(want, '\0');
    ssize_t got = pread(rd.get(), chunk.data(), want, pos);
    if (got != static_cast<ssize_t>(want)) {
      return unexpected(std::string("cannot read the audit log"));
    }
    buf.insert(0, chunk);
    if (static_cast<size_t>(std::count(buf.begin(), buf.end(), '\n')) > n) {
      break;
    }
  }
  std::vector<std::string_view> lines;
  std::string_view all(buf);
  // Without the start of the file in hand, the first piece may be a partial line.
  bool first_partial = pos > 0;
  size_t start = 0;
  while (start < all.size()) {
    size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) {
      break;  // a line being written (or cut by a failed write): not a record
    }
    if (!first_partial) {
      lines.push_back(all.substr(start, nl - start));
    }
    first_partial = false;
    start = nl + 1;
  }
  size_t from = lines.size() > n ? lines.size() - n : 0;
  for (size_t i = from; i < lines.size(); ++i) {
    auto obj = ctl::parse_flat_object(lines[i]);
    if (obj) {
      out.push_back(std::move(*obj));
    }
  }
  return out;
}

}  // namespace tr7::daemon
