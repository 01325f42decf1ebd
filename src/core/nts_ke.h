// NTS Key Establishment messages (RFC 8915 §4): the record codec and the decisions of
// both ends. The TLS 1.3 session around them (ALPN "ntske/1", port 4460, the key export)
// is the daemon's (daemon/nts_ke_*.h).
//
// No I/O. A message is a sequence of records, each a 16-bit word (critical bit and type),
// a 16-bit body length and the body, ending with a critical End of Message record of
// length 0. Everything the peer sends is untrusted: a message is at most
// k_max_ke_message bytes and k_max_ke_records records (more is refused, nothing is
// allocated beyond that bound); a record's length never reaches past the data.
//
// Server (RFC 8915 §4.1): exactly one critical Next Protocol Negotiation record with NTPv4
// (0) among its protocols, exactly one AEAD Algorithm Negotiation record; records a
// client may not send (Error, Warning, New Cookie) are a Bad Request; an unknown critical
// record is answered with error 0 (Unrecognized Critical Record); unknown non-critical
// records are ignored. The reply: Next Protocol NTPv4, AEAD AES-SIV-CMAC-256 (15) if the
// client offered it (an empty AEAD record if it did not), the NTPv4 port and server when
// configured, 8 New Cookie records, End of Message; or an Error record and End of Message.
//
// Client: the request is Next Protocol NTPv4, AEAD [15], End of Message. The response
// must carry NTPv4, AEAD 15 and at least one cookie; an Error record, an unknown critical
// record, a missing or unexpected negotiation is a failure with a reason.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"

namespace tr7::core {

inline constexpr uint16_t k_ke_port = 4460;
inline constexpr const char* k_ke_alpn = "ntske/1";
inline constexpr const char* k_ke_exporter_label = "EXPORTER-network-time-security";
inline constexpr size_t k_max_ke_message = 16384;  // chrony's bound
inline constexpr size_t k_max_ke_records = 64;
inline constexpr size_t k_ke_cookies = 8;  // cookies a server hands out

enum KeRecordType : uint16_t {
  k_ke_end = 0,
  k_ke_next_protocol = 1,
  k_ke_error = 2,
  k_ke_warning = 3,
  k_ke_aead = 4,
  k_ke_new_cookie = 5,
  k_ke_server = 6,
  k_ke_port_record = 7,
};
inline constexpr uint16_t k_ke_critical = 0x8000;
inline constexpr uint16_t k_next_protocol_ntpv4 = 0;

enum KeErrorCode : uint16_t {
  k_ke_err_unrecognized_critical = 0,
  k_ke_err_bad_request = 1,
  k_ke_err_internal = 2,
};

struct KeRecord {
  bool critical = false;
  uint16_t type = 0;
  std::span<const uint8_t> body;
};

struct KeMessage {
  std::vector<KeRecord> records;  // End of Message not included
  size_t length = 0;              // bytes of the message, End of Message included
};

enum class KeParseError : uint8_t {
  TooLong,         // more than k_max_ke_message bytes without an End of Message
  TooManyRecords,  // more than k_max_ke_records records
  BadEnd,          // an End of Message record that is not critical or has a body
};
const char* to_string(KeParseError e);

// Parses one message from the start of `data`. nullopt: incomplete (read more); the
// records' bodies point into `data`. Bytes after the End of Message are not looked at.
Result<std::optional<KeMessage>, KeParseError> parse_ke_message(std::span<const uint8_t> data);

// Appends one record to `out`.
void add_ke_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint8_t> body);
void add_ke_u16_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint16_t> values);

// --- server ---------------------------------------------------------------------------
struct KeServerDecision {
  std::optional<uint16_t> error;  // an Error record: nothing else
  bool ntpv4 = false;             // NTPv4 negotiated (else an empty Next Protocol record)
  std::optional<uint16_t> aead;   // the algorithm chosen (else an empty AEAD record)
};
KeServerDecision ke_server_decide(const KeMessage& request);

struct KeServerOffer {
  std::optional<uint16_t> port;  // NTPv4 Port Negotiation (when the NTP port is not 123)
  std::string server;            // NTPv4 Server Negotiation (empty: none)
};
// The response; `cookies` are used only when a key set was negotiated (each record one
// cookie).
std::vector<uint8_t> ke_build_response(const KeServerDecision& d, const KeServerOffer& offer,
                                       const std::vector<std::vector<uint8_t>>& cookies);

// --- client ---------------------------------------------------------------------------
std::vector<uint8_t> ke_build_request();

struct KeClientResult {
  uint16_t aead = 0;
  std::vector<std::vector<uint8_t>> cookies;  // at most k_ke_cookies kept
  std::string server;                         // negotiated NTP server (empty: the KE host)
  std::optional<uint16_t> port;               // negotiated NTP port (none: 123)
};
Result<KeClientResult, std::string> ke_parse_response(const KeMessage& response);

// The key exporter's context (RFC 8915 §5.1): protocol id, AEAD id, 0 for C2S / 1 for S2C.
std::array<uint8_t, 5> ke_exporter_context(uint16_t aead, bool s2c);

}  // namespace tr7::core
