// The audit trail (see audit.h).
#include "daemon/audit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

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
  uint64_t rotations() const override { return m_file.rotations(); }
  Result<void> open() { return m_file.open(); }

 private:
  AuditFile m_file;
};

// Room left in a record for the seal (seq, node, prev_hash, hash: about 200 bytes and
// the node name, at most 64).
constexpr size_t k_seal_room = 512;

// Scans fd backwards, newest line first, until `stop` returns true for a complete line
// or the start is reached. Linear: each byte is read and split once. Returns the number
// of bytes after the last newline (a torn write; 0 if none).
off_t scan_back(int fd, const std::function<bool(std::string_view)>& stop) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    return 0;
  }
  constexpr size_t k_chunk = 65536;
  off_t pos = st.st_size;
  std::string carry;  // the start of a line whose beginning is not read yet
  off_t torn = -1;
  while (pos > 0) {
    size_t want = static_cast<size_t>(std::min<off_t>(pos, k_chunk));
    pos -= static_cast<off_t>(want);
    std::string chunk(want, '\0');
    if (pread(fd, chunk.data(), want, pos) != static_cast<ssize_t>(want)) {
      return 0;
    }
    chunk += carry;
    size_t end = chunk.size();
    if (torn < 0) {
      size_t last_nl = chunk.rfind('\n');
      if (last_nl == std::string::npos && pos > 0) {
        carry = std::move(chunk);
        continue;
      }
      torn = static_cast<off_t>(last_nl == std::string::npos ? chunk.size() : chunk.size() - last_nl - 1);
      end = last_nl == std::string::npos ? 0 : last_nl;
    }
    // Complete lines in [0, end): from the newest; the piece before the first newline
    // is complete only at the start of the file.
    while (true) {
      size_t nl = end == 0 ? std::string::npos : chunk.rfind('\n', end - 1);
      if (nl == std::string::npos) {
        break;
      }
      if (stop(std::string_view(chunk).substr(nl + 1, end - nl - 1))) {
        return torn;
      }
      end = nl;
    }
    carry = chunk.substr(0, end);
    if (pos == 0 && !carry.empty() && stop(carry)) {
      return torn;
    }
  }
  return torn < 0 ? 0 : torn;
}

std::string rotated_name(unsigned i) { return std::string(k_audit_file) + "." + std::to_string(i); }

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
  load_chain();
  return o;
}

void AuditLog::use_sink(std::unique_ptr<AuditSink> sink, int state_dirfd) {
  m_sink = std::move(sink);
  m_state_dirfd = state_dirfd;
  load_chain();
}

Result<void> AuditLog::reopen() {
  if (!m_sink) {
    return unexpected(std::string("no audit log (state directory unavailable)"));
  }
  auto r = m_sink->reopen();
  load_chain();
  return r;
}

void AuditLog::load_chain() {
  // The chain goes on from the last sealed record: of audit.log, or of the newest
  // rotated one when audit.log is new. A reopen (SIGHUP) keeps what this process wrote
  // when the files say less (an outside rotation leaves a new, empty audit.log). The
  // writer (AuditFile) has cut a torn last line off when it opened the file.
  if (m_state_dirfd < 0) {
    return;
  }
  std::optional<core::ChainState> found;
  for (const std::string& name : {std::string(k_audit_file), rotated_name(1)}) {
    int fd = openat(m_state_dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
      continue;
    }
    sys::Fd file(fd);
    scan_back(fd, [&found](std::string_view line) {
      if (auto l = core::check_record(line)) {
        found = core::ChainState{l->seq, l->hash};
        return true;
      }
      return false;
    });
    if (found) {
      break;
    }
  }
  if (found && found->seq >= m_chain.seq) {
    m_chain = *found;
  }
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
    if (line.size() + k_seal_room <= core::privsep::k_max_audit_record) {
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
  if (!m_sink) {
    log_info("audit: %s", format(e, now).c_str());
    ++m_write_failures;
    set_failing(true);
    return unexpected(std::string("no audit log (state directory unavailable)"));
  }
  core::ChainState next = m_chain;
  std::string line = core::seal_record(next, m_node, format(e, now));
  log_info("audit: %s", line.c_str());
  if (auto w = m_sink->write_line(line); !w) {
    log_err("%s", w.error().c_str());
    ++m_write_failures;
    set_failing(true);
    return w;
  }
  m_chain = next;
  set_failing(false);
  ++m_records;
  return {};
}

void AuditLog::set_failing(bool f) {
  bool changed = f != m_failing;
  m_failing = f;
  if (changed && m_on_failing_change) {
    m_on_failing_change();
  }
}

std::string AuditLog::for_each_line(const std::function<bool(const std::string&, std::string_view, uint64_t)>& f,
                                    std::vector<std::string>* files) const {
  // The rotated files present (.1, .2, ... up to the first missing one), oldest first.
  std::vector<std::string> names;
  for (unsigned i = 1; i <= 10000; ++i) {
    struct stat st {};
    if (fstatat(m_state_dirfd, rotated_name(i).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      break;
    }
    names.insert(names.begin(), rotated_name(i));
  }
  names.emplace_back(k_audit_file);
  for (const auto& name : names) {
    int fd = openat(m_state_dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
      return "cannot open " + name + ": " + std::strerror(errno);
    }
    sys::Fd file(fd);
    if (files) {
      files->push_back(name);
    }
    std::string buf(1 << 16, '\0');
    std::string pending;
    uint64_t lineno = 0;
    off_t pos = 0;
    while (true) {
      ssize_t n = pread(fd, buf.data(), buf.size(), pos);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return "cannot read " + name + ": " + std::strerror(errno);
      }
      if (n == 0) {
        break;
      }
      pos += n;
      pending.append(buf.data(), static_cast<size_t>(n));
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!f(name, std::string_view(pending).substr(start, nl - start), ++lineno)) {
          return {};
        }
      }
      pending.erase(0, start);
    }
    // A line without its newline is being written, or was torn: not a record.
  }
  return {};
}

