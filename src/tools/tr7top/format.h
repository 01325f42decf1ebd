// tr7top: formatting of values for the dashboard.
//
// Pure: no I/O, no clock, no curses. Every function returns text for one cell; widths
// are in terminal columns (display_width), not bytes, because the unit "µs" and the
// plot glyphs are multi-byte UTF-8. With `utf8 = false` only ASCII is produced ("us",
// "+-"), for terminals whose locale cannot show anything else.
//
// Sign conventions are those of ctl/status.h: offset_s = reference - local (positive:
// our clock is behind), freq_ppm positive makes the clock faster.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/time.h"

namespace tr7::top {

// An offset or other signed time in seconds with four significant digits and the unit
// that fits: "+123ns", "-12.34µs", "+1.234ms", "-123.4ms", "+1.234s", "+12345s".
// Zero is "0ns"; NaN and infinities are "-".
std::string format_offset(double s, bool utf8 = true);
// An unsigned time (delay, jitter, error, dispersion): as format_offset without sign.
std::string format_time(double s, bool utf8 = true);
// "+1.234ms±56.7µs" ("+-" in ASCII).
std::string format_offset_err(double offset_s, double error_s, bool utf8 = true);
// Parts per million with a sign and three decimals below 100: "+12.345ppm", "-150.2ppm".
std::string format_ppm(double ppm);
// The reach register as eight bits, oldest poll on the left, the latest on the right:
// 0377 -> "11111111", 0376 -> "11111110" (the last poll was not answered).
std::string format_reach(uint8_t reach);
// Parses the wire form of reach (octal, "377"); nullopt-like -1 when invalid.
int parse_reach(std::string_view octal);
// A poll interval given as log2 seconds: 6 -> "64s", 10 -> "1024s", -2 -> "0.25s".
std::string format_poll(int log2_s);
// A duration in seconds, coarse and short: "0.5s", "42s", "5m03s", "2h10m", "3d04h".
// Negative or NaN durations are "-".
std::string format_duration(double s);
// A rate per second: "0/s", "0.25/s", "12.3/s", "1234/s", "12.3k/s".
std::string format_rate(double per_s);
// A counter: exact below one million, then "1.23M", "12.3G".
std::string format_count(uint64_t n);
// A reference ID: the protocol's hex ("0x7F7F0101" or "7F7F0101") shown as four ASCII
// letters when it is a kiss code or reference clock name ("GPS", "LOCL"), else as a
// dotted quad (IPv4 refids) — and always with the hex: "127.127.1.1 (7F7F0101)".
std::string format_refid(std::string_view hex);

// "2026-11-26 06:34:28" for `t` shifted by utc_offset_s; time_only gives "06:34:28".
std::string format_civil(core::Timestamp t, int32_t utc_offset_s, bool time_only = false);
// "+03:00", "-05:30", "Z" for zero when `z` is true, else "+00:00".
std::string format_utc_offset(int32_t utc_offset_s, bool z = false);

// Text from the daemon made safe for the screen: control characters become '?', and
// text that is not valid UTF-8 keeps only its ASCII; at most max_bytes (cut at a
// character boundary).
std::string clean(std::string_view s, size_t max_bytes = 256);

// Terminal columns taken by UTF-8 text (every code point we produce is one column).
size_t display_width(std::string_view s);
// Cuts or pads (with spaces) to exactly `width` columns; cutting ends with "~" when
// `mark` is set, so a shortened name is visibly shortened.
std::string fit(std::string_view s, size_t width, bool mark = true);
// Pads on the left to `width` columns (right-aligned); longer text is cut.
std::string fit_right(std::string_view s, size_t width);

}  // namespace tr7::top
