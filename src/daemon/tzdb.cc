// System tzdata, read once at start (see tzdb.h).
#include "daemon/tzdb.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "ctl/command.h"
#include "daemon/log.h"
#include "sys/fd.h"

namespace tr7::daemon {

namespace {

constexpr size_t k_max_zones = 5000;
constexpr off_t k_max_tzif_bytes = 1 << 20;

// Reads a whole small file relative to dirfd, without following a final symlink out of
// the tree (zone links inside tzdata are usually hard links or relative symlinks; stat
// through the path is fine because the tree is root's).
bool read_small(int dirfd, const char* name, std::string& out) {
  sys::Fd fd(openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return false;
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > k_max_tzif_bytes || st.st_size < 44) {
    return false;
  }
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = read(fd.get(), out.data() + got, out.size() - got);
    if (n <= 0) {
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void TimezoneDb::load(const std::string& root) {
  m_rules.clear();
  std::vector<std::string> stack{""};
  size_t files = 0;
  while (!stack.empty() && m_rules.size() < k_max_zones && files < 4 * k_max_zones) {
    std::string rel = stack.back();
    stack.pop_back();
    std::string dir = rel.empty() ? root : root + "/" + rel;
    DIR* d = opendir(dir.c_str());
    if (!d) {
      continue;
    }
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.empty() || n[0] == '.' ||
          (rel.empty() && (n == "posix" || n == "right" || n == "localtime" || n == "posixrules" || n == "Factory"))) {
        continue;
      }
      std::string name = rel.empty() ? n : rel + "/" + n;
      struct stat st {};
      if (fstatat(dirfd(d), n.c_str(), &st, 0) != 0) {
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        if (std::count(name.begin(), name.end(), '/') < 4) {
          stack.push_back(name);
        }
        continue;
      }
      ++files;
      if (!ctl::valid_zone_name(name)) {
        continue;
      }
      std::string data;
      if (!read_small(dirfd(d), n.c_str(), data)) {
        continue;
      }
      auto footer = core::tzif_footer(data);
      if (!footer) {
        continue;
      }
      auto rule = core::parse_tz_rule(*footer);
      if (rule) {
        m_rules[name] = Entry{*footer, *rule};
      }
    }
    closedir(d);
  }
  if (!m_rules.count("UTC")) {
    m_rules["UTC"] = Entry{"UTC0", *core::parse_tz_rule("UTC0")};
  }
  log_debug("time zones: %zu loaded from %s", m_rules.size(), root.c_str());
}

std::vector<std::string> TimezoneDb::names() const {
  std::vector<std::string> out;
  out.reserve(m_rules.size());
  for (const auto& [k, v] : m_rules) {
    out.push_back(k);
  }
  return out;
}

std::optional<std::string> TimezoneDb::rule_text(const std::string& zone) const {
  auto it = m_rules.find(zone);
  if (it == m_rules.end()) {
    return std::nullopt;
  }
  return it->second.text;
}

core::LocalInfo TimezoneDb::local_info(const std::string& zone, core::Timestamp t) const {
  auto it = m_rules.find(zone);
  if (it == m_rules.end()) {
    return core::LocalInfo{0, false, "UTC"};
  }
  return core::local_info(it->second.rule, t);
}

std::string TimezoneDb::format_local(const std::string& zone, core::Timestamp t) const {
  return core::format_rfc3339(t, local_info(zone, t).utc_offset_s, true);
}

}  // namespace tr7::daemon
