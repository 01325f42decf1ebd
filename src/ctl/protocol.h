// The control protocol's wire codec (tr7ntp-control(7)). Pure: no I/O.
//
// Line based, UTF-8, over a Unix stream socket:
//   server: TR7CTL 1 tr7ntpd/<version>               greeting, once
//   client: <command line>                            one command per line (LF or CRLF)
//   server: BEGIN <seq>                               seq counts commands from 1
//   server: <body lines>                              records or text
//   server: END <seq> OK | END <seq> ERR <code> <text>
// Commands may be pipelined; replies come in order. A record is `key=value` fields
// separated by single spaces; keys are [a-z0-9_]+, values are percent-escaped (every
// byte outside 0x21..0x7E, and '%', as %XX). Text bodies (metrics) are dot-stuffed as in
// SMTP (RFC 5321 §4.5.2): a body line starting with '.' gets one more, so no body line
// can look like an END line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace tr7::ctl {

inline constexpr int k_protocol_version = 1;
inline constexpr size_t k_max_request_line = 1024;       // client -> server, bytes without LF
inline constexpr size_t k_max_reply_line = 1024 * 1024;  // server -> client

// Error codes (stable; errno numbers where one fits, so `13` reads as EACCES).
enum class ErrCode : int {
  NotFound = 2,           // no such rule, zone, source
  IoError = 5,            // audit log or state file could not be written: nothing changed
  TooLong = 7,            // request line over k_max_request_line (connection closed)
  Busy = 11,              // too many connections (connection closed)
  PermissionDenied = 13,  // caller lacks monitor_group / admin_group
  Exists = 17,            // rule or source already present
  InvalidArgument = 22,   // wrong or missing arguments
  UnknownCommand = 38,    // no such command
  BadEncoding = 84,       // NUL, control character or invalid UTF-8 (connection closed)
  Unsupported = 95,       // not available in this build or configuration
  Timeout = 110,          // idle or line deadline (connection closed)
  Failed = 125,           // the command ran and failed (e.g. reload refused)
};
const char* to_string(ErrCode c);  // "not_found", ... (stable, used by --json)
std::optional<ErrCode> err_code_from_int(int v);

struct Error {
  ErrCode code = ErrCode::Failed;
  std::string text;
};

// Greeting.
std::string greeting(std::string_view server_version);  // "TR7CTL 1 tr7ntpd/<v>"
// Returns the protocol version, or an error if the line is not a greeting.
Result<int> parse_greeting(std::string_view line);

// Percent-escaping of values.
std::string escape(std::string_view v);
Result<std::string> unescape(std::string_view v);

// Records.
using Field = std::pair<std::string, std::string>;
using Record = std::vector<Field>;
bool valid_key(std::string_view k);
std::string encode_record(const Record& r);  // keys must be valid (checked by callers' tests)
Result<Record> decode_record(std::string_view line);
// The value of `key` in r, or nullptr.
const std::string* find(const Record& r, std::string_view key);

// Dot-stuffing of text body lines.
std::string stuff_line(std::string_view line);
std::string unstuff_line(std::string_view line);

// A whole reply as the server frames it.
struct Reply {
  uint64_t seq = 0;
  bool ok = true;
  Error error;                     // when !ok
  std::vector<std::string> lines;  // body lines as on the wire (records or stuffed text)
};
std::string frame_reply(const Reply& r);
std::string frame_ok(uint64_t seq, const std::vector<std::string>& body);
std::string frame_error(uint64_t seq, ErrCode code, std::string_view text);
// Makes error text safe for the END line: one line, printable, at most 200 bytes.
std::string sanitize_text(std::string_view text);

// Splits a byte stream into request lines, enforcing the limits. Feed bytes as they
// arrive; next() yields complete lines until it needs more. After an error the reader
// is poisoned (the server answers the error and closes).
class LineReader {
 public:
  explicit LineReader(size_t max_line = k_max_request_line) : m_max(max_line) {}
  void feed(std::string_view bytes);
  // A complete line (LF or CRLF stripped), an error, or nullopt when more bytes are needed.
  std::optional<Result<std::string, Error>> next();
  // At end of input: the last unterminated line, if any (a client that half-closes
  // after its request without a newline is still answered).
  std::optional<Result<std::string, Error>> finish();
  size_t buffered() const { return m_buf.size() - m_pos; }
  bool partial() const { return buffered() > 0; }
  bool failed() const { return m_failed; }

 private:
  Result<std::string, Error> check(std::string_view line);
  size_t m_max;
  std::string m_buf;
  size_t m_pos = 0;
  bool m_failed = false;
};

// Client side: assembles replies from the server's lines (after the greeting).
class ReplyReader {
 public:
  // Feeds one line (without LF). Returns a complete reply when `line` was its END line;
  // an Error if the framing is broken (the connection is then unusable).
  Result<std::optional<Reply>, Error> feed_line(std::string_view line);

 private:
  bool m_open = false;
  Reply m_cur;
};

}  // namespace tr7::ctl
