// What the control socket needs from the NTP client and discipline: read snapshots and a
// few commands. The NTP client (issue 3) implements ClientStatusProvider; until it is
// wired in, NoClientProvider answers for a daemon without sources: tracking from the
// reference state that exists (unsynchronised, or local stratum), zero sources, and
// "no NTP client in this build" for the commands that need one.
//
// Contract for implementers:
//  * every method runs on the event loop thread and must not block;
//  * snapshots are copies (the caller may keep them); field meanings and sign
//    conventions are those of ctl/status.h;
//  * commands return a short human message on success, or a ctl::Error with a code from
//    ctl/protocol.h (InvalidArgument, NotFound, Exists, Unsupported, Failed); the
//    control layer has already checked the caller's permission and the arguments'
//    syntax, and it writes the audit record (before/after come from snapshots taken
//    around the call), so implementers do not audit their commands;
//  * clock steps, held corrections and their release are audited by the implementer
//    through AuditLog::clock_step / correction_held / correction_released.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/netaddr.h"
#include "core/reference.h"
#include "core/result.h"
#include "ctl/protocol.h"
#include "ctl/status.h"

namespace tr7::daemon {

using CommandResult = Result<std::string, ctl::Error>;

class ClientStatusProvider {
 public:
  virtual ~ClientStatusProvider() = default;

  virtual ctl::TrackingStatus tracking(core::Timestamp now) const = 0;
  virtual std::vector<ctl::SourceStatus> sources(core::Timestamp now) const = 0;
  virtual std::vector<ctl::SourceStats> source_stats() const = 0;
  virtual std::vector<ctl::SelectStatus> select_data() const = 0;
  virtual ctl::ActivityStatus activity() const = 0;
  // nullopt: no source with that address.
  virtual std::optional<ctl::NtpDataStatus> ntp_data(const core::IpAddr& addr) const = 0;
  // One record per source (as sources()), with its authentication.
  virtual std::vector<ctl::AuthStatus> auth_data() const { return {}; }

  // `source add HOST [OPTION...]`: options are words as in the configuration's
  // [sources] lines ("iburst", "minpoll", "4"), syntax-checked only. On success the
  // control layer persists the source in the runtime state and replays it at start.
  virtual CommandResult add_source(const std::string& host, std::span<const std::string> options) = 0;
  // `source delete HOST[:PORT] [port PORT]`: the source added or configured as HOST (an
  // IP address also matches a resolved address) on PORT; without a port, HOST must name
  // exactly one source (NotFound if none, InvalidArgument "ambiguous" if several).
  virtual CommandResult delete_source(const std::string& host, std::optional<uint16_t> port) = 0;
  virtual CommandResult burst() = 0;
  virtual CommandResult make_step() = 0;
  // `approve [ID]`: release the held correction `id` (the current one when nullopt).
  virtual CommandResult approve(std::optional<int64_t> id) = 0;
};

// The provider of a daemon with no NTP client: reports the reference state it is given.
class NoClientProvider final : public ClientStatusProvider {
 public:
  using ReferenceFn = std::function<core::ReferenceState(core::Timestamp)>;
  NoClientProvider(ReferenceFn reference, std::string clock_mode)
      : m_reference(std::move(reference)), m_clock_mode(std::move(clock_mode)) {}

  ctl::TrackingStatus tracking(core::Timestamp now) const override;
  std::vector<ctl::SourceStatus> sources(core::Timestamp) const override { return {}; }
  std::vector<ctl::SourceStats> source_stats() const override { return {}; }
  std::vector<ctl::SelectStatus> select_data() const override { return {}; }
  ctl::ActivityStatus activity() const override { return {}; }
  std::optional<ctl::NtpDataStatus> ntp_data(const core::IpAddr&) const override { return std::nullopt; }
  CommandResult add_source(const std::string&, std::span<const std::string>) override { return no_client(); }
  CommandResult delete_source(const std::string&, std::optional<uint16_t>) override { return no_client(); }
  CommandResult burst() override { return no_client(); }
  CommandResult make_step() override { return no_client(); }
  CommandResult approve(std::optional<int64_t>) override {
    return unexpected(ctl::Error{ctl::ErrCode::NotFound, "no correction is held (no NTP client in this build)"});
  }

 private:
  static CommandResult no_client() {
    return unexpected(ctl::Error{ctl::ErrCode::Unsupported, "no NTP client in this build"});
  }
  ReferenceFn m_reference;
  std::string m_clock_mode;
};

// The sync state in one line for systemd's STATUS= (sd_notify): "synchronised to
// 192.0.2.1, stratum 2, offset -0.000012 s", "holdover on ...", "local stratum 7, no
// source", "unsynchronised".
std::string status_line(const ctl::TrackingStatus& t);

// Tracking as seen from a reference state alone (also useful to the NTP client while it
// has no selected source).
ctl::TrackingStatus tracking_from_reference(const core::ReferenceState& ref, core::Timestamp now,
                                            const std::string& clock_mode);

}  // namespace tr7::daemon
