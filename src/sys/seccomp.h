// A seccomp filter under construction (libseccomp), as an RAII object. Thin wrapper: the
// allow lists themselves are in src/daemon/sandbox.cc.
#pragma once

#include <seccomp.h>

#include <cstdint>
#include <initializer_list>
#include <memory>

#include "sys/fd.h"

namespace tr7::sys {

using SeccompCtx = std::unique_ptr<void, CFree<seccomp_release>>;

// One argument condition: argument `arg` (0..5) compared with `op` against `value`
// (SCMP_CMP_MASKED_EQ: (arg & mask) == value).
struct SysArg {
  unsigned arg;
  scmp_compare op;
  uint64_t value;
  uint64_t mask = 0;
};

class SeccompFilter {
 public:
  // default_action: what every call not allowed gets (SCMP_ACT_KILL_PROCESS). Only the
  // native architecture is in the filter, so calls through another ABI (x32, int 0x80)
  // get the default action too. Throws std::system_error.
  explicit SeccompFilter(uint32_t default_action);

  // Allows a system call by name, unconditionally. A name this architecture does not
  // have is skipped (returns false).
  bool allow(const char* name);
  // Allows it when all conditions hold; several rules for one call are alternatives.
  bool allow_if(const char* name, std::initializer_list<SysArg> conds);
  // Makes a system call fail with `err` instead (e.g. ENOSYS, so that the C library
  // falls back to an older call the filter can inspect). Returns false as allow() does.
  bool fail_with(const char* name, int err);
  // Loads the filter into the kernel (needs NO_NEW_PRIVS or CAP_SYS_ADMIN). The filter
  // stays for the life of the process and is inherited by its children.
  void load();

 private:
  SeccompCtx m_ctx;
};

}  // namespace tr7::sys
