#include "sys/rtc.h"

#include <fcntl.h>
#include <linux/rtc.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cerrno>

#include "core/startup_clock.h"

namespace tr7::sys {

Result<std::unique_ptr<DeviceRtc>, int> DeviceRtc::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return unexpected(errno);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) < 0) {
    return unexpected(errno);
  }
  if (!S_ISCHR(st.st_mode)) {
    return unexpected(ENODEV);
  }
  return std::unique_ptr<DeviceRtc>(new DeviceRtc(std::move(fd)));
}

Result<core::Timestamp, int> DeviceRtc::read() {
  rtc_time rt{};
  int r;
  do {
    r = ioctl(m_fd.get(), RTC_RD_TIME, &rt);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    return unexpected(errno);
  }
  core::CivilTime c;
  c.year = rt.tm_year + 1900;
  c.month = rt.tm_mon + 1;
  c.day = rt.tm_mday;
  c.hour = rt.tm_hour;
  c.minute = rt.tm_min;
  c.second = rt.tm_sec;
  auto t = core::from_civil(c);
  if (!t) {
    return unexpected(EINVAL);
  }
  return *t;
}

Result<void, int> DeviceRtc::write(core::Timestamp t) {
  core::CivilTime c = core::to_civil(t);
  if (!core::from_civil(c)) {
    return unexpected(EINVAL);
  }
  rtc_time rt{};
  rt.tm_year = c.year - 1900;
  rt.tm_mon = c.month - 1;
  rt.tm_mday = c.day;
  rt.tm_hour = c.hour;
  rt.tm_min = c.minute;
  rt.tm_sec = c.second;
  rt.tm_isdst = 0;
  if (ioctl(m_fd.get(), RTC_SET_TIME, &rt) < 0) {
    return unexpected(errno);
  }
  return {};
}

}  // namespace tr7::sys
