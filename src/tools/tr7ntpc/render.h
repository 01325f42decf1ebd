// tr7ntpc's output: replies rendered for people (aligned), JSON (one document per
// command) or CSV (like chronyc -c). Pure: no I/O, the zone rule is passed in.
//
// People see times in the daemon's configured zone: a field `x_utc` (RFC 3339 UTC)
// is shown as `x` in local time, unless `utc` is set. JSON and CSV keep the UTC values.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/tz.h"
#include "ctl/command.h"
#include "ctl/protocol.h"

namespace tr7::tools {

enum class OutputFormat { Human, Json, Csv };

struct RenderOptions {
  OutputFormat format = OutputFormat::Human;
  bool utc = false;                  // people: show UTC instead of local times
  std::optional<core::TzRule> zone;  // the daemon's zone rule (UTC when missing)
  size_t max_cell = 60;              // people: longer table cells are cut
  bool verbose = false;              // people (-v): legends explaining the columns
  bool numeric = false;              // people (-n): addresses instead of configured names
  size_t max_width = 100;            // people: no line is wider (text columns are cut)
};

// Decoded body of a reply: records (KeyValue, Table, None) or text lines (Text).
struct Body {
  std::vector<ctl::Record> records;
  std::vector<std::string> text;
};
Result<Body> decode_body(ctl::Shape shape, const std::vector<std::string>& lines);

// The output of a successful command (ends with a newline when not empty).
std::string render(ctl::Cmd cmd, const Body& body, const RenderOptions& opt);
// The output of an error: JSON on stdout for --json, else a line for stderr.
std::string render_error(const ctl::Error& e, const RenderOptions& opt);

// "2026-11-26 09:29:24.818 +03" from an RFC 3339 UTC value (the value itself if it
// does not parse).
std::string local_time(const std::string& utc_value, const RenderOptions& opt);
std::string csv_field(const std::string& v);

// The JSON value of one wire field (--json): the empty value (unknown, absent, never) is
// null; yes/no (and true/false) are booleans; numbers are numbers with the wire's full
// precision; `reach` (octal on the wire, as chronyc shows it) is the number of its real
// value (377 -> 255); free-text fields (names, addresses, zones, audit text) stay strings
// whatever they look like ("-03" is an abbreviation, not a number).
std::string json_field(const std::string& key, const std::string& value);

// tr7ntpc --help: usage, options and the command table.
std::string help_text();

}  // namespace tr7::tools
