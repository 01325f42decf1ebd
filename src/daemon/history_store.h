// The compliance history on disk: <state_dir>/history/, one file per kind and UTC day
// (core/history.h has the records):
//   sync-YYYY-MM-DD     one S1 line per interval ([history] interval, 300 s): the sync
//                       state, observed whenever it may have changed (observe(): the
//                       NTP client's replies and timers), each observation weighted by
//                       how long it held. An interval ends on the grid (start +
//                       interval), but is written at the first observation after its
//                       end (the state held until then), so an idle daemon does not wake
//                       for it: a timer only while the server has clients (their ledger
//                       is read at every interval), else at most hourly.
//                       Appended when written (a crash of the daemon loses nothing:
//                       the kernel has the write); forced to disk (fsync) at once when
//                       the interval was not wholly synchronised, at a flush (exit,
//                       report), else hourly: an idle synchronised daemon does not wait
//                       for the disk every interval, and a power loss costs at most an
//                       hour of synchronised intervals
//   clients-YYYY-MM-DD  the day's clients per tenant (C1), rewritten atomically at every
//                       interval written; at most max_clients_per_day per file (the most
//                       recently seen kept)
//   alerts-YYYY-MM-DD   alert transitions (A1), appended as they happen
// The audit trail stays where it is (audit.log*): the report reads its records of the
// period from there. Files older than keep_days are deleted, then the oldest days while
// the directory is over max_size. The current interval and the client ledger are
// written at every interval, before a report, and at exit, so a report after a restart
// covers what came before it.
//
// Clients: the server threads' tables are read at every interval; the requests a
// client sent are counted from the growth of its table record (a record evicted and
// made again counts from zero), so a client seen in two intervals is not counted twice
// and one evicted between two reads loses only what it sent since the last read.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/client_table.h"
#include "core/history.h"
#include "daemon/config.h"
#include "daemon/state_dir.h"
#include "sys/event.h"
#include "sys/fd.h"

namespace tr7::daemon {

class HistoryStore {
 public:
  using ObserveFn = std::function<core::SyncObservation()>;
  // Calls its argument with (tenant, records) for every server: "default" and each tenant.
  using ClientsFn = std::function<void(
      const std::function<void(const std::string& tenant, const std::vector<core::ClientRecord>&)>&)>;

  HistoryStore(event_base* base, const StateDir& dir, HistorySettings s, ObserveFn observe, ClientsFn clients);
  ~HistoryStore();  // does not flush: the owner calls flush() while what it reads exists
  void apply(const HistorySettings& s) { m_s = s; }

  // Ends the current interval (written if it has observations) and writes the client
  // ledger; the next interval starts now.
  void flush();
  // The sync state may have changed: observe it now.
  void observe();
  void record_alert(const core::AlertTransition& a);
  // What a report of [from_s, to_s) needs from the files (intervals, clients, alerts).
  core::ReportInput load(int64_t from_s, int64_t to_s) const;
  // Bytes in the history directory now (for the report's and the man page's figures).
  uint64_t disk_bytes() const;

 private:
  void snapshot_clients(int64_t now_real_s, int64_t mono_ns);
  void write_clients();
  void prune();
  int dirfd();  // the history directory, made on first use (as the worker's user)
  // fsync: force the write to disk too.
  Result<void> append(const std::string& name, const std::string& lines, bool fsync = true);
  // Closes the intervals that ended by `now` (a monotonic s), each with the state that
  // held; true if any. close_interval(): the current one, ending at `end` (<= now).
  bool close_due(double now);
  void close_interval(double end, double now, bool force_sync);
  void housekeeping();  // the client ledger (read, written) and pruning
  void arm();
  void on_timer();

  const StateDir& m_dir;
  HistorySettings m_s;
  ObserveFn m_observe;
  ClientsFn m_clients;
  sys::Fd m_hdir;
  core::IntervalAccumulator m_acc;
  double m_interval_start_mono = 0;
  // Today's client ledger (tenant, address) and the table records' counts at the last
  // read (tenant, address) -> (first_seen_ns of the record, requests).
  int64_t m_ledger_day = 0;  // days since 1970
  std::map<std::pair<std::string, std::string>, core::ClientDay> m_ledger;
  std::map<std::pair<std::string, std::string>, std::pair<int64_t, uint64_t>> m_seen;
  int64_t m_last_prune_day = -1;
  double m_last_sync_mono = 0;  // the last fsync of a sync file
  sys::Callback m_interval_timer;
  bool m_warned = false;
};

// "sync-2026-11-26" for a kind and a day (days since 1970).
std::string history_file(const char* kind, int64_t day);

}  // namespace tr7::daemon
