// The time zones the daemon can show local times in, read from the system tzdata once at
// start (before any chroot: the sandboxed worker never reads /usr/share/zoneinfo).
//
// For each zone only the TZif footer rule is kept (see core/tz.h): a few bytes per zone.
// Names are those of the files under the tzdata root that are TZif v2+ files, minus the
// "posix/" and "right/" copies and "localtime"/"posixrules"; Debian has about 600.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "core/tz.h"

namespace tr7::daemon {

class TimezoneDb {
 public:
  // Reads every zone under `root`; a missing tree gives a db with only "UTC".
  void load(const std::string& root = "/usr/share/zoneinfo");
  bool contains(const std::string& zone) const { return m_rules.count(zone) > 0; }
  std::vector<std::string> names() const;
  size_t size() const { return m_rules.size(); }
  // The footer rule text of a zone ("<+03>-3"), if known.
  std::optional<std::string> rule_text(const std::string& zone) const;
  // Local time information for `zone` at `t` (UTC for an unknown zone).
  core::LocalInfo local_info(const std::string& zone, core::Timestamp t) const;
  // RFC 3339 local time with the zone's offset at t.
  std::string format_local(const std::string& zone, core::Timestamp t) const;

 private:
  struct Entry {
    std::string text;
    core::TzRule rule;
  };
  std::map<std::string, Entry> m_rules;
};

}  // namespace tr7::daemon
