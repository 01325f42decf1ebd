// The audit trail's hash chain (see audit_chain.h).
#include "core/audit_chain.h"

#include "core/digest.h"

namespace tr7::core {

namespace {

constexpr std::string_view k_hash_key = ",\"hash\":\"";
constexpr size_t k_hex = 64;
// `,"hash":"` + 64 hex + `"}`
constexpr size_t k_suffix = k_hash_key.size() + k_hex + 2;

bool is_hex64(std::string_view s) {
  if (s.size() != k_hex) {
    return false;
  }
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

std::optional<uint64_t> leading_seq(std::string_view line) {
  constexpr std::string_view k_head = "{\"seq\":";
  if (line.substr(0, k_head.size()) != k_head) {
    return std::nullopt;
  }
  uint64_t v = 0;
  size_t i = k_head.size();
  size_t start = i;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9' && i - start < 19) {
    v = v * 10 + static_cast<uint64_t>(line[i] - '0');
    ++i;
  }
  if (i == start || i >= line.size() || line[i] != ',') {
    return std::nullopt;
  }
  return v;
}

}  // namespace

std::string seal_record(ChainState& st, std::string_view node, std::string_view fields) {
  std::string body = "{\"seq\":" + std::to_string(st.seq + 1) + ",\"node\":\"" + std::string(node) +
                     "\",\"prev_hash\":\"" + st.hash + "\"";
  // The record's own fields: the object's inside, after a comma.
  if (fields.size() >= 2 && fields.front() == '{' && fields.back() == '}' && fields.size() > 2) {
    body += ',';
    body.append(fields.substr(1, fields.size() - 2));
  }
  body += '}';
  std::string hash = sha256_hex(body);
  body.pop_back();
  body += std::string(k_hash_key) + hash + "\"}";
  st.seq += 1;
  st.hash = std::move(hash);
  return body;
}

std::optional<uint64_t> claimed_seq(std::string_view line) { return leading_seq(line); }

Result<ChainLink, LinkError> check_record(std::string_view line) {
  auto seq = leading_seq(line);
  if (!seq) {
    // A flat JSON object of the time before the chain, or junk.
    bool object = line.size() >= 2 && line.front() == '{' && line.back() == '}' &&
                  line.find("\"seq\"") == std::string_view::npos && line.find("\"hash\"") == std::string_view::npos;
    return unexpected(object ? LinkError::Unchained : LinkError::Damaged);
  }
  if (line.size() < k_suffix + 2 || line.substr(line.size() - 2) != "\"}" ||
      line.substr(line.size() - k_suffix, k_hash_key.size()) != k_hash_key) {
    return unexpected(LinkError::Damaged);
  }
  std::string_view hash = line.substr(line.size() - k_hex - 2, k_hex);
  if (!is_hex64(hash)) {
    return unexpected(LinkError::Damaged);
  }
  std::string body(line.substr(0, line.size() - k_suffix));
  body += '}';
  if (sha256_hex(body) != hash) {
    return unexpected(LinkError::Damaged);
  }
  constexpr std::string_view k_prev = ",\"prev_hash\":\"";
  size_t p = body.find(k_prev);
  if (p == std::string::npos || p + k_prev.size() + k_hex + 1 > body.size() ||
      !is_hex64(std::string_view(body).substr(p + k_prev.size(), k_hex))) {
    return unexpected(LinkError::Damaged);
  }
  ChainLink l;
  l.seq = *seq;
  l.prev_hash = body.substr(p + k_prev.size(), k_hex);
  l.hash = std::string(hash);
  return l;
}

void ChainVerifier::bad(uint64_t seq, std::string problem, std::string_view file, uint64_t lineno) {
  if (!m_r.ok) {
    return;  // the first problem is the one reported
  }
  m_r.ok = false;
  m_r.first_bad_seq = seq;
  m_r.problem = std::move(problem);
  m_r.where = std::string(file) + ":" + std::to_string(lineno);
}

void ChainVerifier::line(std::string_view text, std::string_view file, uint64_t lineno) {
  if (!m_r.ok) {
    return;
  }
  uint64_t expected = m_r.last_seq + 1;
  auto link = check_record(text);
  if (!link) {
    if (link.error() == LinkError::Unchained && !m_started) {
      ++m_r.unchained;
      return;
    }
    auto claimed = claimed_seq(text);
    uint64_t at = m_started ? expected : claimed.value_or(1);
    if (link.error() == LinkError::Unchained) {
      bad(at, "a record without a seal after the chain began (inserted)", file, lineno);
    } else if (claimed && m_started && *claimed != expected) {
      bad(at, "record damaged (it claims seq " + std::to_string(*claimed) + ")", file, lineno);
    } else {
      bad(at, "record altered: its hash does not match its content", file, lineno);
    }
    return;
  }
  if (!m_started) {
    // The oldest record at hand: the chain is checked from here (older files may have
    // been rotated away); only the very first record can be checked against genesis.
    m_started = true;
    if (link->seq == 1 && link->prev_hash != k_chain_genesis) {
      bad(1, "the first record does not start the chain", file, lineno);
      return;
    }
    m_r.first_seq = link->seq;
  } else if (link->seq > expected) {
    bad(expected,
        link->seq == expected + 1 ? "record missing (deleted)"
                                  : std::to_string(link->seq - expected) + " records missing (deleted)",
        file, lineno);
    return;
  } else if (link->seq < expected) {
    bad(expected, "seq " + std::to_string(link->seq) + " again (duplicated or reordered)", file, lineno);
    return;
  } else if (link->prev_hash != m_r.last_hash) {
    bad(expected, "prev_hash is not the hash of the record before it (replaced)", file, lineno);
    return;
  }
  ++m_r.records;
  m_r.last_seq = link->seq;
  m_r.last_hash = link->hash;
}

void ChainVerifier::finish(const std::optional<ChainState>& writer) {
  if (!m_r.ok || !writer || writer->seq == 0) {
    return;
  }
  if (m_r.last_seq < writer->seq) {
    bad(m_r.last_seq + 1,
        "the log ends at seq " + std::to_string(m_r.last_seq) + " but the daemon wrote up to seq " +
            std::to_string(writer->seq) + " (records cut off the end)",
        "(end)", 0);
  } else if (m_r.last_seq > writer->seq) {
    bad(writer->seq + 1, "records after seq " + std::to_string(writer->seq) + ", the last one the daemon wrote (added)",
        "(end)", 0);
  } else if (m_r.last_hash != writer->hash) {
    bad(writer->seq, "the last record is not the one the daemon wrote (rewritten)", "(end)", 0);
  }
}

}  // namespace tr7::core
