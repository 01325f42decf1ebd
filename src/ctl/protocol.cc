// The control protocol's wire codec (see protocol.h).
#include "ctl/protocol.h"

#include "core/strutil.h"

namespace tr7::ctl {

const char* to_string(ErrCode c) {
  switch (c) {
    case ErrCode::NotFound:
      return "not_found";
    case ErrCode::IoError:
      return "io_error";
    case ErrCode::TooLong:
      return "too_long";
    case ErrCode::Busy:
      return "busy";
    case ErrCode::PermissionDenied:
      return "permission_denied";
    case ErrCode::Exists:
      return "exists";
    case ErrCode::InvalidArgument:
      return "invalid_argument";
    case ErrCode::UnknownCommand:
      return "unknown_command";
    case ErrCode::BadEncoding:
      return "bad_encoding";
    case ErrCode::Unsupported:
      return "unsupported";
    case ErrCode::Timeout:
      return "timeout";
    case ErrCode::Failed:
      return "failed";
  }
  return "failed";
}

std::optional<ErrCode> err_code_from_int(int v) {
  for (ErrCode c : {ErrCode::NotFound, ErrCode::IoError, ErrCode::TooLong, ErrCode::Busy, ErrCode::PermissionDenied,
                    ErrCode::Exists, ErrCode::InvalidArgument, ErrCode::UnknownCommand, ErrCode::BadEncoding,
                    ErrCode::Unsupported, ErrCode::Timeout, ErrCode::Failed}) {
    if (static_cast<int>(c) == v) {
      return c;
    }
  }
  return std::nullopt;
}

std::string greeting(std::string_view server_version) {
  return "TR7CTL " + std::to_string(k_protocol_version) + " tr7ntpd/" + std::string(server_version);
}

Result<int> parse_greeting(std::string_view line) {
  auto w = core::split_words(line);
  if (w.size() < 2 || w[0] != "TR7CTL") {
    return unexpected(std::string("not a tr7ntpd control socket (no TR7CTL greeting)"));
  }
  auto v = core::parse_int(w[1], 1, 1000);
  if (!v) {
    return unexpected("bad protocol version in greeting: " + v.error());
  }
  return static_cast<int>(*v);
}

namespace {

bool plain(unsigned char c) { return c > 0x20 && c < 0x7F && c != '%'; }

int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

}  // namespace

std::string escape(std::string_view v) {
  static const char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(v.size());
  for (char ch : v) {
    auto c = static_cast<unsigned char>(ch);
    if (plain(c)) {
      out += ch;
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 15];
    }
  }
  return out;
}

Result<std::string> unescape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    auto c = static_cast<unsigned char>(v[i]);
    if (c == '%') {
      if (i + 2 >= v.size()) {
        return unexpected(std::string("truncated %-escape"));
      }
      int hi = hexval(v[i + 1]);
      int lo = hexval(v[i + 2]);
      if (hi < 0 || lo < 0) {
        return unexpected(std::string("bad %-escape"));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plain(c)) {
      out += static_cast<char>(c);
    } else {
      return unexpected(std::string("unescaped byte in value"));
    }
  }
  return out;
}

bool valid_key(std::string_view k) {
  if (k.empty() || k.size() > 64) {
    return false;
  }
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

std::string encode_record(const Record& r) {
  std::string out;
  for (const auto& [k, v] : r) {
    if (!out.empty()) {
      out += ' ';
    }
    out += k;
    out += '=';
    out += escape(v);
  }
  return out;
}

Result<Record> decode_record(std::string_view line) {
  Record r;
  if (line.empty()) {
    return r;
  }
  size_t pos = 0;
  while (true) {
    size_t sp = line.find(' ', pos);
    std::string_view f = line.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos);
    size_t eq = f.find('=');
    if (eq == std::string_view::npos) {
      return unexpected("field without '=': " + std::string(f.substr(0, 40)));
    }
    std::string_view k = f.substr(0, eq);
    if (!valid_key(k)) {
      return unexpected("bad key: " + escape(k.substr(0, 40)));
    }
    auto v = unescape(f.substr(eq + 1));
    if (!v) {
      return unexpected(std::string(k) + ": " + v.error());
    }
    r.emplace_back(std::string(k), std::move(*v));
    if (sp == std::string_view::npos) {
      break;
    }
    pos = sp + 1;
  }
  return r;
}

const std::string* find(const Record& r, std::string_view key) {
  for (const auto& [k, v] : r) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

std::string stuff_line(std::string_view line) {
  if (!line.empty() && line[0] == '.') {
    return "." + std::string(line);
  }
  // Text bodies never start with "BEGIN " or "END " once stuffed: those get a dot too.
  if (line.substr(0, 4) == "END " || line.substr(0, 6) == "BEGIN ") {
    return "." + std::string(line);
  }
  return std::string(line);
}

std::string unstuff_line(std::string_view line) {
  if (!line.empty() && line[0] == '.') {
    return std::string(line.substr(1));
  }
  return std::string(line);
}

std::string sanitize_text(std::string_view text) {
  std::string out;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    out += (c < 0x20 || c == 0x7F) ? '?' : ch;
  }
  if (!core::valid_utf8(out)) {
    for (char& ch : out) {
      if (static_cast<unsigned char>(ch) >= 0x80) {
        ch = '?';
      }
    }
  }
  if (out.size() > 200) {
    out.resize(200);
    // Never cut a UTF-8 sequence in half.
    while (!out.empty() && !core::valid_utf8(out)) {
      out.pop_back();
    }
  }
  return out;
}

