// NTP packet codec (RFC 5905 §7.3, RFC 7822).
#include "core/ntp_packet.h"

namespace tr7::core {

namespace {

uint32_t get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

uint64_t get64(const uint8_t* p) { return (static_cast<uint64_t>(get32(p)) << 32) | get32(p + 4); }

void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

void put64(uint8_t* p, uint64_t v) {
  put32(p, static_cast<uint32_t>(v >> 32));
  put32(p + 4, static_cast<uint32_t>(v));
}

bool valid_mac_len(size_t n, uint8_t version) {
  size_t max = version >= 4 ? k_max_v4_mac_len : k_max_v3_mac_len;
  return n >= 4 && n <= max && n % 4 == 0;
}

}  // namespace

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::TooShort:
      return "too short";
    case DecodeError::TooLong:
      return "too long";
    case DecodeError::BadVersion:
      return "bad version";
    case DecodeError::BadExtension:
      return "bad extension field or MAC";
  }
  return "?";
}

NtpHeader decode_header(std::span<const uint8_t, k_header_len> data) {
  const uint8_t* p = data.data();
  NtpHeader h;
  h.leap = static_cast<Leap>(p[0] >> 6);
  h.version = static_cast<uint8_t>((p[0] >> 3) & 7);
  h.mode = static_cast<Mode>(p[0] & 7);
  h.stratum = p[1];
  h.poll = static_cast<int8_t>(p[2]);
  h.precision = static_cast<int8_t>(p[3]);
  h.root_delay = get32(p + 4);
  h.root_dispersion = get32(p + 8);
  h.refid = get32(p + 12);
  h.reference = NtpTimestamp{get64(p + k_off_reference)};
  h.origin = NtpTimestamp{get64(p + k_off_origin)};
  h.receive = NtpTimestamp{get64(p + k_off_receive)};
  h.transmit = NtpTimestamp{get64(p + k_off_transmit)};
  return h;
}

Result<DecodedPacket, DecodeError> decode(std::span<const uint8_t> data) {
  if (data.size() < k_header_len) {
    return unexpected(DecodeError::TooShort);
  }
  if (data.size() > k_max_packet_len) {
    return unexpected(DecodeError::TooLong);
  }
  DecodedPacket d;
  d.length = data.size();
  d.header = decode_header(data.first<k_header_len>());
  uint8_t version = d.header.version;
  if (version < 1 || version > 4) {
    return unexpected(DecodeError::BadVersion);
  }
  size_t pos = k_header_len;
  size_t rest = data.size() - pos;
  if (version == 4) {
    // RFC 7822 §7.5: anything longer than the largest MAC must start with an
    // extension field. Each field is >= 16 bytes, so the loop runs < 64 times.
    while (rest > k_max_v4_mac_len) {
      if (d.extension_count >= k_max_extensions) {
        return unexpected(DecodeError::BadExtension);
      }
      size_t len = (static_cast<size_t>(data[pos + 2]) << 8) | data[pos + 3];
      if (len < k_min_ext_len || len % 4 != 0 || len > rest) {
        return unexpected(DecodeError::BadExtension);
      }
      ++d.extension_count;
      d.extension_bytes += len;
      pos += len;
      rest -= len;
    }
  }
  if (rest == 0) {
    return d;
  }
  if (!valid_mac_len(rest, version)) {
    return unexpected(DecodeError::BadExtension);
  }
  d.mac_len = rest;
  d.key_id = get32(data.data() + pos);
  d.auth = rest == 4 ? Auth::CryptoNak : Auth::Mac;
  return d;
}

void encode_header(const NtpHeader& h, std::span<uint8_t, k_header_len> out) {
  uint8_t* p = out.data();
  p[0] = static_cast<uint8_t>((static_cast<unsigned>(h.leap) & 3) << 6 | (h.version & 7) << 3 |
                              (static_cast<unsigned>(h.mode) & 7));
  p[1] = h.stratum;
  p[2] = static_cast<uint8_t>(h.poll);
  p[3] = static_cast<uint8_t>(h.precision);
  put32(p + 4, h.root_delay);
  put32(p + 8, h.root_dispersion);
  put32(p + 12, h.refid);
  put64(p + k_off_reference, h.reference.raw);
  put64(p + k_off_origin, h.origin.raw);
  put64(p + k_off_receive, h.receive.raw);
  put64(p + k_off_transmit, h.transmit.raw);
}

void encode_transmit(std::span<uint8_t, k_header_len> out, NtpTimestamp tx) {
  put64(out.data() + k_off_transmit, tx.raw);
}

}  // namespace tr7::core
