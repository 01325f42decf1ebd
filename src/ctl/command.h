// The control command table (commands.def) and the command-line parser.
//
// Pure: no I/O, no clock. Shared by the daemon (which parses what a peer sent) and by
// tr7ntpc (which checks a command before sending it, so a usage error is exit status 2
// without a round trip, and builds help and completion from the same table).
//
// A command line is words separated by single or repeated spaces or tabs: the command's
// name (one or two words) and its arguments. Arguments never contain spaces. Each
// argument is checked against the grammar in the table's synopsis (see commands.def);
// a failure is a ctl::Error with code InvalidArgument (or UnknownCommand).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/netaddr.h"
#include "core/result.h"
#include "core/time.h"
#include "ctl/protocol.h"

namespace tr7::ctl {

enum class Cmd : uint8_t {
#define TR7_CMD(id, ...) id,
#include "ctl/commands.def"
#undef TR7_CMD
};

enum class Access : uint8_t { Any, Read, Admin };
enum class Shape : uint8_t { None, KeyValue, Table, Text, Local };

struct CmdInfo {
  Cmd cmd;
  const char* name;  // wire name, one or two words
  Access access;
  Shape shape;
  const char* args;  // synopsis / grammar
  const char* help;
};

inline constexpr CmdInfo k_commands[] = {
#define TR7_CMD(id, name, acc, shape, args, help) {Cmd::id, name, Access::acc, Shape::shape, args, help},
#include "ctl/commands.def"
#undef TR7_CMD
};
inline constexpr size_t k_command_count = sizeof(k_commands) / sizeof(k_commands[0]);

const CmdInfo& info(Cmd c);
const char* to_string(Access a);  // "any", "read", "admin"
const char* to_string(Shape s);   // "none", "keyvalue", "table", "text", "local"

// The kinds of argument in a synopsis.
enum class ArgKind : uint8_t {
  Prefix,
  Addr,
  Host,
  Endpoint,      // HOST[:PORT]: HOST, HOST:PORT, [IPV6]:PORT (a bare IPv6 address has no port)
  PortOption,    // [port PORT]: the word "port" and a port number 1..65535
  Time,          // [since TIME], [until TIME]: RFC 3339, YYYY-MM-DD (00:00 UTC) or Unix seconds
  ReportFormat,  // [format REPORT_FORMAT]: json or md
  Zone,
  Count,
  Id,
  Format,
  Options,
  Tenant,
  Settings
};
struct ArgSpec {
  ArgKind kind;
  bool optional;
  std::string name;  // as in the synopsis ("PREFIX")
  // "[since TIME]": a keyword option, the word `keyword` followed by its value (in the
  // order of the synopsis); empty for a plain argument.
  std::string keyword;
};
// The argument grammar of a command, parsed from its synopsis.
std::vector<ArgSpec> arg_specs(Cmd c);

inline constexpr int64_t k_max_count = 10000;  // N
inline constexpr size_t k_max_options = 12;    // OPTION... (a whole [sources] line: 12 words)
inline constexpr size_t k_max_settings = 32;   // SETTING...
inline constexpr size_t k_max_arg_len = 255;   // any one argument, bytes

struct ParsedCommand {
  Cmd cmd = Cmd::Help;
  std::vector<std::string> args;  // validated, as given
  // Typed values of the arguments that have them (the first of each kind).
  std::optional<core::Prefix> prefix;
  std::optional<core::IpAddr> addr;
  std::optional<int64_t> number;  // N or ID
  std::optional<std::string> tenant;  // TENANT
  std::vector<std::string> settings;  // SETTING...
  std::optional<std::string> host;    // HOST[:PORT]: the host part ("::1" for "[::1]:123")
  std::optional<uint16_t> port;       // HOST[:PORT] or [port PORT]: when given
  std::optional<core::Timestamp> since;  // [since TIME]
  std::optional<core::Timestamp> until;  // [until TIME]
  std::optional<std::string> format;     // [format REPORT_FORMAT]

  // The canonical line: name and arguments separated by single spaces.
  std::string to_line() const;
};

// Parses one command line (without its line ending). The line has passed the codec's
// checks (valid UTF-8, no control characters) when it comes from the wire; this
// function checks again and refuses anything else.
Result<ParsedCommand, Error> parse_command(std::string_view line);
// The same from words already split (tr7ntpc's argv).
Result<ParsedCommand, Error> parse_command(std::span<const std::string> words);

// The command a line names, whatever its arguments (for access checks before argument
// checks: a caller without permission learns nothing about the arguments).
std::optional<Cmd> match_command(std::string_view line);

// HOST[:PORT]: "ntp.example", "192.0.2.1:12325", "[2001:db8::1]:123", "2001:db8::1".
struct HostPort {
  std::string host;
  std::optional<uint16_t> port;
};
Result<HostPort> parse_host_port(std::string_view s);

// Individual argument checks (also used by the state file loader).
bool valid_zone_name(std::string_view s);  // IANA syntax only: Area/Location[/...]
// TIME: RFC 3339 ("2026-11-26T06:09:27Z", offsets and fractions allowed), a date
// ("2026-11-26": its 00:00 UTC) or Unix seconds ("1795680000").
Result<core::Timestamp> parse_time_arg(std::string_view s);
bool valid_host_name(std::string_view s);  // RFC 1123 name or an IP address

// Completion: the candidates for the next word after `words` (which may be empty),
// filtered by `prefix`. Argument values are not completed (except FORMAT).
std::vector<std::string> complete(std::span<const std::string> words, std::string_view prefix);

// "allow add PREFIX": the usage line of a command.
std::string usage(Cmd c);

}  // namespace tr7::ctl
