// Runtime state file (see runtime_state.h).
#include "daemon/runtime_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/strutil.h"
#include "core/tenant.h"
#include "ctl/command.h"
#include "ctl/protocol.h"
#include "sys/fd.h"

namespace tr7::daemon {

namespace {

const char* op_name(RuleOverride::Op op) {
  switch (op) {
    case RuleOverride::Op::Allow:
      return "allow";
    case RuleOverride::Op::Deny:
      return "deny";
    case RuleOverride::Op::Remove:
      return "remove";
  }
  return "?";
}

}  // namespace

std::string RuntimeState::encode() const {
  std::string out =
      "# tr7ntpd runtime state: changes made with tr7ntpc, applied over the configuration.\n"
      "# Written by tr7ntpd (atomically); change it with tr7ntpc, not by hand.\n";
  out += ctl::encode_record({{"version", "1"}}) + "\n";
  if (timezone) {
    out += ctl::encode_record({{"timezone", *timezone}}) + "\n";
  }
  for (const auto& r : rules) {
    out += ctl::encode_record({{"rule", r.prefix.to_string()}, {"action", op_name(r.op)}}) + "\n";
  }
  for (const auto& s : sources) {
    std::string opts;
    for (const auto& o : s.options) {
      opts += (opts.empty() ? "" : " ") + o;
    }
    out += ctl::encode_record({{"source", s.host}, {"options", opts}}) + "\n";
  }
  for (const auto& t : tenants) {
    std::string w;
    for (const auto& x : t.settings) {
      w += (w.empty() ? "" : " ") + x;
    }
    out += ctl::encode_record({{"tenant", t.name}, {"settings", w}}) + "\n";
  }
  return out;
}

Result<RuntimeState> RuntimeState::decode(std::string_view text) {
  RuntimeState st;
  int line_no = 0;
  bool version_seen = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    auto err = [&](const std::string& what) {
      return unexpected(std::string(k_state_file) + ":" + std::to_string(line_no) + ": " + what);
    };
    if (line.empty() || line[0] == '#') {
      continue;
    }
    auto rec = ctl::decode_record(line);
    if (!rec) {
      return err(rec.error());
    }
    if (rec->empty()) {
      continue;
    }
    const std::string& kind = (*rec)[0].first;
    const std::string& value = (*rec)[0].second;
    if (kind == "version") {
      if (value != "1" || rec->size() != 1) {
        return err("unsupported version '" + ctl::escape(value) + "'");
      }
      version_seen = true;
    } else if (!version_seen) {
      return err("version=1 must come first");
    } else if (kind == "timezone") {
      if (!ctl::valid_zone_name(value) || rec->size() != 1) {
        return err("bad timezone");
      }
      st.timezone = value;
    } else if (kind == "rule") {
      auto p = core::parse_prefix(value);
      const std::string* action = ctl::find(*rec, "action");
      if (!p || !action || rec->size() != 2) {
        return err("bad rule");
      }
      RuleOverride r{*p, RuleOverride::Op::Allow};
      if (*action == "allow") {
        r.op = RuleOverride::Op::Allow;
      } else if (*action == "deny") {
        r.op = RuleOverride::Op::Deny;
      } else if (*action == "remove") {
        r.op = RuleOverride::Op::Remove;
      } else {
        return err("bad rule action");
      }
      for (const auto& o : st.rules) {
        if (o.prefix == r.prefix) {
          return err("rule for " + r.prefix.to_string() + " given twice");
        }
      }
      st.rules.push_back(r);
    } else if (kind == "source") {
      const std::string* opts = ctl::find(*rec, "options");
      if (!ctl::valid_host_name(value) || !opts || rec->size() != 2) {
        return err("bad source");
      }
      SourceEntry s{value, core::split_words(*opts)};
      if (s.options.size() > ctl::k_max_options) {
        return err("too many source options");
      }
      st.sources.push_back(std::move(s));
    } else if (kind == "tenant") {
      const std::string* settings = ctl::find(*rec, "settings");
      if (!settings || rec->size() != 2) {
        return err("bad tenant");
      }
      TenantEntry t{value, core::split_words(*settings)};
      if (auto spec = core::parse_tenant_words(t.name, t.settings); !spec) {
        return err("tenant " + ctl::escape(value) + ": " + spec.error());
      }
      for (const auto& o : st.tenants) {
        if (o.name == t.name) {
          return err("tenant " + t.name + " given twice");
        }
      }
      st.tenants.push_back(std::move(t));
    } else {
      return err("unknown record '" + ctl::escape(kind) + "'");
    }
  }
  if (!version_seen && !text.empty()) {
    // Only comments: treat as empty.
  }
  return st;
}

core::AllowList RuntimeState::apply(const core::AllowList& base) const {
  core::AllowList out = base;
  for (const auto& r : rules) {
    out.remove(r.prefix);
    if (r.op != RuleOverride::Op::Remove) {
      out.add(core::AccessRule{r.prefix,
                               r.op == RuleOverride::Op::Allow ? core::AccessAction::Allow : core::AccessAction::Deny});
    }
  }
  return out;
}

void RuntimeState::set_rule(const core::Prefix& prefix, std::optional<core::AccessAction> action,
                            const core::AllowList& base) {
  rules.erase(std::remove_if(rules.begin(), rules.end(), [&](const RuleOverride& r) { return r.prefix == prefix; }),
              rules.end());
  std::optional<core::AccessAction> in_base;
  for (const auto& r : base.rules()) {
    if (r.prefix == prefix) {
      in_base = r.action;
    }
  }
  if (in_base == action) {
    return;  // the configuration already says so
  }
  RuleOverride o{prefix, RuleOverride::Op::Remove};
  if (action) {
    o.op = *action == core::AccessAction::Allow ? RuleOverride::Op::Allow : RuleOverride::Op::Deny;
  }
  rules.push_back(o);
}

bool RuntimeState::operator==(const RuntimeState& o) const { return encode() == o.encode(); }

Result<void> write_file_atomic(int dirfd, const char* name, std::string_view text) {
  std::string tmp = std::string(name) + ".tmp";
  auto fail = [&](const char* what) {
    int err = errno;
    unlinkat(dirfd, tmp.c_str(), 0);
    return unexpected(std::string(what) + " " + name + ": " + std::strerror(err));
  };
  // A stale temp file (a crash mid-write) is replaced; never follow a symlink.
  unlinkat(dirfd, tmp.c_str(), 0);
  sys::Fd fd(openat(dirfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0640));
  if (!fd.valid()) {
    return fail("cannot create the temporary file for");
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return fail("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) {
    return fail("cannot fsync");
  }
  if (close(fd.release()) != 0) {
    return fail("cannot close");
  }
  if (renameat(dirfd, tmp.c_str(), dirfd, name) != 0) {
    return fail("cannot rename into place");
  }
  if (fsync(dirfd) != 0) {
    return unexpected(std::string("cannot fsync the state directory: ") + std::strerror(errno));
  }
  return {};
}

Result<std::optional<std::string>> read_small_file(int dirfd, const char* name, size_t max_bytes) {
  sys::Fd fd(openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::optional<std::string>{};
    }
    return unexpected(std::string("cannot open ") + name + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return unexpected(std::string(name) + " is not a regular file");
  }
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return unexpected(std::string(name) + " is too large");
  }
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return unexpected(std::string("cannot read ") + name + ": " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return unexpected(std::string(name) + " is too large");
    }
  }
  return std::optional<std::string>(std::move(out));
}

}  // namespace tr7::daemon
