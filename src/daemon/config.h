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

#include "core/alerts.h"
#include "core/allowlist.h"
#include "core/client_table.h"
#include "core/discipline.h"
#include "core/netaddr.h"
#include "core/result.h"
#include "core/tenant.h"
#include "daemon/log.h"

namespace tr7::daemon {

enum class ClockMode { Kernel, None };
const char* to_string(ClockMode m);

inline constexpr const char* k_default_control_socket = "/run/tr7ntp/tr7ntpd.sock";

struct DaemonSettings {
  ClockMode clock = ClockMode::Kernel;
  std::string state_dir = "/var/lib/tr7ntp";
  LogLevel log_level = LogLevel::Info;
  std::string user = "_tr7ntp";         // the worker's user under privilege separation
  std::string rtc;                      // RTC device (/dev/rtcN); empty: none
  double max_step_s = 366.0 * 86400.0;  // largest step the helper applies at run time
  double max_startup_step_s = 0.0;      // largest start-up step; 0: unlimited (window only)
  // The audit log (audit_file.h): rotated before it would pass audit_max_bytes (0: never by size), keeping
  // audit_keep older files.
  uint64_t audit_max_bytes = 16ULL << 20;
  // The helper's clock budget (core/clock_budget.h): what steps, slews and the frequency
  // beyond +-500 ppm may move the clock in any 24 h (the first step of a boot excepted).
  double max_correction_per_day_s = 1000.0;
  unsigned audit_keep = 8;
  // Control socket (tr7ntp-control(7)); "none" disables it. control_socket_set tells an
  // explicit setting from the default (a default path already in use by another daemon
  // is a warning, an explicit one an error).
  std::string control_socket = k_default_control_socket;
  bool control_socket_set = false;
  unsigned control_socket_mode = 0660;
  std::string admin_group;       // may change things (with root); empty: root only
  std::string monitor_group;     // may read; empty: root and admin_group only
  std::string timezone = "UTC";  // how local times are shown; the daemon works in UTC
  // Symmetric keys in chrony's format (core/ntp_keys.h); empty: none. Read as root at
  // start (and through the helper on reload); refused if others may read it.
  std::string keyfile;
  // The name of this node in audit records, alerts and reports; empty: the host name.
  std::string node;
  // Where user, admin_group, monitor_group and timezone were set (0: default), for the
  // checks the parser cannot make (--check-config: does the user, group, zone exist?).
  int user_line = 0;
  int admin_group_line = 0;
  int monitor_group_line = 0;
  int timezone_line = 0;
};

// [nts]: the NTS-KE server (RFC 8915) and the trust anchors of NTS sources.
struct NtsSettings {
  std::vector<core::SockAddr> listen;      // NTS-KE over TLS; empty: no NTS server
  std::string cert;                        // PEM certificate chain (the server's first)
  std::string key;                         // PEM private key; opened as root
  std::string trusted_certs;               // PEM CAs for NTS sources; empty: the system store
  std::optional<uint16_t> ntp_port;        // advertised NTPv4 port (default: the first [server] listen port)
  std::string ntp_server;                  // advertised NTPv4 server name (default: none, the KE host)
  double cookie_rotation_s = 7 * 86400.0;  // a new cookie key this often
  unsigned max_connections = 100;          // NTS-KE sessions at once
  double timeout_s = 2.0;                  // an NTS-KE session's whole life
  bool server() const { return !listen.empty(); }
};

struct MetricsSettings {
  std::optional<core::SockAddr> listen;  // HTTP /metrics; off when empty
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

// One `server` or `pool` line of [sources].
struct SourceConfig {
  enum class Kind { Server, Pool };
  Kind kind = Kind::Server;
  std::string host;  // name or address literal
  uint16_t port = 123;
  bool iburst = false;
  int8_t minpoll = 6;  // log2 s, -6..17
  int8_t maxpoll = 10;
  std::optional<double> burst_interval_s;  // request spacing below 2 s (own LAN servers)
  unsigned maxsources = 4;                 // pool: addresses used at once
  // Reach the source from this network namespace ("" = the daemon's own): e.g. a
  // management network the tenants cannot see. The client sockets are opened there (by
  // the privileged helper under privilege separation); names resolve in the daemon's own.
  std::string netns;
  // Authentication: a symmetric key (`key N`, 0 = none) or NTS (`nts`, NTS-KE on
  // `ntsport`); never both.
  uint32_t key_id = 0;
  bool nts = false;
  uint16_t nts_port = 4460;
  int line = 0;

