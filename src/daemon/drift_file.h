// The drift file: the clock's frequency correction (ppm), kept across restarts.
//
// It lives in the state directory and is read and written through StateDir (so the same
// code works in the chrooted worker): atomically (temporary file with O_EXCL|O_NOFOLLOW,
// fsync, rename, fsync of the directory), never through a symlink. Read strictly: one
// finite number within
// +-k_max_drift_ppm (optionally followed by whitespace and a comment line); anything
// else is ignored with a warning (a garbage file must not steer the clock).
#pragma once

#include <optional>
#include <string>

#include "core/result.h"
#include "daemon/state_dir.h"

namespace tr7::daemon {

inline constexpr double k_max_drift_ppm = 500.0;

// Parses the text of a drift file; an error text when it is unusable.
tr7::Result<double> parse_drift(const std::string& text);
// Reads `name` in `dir`: nullopt and no warning when it does not exist; nullopt and a
// warning (in `warning`) when it is unreadable, not a regular file, or invalid.
std::optional<double> read_drift_file(const StateDir& dir, const std::string& name, std::string& warning);
// Writes atomically; an error text on failure (the old file is left as it was).
tr7::Result<void> write_drift_file(const StateDir& dir, const std::string& name, double ppm);

}  // namespace tr7::daemon
