#include "daemon/state_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

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

int StateDir::write_atomic(const std::string& name, const std::string& data, mode_t mode) const {
  if (!m_fd.valid()) {
    return EBADF;
  }
  std::string tmp = name + ".tmp";
  // A stale temporary file (a crash mid-write) or anything planted there goes first;
  // O_EXCL | O_NOFOLLOW then guarantee we write a file we just created.
  if (unlinkat(m_fd.get(), tmp.c_str(), 0) < 0 && errno != ENOENT) {
    return errno;
  }
  sys::Fd f(openat(m_fd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
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

namespace {

[[noreturn]] void sys_fail(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

// Gives every entry in `dirfd` that root owns to uid:gid (not following links), and
// those of its subdirectories (the history's, say; down to `depth` levels) except the
// audit directory, which prepare_audit_dir() keeps root's. Returns how many it changed.
int chown_root_entries(int dirfd, const std::string& path, uid_t uid, gid_t gid, int depth = 2) {
  int fd = dup(dirfd);
  if (fd < 0) {
    sys_fail("state_dir " + path);
  }
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    sys_fail("state_dir " + path);
  }
  int changed = 0;
  errno = 0;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) {
      continue;
    }
    struct stat st {};
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      continue;
    }
    if (S_ISDIR(st.st_mode) && depth > 0 && std::strcmp(e->d_name, "audit") != 0) {
      sys::Fd sub(openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.valid()) {
        changed += chown_root_entries(sub.get(), path + "/" + e->d_name, uid, gid, depth - 1);
      }
    }
    if (st.st_uid != 0) {
      continue;
    }
    if (fchownat(dirfd, e->d_name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
      int err = errno;
      closedir(d);
      errno = err;
      sys_fail("chown " + path + "/" + e->d_name);
    }
    ++changed;
  }
  closedir(d);
  return changed;
}

}  // namespace

std::string prepare_state_dir(const std::string& path, const std::string& user, uid_t uid, gid_t gid) {
  std::string fix = "chown -R " + user + ": " + path;
  std::string repaired;
  if (mkdir(path.c_str(), 0750) == 0) {
    repaired = "created";
  } else if (errno != EEXIST) {
    sys_fail("cannot create state_dir " + path);
  }
  // From here on through one descriptor, so a rename of the path cannot redirect us.
  sys::Fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOTDIR || errno == ELOOP) {
      throw std::runtime_error("state_dir " + path + " is not a directory (a symlink or a file): remove it");
    }
    sys_fail("state_dir " + path);
  }
  struct stat st {};
  if (fstat(dir.get(), &st) < 0) {
    sys_fail("state_dir " + path);
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    throw std::runtime_error("state_dir " + path + " is writable by " +
                             ((st.st_mode & S_IWOTH) ? "everyone" : "its group") + ": chmod 0750 " + path);
  }
  if (st.st_uid != uid && st.st_uid != 0) {
    throw std::runtime_error("state_dir " + path + " is owned by uid " + std::to_string(st.st_uid) + ", not by " +
                             user + " (uid " + std::to_string(uid) + "): " + fix);
  }
  if (st.st_uid == 0) {
    if (fchown(dir.get(), uid, gid) < 0) {
      sys_fail("chown state_dir " + path);
    }
    if (repaired.empty()) {
      repaired = "was owned by root, given to " + user;
    }
  }
  int files = chown_root_entries(dir.get(), path, uid, gid);
  if (files > 0) {
    repaired += std::string(repaired.empty() ? "" : "; ") + std::to_string(files) + " file" + (files == 1 ? "" : "s") +
                " owned by root given to " + user;
  }
  return repaired;
}

}  // namespace tr7::daemon
