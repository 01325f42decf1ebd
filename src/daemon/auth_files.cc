// The files of authenticated time (see auth_files.h).
#include "daemon/auth_files.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "sys/fd.h"

namespace tr7::daemon {

Result<std::string, std::string> read_auth_fd(int fd, const std::string& path, bool secret) {
  struct stat st {};
  if (fstat(fd, &st) < 0) {
    return unexpected(path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return unexpected(path + ": not a regular file");
  }
  if (secret && (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    char m[8];
    std::snprintf(m, sizeof m, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return unexpected(path + ": mode " + m + " lets other users read or change a secret: refused (chmod o-rwx " + path +
                      ")");
  }
  if (static_cast<size_t>(st.st_size) > k_max_auth_file) {
    return unexpected(path + ": larger than 1 MiB");
  }
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return unexpected(path + ": cannot read: " + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > k_max_auth_file) {
      return unexpected(path + ": larger than 1 MiB");
    }
  }
  std::memset(buf, 0, sizeof buf);
  return text;
}

Result<std::string, std::string> read_auth_file(const std::string& path, bool secret) {
  sys::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return unexpected(path + ": cannot open: " + std::strerror(errno));
  }
  return read_auth_fd(fd.get(), path, secret);
}

Result<core::KeyFile, std::string> load_keyfile_fd(int fd, const std::string& path) {
  auto text = read_auth_fd(fd, path, true);
  if (!text) {
    return unexpected(text.error());
  }
  auto kf = core::parse_key_file(*text);
  std::fill(text->begin(), text->end(), '\0');
  if (!kf) {
    std::string all;
    for (const auto& e : kf.error()) {
      all += (all.empty() ? "" : "; ") + path + ": " + e;
    }
    return unexpected(all);
  }
  for (auto& w : kf->warnings) {
    w = path + ": " + w;
  }
  return std::move(*kf);
}

Result<core::KeyFile, std::string> load_keyfile(const std::string& path) {
  sys::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    return unexpected(path + ": cannot open: " + std::strerror(errno));
  }
  return load_keyfile_fd(fd.get(), path);
}

void GnutlsRandom::fill(std::span<uint8_t> out) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out.data(), out.size()) != 0) {
    // GnuTLS's generator failing is not something to carry on from with weak nonces.
    throw std::runtime_error("gnutls_rnd failed");
  }
}

}  // namespace tr7::daemon
