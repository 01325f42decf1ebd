// The audit trail's hash chain: sealing records and verifying a chain of them.
//
// Pure (no I/O): lines in, lines and verdicts out. Each record is one JSON object on one
// line, sealed as
//   {"seq":N,"node":"NODE","prev_hash":"<64 hex>",<the record's own fields>,"hash":"<64 hex>"}
// where hash = SHA-256 of everything before `,"hash":` followed by "}", i.e. of the
// record with its sequence number, node and the previous record's hash: changing,
// inserting, removing or reordering a record breaks the chain at that point. The first
// record of a chain has prev_hash = 64 zeros. seq counts from 1 and never restarts: the
// writer carries (seq, hash) across restarts and across the files of a rotation.
//
// Verification reads the lines of every file, oldest first, and reports the first bad
// record by its sequence number (the one that should be at that place): a record that
// is not sealed or whose hash does not match (altered), a gap in seq (deleted), a
// prev_hash that is not the hash before it (replaced, reordered), or a log that ends
// before the last record the writer says it wrote (cut). Records written before the
// chain existed (no "seq") are counted as unchained when they come before the first
// sealed one, and are an error after it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tr7::core {

inline constexpr std::string_view k_chain_genesis = "0000000000000000000000000000000000000000000000000000000000000000";

// The writer's state: the last record written (seq 0 and the genesis hash before any).
struct ChainState {
  uint64_t seq = 0;
  std::string hash = std::string(k_chain_genesis);
  friend bool operator==(const ChainState&, const ChainState&) = default;
};

// Seals one record: `fields` is a JSON object ("{...}", "{}" for none) with the record's
// own fields; `node` must need no JSON escaping ([A-Za-z0-9._-], as the configuration
// checks). Returns the line (without newline) and advances `st`.
std::string seal_record(ChainState& st, std::string_view node, std::string_view fields);

// The chain fields of one line, after checking its own hash.
struct ChainLink {
  uint64_t seq = 0;
  std::string prev_hash;
  std::string hash;
};
enum class LinkError : uint8_t {
  Unchained,  // a JSON object without chain fields (written before the chain existed)
  Damaged,    // not a sealed record, or its hash does not match its content
};
Result<ChainLink, LinkError> check_record(std::string_view line);
// The seq a line claims (for messages about a damaged line), if it can be read.
std::optional<uint64_t> claimed_seq(std::string_view line);

struct ChainReport {
  bool ok = true;
  uint64_t records = 0;    // sealed records checked
  uint64_t unchained = 0;  // older records before the chain
  uint64_t first_seq = 0;  // of the oldest sealed record at hand (later than 1: older files rotated away)
  uint64_t last_seq = 0;
  std::string last_hash;
  std::optional<uint64_t> first_bad_seq;  // the first record that is missing or wrong
  std::string problem;                    // what is wrong there, in words
  std::string where;                      // "FILE:LINE" of the problem
};

class ChainVerifier {
 public:
  // One line of `file` (without its newline), in order, oldest file first.
  void line(std::string_view text, std::string_view file, uint64_t lineno);
  // The end of the last file. `writer`: what the writer says it wrote last (the daemon's
  // state): a log that stops before it has lost its last records.
  void finish(const std::optional<ChainState>& writer);
  const ChainReport& report() const { return m_r; }

 private:
  void bad(uint64_t seq, std::string problem, std::string_view file, uint64_t lineno);
  ChainReport m_r;
  bool m_started = false;  // a sealed record was seen
};

}  // namespace tr7::core
