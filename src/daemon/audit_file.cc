// The audit trail's files (see audit_file.h).
#include "daemon/audit_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "daemon/log.h"

namespace tr7::daemon {

namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Every entry directly in `dirfd` not owned by root becomes root's (group `gid`, links
// not followed). Returns how many it changed; throws on failure.
int give_entries_to_root(int dirfd, const std::string& path, gid_t gid) {
  int fd = dup(dirfd);
  if (fd < 0) {
    throw std::runtime_error(errno_text(path));
  }
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    throw std::runtime_error(errno_text(path));
  }
  int changed = 0;
  while (dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) {
      continue;
    }
    struct stat st {};
    if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid == 0) {
      continue;
    }
    if (fchownat(dirfd, e->d_name, 0, gid, AT_SYMLINK_NOFOLLOW) < 0) {
      std::string m = errno_text("chown root " + path + "/" + e->d_name);
      closedir(d);
      throw std::runtime_error(m + " (the audit log must not be writable by the worker)");
    }
    ++changed;
  }
  closedir(d);
  return changed;
}

}  // namespace

std::string prepare_audit_dir(int state_dirfd, const std::string& state_path, uid_t uid, gid_t gid) {
  std::string path = state_path + "/" + k_audit_dir;
  std::string repaired;
  // Made with the worker's group from the start (the effective gid at mkdir; CAP_SETGID
  // is there at start, CAP_CHOWN may not be under systemd).
  gid_t old_egid = getegid();
  bool egid = setegid(gid) == 0;
  int rc = mkdirat(state_dirfd, k_audit_dir, 0750);
  int err = errno;
  if (egid && setegid(old_egid) != 0) {
    throw std::runtime_error(errno_text("cannot restore the effective group"));
  }
  if (rc == 0) {
    repaired = "created " + path;
  } else if (err != EEXIST) {
    errno = err;
    throw std::runtime_error(errno_text("cannot create " + path));
  }
  sys::Fd dir(openat(state_dirfd, k_audit_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    if (errno == ENOTDIR || errno == ELOOP) {
      throw std::runtime_error(path + " is not a directory (a symlink or a file): remove it");
    }
    throw std::runtime_error(errno_text(path));
  }
  struct stat st {};
  if (fstat(dir.get(), &st) < 0) {
    throw std::runtime_error(errno_text(path));
  }
  if (st.st_uid != 0 && st.st_uid != uid) {
    throw std::runtime_error(path + " is owned by uid " + std::to_string(st.st_uid) +
                             ", neither root nor the worker's user: remove it or chown root " + path);
  }
  if (st.st_uid != 0 || st.st_gid != gid) {
    if (fchown(dir.get(), 0, gid) < 0) {
      throw std::runtime_error(errno_text("chown root " + path) +
                               " (the audit log must not be writable by the worker)");
    }
    repaired += std::string(repaired.empty() ? "" : "; ") + path + " given to root";
  }
  if ((st.st_mode & 07777) != 02750 && fchmod(dir.get(), 02750) < 0) {
    throw std::runtime_error(errno_text("chmod 02750 " + path));
  }
  if (int n = give_entries_to_root(dir.get(), path, gid); n > 0) {
    repaired +=
        std::string(repaired.empty() ? "" : "; ") + std::to_string(n) + " file(s) in " + path + " given to root";
  }
  return repaired;
}

Result<sys::Fd> open_audit_dir(int state_dirfd, bool must_be_root) {
  if (!must_be_root && mkdirat(state_dirfd, k_audit_dir, 0750) != 0 && errno != EEXIST) {
    return unexpected(errno_text(std::string("cannot create ") + k_audit_dir));
  }
  sys::Fd dir(openat(state_dirfd, k_audit_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) {
    return unexpected(errno_text(std::string("cannot open ") + k_audit_dir));
  }
  struct stat st {};
  if (fstat(dir.get(), &st) < 0) {
    return unexpected(errno_text(k_audit_dir));
  }
  if (must_be_root && (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)))) {
    return unexpected(std::string(k_audit_dir) + " is not root's, or is writable by others");
  }
  return dir;
}

