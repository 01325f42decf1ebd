// Civil dates from POSIX days (H. Hinnant's days_from_civil inverse) and the leap vote.
#include "core/leap.h"

namespace tr7::core {

namespace {
constexpr int64_t k_day_ns = 86400LL * k_ns_per_s;

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
}  // namespace

CivilDate civil_date(Timestamp t) {
  int64_t z = floor_div(t.ns, k_day_ns) + 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  CivilDate c;
  c.year = static_cast<int>(m <= 2 ? y + 1 : y);
  c.month = static_cast<int>(m);
  c.day = static_cast<int>(d);
  return c;
}

bool is_leap_day(Timestamp t) {
  CivilDate c = civil_date(t);
  return (c.month == 6 && c.day == 30) || (c.month == 12 && c.day == 31);
}

Timestamp next_midnight(Timestamp t) { return Timestamp{(floor_div(t.ns, k_day_ns) + 1) * k_day_ns}; }

Leap majority_leap(const std::vector<Leap>& votes) {
  size_t ins = 0, del = 0;
  for (Leap l : votes) {
    ins += l == Leap::Insert ? 1 : 0;
    del += l == Leap::Delete ? 1 : 0;
  }
  if (2 * ins > votes.size()) {
    return Leap::Insert;
  }
  if (2 * del > votes.size()) {
    return Leap::Delete;
  }
  return Leap::None;
}

}  // namespace tr7::core
