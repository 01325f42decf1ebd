// Landlock scoping (Linux 6.12+, Landlock ABI 6): a process that restricts itself can no
// longer connect or send to abstract Unix sockets created outside its own Landlock domain,
// nor signal processes outside it. No filesystem rules: the worker's chroot and seccomp
// filter do that part. Seccomp cannot see a socket address (it is behind a pointer), so
// this is what keeps the sandboxed worker from abstract sockets (issue 19 item 6).
#pragma once

namespace tr7::sys {

// The Landlock ABI version the kernel offers (0: none, disabled or not built in).
int landlock_abi();

// Scopes the calling process (and its future threads and children): no abstract Unix
// sockets from outside, no signals to outside. Needs PR_SET_NO_NEW_PRIVS. Returns 0 when
// in force, else an errno (EOPNOTSUPP: the kernel's Landlock is older than ABI 6).
int landlock_scope_abstract_unix_and_signals();

}  // namespace tr7::sys
