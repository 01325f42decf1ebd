// Strict parsing of the small values found in config files and command arguments.
//
// No I/O. "Strict" means: the whole string must be the value. No leading '+', no
// leading zeros on integers ("08"), no hex ("0x10"), no trailing junk ("5abc"), no
// nan/inf, no overflow ("2^63", "1e309"). Each returns an error text fit for a message
// that starts with the key's name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tr7::core {

std::string_view trim(std::string_view s);
// Splits on `sep`, trims each item; empty items are an error.
Result<std::vector<std::string>> split_list(std::string_view s, char sep = ',');
// Splits on runs of spaces/tabs.
std::vector<std::string> split_words(std::string_view s);

Result<int64_t> parse_int(std::string_view s, int64_t min, int64_t max);
// A finite decimal number (fixed or exponent notation) within [min, max].
Result<double> parse_double(std::string_view s, double min, double max);
// A size in bytes: an integer with an optional K, M or G suffix (powers of 1024), within
// [min, max].
Result<int64_t> parse_size(std::string_view s, int64_t min, int64_t max);
// yes/no, true/false, on/off, 1/0.
Result<bool> parse_bool(std::string_view s);

bool valid_utf8(std::string_view s);

}  // namespace tr7::core
