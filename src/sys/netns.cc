#include "sys/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

namespace tr7::sys {

Fd open_netns(std::string_view name) {
  Fd dir(open(k_netns_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    throw std::system_error(errno, std::generic_category(), std::string("open ") + k_netns_dir);
  }
  std::string n(name);
  Fd ns(openat(dir.get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!ns.valid()) {
    throw std::system_error(errno, std::generic_category(), std::string("open ") + k_netns_dir + "/" + n);
  }
  return ns;
}

uint64_t netns_inode(std::string_view name) {
  Fd ns = open_netns(name);
  struct stat st {};
  if (fstat(ns.get(), &st) < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "fstat " + std::string(k_netns_dir) + "/" + std::string(name));
  }
  return static_cast<uint64_t>(st.st_ino);
}

Fd open_udp_in_netns(std::string_view name, const core::SockAddr& addr, int self) {
  UdpOptions opt;
  opt.timestamps = false;  // the receiver sets what it needs
  opt.pktinfo = false;
  if (name.empty()) {
    return open_udp(addr, opt);
  }
  Fd ns = open_netns(name);
  // setns checks that the descriptor is a network namespace (EINVAL otherwise).
  if (setns(ns.get(), CLONE_NEWNET) < 0) {
    throw std::system_error(errno, std::generic_category(), "setns " + std::string(name));
  }
  Fd sock;
  std::system_error failure(0, std::generic_category());
  bool failed = false;
  try {
    sock = open_udp(addr, opt);
  } catch (const std::system_error& e) {
    failure = e;
    failed = true;
  }
  if (setns(self, CLONE_NEWNET) < 0) {
    throw NetnsStuck("cannot return to the own network namespace: " + std::string(std::strerror(errno)));
  }
  if (failed) {
    throw failure;
  }
  return sock;
}

}  // namespace tr7::sys