AuditVerdict AuditLog::verify() const {
  AuditVerdict v;
  if (m_state_dirfd < 0) {
    v.error = "no audit log (state directory unavailable)";
    return v;
  }
  core::ChainVerifier cv;
  v.error = for_each_line(
      [&cv](const std::string& file, std::string_view line, uint64_t lineno) {
        cv.line(line, file, lineno);
        return true;
      },
      &v.files);
  cv.finish(m_chain);
  v.chain = cv.report();
  return v;
}

std::vector<core::AuditLine> AuditLog::between(int64_t from_ns, int64_t to_ns, size_t max) const {
  std::vector<core::AuditLine> out;
  if (m_state_dirfd < 0) {
    return out;
  }
  for_each_line([&](const std::string&, std::string_view line, uint64_t) {
    auto obj = ctl::parse_flat_object(line);
    if (!obj) {
      return true;
    }
    core::AuditLine a;
    bool timed = false;
    for (const auto& f : *obj) {
      if (f.key == "time_utc" && f.is_string) {
        if (auto t = ctl::parse_rfc3339(f.value)) {
          a.time_ns = t->ns;
          timed = true;
        }
      } else if (f.key == "command" && f.is_string) {
        a.command = f.value;
      }
    }
    if (timed && a.time_ns >= from_ns && a.time_ns < to_ns) {
      a.json = std::string(line);
      out.push_back(std::move(a));
    }
    return out.size() < max;
  });
  return out;
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

namespace {

Result<std::vector<std::vector<ctl::JsonField>>> tail_of(int fd, size_t n) {
  std::vector<std::vector<ctl::JsonField>> out;
  struct stat st {};
  if (fstat(fd, &st) != 0) {
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
    ssize_t got = pread(fd, chunk.data(), want, pos);
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

}  // namespace

Result<std::vector<std::vector<ctl::JsonField>>> AuditLog::tail(size_t n) const {
  if (m_state_dirfd < 0) {
    return unexpected(std::string("no audit log (state directory unavailable)"));
  }
  // The current file (it may have been rotated since the last call), read only.
  sys::Fd rd(openat(m_state_dirfd, k_audit_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!rd.valid()) {
    if (errno == ENOENT) {
      return std::vector<std::vector<ctl::JsonField>>{};  // nothing recorded yet
    }
    return unexpected(std::string("cannot read the audit log: ") + std::strerror(errno));
  }
  auto out = tail_of(rd.get(), n);
  if (!out || out->size() >= n) {
    return out;
  }
  // Just rotated: the rest from the newest rotated file.
  sys::Fd older(openat(m_state_dirfd, rotated_name(1).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!older.valid()) {
    return out;
  }
  auto more = tail_of(older.get(), n - out->size());
  if (more) {
    more->insert(more->end(), out->begin(), out->end());
    return more;
  }
  return out;
}

}  // namespace tr7::daemon
