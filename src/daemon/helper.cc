// The privileged helper's request handler (see helper.h).
#include "daemon/helper.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <system_error>

#include "ctl/json.h"
#include "daemon/log.h"
#include "sys/netns.h"
#include "sys/seqpacket.h"

namespace tr7::daemon {

namespace ps = core::privsep;

namespace {
// Refusals logged one by one; after that, one line per k_refusal_log_every (a hostile
// worker must not flood the log).
constexpr uint64_t k_refusals_logged = 20;
constexpr uint64_t k_refusal_log_every = 1000;
}  // namespace

namespace {
core::ClockBudgetLimits budget_limits(const ps::Policy& p) {
  core::ClockBudgetLimits l;
  l.max_step_s = p.max_step_s;
  l.max_freq_ppm = std::min(p.max_freq_ppm, ps::k_max_freq_ppm);
  l.max_per_day_s = p.max_per_day_s;
  l.step_burst = ps::k_step_burst;
  l.step_refill_s = ps::k_step_refill_s;
  return l;
}
}  // namespace

HelperService::HelperService(ps::Policy policy, HelperDeps deps)
    : m_policy(std::move(policy)), m_deps(std::move(deps)), m_budget(budget_limits(m_policy)) {
  // What earlier helpers of this boot spent is still spent (a restart renews nothing).
  if (m_deps.load_budget) {
    auto text = m_deps.load_budget();
    if (text) {
      auto b = text->empty() ? std::nullopt : core::ClockBudget::decode(*text, m_deps.boot_id, budget_limits(m_policy));
      if (b) {
        m_budget = std::move(*b);
        log_info("helper: clock budget: %.3f s of %.0f s spent in the last 24 h%s", m_budget.spent_s(m_deps.mono_ns()),
                 m_policy.max_per_day_s, m_budget.first_step_done() ? ", first step of this boot used" : "");
      } else {
        m_budget = core::ClockBudget::cautious(budget_limits(m_policy), m_deps.mono_ns());
        log_err(
            "helper: the clock budget file is unreadable: until it refills (24 h), no step or slew beyond "
            "the base frequency");
      }
    }
  }
  // The policy never permits what no backend could do.
  m_policy.clock_control = m_policy.clock_control && m_deps.clock != nullptr;
  m_policy.rtc = m_policy.rtc && m_deps.rtc != nullptr;
  m_policy.audit = static_cast<bool>(m_deps.audit_append);
  m_buf.resize(sizeof(ps::Request) + ps::k_max_audit_record + 1);
}

void HelperService::refuse_log(uint32_t op, ps::Refusal why) {
  ++m_stats.refused;
  ++m_stats.refused_by[static_cast<size_t>(why)];
  if (m_stats.refused <= k_refusals_logged || m_stats.refused % k_refusal_log_every == 0) {
    const char* name = op >= ps::k_op_min && op <= ps::k_op_max ? ps::to_string(static_cast<ps::Op>(op)) : "?";
    log_warn("helper: refused request op=%u (%s): %s (%llu refused so far)", op, name, ps::to_string(why),
             static_cast<unsigned long long>(m_stats.refused));
  }
}

HelperService::Reply HelperService::handle(std::span<const uint8_t> msg, bool had_fds) {
  ++m_stats.requests;
  uint32_t op = 0;
  uint32_t seq = 0;
  ps::peek_ids(msg, op, seq);
  if (had_fds) {
    refuse_log(op, ps::Refusal::NotCanonical);
    return Reply{ps::make_refusal(op, seq, ps::Refusal::NotCanonical), {}};
  }
  auto v = ps::validate(msg, m_policy, m_deps.now());
  if (!v) {
    refuse_log(op, v.error());
    return Reply{ps::make_refusal(op, seq, v.error()), {}};
  }
  // The clock budget: steps, slews, the frequency beyond the base (core/clock_budget.h).
  bool budgeted = v->op == ps::Op::Step || v->op == ps::Op::Slew || v->op == ps::Op::SetFreq;
  if (budgeted) {
    int64_t now = m_deps.mono_ns();
    core::BudgetVerdict b = v->op == ps::Op::Step   ? m_budget.step(v->value, now)
                            : v->op == ps::Op::Slew ? m_budget.slew(v->value, now)
                                                    : m_budget.frequency(v->value, now);
    if (b != core::BudgetVerdict::Ok) {
      ps::Refusal why = b == core::BudgetVerdict::RateLimited ? ps::Refusal::RateLimited
                        : b == core::BudgetVerdict::Spent     ? ps::Refusal::BudgetSpent
                                                              : ps::Refusal::OutOfRange;
      refuse_log(op, why);
      return Reply{ps::make_refusal(op, seq, why), {}};
    }
  }
  Reply r = apply(*v);
  if (r.resp.status == 0) {
    ++m_stats.applied;
  } else {
    ++m_stats.failed;
    if (budgeted) {
      m_budget.forget_last();  // not applied: not spent
    }
  }
  if (budgeted) {
    save_budget(v->op != ps::Op::SetFreq);
  }
  return r;
}

void HelperService::write_rtc_after_step() {
  if (m_deps.rtc == nullptr || !m_policy.clock_control) {
    return;
  }
  auto w = m_deps.rtc->write(m_deps.now());
  if (!w) {
    log_warn("helper: writing the RTC after the step failed: %s", std::strerror(w.error()));
  }
}

HelperService::Reply HelperService::apply(const ps::Valid& v) {
  uint32_t op = static_cast<uint32_t>(v.op);
  Reply r{ps::make_response(op, v.seq, 0), {}};
  auto clock_result = [&](const Result<void>& res, const char* what) {
    if (!res) {
      log_err("helper: %s failed: %s", what, res.error().c_str());
      r.resp.status = EIO;
    }
  };
  switch (v.op) {
    case ps::Op::Query:
      r.resp.value = m_deps.clock != nullptr ? m_deps.clock->frequency() : 0.0;
      break;
    case ps::Op::Slew:
      log_debug("helper: slew %+.9f s", v.value);
      clock_result(m_deps.clock->slew(v.value), "slew");
      break;
    case ps::Op::SetFreq:
      log_debug("helper: frequency %+.6f ppm", v.value);
      clock_result(m_deps.clock->set_frequency(v.value), "set frequency");
      break;
    case ps::Op::Step: {
      log_info("helper: stepping the clock by %+.9f s", v.value);
      auto res = m_deps.clock->step(v.value);
      clock_result(res, "step");
      if (res) {
        write_rtc_after_step();
      }
      break;
    }
    case ps::Op::SetLeap:
      log_info("helper: leap second %s", v.leap == core::Leap::Insert   ? "insertion armed"
                                         : v.leap == core::Leap::Delete ? "deletion armed"
                                                                        : "cleared");
      clock_result(m_deps.clock->set_leap(v.leap), "set leap");
      break;
    case ps::Op::SetSync:
      log_debug("helper: sync status %s, est error %.6f s, max error %.6f s",
                v.synchronised ? "synchronised" : "unsynchronised", v.value2, v.value);
      clock_result(m_deps.clock->set_sync_status(v.synchronised, v.value2, v.value), "set sync status");
      break;
    case ps::Op::ReadRtc: {
      auto t = m_deps.rtc->read();
      if (!t) {
        r.resp.status = t.error();
      } else {
        r.resp.time_ns = t->ns;
      }
      break;
    }
    case ps::Op::WriteRtc: {
      auto w = m_deps.rtc->write(m_deps.now());
      if (!w) {
        log_warn("helper: writing the RTC failed: %s", std::strerror(w.error()));
        r.resp.status = w.error();
      }
      break;
    }
    case ps::Op::NetnsId:
      if (!m_deps.netns_id) {
        r.resp.status = ENOSYS;
        break;
      }
      try {
        r.resp.time_ns = static_cast<int64_t>(m_deps.netns_id(v.target.netns));
      } catch (const std::system_error& e) {
        r.resp.status = e.code().value() > 0 ? e.code().value() : EIO;
      }
      break;
    case ps::Op::AuditAppend: {
      // The worker formats the record; it must still be one flat JSON object.
      if (!ctl::parse_flat_object(v.record)) {
        log_warn("helper: audit record refused: not a flat JSON object");
        r.resp.status = EINVAL;
        break;
      }
      int err = m_deps.audit_append(v.record);
      if (err != 0) {
        r.resp.status = err;
      }
      break;
    }
    case ps::Op::OpenAuthFile: {
      const std::string& path = m_policy.auth_files[static_cast<size_t>(v.auth_file) - 1];
      if (!m_deps.open_file) {
        r.resp.status = ENOSYS;
        break;
      }
      try {
        r.fd = m_deps.open_file(path);
        r.resp.has_fd = 1;
        log_info("helper: opened %s for the worker (reload)", path.c_str());
      } catch (const std::system_error& e) {
        log_warn("helper: %s failed: %s", ps::to_string(v.op), e.what());
        r.resp.status = e.code().value() > 0 ? e.code().value() : EIO;
      }
      break;
    }
    case ps::Op::OpenUdp:
    case ps::Op::OpenConfig:
      try {
        r.fd = v.op == ps::Op::OpenUdp ? m_deps.open_udp(v.target) : m_deps.open_config();
        r.resp.has_fd = 1;
        if (v.op == ps::Op::OpenUdp) {
          // Client sockets (port 0) come once per poll: not worth a line each.
          (v.target.addr.port == 0 ? log_debug : log_info)(
              "helper: opened UDP socket %s%s%s for the worker", v.target.addr.to_string().c_str(),
              v.target.netns.empty() ? "" : " in netns ", v.target.netns.c_str());
        } else if (m_deps.refresh_policy) {
          m_deps.refresh_policy(m_policy);  // a reload: tenants of the file as it is now
          m_budget.set_limits(budget_limits(m_policy));
        }
      } catch (const std::system_error& e) {
        log_warn("helper: %s failed: %s", ps::to_string(v.op), e.what());
        r.resp.status = e.code().value() > 0 ? e.code().value() : EIO;
      }
      break;
  }
  return r;
}

void HelperService::save_budget(bool force) {
  if (!m_deps.save_budget) {
    return;
  }
  // Steps and slews at once; the frequency's charge at most every 10 s.
  int64_t now = m_deps.mono_ns();
  if (!force && now - m_budget_saved_ns < 10 * core::k_ns_per_s) {
    return;
  }
  m_budget_saved_ns = now;
  m_deps.save_budget(m_budget.encode(m_deps.boot_id));
}

void HelperService::tick() {
  auto f = m_budget.enforce(m_deps.mono_ns());
  if (f && m_deps.clock != nullptr && m_policy.clock_control) {
    log_warn("helper: the clock budget of the last 24 h (%.0f s) is spent: frequency brought back to %+.3f ppm",
             m_policy.max_per_day_s, *f);
    if (auto r = m_deps.clock->set_frequency(*f); !r) {
      log_err("helper: set frequency failed: %s", r.error().c_str());
    }
    save_budget(true);
  }
}

bool HelperService::serve_one(int chan) {
  // One byte more than the longest message (a header and a record): a longer one shows
  // up as MSG_TRUNC or a longer read.
  uint8_t* buf = m_buf.data();
  sys::Message m;
  int err = sys::receive_message(chan, std::span<uint8_t>(buf, m_buf.size()), m);
  if (err == EAGAIN || err == EWOULDBLOCK) {
    return true;
  }
  if (err != 0) {
    log_err("helper: receive from the worker failed: %s", std::strerror(err));
    return false;
  }
  if (m.eof) {
    return false;
  }
  size_t len = m.truncated ? m_buf.size() : m.len;  // a truncated message is too long: refused
  Reply r = handle(std::span<const uint8_t>(buf, len), !m.fds.empty() || m.ctrunc);
  m.fds.clear();  // anything the worker sent along is closed, never used
  err = sys::send_message(chan, ps::as_bytes(r.resp), r.fd.valid() ? r.fd.get() : -1);
  if (err != 0) {
    log_err("helper: reply to the worker failed: %s", std::strerror(err));
    return false;
  }
  return true;
}

}  // namespace tr7::daemon