  // Smallest spacing between two requests: burst_interval if given, else 2 s, or the
  // poll interval when minpoll is below 1 (the admin asked for it).
  double min_interval_s() const;
  bool operator==(const SourceConfig& o) const;
};

// One `peer` line of [sources]: another node of an HA pair, monitored only (polled,
// shown in `peers`, compared with our clock for the peer_disagreement alert), never
// used to steer the clock.
struct PeerConfig {
  std::string host;  // name or address literal
  uint16_t port = 123;
  int8_t minpoll = 4;  // log2 s; the poll stays at minpoll while the peer answers
  int8_t maxpoll = 8;  // backs off to here while it does not
  int line = 0;
  bool operator==(const PeerConfig& o) const {
    return host == o.host && port == o.port && minpoll == o.minpoll && maxpoll == o.maxpoll;
  }
};
Result<PeerConfig, std::string> parse_peer_line(std::string_view value);

struct SourcesSettings {
  std::vector<SourceConfig> sources;
  std::vector<PeerConfig> peers;
  size_t min_sources = 1;  // agreeing sources needed to synchronise
};

struct DisciplineSettings {
  double makestep_threshold_s = 0.128;
  int makestep_limit = 3;
  double max_slew_ppm = core::k_default_max_slew_ppm;  // chronyd's maxslewrate
  double offset_tolerance_s = 1.0;                     // 0: off
  double max_distance_s = 1.5;                         // root distance beyond which we stop serving (holdover)
  std::string drift_file = "drift";                    // a file name in state_dir; "none": no drift file
  double drift_interval_s = 3600;                      // how often the drift file is written

  // The drift file's name in the state directory; empty for none.
  std::string drift_name() const { return drift_file == "none" ? std::string() : drift_file; }
};

// One [tenant NAME] section.
struct TenantConfig {
  core::TenantSpec spec;
  int line = 0;  // of the section header
};

struct TenantsSettings {
  std::vector<TenantConfig> tenants;  // in file order
  // [tenants] runtime = NETNS_GLOB PREFIX [port N]: what `tenant add` may bind (also
  // the privileged helper's rule). Empty: tenants only from this file.
  std::vector<core::RuntimeBindRule> runtime;
  // How often the namespaces of the tenants are checked (gone, replaced, back).
  double check_interval_s = 1.0;
};

// An http:// URL (the alert webhook): host (name or address), port, path with query.
struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string path = "/";
  std::string text;  // as configured
  bool operator==(const HttpUrl&) const = default;
};
Result<HttpUrl, std::string> parse_http_url(std::string_view s);

// [alerts]: the engine's thresholds (core/alerts.h; min_sources comes from [sources])
// and the webhook.
struct AlertsSettings {
  core::AlertSettings engine;
  std::optional<HttpUrl> webhook;
  std::string webhook_secret_file;  // absolute path; its bytes (trailing whitespace cut) sign the body
  double webhook_timeout_s = 5;
};

// [history]: the compliance history (history_store.h).
struct HistorySettings {
  double interval_s = 300;
  unsigned keep_days = 400;
  uint64_t max_size = 256ULL << 20;
  size_t max_clients_per_day = 100000;
  bool operator==(const HistorySettings&) const = default;
};

// Most server threads accepted by `threads`.
inline constexpr unsigned k_max_server_threads = 256;

struct Config {
  std::string path;
  std::string sha256;  // of the file's text, as read (reports name the configuration by it)
  DaemonSettings daemon;
  ServerSettings server;
  SourcesSettings sources;
  DisciplineSettings discipline;
  MetricsSettings metrics;
  NtsSettings nts;
  TenantsSettings tenants;
  AlertsSettings alerts;
  HistorySettings history;
  std::vector<std::string> warnings;  // "file:line: ..." accepted but worth a look
};

using ConfigResult = Result<Config, std::vector<std::string>>;

// One [sources] `server` or `pool` value ("HOST [OPTION...]"), checked as the
// configuration file checks it; also the grammar of `source add` (tr7ntp-control(7)).
// `note`, when given, receives a remark worth a warning ("pool ADDR is an address").
// Duplicates are the caller's business.
Result<SourceConfig, std::string> parse_source_line(std::string_view value, SourceConfig::Kind kind,
                                                    std::string* note = nullptr);

// Parses `text` as if read from file `name` (used in messages).
ConfigResult parse_config_text(std::string_view text, const std::string& name);
// Reads and parses a file; an unreadable file is one error.
ConfigResult load_config_file(const std::string& path);
// The same from an open descriptor (the privileged helper opens the file for the
// chrooted worker); `name` is used in messages.
ConfigResult load_config_fd(int fd, const std::string& name);

// The effective settings as "section.key = value" lines in a stable order, one line per
// list item: what the audit trail records as before/after of a reload.
std::vector<std::string> config_summary(const Config& c);

// The node's name: [daemon] node, else the host name (cut to what a node name may hold).
std::string node_name(const DaemonSettings& d);

// Longest line accepted, in bytes without the line ending.
inline constexpr size_t k_config_max_line = 196;

}  // namespace tr7::daemon
