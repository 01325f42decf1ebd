// The state directory (state_dir, default /var/lib/tr7ntp), reached through a directory
// descriptor opened at start-up. Everything the daemon keeps there is read and written
// relative to that descriptor, so the same code works in one process (-d) and in the
// chrooted worker, where the state directory is "/".
//
// Writes are atomic (DESIGN.md): a temporary file created with O_EXCL | O_NOFOLLOW,
// written, fsync'ed, renamed over the name, then the directory fsync'ed. A crash at any
// point leaves the old file or the new one, never a mix.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "core/result.h"
#include "sys/fd.h"

namespace tr7::daemon {

class StateDir {
 public:
  StateDir() = default;
  // Opens `path` (O_DIRECTORY). Returns an errno when it cannot.
  static Result<StateDir, int> open(const std::string& path);

  bool valid() const { return m_fd.valid(); }
  int fd() const { return m_fd.get(); }
  const std::string& path() const { return m_path; }

  // Reads a whole regular file (O_NOFOLLOW), at most max_bytes. nullopt with errno set in
  // `err` (ENOENT when it does not exist, EFBIG when it is larger than max_bytes).
  std::optional<std::string> read(const std::string& name, size_t max_bytes, int& err) const;
  // Replaces `name` atomically with `data` (mode 0644, or `mode` for secrets: 0600,
  // under the umask). Returns 0 or an errno.
  int write_atomic(const std::string& name, const std::string& data, mode_t mode = 0644) const;

 private:
  sys::Fd m_fd;
  std::string m_path;
};

// Makes `path` a state directory that the worker's user (`user`, uid/gid) owns, before
// the privileges drop; called as root. So that a one-process run as root (-d) and a
// privilege-separated start can alternate on the same directory without a chown by hand:
// - missing: created 0750 and given to the user;
// - owned by root and writable by nobody else: only root can have made it (an earlier
//   -d run, or an admin's mkdir), so it is given to the user, with every file directly in
//   it that root owns (symlinks are changed themselves, never followed);
// - owned by the user: any file directly in it that root owns (left by a -d run as root)
//   is given to the user;
// - owned by anybody else, writable by group or others, or not a directory: refused,
//   with the command that fixes it.
// Returns what it repaired ("" when nothing) or throws std::runtime_error.
std::string prepare_state_dir(const std::string& path, const std::string& user, uid_t uid, gid_t gid);

}  // namespace tr7::daemon