std::string frame_reply(const Reply& r) {
  std::string out = "BEGIN " + std::to_string(r.seq) + "\n";
  for (const auto& l : r.lines) {
    out += l;
    out += '\n';
  }
  out += "END " + std::to_string(r.seq);
  if (r.ok) {
    out += " OK\n";
  } else {
    out += " ERR " + std::to_string(static_cast<int>(r.error.code)) + " " + sanitize_text(r.error.text) + "\n";
  }
  return out;
}

std::string frame_ok(uint64_t seq, const std::vector<std::string>& body) {
  Reply r;
  r.seq = seq;
  r.lines = body;
  return frame_reply(r);
}

std::string frame_error(uint64_t seq, ErrCode code, std::string_view text) {
  Reply r;
  r.seq = seq;
  r.ok = false;
  r.error = Error{code, std::string(text)};
  return frame_reply(r);
}

// --- LineReader ---

void LineReader::feed(std::string_view bytes) {
  if (m_failed) {
    return;
  }
  if (m_pos > 0 && m_pos == m_buf.size()) {
    m_buf.clear();
    m_pos = 0;
  } else if (m_pos > 4096) {
    m_buf.erase(0, m_pos);
    m_pos = 0;
  }
  m_buf.append(bytes);
}

Result<std::string, Error> LineReader::check(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  if (line.size() > m_max) {
    return unexpected(Error{ErrCode::TooLong, "line longer than " + std::to_string(m_max) + " bytes"});
  }
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (c == 0) {
      return unexpected(Error{ErrCode::BadEncoding, "NUL byte in line"});
    }
    if (c < 0x20 && c != '\t') {
      return unexpected(Error{ErrCode::BadEncoding, "control character in line"});
    }
    if (c == 0x7F) {
      return unexpected(Error{ErrCode::BadEncoding, "DEL character in line"});
    }
  }
  if (!core::valid_utf8(line)) {
    return unexpected(Error{ErrCode::BadEncoding, "invalid UTF-8"});
  }
  return std::string(line);
}

std::optional<Result<std::string, Error>> LineReader::next() {
  if (m_failed) {
    return std::nullopt;
  }
  size_t nl = m_buf.find('\n', m_pos);
  if (nl == std::string::npos) {
    // No complete line: refuse as soon as the partial one is too long (+1 for a CR).
    if (m_buf.size() - m_pos > m_max + 1) {
      m_failed = true;
      return Result<std::string, Error>(
          unexpected(Error{ErrCode::TooLong, "line longer than " + std::to_string(m_max) + " bytes"}));
    }
    return std::nullopt;
  }
  std::string_view line(m_buf.data() + m_pos, nl - m_pos);
  m_pos = nl + 1;
  auto r = check(line);
  if (!r) {
    m_failed = true;
  }
  return r;
}

std::optional<Result<std::string, Error>> LineReader::finish() {
  if (m_failed || m_pos >= m_buf.size()) {
    return std::nullopt;
  }
  std::string rest = m_buf.substr(m_pos);
  m_pos = m_buf.size();
  auto r = check(rest);
  if (!r) {
    m_failed = true;
  }
  return r;
}

// --- ReplyReader ---

Result<std::optional<Reply>, Error> ReplyReader::feed_line(std::string_view line) {
  auto bad = [&](const std::string& what) {
    return Result<std::optional<Reply>, Error>(unexpected(Error{ErrCode::Failed, "protocol error: " + what}));
  };
  if (!m_open) {
    if (line.substr(0, 6) != "BEGIN ") {
      return bad("expected BEGIN, got '" + sanitize_text(line.substr(0, 60)) + "'");
    }
    auto seq = core::parse_int(line.substr(6), 0, INT64_MAX);
    if (!seq) {
      return bad("bad sequence number in BEGIN");
    }
    m_cur = Reply{};
    m_cur.seq = static_cast<uint64_t>(*seq);
    m_open = true;
    return std::optional<Reply>{};
  }
  if (line.substr(0, 4) == "END ") {
    std::string head = "END " + std::to_string(m_cur.seq) + " ";
    if (line.substr(0, head.size()) != head) {
      return bad("END does not match BEGIN " + std::to_string(m_cur.seq));
    }
    std::string_view rest = line.substr(head.size());
    if (rest == "OK") {
      m_cur.ok = true;
    } else if (rest.substr(0, 4) == "ERR ") {
      rest.remove_prefix(4);
      size_t sp = rest.find(' ');
      auto code = core::parse_int(rest.substr(0, sp), 0, 1000);
      if (!code) {
        return bad("bad error code");
      }
      m_cur.ok = false;
      m_cur.error.code = err_code_from_int(static_cast<int>(*code)).value_or(ErrCode::Failed);
      m_cur.error.text = sp == std::string_view::npos ? std::string() : std::string(rest.substr(sp + 1));
    } else {
      return bad("bad END line");
    }
    m_open = false;
    return std::optional<Reply>(std::move(m_cur));
  }
  m_cur.lines.emplace_back(line);
  return std::optional<Reply>{};
}

}  // namespace tr7::ctl
