#include "daemon/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tr7::daemon {

Result<StateDir, int> StateDir::open(const std::string& path) {
  StateDir d;
  d.m_fd.reset(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!d.m_fd.valid()) {
    return unexpected(errno);
  }
  d.m_path = path;
  return d;
}

std::optional<std::string> StateDir::read(const std::string& name, size_t max_bytes, int& err) const {
  err = 0;
  sys::Fd f(openat(m_fd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!f.valid()) {
    err = errno;
    return std::nullopt;
  }
  struct stat st {};
  if (fstat(f.get(), &st) < 0) {
    err = errno;
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    err = EINVAL;
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      err = errno;
      return std::nullopt;
    }
    if (n == 0) {
      break;
    }
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      err = EFBIG;
      return std::nullopt;
    }
  }
  return out;
}

int StateDir::write_atomic(const std::string& name, const std::string& data) const {
  if (!m_fd.valid()) {
    return EBADF;
  }
  std::string tmp = name + ".tmp";
  // A stale temporary file (a crash mid-write) or anything planted there goes first;
  // O_EXCL | O_NOFOLLOW then guarantee we write a file we just created.
  if (unlinkat(m_fd.get(), tmp.c_str(), 0) < 0 && errno != ENOENT) {
    return errno;
  }
  sys::Fd f(openat(m_fd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!f.valid()) {
    return errno;
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(f.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int e = errno;
      unlinkat(m_fd.get(), tmp.c_str(), 0);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(f.get()) < 0) {
    int e = errno;
    unlinkat(m_fd.get(), tmp.c_str(), 0);
    return e;
  }
  int fd = f.release();
  if (close(fd) < 0 && errno != EINTR) {
    int e = errno;
    unlinkat(m_fd.get(), tmp.c_str(), 0);
    return e;
  }
  if (renameat(m_fd.get(), tmp.c_str(), m_fd.get(), name.c_str()) < 0) {
    int e = errno;
    unlinkat(m_fd.get(), tmp.c_str(), 0);
    return e;
  }
  if (fsync(m_fd.get()) < 0) {
    return errno;
  }
  return 0;
}

}  // namespace tr7::daemon
