// Drift file reading and atomic writing (see drift_file.h).
#include "daemon/drift_file.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/strutil.h"

namespace tr7::daemon {

tr7::Result<double> parse_drift(const std::string& text) {
  if (text.size() > 256) {
    return tr7::unexpected(std::string("too long for a drift file"));
  }
  std::string first = text.substr(0, text.find('\n'));
  auto words = core::split_words(first);
  if (words.empty()) {
    return tr7::unexpected(std::string("empty"));
  }
  auto v = core::parse_double(words[0], -k_max_drift_ppm, k_max_drift_ppm);
  if (!v) {
    return tr7::unexpected("frequency: " + v.error());
  }
  return *v;
}

std::optional<double> read_drift_file(const StateDir& dir, const std::string& name, std::string& warning) {
  warning.clear();
  if (!dir.valid()) {
    warning = name + ": no state directory (ignored)";
    return std::nullopt;
  }
  int err = 0;
  auto text = dir.read(name, 300, err);
  if (!text) {
    if (err != ENOENT) {
      warning = name + ": cannot read: " + std::strerror(err) + " (ignored)";
    }
    return std::nullopt;
  }
  auto v = parse_drift(*text);
  if (!v) {
    warning = name + ": " + v.error() + " (ignored, starting from 0 ppm)";
    return std::nullopt;
  }
  return *v;
}

tr7::Result<void> write_drift_file(const StateDir& dir, const std::string& name, double ppm) {
  if (!std::isfinite(ppm) || std::fabs(ppm) > k_max_drift_ppm) {
    return tr7::unexpected(std::string("frequency out of range, not saved"));
  }
  if (!dir.valid()) {
    return tr7::unexpected(std::string("no state directory"));
  }
  char text[64];
  std::snprintf(text, sizeof text, "%.6f\n", ppm);
  if (int err = dir.write_atomic(name, text); err != 0) {
    return tr7::unexpected("cannot write " + name + ": " + std::strerror(err));
  }
  return {};
}

}  // namespace tr7::daemon
