// Leap second decisions (THREATS.md "Leap-indicator abuse"). No I/O.
//
// A leap is believed only when a strict majority of the selected sources announce the
// same one, and only on a day that can end with one (30 June or 31 December, UTC); it
// takes effect at the following midnight UTC.
#pragma once

#include <vector>

#include "core/ntp_packet.h"
#include "core/time.h"

namespace tr7::core {

struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};
CivilDate civil_date(Timestamp t);  // UTC
bool is_leap_day(Timestamp t);      // 30 June or 31 December
Timestamp next_midnight(Timestamp t);

// The leap announced by a strict majority of `votes` (Insert or Delete), else None.
// Unsynchronised votes count as "no leap".
Leap majority_leap(const std::vector<Leap>& votes);

}  // namespace tr7::core
