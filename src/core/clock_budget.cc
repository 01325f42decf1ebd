// The helper's clock budget (see clock_budget.h).
#include "core/clock_budget.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace tr7::core {

namespace {
constexpr int64_t k_day_ns = 86400LL * 1'000'000'000LL;
constexpr size_t k_max_entries = 512;  // older spends are merged beyond this
constexpr const char* k_magic = "tr7ntp-clock-budget 1";
}  // namespace

const char* to_string(BudgetVerdict v) {
  switch (v) {
    case BudgetVerdict::Ok:
      return "ok";
    case BudgetVerdict::TooLarge:
      return "too large";
    case BudgetVerdict::RateLimited:
      return "rate limited";
    case BudgetVerdict::Spent:
      return "daily budget spent";
  }
  return "?";
}

ClockBudget::ClockBudget(ClockBudgetLimits limits) : m_limits(limits), m_tokens(limits.step_burst) {}

ClockBudget ClockBudget::cautious(ClockBudgetLimits limits, int64_t now_ns) {
  ClockBudget b(limits);
  b.m_first_step_done = true;
  b.m_tokens = 0.0;
  b.m_token_started = true;
  b.m_token_ns = now_ns;
  b.spend(now_ns, limits.max_per_day_s);
  return b;
}

void ClockBudget::refill(int64_t now_ns) {
  if (!m_token_started) {
    m_token_started = true;
    m_token_ns = now_ns;
  }
  if (now_ns > m_token_ns) {
    m_tokens = std::min<double>(m_limits.step_burst,
                                m_tokens + static_cast<double>(now_ns - m_token_ns) / 1e9 / m_limits.step_refill_s);
    m_token_ns = now_ns;
  }
}

void ClockBudget::prune(int64_t now_ns) {
  while (!m_spent.empty() && m_spent.front().at_ns <= now_ns - k_day_ns) {
    m_spent.erase(m_spent.begin());
  }
}

void ClockBudget::spend(int64_t at_ns, double amount_s) {
  if (!(amount_s > 0.0)) {
    return;
  }
  if (m_spent.size() >= k_max_entries) {
    // Merge the two oldest: the sum stays, kept at the later time (counted longer: safe).
    m_spent[1].amount_s += m_spent[0].amount_s;
    m_spent.erase(m_spent.begin());
  }
  m_spent.push_back(Spend{at_ns, amount_s});
}

double ClockBudget::spent_s(int64_t now_ns) const {
  double s = 0.0;
  for (const auto& e : m_spent) {
    if (e.at_ns > now_ns - k_day_ns) {
      s += e.amount_s;
    }
  }
  return s;
}

void ClockBudget::charge_frequency(int64_t now_ns) {
  if (m_freq_known && now_ns > m_freq_ns) {
    double excess_ppm = std::fabs(m_freq_ppm) - m_limits.base_freq_ppm;
    if (excess_ppm > 0) {
      spend(now_ns, excess_ppm * 1e-6 * static_cast<double>(now_ns - m_freq_ns) / 1e9);
    }
  }
  m_freq_ns = now_ns;
}

BudgetVerdict ClockBudget::step(double delta_s, int64_t now_ns) {
  m_undo.valid = false;
  double mag = std::fabs(delta_s);
  if (!std::isfinite(delta_s) || mag > m_limits.max_step_s) {
    return BudgetVerdict::TooLarge;
  }
  refill(now_ns);
  charge_frequency(now_ns);
  prune(now_ns);
  if (m_tokens < 1.0) {
    return BudgetVerdict::RateLimited;
  }
  bool first = !m_first_step_done;
  if (!first && spent_s(now_ns) + mag > m_limits.max_per_day_s) {
    return BudgetVerdict::Spent;
  }
  m_undo = Undo{true, first, m_tokens, m_spent.size(), m_freq_ppm, m_freq_ns, m_freq_known};
  m_tokens -= 1.0;
  if (first) {
    m_first_step_done = true;
  } else {
    spend(now_ns, mag);
  }
  return BudgetVerdict::Ok;
}

BudgetVerdict ClockBudget::slew(double delta_s, int64_t now_ns) {
  m_undo.valid = false;
  double mag = std::fabs(delta_s);
  if (!std::isfinite(delta_s) || mag > m_limits.max_slew_s) {
    return BudgetVerdict::TooLarge;
  }
  charge_frequency(now_ns);
  prune(now_ns);
  if (spent_s(now_ns) + mag > m_limits.max_per_day_s) {
    return BudgetVerdict::Spent;
  }
  m_undo = Undo{true, false, m_tokens, m_spent.size(), m_freq_ppm, m_freq_ns, m_freq_known};
  spend(now_ns, mag);
  return BudgetVerdict::Ok;
}

