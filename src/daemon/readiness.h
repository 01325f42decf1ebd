// The readiness pipe between a detaching daemon and the process that started it: the
// daemon writes 'R' once it serves, or 'E' and the reason when start-up failed, so the
// starting process can exit 0, or print the reason and exit 1.
#pragma once

#include <string>

namespace tr7::daemon {

// Both close fd and set it to -1; no-ops when fd < 0.
void notify_ready(int& fd) noexcept;
void notify_failure(int& fd, const std::string& reason) noexcept;

}  // namespace tr7::daemon
