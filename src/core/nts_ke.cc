// NTS-KE records (see nts_ke.h; RFC 8915 §4).
#include "core/nts_ke.h"

#include "core/nts_aead.h"

namespace tr7::core {

namespace {

uint16_t get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void push16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

// The largest body we look at in a u16 list record (chrony's NKE_MAX_RECORD_BODY_LENGTH):
// longer lists are still walked in full, the walk is bounded by the message.
bool u16_list(const KeRecord& r, std::vector<uint16_t>* out) {
  if (r.body.size() % 2 != 0) {
    return false;
  }
  for (size_t i = 0; i + 1 < r.body.size(); i += 2) {
    if (out != nullptr) {
      out->push_back(get16(r.body.data() + i));
    }
  }
  return true;
}

}  // namespace

const char* to_string(KeParseError e) {
  switch (e) {
    case KeParseError::TooLong:
      return "message too long";
    case KeParseError::TooManyRecords:
      return "too many records";
    case KeParseError::BadEnd:
      return "malformed end of message";
  }
  return "?";
}

Result<std::optional<KeMessage>, KeParseError> parse_ke_message(std::span<const uint8_t> data) {
  KeMessage m;
  size_t pos = 0;
  for (;;) {
    if (pos >= k_max_ke_message) {
      return unexpected(KeParseError::TooLong);
    }
    if (data.size() - pos < 4) {
      if (data.size() >= k_max_ke_message) {
        return unexpected(KeParseError::TooLong);
      }
      return std::optional<KeMessage>();
    }
    uint16_t word = get16(data.data() + pos);
    size_t len = get16(data.data() + pos + 2);
    if (pos + 4 + len > k_max_ke_message) {
      return unexpected(KeParseError::TooLong);
    }
    if (data.size() - pos - 4 < len) {
      return std::optional<KeMessage>();  // the rest of the record is still to come
    }
    KeRecord r;
    r.critical = (word & k_ke_critical) != 0;
    r.type = word & 0x7FFF;
    r.body = data.subspan(pos + 4, len);
    pos += 4 + len;
    if (r.type == k_ke_end) {
      if (!r.critical || len != 0) {
        return unexpected(KeParseError::BadEnd);
      }
      m.length = pos;
      return std::optional<KeMessage>(std::move(m));
    }
    if (m.records.size() >= k_max_ke_records) {
      return unexpected(KeParseError::TooManyRecords);
    }
    m.records.push_back(r);
  }
}

void add_ke_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint8_t> body) {
  push16(out, static_cast<uint16_t>(type | (critical ? k_ke_critical : 0)));
  push16(out, static_cast<uint16_t>(body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

void add_ke_u16_record(std::vector<uint8_t>& out, bool critical, uint16_t type, std::span<const uint16_t> values) {
  push16(out, static_cast<uint16_t>(type | (critical ? k_ke_critical : 0)));
  push16(out, static_cast<uint16_t>(values.size() * 2));
  for (uint16_t v : values) {
    push16(out, v);
  }
}

KeServerDecision ke_server_decide(const KeMessage& request) {
  KeServerDecision d;
  int npn_records = 0, aead_records = 0;
  size_t npn_values = 0, aead_values = 0;
  bool offered_aead = false;
  for (const auto& r : request.records) {
    switch (r.type) {
      case k_ke_next_protocol: {
        std::vector<uint16_t> v;
        if (!r.critical || r.body.empty() || !u16_list(r, &v)) {
          d.error = k_ke_err_bad_request;
          return d;
        }
        ++npn_records;
        npn_values += v.size();
        for (uint16_t p : v) {
          d.ntpv4 = d.ntpv4 || p == k_next_protocol_ntpv4;
        }
        break;
      }
      case k_ke_aead: {
        std::vector<uint16_t> v;
        if (r.body.empty() || !u16_list(r, &v)) {
          d.error = k_ke_err_bad_request;
          return d;
        }
        ++aead_records;
        aead_values += v.size();
        for (uint16_t a : v) {
          offered_aead = offered_aead || a == k_aead_aes_siv_cmac_256;
        }
        break;
      }
      case k_ke_error:
      case k_ke_warning:
      case k_ke_new_cookie:
        d.error = k_ke_err_bad_request;  // only a server sends these
        return d;
      case k_ke_server:
      case k_ke_port_record:
        break;  // a client's wish: we answer with what we serve
      default:
        if (r.critical) {
          d.error = k_ke_err_unrecognized_critical;
          return d;
        }
        break;
    }
  }
  if (npn_records != 1 || npn_values < 1 || (d.ntpv4 && (aead_records != 1 || aead_values < 1))) {
    d.error = k_ke_err_bad_request;
    return d;
  }
  if (d.ntpv4 && offered_aead) {
    d.aead = k_aead_aes_siv_cmac_256;
  }
  return d;
}

std::vector<uint8_t> ke_build_response(const KeServerDecision& d, const KeServerOffer& offer,
                                       const std::vector<std::vector<uint8_t>>& cookies) {
  std::vector<uint8_t> out;
  if (d.error) {
    uint16_t e = *d.error;
    add_ke_u16_record(out, true, k_ke_error, std::span<const uint16_t>(&e, 1));
  } else if (!d.ntpv4) {
    add_ke_record(out, true, k_ke_next_protocol, {});
  } else if (!d.aead) {
    uint16_t p = k_next_protocol_ntpv4;
    add_ke_u16_record(out, true, k_ke_next_protocol, std::span<const uint16_t>(&p, 1));
    add_ke_record(out, true, k_ke_aead, {});
  } else {
    uint16_t p = k_next_protocol_ntpv4;
    uint16_t a = *d.aead;
    add_ke_u16_record(out, true, k_ke_next_protocol, std::span<const uint16_t>(&p, 1));
    add_ke_u16_record(out, true, k_ke_aead, std::span<const uint16_t>(&a, 1));
    if (offer.port) {
      uint16_t port = *offer.port;
      add_ke_u16_record(out, true, k_ke_port_record, std::span<const uint16_t>(&port, 1));
    }
    if (!offer.server.empty()) {
      add_ke_record(
          out, true, k_ke_server,
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(offer.server.data()), offer.server.size()));
    }
    for (const auto& c : cookies) {
      add_ke_record(out, false, k_ke_new_cookie, c);
    }
  }
  add_ke_record(out, true, k_ke_end, {});
  return out;
}

std::vector<uint8_t> ke_build_request() {
  std::vector<uint8_t> out;
  uint16_t p = k_next_protocol_ntpv4;
  uint16_t a = k_aead_aes_siv_cmac_256;
  add_ke_u16_record(out, true, k_ke_next_protocol, std::span<const uint16_t>(&p, 1));
  add_ke_u16_record(out, true, k_ke_aead, std::span<const uint16_t>(&a, 1));
  add_ke_record(out, true, k_ke_end, {});
  return out;
}

Result<KeClientResult, std::string> ke_parse_response(const KeMessage& response) {
  KeClientResult r;
  bool ntpv4 = false, aead = false;
  int npn = 0, aeads = 0;
  for (const auto& rec : response.records) {
    switch (rec.type) {
      case k_ke_next_protocol: {
        std::vector<uint16_t> v;
        if (++npn > 1 || !u16_list(rec, &v) || v.size() != 1) {
          return unexpected(std::string("bad next protocol record"));
        }
        ntpv4 = v[0] == k_next_protocol_ntpv4;
        break;
      }
      case k_ke_aead: {
        std::vector<uint16_t> v;
        if (++aeads > 1 || !u16_list(rec, &v) || v.size() != 1) {
          return unexpected(std::string("no AEAD algorithm in common (AES-SIV-CMAC-256 wanted)"));
        }
        aead = v[0] == k_aead_aes_siv_cmac_256;
        r.aead = v[0];
        break;
      }
      case k_ke_error:
        return unexpected("server error " + std::to_string(rec.body.size() == 2 ? get16(rec.body.data()) : 0xFFFF) +
                          (rec.body.size() == 2 && get16(rec.body.data()) == k_ke_err_bad_request ? " (bad request)"
                           : rec.body.size() == 2 && get16(rec.body.data()) == k_ke_err_unrecognized_critical
                               ? " (unrecognized critical record)"
                               : ""));
      case k_ke_warning:
        return unexpected(std::string("server warning (not understood)"));
      case k_ke_new_cookie:
        if (!rec.body.empty() && rec.body.size() <= 256 && r.cookies.size() < k_ke_cookies) {
          r.cookies.emplace_back(rec.body.begin(), rec.body.end());
        }
        break;
      case k_ke_server:
        if (rec.body.empty() || rec.body.size() > 255) {
          return unexpected(std::string("bad server record"));
        }
        for (uint8_t c : rec.body) {
          if (c <= ' ' || c >= 127) {
            return unexpected(std::string("bad server record"));
          }
        }
        r.server.assign(rec.body.begin(), rec.body.end());
        break;
      case k_ke_port_record:
        if (rec.body.size() != 2 || get16(rec.body.data()) == 0) {
          return unexpected(std::string("bad port record"));
        }
        r.port = get16(rec.body.data());
        break;
      default:
        if (rec.critical) {
          return unexpected("unknown critical record " + std::to_string(rec.type));
        }
        break;
    }
  }
  if (!ntpv4) {
    return unexpected(std::string("NTPv4 not negotiated"));
  }
  if (!aead) {
    return unexpected(std::string("no AEAD algorithm in common (AES-SIV-CMAC-256 wanted)"));
  }
  if (r.cookies.empty()) {
    return unexpected(std::string("no cookies"));
  }
  return r;
}

std::array<uint8_t, 5> ke_exporter_context(uint16_t aead, bool s2c) {
  return {static_cast<uint8_t>(k_next_protocol_ntpv4 >> 8), static_cast<uint8_t>(k_next_protocol_ntpv4),
          static_cast<uint8_t>(aead >> 8), static_cast<uint8_t>(aead), static_cast<uint8_t>(s2c ? 1 : 0)};
}

}  // namespace tr7::core
