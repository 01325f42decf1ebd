// Capabilities (libcap): reduce this process to a fixed set. Thin wrapper, no policy:
// which capabilities each process keeps is decided in src/daemon/sandbox.cc.
#pragma once

#include <cstdint>
#include <span>

namespace tr7::sys {

// Removes from the bounding set every capability not in `keep` (capability numbers,
// CAP_*). Needs CAP_SETPCAP; returns false (and changes nothing) without it.
// Throws std::system_error if a drop fails.
bool limit_bounding_set(std::span<const int> keep);

// Sets permitted and effective to `keep` intersected with what is permitted now,
// inheritable to empty, and clears the ambient set. Throws std::system_error.
void limit_capabilities(std::span<const int> keep);

// The sets of this process as bit masks (bit n = capability n), from /proc-like capget.
struct CapSets {
  uint64_t effective = 0;
  uint64_t permitted = 0;
  uint64_t inheritable = 0;
};
CapSets current_capabilities();
// Bit n set when capability n is in the bounding set.
uint64_t bounding_set();

}  // namespace tr7::sys
