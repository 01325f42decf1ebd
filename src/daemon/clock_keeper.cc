#include "daemon/clock_keeper.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "autoconfig.h"
#include "daemon/log.h"
#include "sys/clock.h"

namespace tr7::daemon {

core::Timestamp build_time() { return core::Timestamp{static_cast<int64_t>(TR7_BUILD_UNIX_S) * core::k_ns_per_s}; }

namespace {

std::string iso(core::Timestamp t) {
  core::CivilTime c = core::to_civil(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year, c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

}  // namespace

std::optional<core::Timestamp> load_saved_clock(const StateDir& dir) {
  if (!dir.valid()) {
    return std::nullopt;
  }
  int err = 0;
  auto text = dir.read(k_saved_clock_file, 256, err);
  if (!text) {
    if (err != ENOENT) {
      log_warn("saved clock %s/%s unusable (%s): ignored", dir.path().c_str(), k_saved_clock_file,
               err == EFBIG ? "too large" : std::strerror(err));
    }
    return std::nullopt;
  }
  auto t = core::parse_saved_clock(*text);
  if (!t) {
    log_warn("saved clock %s/%s is corrupt: ignored", dir.path().c_str(), k_saved_clock_file);
  }
  return t;
}

core::StartupClockPlan startup_clock_check(core::Timestamp system_now, core::Timestamp build, core::Rtc* rtc,
                                           const StateDir& dir, double max_step_s, core::ClockControl* control) {
  core::StartupClockInput in;
  in.system = system_now;
  in.build = build;
  in.max_step_s = max_step_s;
  if (rtc != nullptr) {
    auto r = rtc->read();
    if (r) {
      in.rtc = *r;
    } else {
      log_warn("cannot read the RTC: %s", std::strerror(r.error()));
    }
  }
  in.saved = load_saved_clock(dir);
  core::StartupClockPlan p = core::plan_startup_clock(in);
  if (p.rtc_ignored) {
    log_warn("RTC time %s is implausible (outside %s .. %s): ignored", iso(*in.rtc).c_str(), iso(p.floor).c_str(),
             iso(p.ceiling).c_str());
  }
  if (p.saved_ignored) {
    log_warn("saved clock %s is after %s: ignored", iso(*in.saved).c_str(), iso(p.ceiling).c_str());
  }
  if (p.system_ahead) {
    log_warn("the system clock (%s) is after %s; start-up never steps back, the NTP sources will decide",
             iso(system_now).c_str(), iso(p.ceiling).c_str());
  }
  switch (p.action) {
    case core::StartupAction::Keep:
      log_debug("system clock %s is plausible (not before %s)", iso(system_now).c_str(), iso(p.floor).c_str());
      break;
    case core::StartupAction::Refuse:
      log_err(
          "the system clock (%s) is before %s, but the step to the %s (%+.0f s) exceeds max_startup_step: "
          "not stepped",
          iso(system_now).c_str(), iso(p.floor).c_str(), p.source, p.step_s);
      break;
    case core::StartupAction::Step:
      if (control == nullptr) {
        log_warn("the system clock (%s) is before %s; clock = none: not stepped (would step %+.3f s to the %s)",
                 iso(system_now).c_str(), iso(p.floor).c_str(), p.step_s, p.source);
        break;
      }
      if (auto r = control->step(p.step_s); r) {
        log_warn("the system clock was %s, before %s: stepped %+.3f s to the %s (%s)", iso(system_now).c_str(),
                 iso(p.floor).c_str(), p.step_s, p.source, iso(p.target).c_str());
      } else {
        log_err("stepping the clock to the %s failed: %s", p.source, r.error().c_str());
      }
      break;
  }
  return p;
}

ClockKeeper::ClockKeeper(event_base* base, const StateDir& dir, NowFn now, SyncedFn synced, RtcWriteFn write_rtc)
    : m_dir(dir), m_now(std::move(now)), m_synced(std::move(synced)), m_write_rtc(std::move(write_rtc)) {
  if (base != nullptr) {
    // One-shot, armed for the next due save or RTC write while synchronised (poke() arms it
    // when the sync state changes): no periodic wake-up of an idle daemon.
    m_timer = std::make_unique<sys::Callback>(
        base, -1, 0, [this](evutil_socket_t, short) { tick(static_cast<double>(sys::monotonic_ns()) / 1e9); });
    m_timer->add(k_keeper_tick_s);
  }
}

bool ClockKeeper::save_if_synced() {
  if (!m_dir.valid() || !m_synced()) {
    return false;
  }
  int err = m_dir.write_atomic(k_saved_clock_file, core::format_saved_clock(m_now()));
  if (err != 0) {
    if (!m_save_warned) {
      log_warn("cannot save the clock in %s/%s: %s", m_dir.path().c_str(), k_saved_clock_file, std::strerror(err));
      m_save_warned = true;
    }
    return false;
  }
  m_save_warned = false;
  ++m_saves;
  return true;
}

void ClockKeeper::poke() {
  if (m_timer && !m_timer->pending()) {
    tick(static_cast<double>(sys::monotonic_ns()) / 1e9);
  }
}

void ClockKeeper::tick(double mono_s) {
  if (!m_synced()) {
    return;  // poke() looks again when the sync state changes
  }
  if (!m_last_save_s || mono_s - *m_last_save_s >= k_save_interval_s) {
    if (save_if_synced()) {
      m_last_save_s = mono_s;
    }
  }
  if (m_write_rtc && (!m_last_rtc_s || mono_s - *m_last_rtc_s >= k_rtc_interval_s)) {
    m_last_rtc_s = mono_s;  // also after a failure: retried at the next interval, not every tick
    auto r = m_write_rtc();
    if (r) {
      ++m_rtc_writes;
      m_last_rtc_ok_s = mono_s;
    } else {
      ++m_rtc_failures;
      log_warn("writing the RTC failed: %s", r.error().c_str());
    }
  }
  if (m_timer) {
    // Nothing to save without a state directory (no timer for it); a failed save or RTC
    // write is retried a tick later (never sooner, however long ago the last success was).
    std::optional<double> next;
    auto due = [&](const std::optional<double>& last, double interval) {
      double in = last && mono_s - *last < interval ? *last + interval - mono_s : k_keeper_tick_s;
      next = next ? std::min(*next, in) : in;
    };
    if (m_dir.valid()) {
      due(m_last_save_s, k_save_interval_s);
    }
    if (m_write_rtc) {
      due(m_last_rtc_s, k_rtc_interval_s);
    }
    if (next) {
      m_timer->add(std::max(*next, 1.0));
    }
  }
}

}  // namespace tr7::daemon
