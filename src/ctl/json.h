// Minimal JSON for flat objects: the audit trail's lines and tr7ntpc's --json output.
//
// Pure. Writes objects whose values are strings, numbers, booleans or null, and reads
// back flat objects (no nesting: a nested value is an error), which is all the audit log
// holds. Strings are escaped per RFC 8259 §7; bytes that are not valid UTF-8 are
// replaced by U+FFFD, so the output is always valid JSON.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace tr7::ctl {

// "..." with escapes.
std::string json_string(std::string_view s);
// A number as JSON when `s` is exactly a JSON number (RFC 8259 §6) within double range,
// else the quoted string: how tr7ntpc types record values.
std::string json_value(std::string_view s);
bool is_json_number(std::string_view s);

// Builds {"k":v,...} in insertion order.
class JsonObject {
 public:
  JsonObject& str(std::string_view k, std::string_view v);
  JsonObject& num(std::string_view k, long long v);
  JsonObject& num(std::string_view k, double v);               // non-finite -> null
  JsonObject& raw(std::string_view k, std::string_view json);  // caller guarantees valid JSON
  JsonObject& null(std::string_view k);
  std::string done() const { return m_s + "}"; }

 private:
  void key(std::string_view k);
  std::string m_s = "{";
};

// A flat object: (key, value) in order; strings unescaped, other values as their JSON
// text ("12", "true", "null").
struct JsonField {
  std::string key;
  std::string value;
  bool is_string = false;
};
Result<std::vector<JsonField>> parse_flat_object(std::string_view json);

}  // namespace tr7::ctl
