// Landlock scoping (see landlock.h). The kernel headers of the build (Debian 12: Linux
// 6.1) predate the scope field, so the ABI's own layout is declared here.
#include "sys/landlock.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace tr7::sys {

namespace {

// struct landlock_ruleset_attr as of ABI 6 (include/uapi/linux/landlock.h).
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;
  uint64_t scoped;
};
constexpr uint32_t k_create_ruleset_version = 1U << 0;  // LANDLOCK_CREATE_RULESET_VERSION
constexpr uint64_t k_scope_abstract_unix = 1ULL << 0;   // LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
constexpr uint64_t k_scope_signal = 1ULL << 1;          // LANDLOCK_SCOPE_SIGNAL
constexpr int k_abi_scopes = 6;

}  // namespace

int landlock_abi() {
  long v = syscall(SYS_landlock_create_ruleset, nullptr, 0, k_create_ruleset_version);
  return v > 0 ? static_cast<int>(v) : 0;
}

int landlock_scope_abstract_unix_and_signals() {
  if (landlock_abi() < k_abi_scopes) {
    return EOPNOTSUPP;
  }
  RulesetAttr attr{0, 0, k_scope_abstract_unix | k_scope_signal};
  long fd = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (fd < 0) {
    return errno;
  }
  long rc = syscall(SYS_landlock_restrict_self, static_cast<int>(fd), 0);
  int err = errno;
  close(static_cast<int>(fd));
  return rc == 0 ? 0 : err;
}

}  // namespace tr7::sys