BudgetVerdict ClockBudget::frequency(double ppm, int64_t now_ns) {
  m_undo.valid = false;
  if (!std::isfinite(ppm) || std::fabs(ppm) > m_limits.max_freq_ppm) {
    return BudgetVerdict::TooLarge;
  }
  charge_frequency(now_ns);
  prune(now_ns);
  if (std::fabs(ppm) > m_limits.base_freq_ppm && spent_s(now_ns) >= m_limits.max_per_day_s) {
    return BudgetVerdict::Spent;  // only the base frequency is left
  }
  m_undo = Undo{true, false, m_tokens, m_spent.size(), m_freq_ppm, m_freq_ns, m_freq_known};
  m_freq_ppm = ppm;
  m_freq_known = true;
  return BudgetVerdict::Ok;
}

void ClockBudget::forget_last() {
  if (!m_undo.valid) {
    return;
  }
  if (m_undo.first_step) {
    m_first_step_done = false;
  }
  m_tokens = m_undo.tokens;
  m_spent.resize(std::min(m_spent.size(), m_undo.spent_size));
  m_freq_ppm = m_undo.freq_ppm;
  m_freq_ns = m_undo.freq_ns;
  m_freq_known = m_undo.freq_known;
  m_undo.valid = false;
}

std::optional<double> ClockBudget::enforce(int64_t now_ns) {
  charge_frequency(now_ns);
  prune(now_ns);
  if (!m_freq_known || std::fabs(m_freq_ppm) <= m_limits.base_freq_ppm || spent_s(now_ns) < m_limits.max_per_day_s) {
    return std::nullopt;
  }
  m_freq_ppm = std::clamp(m_freq_ppm, -m_limits.base_freq_ppm, m_limits.base_freq_ppm);
  return m_freq_ppm;
}

std::string ClockBudget::encode(std::string_view boot_id) const {
  char buf[128];
  std::string out = std::string(k_magic) + "\nboot " + std::string(boot_id) + "\n";
  std::snprintf(buf, sizeof buf, "first_step_done %d\ntokens %.17g %lld %d\n", m_first_step_done ? 1 : 0, m_tokens,
                static_cast<long long>(m_token_ns), m_token_started ? 1 : 0);
  out += buf;
  std::snprintf(buf, sizeof buf, "frequency %.17g %lld %d\n", m_freq_ppm, static_cast<long long>(m_freq_ns),
                m_freq_known ? 1 : 0);
  out += buf;
  for (const auto& e : m_spent) {
    std::snprintf(buf, sizeof buf, "spent %lld %.17g\n", static_cast<long long>(e.at_ns), e.amount_s);
    out += buf;
  }
  out += "end\n";
  return out;
}

std::optional<ClockBudget> ClockBudget::decode(std::string_view text, std::string_view boot_id,
                                               ClockBudgetLimits limits) {
  ClockBudget b(limits);
  size_t pos = 0;
  int line_no = 0;
  bool ended = false;
  bool boot_matches = false;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) {
      return std::nullopt;  // a file always ends with a newline
    }
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (ended) {
      return std::nullopt;
    }
    if (line_no == 1) {
      if (line != k_magic) {
        return std::nullopt;
      }
      continue;
    }
    if (line_no == 2) {
      if (line.rfind("boot ", 0) != 0) {
        return std::nullopt;
      }
      boot_matches = line.substr(5) == boot_id;
      if (!boot_matches) {
        return ClockBudget(limits);  // written in another boot: a fresh budget
      }
      continue;
    }
    int a = 0;
    int c = 0;
    long long n = 0;
    double d = 0;
    char tail = 0;
    if (line == "end") {
      ended = true;
    } else if (std::sscanf(line.c_str(), "first_step_done %d%c", &a, &tail) == 1 && (a == 0 || a == 1)) {
      b.m_first_step_done = a == 1;
    } else if (std::sscanf(line.c_str(), "tokens %lf %lld %d%c", &d, &n, &c, &tail) == 3 && std::isfinite(d) &&
               d >= 0 && d <= limits.step_burst && (c == 0 || c == 1)) {
      b.m_tokens = d;
      b.m_token_ns = n;
      b.m_token_started = c == 1;
    } else if (std::sscanf(line.c_str(), "frequency %lf %lld %d%c", &d, &n, &c, &tail) == 3 && std::isfinite(d) &&
               (c == 0 || c == 1)) {
      b.m_freq_ppm = d;
      b.m_freq_ns = n;
      b.m_freq_known = c == 1;
    } else if (std::sscanf(line.c_str(), "spent %lld %lf%c", &n, &d, &tail) == 2 && std::isfinite(d) && d >= 0 &&
               b.m_spent.size() < k_max_entries && (b.m_spent.empty() || b.m_spent.back().at_ns <= n)) {
      b.m_spent.push_back(Spend{n, d});
    } else {
      return std::nullopt;
    }
  }
  if (!ended || !boot_matches) {
    return std::nullopt;
  }
  return b;
}

}  // namespace tr7::core
