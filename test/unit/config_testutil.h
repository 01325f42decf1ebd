// Helpers shared by the configuration unit tests: a text parsed as file "t.conf" is
// either accepted (its Config returned) or refused with an error that names a line.
#pragma once

#include <string>
#include <utility>

#include "daemon/config.h"
#include "testutil.h"

namespace config_test {

// Expects the text to be refused with an error that names `line` and contains `what`.
inline void refused(const std::string& text, int line, const char* what) {
  auto r = tr7::daemon::parse_config_text(text, "t.conf");
  if (r.has_value()) {
    fail_msg("accepted:\n%s", text.c_str());
  }
  std::string want = "t.conf:" + std::to_string(line) + ": ";
  std::string all;
  for (const auto& e : r.error()) {
    if (e.rfind(want, 0) == 0 && e.find(what) != std::string::npos) {
      return;
    }
    all += e + "\n";
  }
  fail_msg("expected '%s...%s', got:\n%s", want.c_str(), what, all.c_str());
}

// Expects the text to be accepted; returns what it configures.
inline tr7::daemon::Config accepted(const std::string& text) {
  auto r = tr7::daemon::parse_config_text(text, "t.conf");
  if (!r.has_value()) {
    std::string all;
    for (const auto& e : r.error()) {
      all += e + "\n";
    }
    fail_msg("refused:\n%s", all.c_str());
  }
  return std::move(r.value());
}

}  // namespace config_test
