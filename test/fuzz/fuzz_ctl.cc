// libFuzzer target: the control protocol's parsers (what a peer of the control socket,
// or a daemon answering tr7ntpc, can send).
//
// Properties checked on every input, beyond "no crash, no UB, no leak":
//  * the line reader yields only lines within the limit, valid UTF-8, without NUL/CR/
//    control bytes, and stops at the first error;
//  * parse_command's canonical line parses back to the same command and line;
//  * decode_record(encode_record(r)) == r for every record that decodes;
//  * the flat JSON parser, RFC 3339 parser, POSIX TZ rules, TZif footer and the reply
//    reader accept or refuse without crashing, and what they accept round-trips.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/strutil.h"
#include "core/tz.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/protocol.h"
#include "ctl/status.h"

using namespace tr7;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  // Feed the line reader in chunks whose sizes come from the input itself.
  ctl::LineReader reader(64);
  size_t pos = 0;
  size_t chunk = size ? 1 + data[0] % 17 : 1;
  bool failed = false;
  while (pos < size && !failed) {
    reader.feed(in.substr(pos, chunk));
    pos += chunk;
    while (auto l = reader.next()) {
      if (!l->has_value()) {
        failed = true;
        break;
      }
      const std::string& line = l->value();
      if (line.size() > 64 || !core::valid_utf8(line)) {
        std::abort();
      }
      for (char c : line) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7F) {
          std::abort();
        }
      }
      auto pc = ctl::parse_command(line);
      if (pc) {
        auto again = ctl::parse_command(pc->to_line());
        if (!again || again->cmd != pc->cmd || again->to_line() != pc->to_line()) {
          std::abort();
        }
      } else if (pc.error().text.empty()) {
        std::abort();
      }
    }
  }
  if (failed && reader.next().has_value()) {
    std::abort();  // poisoned after an error
  }

  // The whole input as one line, without the reader's checks.
  auto pc = ctl::parse_command(in);
  if (pc) {
    auto again = ctl::parse_command(pc->to_line());
    if (!again || again->to_line() != pc->to_line()) {
      std::abort();
    }
  }
  auto rec = ctl::decode_record(in);
  if (rec) {
    auto back = ctl::decode_record(ctl::encode_record(*rec));
    if (!back || *back != *rec) {
      std::abort();
    }
  }
  auto obj = ctl::parse_flat_object(in);
  if (obj) {
    ctl::JsonObject o;
    for (const auto& f : *obj) {
      if (f.is_string) {
        o.str(f.key, f.value);
      } else {
        o.raw(f.key, f.value);
      }
    }
    auto back = ctl::parse_flat_object(o.done());
    if (!back || back->size() != obj->size()) {
      std::abort();
    }
  }
  if (auto t = ctl::parse_rfc3339(in)) {
    (void)ctl::format_utc(*t);
  }
  if (auto r = core::parse_tz_rule(in)) {
    (void)core::local_info(*r, core::Timestamp::from_ns(1'800'000'000LL * core::k_ns_per_s));
  }
  (void)core::tzif_footer(in);
  ctl::ReplyReader rr;
  size_t start = 0;
  while (start < in.size()) {
    size_t nl = in.find('\n', start);
    std::string_view l = in.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!rr.feed_line(l)) {
      break;
    }
    if (nl == std::string_view::npos) {
      break;
    }
    start = nl + 1;
  }
  return 0;
}
