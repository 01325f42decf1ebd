// libFuzzer target: the privileged helper's request validator (core/privsep.h).
//
// Properties checked on every input, beyond "no crash, no UB, no leak":
//  * only messages of exactly sizeof(Request) bytes are accepted;
//  * an accepted message is byte for byte the canonical encoding of what was accepted
//    (no unused byte, no padding, no junk after the namespace name);
//  * accepted values are finite and inside the bounds: |frequency| <= 100000 ppm,
//    |slew| <= k_max_slew_s, |step| <= max_step and the step target inside the window,
//    leap 0..2, SetSync errors in [0, 16 s] (none when not synchronised), a valid namespace name, a configured (netns, address, port) or one a
//    runtime tenant rule admits (never port 0, never the own namespace); NetnsId only
//    for a namespace of a configured target or a runtime rule;
//  * with clock control off, no clock operation is ever accepted;
//  * parse_response accepts only exact-size replies (the worker's side).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "core/privsep.h"

using namespace tr7::core;
using namespace tr7::core::privsep;

namespace {

const Timestamp k_now{1'800'000'000LL * k_ns_per_s};

Policy make_policy(bool clock_control) {
  Policy p;
  p.clock_control = clock_control;
  p.rtc = true;
  p.max_step_s = 1000.0;
  p.floor = Timestamp{k_now.ns - 600LL * k_ns_per_s};
  p.ceiling = Timestamp{k_now.ns + 600LL * k_ns_per_s};
  p.bind_targets.push_back(BindTarget{"", SockAddr{*parse_ip("0.0.0.0"), 123}});
  p.bind_targets.push_back(BindTarget{"acme", SockAddr{*parse_ip("10.20.0.1"), 123}});
  p.bind_targets.push_back(BindTarget{"acme", SockAddr{*parse_ip("::"), 0}});
  p.runtime_rules.push_back(*parse_runtime_bind_rule("cust-* 100.64.0.0/10 port 123"));
  return p;
}

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Policy on = make_policy(true);
  static const Policy off = make_policy(false);
  std::span<const uint8_t> msg(data, size);
  for (const Policy* p : {&on, &off}) {
    auto v = validate(msg, *p, k_now);
    if (!v) {
      continue;
    }
    check(size == sizeof(Request));
    Request again;
    switch (v->op) {
      case Op::SetLeap:
        check(v->leap == Leap::None || v->leap == Leap::Insert || v->leap == Leap::Delete);
        again = make_set_leap(v->seq, v->leap);
        break;
      case Op::OpenUdp: {
        check(v->target.netns.empty() || valid_netns_name(v->target.netns));
        bool configured = false;
        for (const auto& t : p->bind_targets) {
          configured = configured || t == v->target;
        }
        bool runtime = !v->target.netns.empty() && v->target.addr.port != 0 &&
                       runtime_bind_allowed(p->runtime_rules, v->target.netns, v->target.addr);
        check(configured || runtime);
        auto r = make_open_udp(v->seq, v->target.netns, v->target.addr);
        check(r.has_value());
        again = *r;
        break;
      }
      case Op::NetnsId: {
        check(valid_netns_name(v->target.netns));
        bool known = false;
        for (const auto& t : p->bind_targets) {
          known = known || t.netns == v->target.netns;
        }
        for (const auto& rule : p->runtime_rules) {
          known = known || glob_match(rule.netns_glob, v->target.netns);
        }
        check(known);
        auto r = make_netns_id(v->seq, v->target.netns);
        check(r.has_value());
        again = *r;
        break;
      }
      case Op::SetSync:
        check(std::isfinite(v->value2) && v->value >= 0 && v->value <= k_max_sync_error_s && v->value2 >= 0 &&
              v->value2 <= k_max_sync_error_s);
        check(v->synchronised || (v->value == 0 && v->value2 == 0));
        again = make_set_sync(v->seq, v->synchronised, v->value2, v->value);
        break;
      default:
        again = make_request(v->op, v->seq, v->value);
        break;
    }
    check(std::memcmp(&again, data, sizeof again) == 0);
    check(std::isfinite(v->value));
    bool clock_op =
        v->op == Op::Slew || v->op == Op::SetFreq || v->op == Op::Step || v->op == Op::SetLeap || v->op == Op::WriteRtc ||
        v->op == Op::SetSync;
    check(!clock_op || p->clock_control);
    if (v->op == Op::SetFreq) {
      check(std::fabs(v->value) <= k_max_freq_ppm);
    }
    if (v->op == Op::Slew) {
      check(std::fabs(v->value) <= k_max_slew_s);
    }
    if (v->op == Op::Step) {
      check(std::fabs(v->value) <= p->max_step_s);
      double target = k_now.to_seconds() + v->value;
      check(target >= p->floor.to_seconds() && target <= p->ceiling.to_seconds());
    }
  }
  // The worker's reply check.
  if (size >= 8) {
    uint32_t op = 0;
    uint32_t seq = 0;
    std::memcpy(&op, data, 4);
    std::memcpy(&seq, data + 4, 4);
    auto r = parse_response(msg, static_cast<Op>(op % (k_op_max + 1)), seq);
    check(!r.has_value() || size == sizeof(Response));
  }
  return 0;
}
