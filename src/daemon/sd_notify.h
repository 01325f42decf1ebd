// The systemd notification protocol (sd_notify(3)) without libsystemd: one datagram per
// message to the AF_UNIX socket named by $NOTIFY_SOCKET (a path, or "@name" for the
// abstract namespace).
//
// The socket is opened and connected at start-up, before any fork, chroot or seccomp
// filter: the worker's chroot cannot see /run/systemd/notify, but a connected datagram
// socket needs no path lookup to send, and send(2) is in the worker's allow list. Under
// privilege separation the worker (not the main process) sends, so the unit says
// NotifyAccess=all (contrib/tr7ntpd.service.in).
#pragma once

#include <memory>
#include <string>

#include "sys/fd.h"

namespace tr7::daemon {

class SdNotifier {
 public:
  // From $NOTIFY_SOCKET; nullptr when it is unset, empty or cannot be connected (then
  // logged: systemd will time the start out, which says more than we could). Unsets
  // the variable, so nothing this process starts sends in our name.
  static std::unique_ptr<SdNotifier> from_environment();
  // A socket already connected (tests).
  explicit SdNotifier(sys::Fd fd) : m_fd(std::move(fd)) {}

  // One message, e.g. "READY=1\nSTATUS=unsynchronised". False if it could not be sent
  // (logged once).
  bool send(const std::string& msg);
  // The connected socket (handed to the re-executed worker, privsep.h).
  int fd() const { return m_fd.get(); }

 private:
  sys::Fd m_fd;
  bool m_warned = false;
};

}  // namespace tr7::daemon
