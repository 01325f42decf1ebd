// The drift file: the clock's frequency correction (ppm), kept across restarts.
//
// Written atomically: a temporary file in the same directory (O_EXCL|O_NOFOLLOW),
// fsync, rename over the old file, fsync of the directory; a crash leaves either the
// old or the new file, never a torn one. Read strictly: one finite number within
// +-k_max_drift_ppm (optionally followed by whitespace and a comment line); anything
// else is ignored with a warning (a garbage file must not steer the clock).
#pragma once

#include <optional>
#include <string>

#include "core/result.h"

namespace tr7::daemon {

inline constexpr double k_max_drift_ppm = 500.0;

// Parses the text of a drift file; an error text when it is unusable.
tr7::Result<double> parse_drift(const std::string& text);
// Reads `path`: nullopt and no warning when it does not exist; nullopt and a warning
// (in `warning`) when it is unreadable or invalid.
std::optional<double> read_drift_file(const std::string& path, std::string& warning);
// Writes atomically; an error text on failure (the old file is left as it was).
tr7::Result<void> write_drift_file(const std::string& path, double ppm);

}  // namespace tr7::daemon
