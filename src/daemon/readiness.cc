#include "daemon/readiness.h"

#include <unistd.h>

namespace tr7::daemon {

namespace {
void send_and_close(int& fd, const std::string& msg) noexcept {
  if (fd < 0) {
    return;
  }
  if (write(fd, msg.data(), msg.size()) < 0) {
    // the starting process is gone; nothing to tell
  }
  close(fd);
  fd = -1;
}
}  // namespace

void notify_ready(int& fd) noexcept { send_and_close(fd, "R"); }

void notify_failure(int& fd, const std::string& reason) noexcept {
  send_and_close(fd, "E" + reason.substr(0, 480));
}

}  // namespace tr7::daemon
