#include "sys/seccomp.h"

#include <cerrno>
#include <string>
#include <system_error>
#include <vector>

namespace tr7::sys {

namespace {

[[noreturn]] void throw_rc(int rc, const std::string& what) {
  throw std::system_error(rc < 0 ? -rc : EINVAL, std::generic_category(), what);
}

}  // namespace

SeccompFilter::SeccompFilter(uint32_t default_action) : m_ctx(seccomp_init(default_action)) {
  if (!m_ctx) {
    throw std::system_error(ENOMEM, std::generic_category(), "seccomp_init");
  }
  // Calls from another ABI on the same machine hit the default action.
  int rc = seccomp_attr_set(m_ctx.get(), SCMP_FLTATR_ACT_BADARCH, default_action);
  if (rc < 0) {
    throw_rc(rc, "seccomp_attr_set");
  }
}

bool SeccompFilter::allow(const char* name) { return allow_if(name, {}); }

bool SeccompFilter::allow_if(const char* name, std::initializer_list<SysArg> conds) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) {
    return false;
  }
  std::vector<scmp_arg_cmp> cmp;
  for (const SysArg& c : conds) {
    scmp_arg_cmp a{};
    a.arg = c.arg;
    a.op = c.op;
    if (c.op == SCMP_CMP_MASKED_EQ) {
      a.datum_a = c.mask;
      a.datum_b = c.value;
    } else {
      a.datum_a = c.value;
    }
    cmp.push_back(a);
  }
  int rc = seccomp_rule_add_array(m_ctx.get(), SCMP_ACT_ALLOW, nr, static_cast<unsigned>(cmp.size()),
                                  cmp.empty() ? nullptr : cmp.data());
  if (rc < 0 && rc != -EEXIST) {  // the same rule twice is no error
    throw_rc(rc, std::string("seccomp_rule_add ") + name);
  }
  return true;
}

bool SeccompFilter::fail_with(const char* name, int err) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr == __NR_SCMP_ERROR) {
    return false;
  }
  int rc = seccomp_rule_add_array(m_ctx.get(), SCMP_ACT_ERRNO(static_cast<uint16_t>(err)), nr, 0, nullptr);
  if (rc < 0 && rc != -EEXIST) {
    throw_rc(rc, std::string("seccomp_rule_add ") + name);
  }
  return true;
}

void SeccompFilter::load() {
  int rc = seccomp_load(m_ctx.get());
  if (rc < 0) {
    throw_rc(rc, "seccomp_load");
  }
}

}  // namespace tr7::sys
