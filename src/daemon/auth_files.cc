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

namespace {

// Per thread, a pool drawn from GnuTLS's generator 4 KiB at a time: the server threads
// need 32-160 bytes per NTS reply, and a call per reply costs more than the bytes.
struct RandomPool {
  uint8_t bytes[4096];
  size_t left = 0;
  ~RandomPool() { std::memset(bytes, 0, sizeof bytes); }
};
thread_local RandomPool t_pool;

void draw(void* out, size_t n) {
  if (gnutls_rnd(GNUTLS_RND_RANDOM, out, n) != 0) {
    // GnuTLS's generator failing is not something to carry on from with weak nonces.
    throw std::runtime_error("gnutls_rnd failed");
  }
}

}  // namespace

void GnutlsRandom::fill(std::span<uint8_t> out) {
  RandomPool& p = t_pool;
  if (out.size() > sizeof p.bytes / 4) {
    draw(out.data(), out.size());
    return;
  }
  if (p.left < out.size()) {
    draw(p.bytes, sizeof p.bytes);
    p.left = sizeof p.bytes;
  }
  // Taken from the end of what is left, and wiped: no byte is handed out twice.
  uint8_t* from = p.bytes + p.left - out.size();
  std::memcpy(out.data(), from, out.size());
  std::memset(from, 0, out.size());
  p.left -= out.size();
}

}  // namespace tr7::daemon
