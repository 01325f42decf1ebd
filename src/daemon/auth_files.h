// The files of authenticated time, read as root before the privileges drop (and, on a
// reload, opened by the privileged helper and read by the worker): the symmetric key
// file ([daemon] keyfile) and the PEM files of [nts] (certificate chain, private key,
// trusted CAs). Also the worker's source of secure random bytes (GnuTLS's generator).
//
// Secret files (the key file, the private key) readable or writable by others are refused
// with an error naming the file, its mode and the fix: a secret that every local user
// can read is no secret.
#pragma once

#include <string>

#include "core/ntp_keys.h"
#include "core/result.h"
#include "core/secure_random.h"

namespace tr7::daemon {

inline constexpr size_t k_max_auth_file = 1024 * 1024;

// Reads a whole file from `fd` (at most k_max_auth_file bytes). `secret`: refused when its
// mode gives others any access. Errors name `path`.
Result<std::string, std::string> read_auth_fd(int fd, const std::string& path, bool secret);
Result<std::string, std::string> read_auth_file(const std::string& path, bool secret);

// The key file, parsed (core/ntp_keys.h). Errors: "PATH: line N: ..." or "PATH: mode ...".
Result<core::KeyFile, std::string> load_keyfile_fd(int fd, const std::string& path);
Result<core::KeyFile, std::string> load_keyfile(const std::string& path);

// gnutls_rnd() (thread-safe, no file descriptor: getrandom), drawn 4 KiB at a time into a
// per-thread pool for small requests; every byte is handed out once and wiped.
class GnutlsRandom final : public core::SecureRandom {
 public:
  void fill(std::span<uint8_t> out) override;
};

}  // namespace tr7::daemon
