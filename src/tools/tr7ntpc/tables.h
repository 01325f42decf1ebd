// tr7ntpc's output for people: chronyc-style tables and reports with units.
//
// Pure: no I/O, no clock, no name lookups (the daemon's records carry the configured
// names and the resolved addresses; -n shows the addresses). Every line is at most
// `max_width` columns (100): text columns (names, commands, reasons) are cut with "~",
// numbers never. No e-notation anywhere: every number is fixed-point with a unit chosen
// by its magnitude.
//
// Sign conventions are those of ctl/status.h: offset_s = reference - local, so a
// positive offset means our clock is behind ("slow of NTP time"); freq_ppm is the
// correction applied, positive when the clock by itself runs slow.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ctl/protocol.h"

namespace tr7::tools {

// chronyc's sample format: a signed integer of the unit that keeps it within four digits:
// "+959ns", "-5514ns", "+73us", "-12ms", "+3s", "+12345s". NaN and infinities: "-".
std::string fmt_offset(double s);
// The same without the sign (delays, errors, jitter).
std::string fmt_time(double s);
// Three decimals in the unit that fits: "78.672ns", "-12.300ms", "16.000s".
std::string fmt_precise(double s, bool sign);
// Ages and spans: "5s", "3m", "2h", "4d"; negative or NaN: "-".
std::string fmt_age(double s);
// "+12.310" (three decimals; no unit).
std::string fmt_ppm(double ppm);
// Any number without e-notation (integers as they are, others fixed-point, trimmed).
std::string fmt_plain(const std::string& v);
// "ADDR" or "ADDR:PORT" ("[ADDR]:PORT" for IPv6) when the port is not 123.
std::string host_port(const std::string& host, const std::string& port);

struct TableOptions {
  bool verbose = false;   // -v: a legend explaining the columns first
  bool numeric = false;   // -n: addresses, not the configured names
  size_t max_width = 100;
};

// A column of a table for people.
struct Column {
  std::string head;
  bool right = true;   // numbers are right-aligned
  bool cut = false;    // text that may be shortened to fit max_width
  size_t min_w = 8;    // not cut below this
};
// Aligns cells under the headers (single-space separated, like chronyc), shortens the
// cut columns (the widest first) until every line fits max_width, and returns the lines.
std::string format_table(const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows,
                         size_t max_width, const std::string& rule = "=");

// The reports with their own layout; nullopt for a command without one (the generic
// table or key/value rendering is used then). `local` turns an RFC 3339 UTC value into
// the local time shown to people.
using LocalTimeFn = std::string (*)(const std::string& utc, const void* ctx);
std::optional<std::string> people_report(const std::string& command, const std::vector<ctl::Record>& records,
                                         const TableOptions& opt, LocalTimeFn local, const void* ctx);

}  // namespace tr7::tools
