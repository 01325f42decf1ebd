// The state directory (state_dir, default /var/lib/tr7ntp), reached through a directory
// descriptor opened at start-up. Everything the daemon keeps there is read and written
// relative to that descriptor, so the same code works in one process (-d) and in the
// chrooted worker, where the state directory is "/".
//
// Writes are atomic (DESIGN.md): a temporary file created with O_EXCL | O_NOFOLLOW,
// written, fsync'ed, renamed over the name, then the directory fsync'ed. A crash at any
// point leaves the old file or the new one, never a mix.
#pragma once

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
  // Replaces `name` atomically with `data` (mode 0644). Returns 0 or an errno.
  int write_atomic(const std::string& name, const std::string& data) const;

 private:
  sys::Fd m_fd;
  std::string m_path;
};

}  // namespace tr7::daemon
