// tr7ntpd.conf: INI (parsed with inih), validated whole.
//
// A file is accepted only if every line is valid; otherwise the result is the list of
// errors, each "file:line: what is wrong", and nothing of the file is used (also on
// reload). See tr7ntpd.conf(5) for every key.
//
// inih is driven through ini_parse_stream() with our own line reader, which is what gives
// us line numbers and lets us refuse what inih would silently accept or mangle: lines
// longer than its buffer (it truncates them), NUL bytes (it ends the line there),
// invalid UTF-8, indented lines (it would glue them to the previous key), section names
// it would truncate, and a BOM anywhere but at the start.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/allowlist.h"
#include "core/client_table.h"
#include "core/netaddr.h"
#include "core/result.h"
#include "daemon/log.h"

namespace tr7::daemon {

enum class ClockMode { Kernel, None };
const char* to_string(ClockMode m);

struct DaemonSettings {
  ClockMode clock = ClockMode::Kernel;
  std::string state_dir = "/var/lib/tr7ntp";
  LogLevel log_level = LogLevel::Info;
};

struct ServerSettings {
  std::vector<core::SockAddr> listen;
  core::AllowList access;
  core::RateLimitParams ratelimit;  // enabled only when `ratelimit` is given
  bool deny_kod = false;
  size_t max_clients = 65536;
  std::optional<uint8_t> local_stratum;  // 1..15
  // Server threads per listen address (SO_REUSEPORT, clients steered to a thread by
  // their address); 0 = auto: the number of CPUs this process may run on.
  unsigned threads = 0;
  // Transmit timestamps of batched replies: true = `spread` (each reply when it leaves),
  // false = `batch` (one clock read per batch).
  bool tx_spread = true;
  // Most microseconds a server thread busy-polls its socket before sleeping; 0 = never.
  unsigned busy_poll_us = 0;
};

// Most server threads accepted by `threads`.
inline constexpr unsigned k_max_server_threads = 256;

struct Config {
  std::string path;
  DaemonSettings daemon;
  ServerSettings server;
  std::vector<std::string> warnings;  // "file:line: ..." accepted but worth a look
};

using ConfigResult = Result<Config, std::vector<std::string>>;

// Parses `text` as if read from file `name` (used in messages).
ConfigResult parse_config_text(std::string_view text, const std::string& name);
// Reads and parses a file; an unreadable file is one error.
ConfigResult load_config_file(const std::string& path);

// Longest line accepted, in bytes without the line ending.
inline constexpr size_t k_config_max_line = 196;

}  // namespace tr7::daemon
