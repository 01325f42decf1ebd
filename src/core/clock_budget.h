// The privileged helper's clock budget: how much it lets the worker move the clock, also
// across helper restarts within one boot. Pure: no I/O; time is passed in (CLOCK_BOOTTIME
// ns: it counts suspend and is not moved by steps), the boot id too.
//
// Policy (tr7ntpd(8), "Privilege separation"; THREATS.md §4; issue 19 item 4):
//  * one step at most max_step_s; steps come from a token bucket (step_burst at once,
//    then one per step_refill_s);
//  * a one-shot slew at most max_slew_s;
//  * a frequency at most base_freq_ppm + max_slew_ppm away from zero. Up to base_freq_ppm
//    is the clock's own error and free; what is beyond moves the clock (a slew riding on
//    the frequency) and is charged by the time it is in force;
//  * everything that moves the clock -- steps, one-shot slews, the frequency beyond the
//    base -- counts against max_per_day_s in any 24 h, except the first step of a boot
//    (the clock may be far off after a boot: bounded by max_step_s alone). Past the
//    budget, steps and slews are refused, and a frequency beyond the base is refused and
//    brought back to the base by the helper (enforce());
//  * the state (tokens, the first-step flag, what was spent) is kept by the helper in a
//    file (encode/decode) and taken back when the helper restarts in the same boot: a
//    restart does not renew the budget. A new boot does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tr7::core {

struct ClockBudgetLimits {
  double max_step_s = 366.0 * 86400.0;
  double max_slew_s = 1.0;
  double base_freq_ppm = 500.0;
  double max_freq_ppm = 500.0 + 1e6 / 12;  // base + chronyd's maxslewrate
  double max_per_day_s = 1000.0;
  unsigned step_burst = 4;
  double step_refill_s = 300.0;
};

enum class BudgetVerdict : uint8_t {
  Ok,
  TooLarge,     // beyond the single-request bound
  RateLimited,  // no step token
  Spent,        // the 24 h budget would be passed
};
const char* to_string(BudgetVerdict v);

class ClockBudget {
 public:
  explicit ClockBudget(ClockBudgetLimits limits);

  // Each checks a request at boot time `now_ns` and, when Ok, counts it as applied
  // (call forget_last() if the clock then refused it).
  BudgetVerdict step(double delta_s, int64_t now_ns);
  BudgetVerdict slew(double delta_s, int64_t now_ns);
  BudgetVerdict frequency(double ppm, int64_t now_ns);
  // Undoes the accounting of the last Ok request (the clock failed to apply it).
  void forget_last();

  // The frequency to force now (the base-clamped one) when the one in force has spent
  // the budget; nullopt otherwise. Charges the time the frequency has been in force.
  std::optional<double> enforce(int64_t now_ns);

  // Spent in the 24 h before now_ns (s), the first step of the boot not included.
  double spent_s(int64_t now_ns) const;
  bool first_step_done() const { return m_first_step_done; }
  double tokens() const { return m_tokens; }
  const ClockBudgetLimits& limits() const { return m_limits; }
  // New bounds (a reload); what was spent stays spent.
  void set_limits(const ClockBudgetLimits& l) { m_limits = l; }

  // The state, as a small text file. decode() restores it only when `boot_id` is the one
  // it was written in (else: a new boot, a fresh budget), and refuses anything malformed
  // (nullopt: the caller decides; the helper then starts with the first step used up and
  // no tokens to spare, the cautious way).
  std::string encode(std::string_view boot_id) const;
  static std::optional<ClockBudget> decode(std::string_view text, std::string_view boot_id, ClockBudgetLimits limits);
  // A budget with nothing left but the base frequency, for an unreadable state file.
  static ClockBudget cautious(ClockBudgetLimits limits, int64_t now_ns);

 private:
  struct Spend {
    int64_t at_ns;
    double amount_s;
  };
  void refill(int64_t now_ns);
  void charge_frequency(int64_t now_ns);
  void prune(int64_t now_ns);
  void spend(int64_t at_ns, double amount_s);

  ClockBudgetLimits m_limits;
  bool m_first_step_done = false;
  double m_tokens;
  int64_t m_token_ns = 0;
  bool m_token_started = false;
  double m_freq_ppm = 0.0;  // in force since m_freq_ns
  int64_t m_freq_ns = 0;
  bool m_freq_known = false;
  std::vector<Spend> m_spent;
  // The last Ok request, for forget_last().
  struct Undo {
    bool valid = false;
    bool first_step = false;
    double tokens = 0.0;
    size_t spent_size = 0;
    double freq_ppm = 0.0;
    int64_t freq_ns = 0;
    bool freq_known = false;
  } m_undo;
};

}  // namespace tr7::core
