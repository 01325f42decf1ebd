#include "daemon/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "daemon/log.h"

namespace tr7::daemon {

std::unique_ptr<SdNotifier> SdNotifier::from_environment() {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') {
    return nullptr;
  }
  std::string name = env;
  unsetenv("NOTIFY_SOCKET");
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if ((name[0] != '/' && name[0] != '@') || name.size() >= sizeof a.sun_path) {
    log_warn("NOTIFY_SOCKET=%s: not a socket path or @abstract name; not notifying systemd", name.c_str());
    return nullptr;
  }
  std::memcpy(a.sun_path, name.data(), name.size());
  if (name[0] == '@') {
    a.sun_path[0] = '\0';  // the abstract namespace; the name is not NUL-terminated
  }
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/' ? 1 : 0));
  sys::Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<const sockaddr*>(&a), len) < 0) {
    log_warn("NOTIFY_SOCKET=%s: %s; not notifying systemd", name.c_str(), std::strerror(errno));
    return nullptr;
  }
  return std::make_unique<SdNotifier>(std::move(fd));
}

bool SdNotifier::send(const std::string& msg) {
  if (::send(m_fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(msg.size())) {
    m_warned = false;
    return true;
  }
  if (!m_warned) {
    log_warn("sd_notify: %s", std::strerror(errno));
    m_warned = true;
  }
  return false;
}

}  // namespace tr7::daemon
