/* Test only: preloaded into the chronyd servers of leap_delete.test (before clknetsim.so).
 *
 * chronyd (4.3 and later) learns a leap second from `leapsectz` by asking mktime() for
 * 23:59:60 of the day in the leap zone: 23:59:60 stays on an insertion day, and should
 * overflow to 00:00:01 on a deletion day. glibc's mktime() clamps tm_sec 60 to 59 before
 * its search and adds the second back afterwards, and 23:59:59 does not exist on a
 * deletion day, so it returns -1: chronyd then announces no leap at all. Here, a -1 for
 * 23:59:60 is asked again as 23:59:58 plus 2 s, which gives what chronyd expects (00:00:01
 * of the next day when 23:59:59 was skipped); every other call is glibc's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <time.h>

time_t mktime(struct tm *tm) {
  static time_t (*real)(struct tm *);
  struct tm t;
  time_t r;
  if (!real)
    real = (time_t (*)(struct tm *))dlsym(RTLD_NEXT, "mktime");
  t = *tm;
  r = real(tm);
  if (r != (time_t)-1 || t.tm_sec != 60 || t.tm_min != 59 || t.tm_hour != 23)
    return r;
  t.tm_sec = 58;
  r = real(&t);
  if (r == (time_t)-1)
    return r;
  r += 2;
  if (!localtime_r(&r, tm))
    return (time_t)-1;
  return r;
}
