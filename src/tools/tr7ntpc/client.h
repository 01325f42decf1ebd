// tr7ntpc's connection to the control socket: blocking, with a deadline on every wait.
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "ctl/protocol.h"
#include "sys/fd.h"

namespace tr7::tools {

struct ClientError {
  bool unreachable = true;  // exit status 3 (vs a protocol error: also 3, said differently)
  std::string text;
  // Nothing listens on the socket: it does not exist (ENOENT) or is left over from a
  // daemon that stopped (ECONNREFUSED). Exit status 4, "tr7ntpd is not running".
  bool not_running = false;
};

class CtlClient {
 public:
  // Connects and reads the greeting.
  Result<void, ClientError> connect(const std::string& path, double timeout_s);
  // Sends one command line and waits for its reply.
  Result<ctl::Reply, ClientError> call(const std::string& line);
  const std::string& server() const { return m_server; }

 private:
  Result<std::string, ClientError> read_line();
  sys::Fd m_fd;
  double m_timeout_s = 10;
  std::string m_buf;
  std::string m_server;
};

}  // namespace tr7::tools
