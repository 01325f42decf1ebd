// Drift file reading and atomic writing (see drift_file.h).
#include "daemon/drift_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/strutil.h"
#include "sys/clock.h"
#include "sys/fd.h"

namespace tr7::daemon {

tr7::Result<double> parse_drift(const std::string& text) {
  if (text.size() > 256) {
    return tr7::unexpected(std::string("too long for a drift file"));
  }
  std::string first = text.substr(0, text.find('\n'));
  auto words = core::split_words(first);
  if (words.empty()) {
    return tr7::unexpected(std::string("empty"));
  }
  auto v = core::parse_double(words[0], -k_max_drift_ppm, k_max_drift_ppm);
  if (!v) {
    return tr7::unexpected("frequency: " + v.error());
  }
  return *v;
}

std::optional<double> read_drift_file(const std::string& path, std::string& warning) {
  warning.clear();
  sys::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    if (errno != ENOENT) {
      warning = path + ": cannot read: " + std::strerror(errno) + " (ignored)";
    }
    return std::nullopt;
  }
  struct stat st {};
  if (fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode)) {
    warning = path + ": not a regular file (ignored)";
    return std::nullopt;
  }
  char buf[300];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n < 0) {
    warning = path + ": cannot read: " + std::strerror(errno) + " (ignored)";
    return std::nullopt;
  }
  auto v = parse_drift(std::string(buf, static_cast<size_t>(n)));
  if (!v) {
    warning = path + ": " + v.error() + " (ignored, starting from 0 ppm)";
    return std::nullopt;
  }
  return *v;
}

tr7::Result<void> write_drift_file(const std::string& path, double ppm) {
  if (!std::isfinite(ppm) || std::fabs(ppm) > k_max_drift_ppm) {
    return tr7::unexpected(std::string("frequency out of range, not saved"));
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".tmp.%016llx", static_cast<unsigned long long>(sys::random_u64()));
  std::string tmp = path + suffix;
  auto fail = [&](const char* what) {
    int e = errno;
    unlink(tmp.c_str());
    return tr7::unexpected(std::string(what) + " " + tmp + ": " + std::strerror(e));
  };
  {
    sys::Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      return tr7::unexpected("cannot create " + tmp + ": " + std::strerror(errno));
    }
    char text[64];
    int len = std::snprintf(text, sizeof text, "%.6f\n", ppm);
    if (write(fd.get(), text, static_cast<size_t>(len)) != len) {
      return fail("cannot write");
    }
    if (fsync(fd.get()) < 0) {
      return fail("cannot fsync");
    }
    if (close(fd.release()) < 0) {
      return fail("cannot close");
    }
  }
  if (rename(tmp.c_str(), path.c_str()) < 0) {
    return fail("cannot rename");
  }
  sys::Fd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.valid()) {
    fsync(d.get());
  }
  return {};
}

}  // namespace tr7::daemon
