// The audit trail's files: <state_dir>/audit/audit.log, rotated by size to audit.log.1
// (newest) ... audit.log.KEEP (oldest), and where they live.
//
// Append-only from the worker's side (issue 19 item 7). Under privilege separation the
// directory <state_dir>/audit belongs to root (group: the worker's, mode 02750, so its
// files inherit the group): the worker can read the records (`audit tail`) but can
// neither write, truncate, rename nor unlink them; the helper writes every record the
// worker sends it (core/privsep.h AuditAppend) and rotates. In one process (-d, or not
// started as root) the daemon keeps the same layout itself, owned by its own user.
//
// Each record is one write(2) of the line and its newline on an O_APPEND descriptor,
// then fsync(2). Before a record would take the file past max_bytes, the file is
// rotated: audit.log.K-1 -> audit.log.K, ..., audit.log -> audit.log.1 (the oldest
// beyond KEEP is replaced), the directory fsynced, a new audit.log created (0640). A
// record is never split across files. All by descriptor, relative to the directory's
// descriptor: a rename of <state_dir>/audit does not redirect anything.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"
#include "sys/fd.h"

namespace tr7::daemon {

inline constexpr const char* k_audit_dir = "audit";
inline constexpr const char* k_audit_name = "audit.log";
inline constexpr uint64_t k_default_audit_max_bytes = 16ULL << 20;
inline constexpr unsigned k_default_audit_keep = 8;

// As root before the fork (privilege separation): makes <state_dir>/audit a directory
// owned by root, group `gid`, mode 02750, and its entries root's (so the worker cannot
// write them). Refuses (throws std::runtime_error with what to do) a symlink, a file, or
// a directory owned by anyone but root or the worker's user `uid` (what a -d run as that
// user leaves; repaired). Returns what it repaired ("" when nothing).
std::string prepare_audit_dir(int state_dirfd, const std::string& state_path, uid_t uid, gid_t gid);

// Opens <state_dir>/audit (O_DIRECTORY | O_NOFOLLOW); with `must_be_root`, refuses one
// not owned by root or writable by group or others. In one process (must_be_root false)
// it is created (0750) when missing. Returns an errno text on failure.
Result<sys::Fd> open_audit_dir(int state_dirfd, bool must_be_root);

class AuditFile {
 public:
  AuditFile(sys::Fd dir, uint64_t max_bytes, unsigned keep);
  // Opens (creates, 0640) audit.log for appending. Also after an outside rotation (SIGHUP).
  Result<void> open();
  bool is_open() const { return m_fd.valid(); }
  // Appends one record (no newline in it: added here), fsynced; rotates first if needed.
  Result<void> append(std::string_view line);
  uint64_t rotations() const { return m_rotations; }

 private:
  Result<void> rotate();
  static void cut_torn_line(int rd, int wr, off_t size);

  sys::Fd m_dir;
  sys::Fd m_fd;
  uint64_t m_max_bytes;
  unsigned m_keep;
  uint64_t m_rotations = 0;
};

}  // namespace tr7::daemon
