#include "sys/caps.h"

#include <sys/capability.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <system_error>

#include "sys/fd.h"

namespace tr7::sys {

namespace {

using CapPtr = std::unique_ptr<struct _cap_struct, CFree<cap_free>>;

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

bool kept(std::span<const int> keep, int c) { return std::find(keep.begin(), keep.end(), c) != keep.end(); }

}  // namespace

bool limit_bounding_set(std::span<const int> keep) {
  CapPtr cur(cap_get_proc());
  if (!cur) {
    throw_errno("cap_get_proc");
  }
  cap_flag_value_t setpcap = CAP_CLEAR;
  if (cap_get_flag(cur.get(), CAP_SETPCAP, CAP_EFFECTIVE, &setpcap) < 0) {
    throw_errno("cap_get_flag");
  }
  if (setpcap != CAP_SET) {
    return false;
  }
  int max = static_cast<int>(cap_max_bits());
  for (int c = 0; c < max; ++c) {
    if (!kept(keep, c) && cap_get_bound(c) == 1 && cap_drop_bound(c) < 0) {
      throw_errno("cap_drop_bound");
    }
  }
  return true;
}

void limit_capabilities(std::span<const int> keep) {
  CapPtr cur(cap_get_proc());
  CapPtr want(cap_init());
  if (!cur || !want) {
    throw_errno("cap_get_proc");
  }
  for (int c : keep) {
    cap_flag_value_t v = CAP_CLEAR;
    if (cap_get_flag(cur.get(), c, CAP_PERMITTED, &v) == 0 && v == CAP_SET) {
      cap_value_t cv = c;
      if (cap_set_flag(want.get(), CAP_PERMITTED, 1, &cv, CAP_SET) < 0 ||
          cap_set_flag(want.get(), CAP_EFFECTIVE, 1, &cv, CAP_SET) < 0) {
        throw_errno("cap_set_flag");
      }
    }
  }
  // The ambient set must be emptied first: it may only hold what stays permitted.
  if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0) {
    throw_errno("cap_reset_ambient");
  }
  if (cap_set_proc(want.get()) < 0) {
    throw_errno("cap_set_proc");
  }
}

CapSets current_capabilities() {
  CapSets s;
  CapPtr cur(cap_get_proc());
  if (!cur) {
    throw_errno("cap_get_proc");
  }
  int max = std::min(64, static_cast<int>(cap_max_bits()));
  for (int c = 0; c < max; ++c) {
    cap_flag_value_t v = CAP_CLEAR;
    if (cap_get_flag(cur.get(), c, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET) {
      s.effective |= 1ULL << c;
    }
    if (cap_get_flag(cur.get(), c, CAP_PERMITTED, &v) == 0 && v == CAP_SET) {
      s.permitted |= 1ULL << c;
    }
    if (cap_get_flag(cur.get(), c, CAP_INHERITABLE, &v) == 0 && v == CAP_SET) {
      s.inheritable |= 1ULL << c;
    }
  }
  return s;
}

uint64_t bounding_set() {
  uint64_t m = 0;
  int max = std::min(64, static_cast<int>(cap_max_bits()));
  for (int c = 0; c < max; ++c) {
    if (cap_get_bound(c) == 1) {
      m |= 1ULL << c;
    }
  }
  return m;
}

}  // namespace tr7::sys
