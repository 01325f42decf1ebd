// The control socket's view of the NTP client: ClientStatusProvider over ClientService,
// and the mapping of the client's snapshots to the protocol's records (ctl/status.h).
//
// The mapping functions are pure (unit tested in test_client_provider); the provider
// adds what needs the event loop or the kernel (the time now, the local address a
// source is reached from).
//
// Source states (ctl/status.h), first match wins:
//   resolving     a name with no address yet
//   kod           the source refused us with a KoD DENY/RSTR: no more requests
//   unreachable   no valid reply in the last 8 polls
//   selected      the system peer: the reference served (best of the combined)
//   combined      a survivor of the clustering: its offset is combined into the clock's
//   candidate     a truechimer (agrees with the majority) dropped by the clustering, or
//                 one of too few truechimers (min_sources)
//   jittery       not usable now: its root distance is over max_distance because of
//                 its own jitter
//   falseticker   its correctness interval misses the majority's intersection
//   unselectable  not usable now (no sample yet, root distance), or no majority at all
// selectdata's reasons (comma-separated, "" for the selected source): resolving,
// dns_failed, kod, unreachable, no_samples, distance, jitter, falseticker, no_majority,
// too_few, clustered_out, combined, not_yet_selected.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/ntp_client.h"
#include "core/reference.h"
#include "ctl/status.h"
#include "daemon/client_service.h"
#include "daemon/client_status.h"

namespace tr7::daemon {

// `served`: the reference the server uses now (the client's, local_stratum's or none).
ctl::TrackingStatus map_tracking(const core::TrackingSnapshot& t, const core::ReferenceState& served,
                                 const std::vector<SourceView>& sources, core::Timestamp now,
                                 const std::string& clock_mode);
std::string source_state(const SourceView& v, const core::TrackingSnapshot& t);
std::string select_reasons(const SourceView& v, const core::TrackingSnapshot& t);
ctl::SourceStatus map_source(const SourceView& v, const core::TrackingSnapshot& t, core::Timestamp now);
// `base_freq_ppm`: the frequency correction applied (the source's freq_ppm is relative
// to it: positive means our clock should run faster to match the source).
ctl::SourceStats map_source_stats(const SourceView& v, double base_freq_ppm);
ctl::SelectStatus map_select(const SourceView& v, const core::TrackingSnapshot& t);
ctl::ActivityStatus map_activity(const std::vector<SourceView>& sources);
ctl::NtpDataStatus map_ntp_data(const SourceView& v, const std::string& local_address);
ctl::AuthStatus map_auth(const SourceView& v);
// "source add" options: the words of a [sources] line after the host; the word `pool`
// makes it a pool line. Parsed by the configuration's parser.
Result<SourceConfig, std::string> parse_source_command(const std::string& host, std::span<const std::string> options);

class ClientProvider final : public ClientStatusProvider {
 public:
  using ReferenceFn = std::function<core::ReferenceState(core::Timestamp)>;
  ClientProvider(ClientService& client, ReferenceFn reference, std::string clock_mode)
      : m_client(client), m_reference(std::move(reference)), m_clock_mode(std::move(clock_mode)) {}

  ctl::TrackingStatus tracking(core::Timestamp now) const override;
  std::vector<ctl::SourceStatus> sources(core::Timestamp now) const override;
  std::vector<ctl::SourceStats> source_stats() const override;
  std::vector<ctl::SelectStatus> select_data() const override;
  ctl::ActivityStatus activity() const override;
  std::optional<ctl::NtpDataStatus> ntp_data(const core::IpAddr& addr) const override;
  std::vector<ctl::AuthStatus> auth_data() const override;
  CommandResult add_source(const std::string& host, std::span<const std::string> options) override;
  CommandResult delete_source(const std::string& host, std::optional<uint16_t> port) override {
    return m_client.delete_source(host, port);
  }
  CommandResult burst() override { return m_client.burst(); }
  CommandResult make_step() override { return m_client.make_step(); }
  CommandResult approve(std::optional<int64_t> id) override { return m_client.approve(id); }

 private:
  ClientService& m_client;
  ReferenceFn m_reference;
  std::string m_clock_mode;
};

}  // namespace tr7::daemon