AuditFile::AuditFile(sys::Fd dir, uint64_t max_bytes, unsigned keep)
    : m_dir(std::move(dir)), m_max_bytes(max_bytes), m_keep(keep == 0 ? 1 : keep) {}

Result<void> AuditFile::open() {
  int fd = openat(m_dir.get(), k_audit_name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
  if (fd < 0) {
    return unexpected(errno_text(std::string("cannot open ") + k_audit_dir + "/" + k_audit_name));
  }
  sys::Fd f(fd);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return unexpected(std::string(k_audit_dir) + "/" + k_audit_name + " is not a regular file");
  }
  if (st.st_size > 0) {
    // Read through a second, read-only descriptor (the helper's filter lets it open the
    // audit log for appending only).
    sys::Fd rd(openat(m_dir.get(), k_audit_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (rd.valid()) {
      cut_torn_line(rd.get(), fd, st.st_size);
    }
  }
  m_fd = std::move(f);
  return {};
}

void AuditFile::cut_torn_line(int rd, int wr, off_t size) {
  // A crash in the middle of a write leaves a last line without its newline: cut it off,
  // so the next record is not glued to it (the chain goes on from the last whole record).
  off_t pos = size;
  char c = 0;
  if (pos == 0 || lseek(rd, pos - 1, SEEK_SET) < 0 || read(rd, &c, 1) != 1 || c == '\n') {
    return;
  }
  std::string chunk;
  while (pos > 0) {
    size_t want = static_cast<size_t>(std::min<off_t>(pos, 65536));
    pos -= static_cast<off_t>(want);
    chunk.assign(want, '\0');
    if (lseek(rd, pos, SEEK_SET) < 0 || read(rd, chunk.data(), want) != static_cast<ssize_t>(want)) {
      return;
    }
    size_t nl = chunk.rfind('\n');
    if (nl != std::string::npos) {
      pos += static_cast<off_t>(nl) + 1;
      break;
    }
  }
  if (ftruncate(wr, pos) == 0) {
    log_warn("audit log: %lld bytes of a torn last line (an interrupted write) cut off",
             static_cast<long long>(size - pos));
  }
}

Result<void> AuditFile::rotate() {
  // Oldest first, so nothing is overwritten but the one beyond `keep`.
  for (unsigned k = m_keep; k >= 1; --k) {
    std::string from = k == 1 ? std::string(k_audit_name) : std::string(k_audit_name) + "." + std::to_string(k - 1);
    std::string to = std::string(k_audit_name) + "." + std::to_string(k);
    if (renameat(m_dir.get(), from.c_str(), m_dir.get(), to.c_str()) != 0 && errno != ENOENT) {
      return unexpected(errno_text("audit log rotation: rename " + from));
    }
  }
  fsync(m_dir.get());
  m_fd.reset();
  ++m_rotations;
  return open();
}

Result<void> AuditFile::append(std::string_view line) {
  if (!m_fd.valid()) {
    if (auto o = open(); !o) {
      return o;
    }
  }
  std::string rec(line);
  rec += '\n';
  struct stat st {};
  if (m_max_bytes > 0 && fstat(m_fd.get(), &st) == 0 && st.st_size > 0 &&
      static_cast<uint64_t>(st.st_size) + rec.size() > m_max_bytes) {
    if (auto r = rotate(); !r) {
      return r;
    }
  }
  // One write(2) with O_APPEND: the line lands whole at the end. A short write leaves a
  // partial line, which readers skip; it is an error.
  size_t done = 0;
  while (done < rec.size()) {
    ssize_t n = write(m_fd.get(), rec.data() + done, rec.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return unexpected(errno_text("audit log write failed"));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(m_fd.get()) != 0) {
    return unexpected(errno_text("audit log fsync failed"));
  }
  return {};
}

}  // namespace tr7::daemon
