// Runtime changes made through the control socket, kept in <state_dir>/runtime.state and
// applied on top of the configuration file at start and after every reload.
//
// The file is a list of ctl records (tr7ntp-control(7) syntax), one per line:
//   version=1
//   timezone=Europe/Istanbul
//   rule=10.0.0.0/8 action=allow        (allow | deny | remove: a config rule deleted)
//   source=ntp1.example.net options=iburst%20minpoll%204
//   tenant=acme settings=netns%20acme%20listen%2010.20.0.1:123   (`tenant add`)
// It is only ever written whole and atomically (temp file, fsync, rename, fsync of the
// directory), relative to the state directory's fd. A file that does not parse is not
// applied at all: the daemon logs why and renames it to runtime.state.bad.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/allowlist.h"
#include "core/result.h"

namespace tr7::daemon {

inline constexpr const char* k_state_file = "runtime.state";

struct RuleOverride {
  enum class Op { Allow, Deny, Remove };
  core::Prefix prefix;
  Op op = Op::Allow;
};

struct SourceEntry {
  std::string host;
  std::vector<std::string> options;
};

// A tenant added with `tenant add`: its name and settings words (core::tenant_words).
struct TenantEntry {
  std::string name;
  std::vector<std::string> settings;
  bool operator==(const TenantEntry& o) const { return name == o.name && settings == o.settings; }
};

struct RuntimeState {
  std::optional<std::string> timezone;
  std::vector<RuleOverride> rules;  // at most one per prefix
  std::vector<SourceEntry> sources;
  std::vector<TenantEntry> tenants;

  std::string encode() const;
  static Result<RuntimeState> decode(std::string_view text);

  // `base` (the configuration's rules) with the overrides applied.
  core::AllowList apply(const core::AllowList& base) const;
  // Records that `prefix` should end up with `action` (or no rule), given the
  // configuration's rules `base`: the override is dropped when the base already says so.
  void set_rule(const core::Prefix& prefix, std::optional<core::AccessAction> action, const core::AllowList& base);
  bool operator==(const RuntimeState& o) const;
};

// Atomic write of `text` to `name` in the directory `dirfd` (temp, fsync, rename, fsync dir).
Result<void> write_file_atomic(int dirfd, const char* name, std::string_view text);
// Reads `name` in `dirfd`: nullopt if it does not exist.
Result<std::optional<std::string>> read_small_file(int dirfd, const char* name, size_t max_bytes);

}  // namespace tr7::daemon
