// RAII for file descriptors and C handles (STYLE.md §3).
#pragma once

#include <unistd.h>

#include <memory>
#include <utility>

namespace tr7::sys {

class Fd {  // move-only; never dup() on copy
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : m_fd(fd) {}
  Fd(Fd&& o) noexcept : m_fd(std::exchange(o.m_fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset(std::exchange(o.m_fd, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const noexcept { return m_fd; }
  bool valid() const noexcept { return m_fd >= 0; }
  int release() noexcept { return std::exchange(m_fd, -1); }
  void reset(int fd = -1) noexcept {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = fd;
  }

 private:
  int m_fd = -1;
};

template <auto Free>
struct CFree {
  void operator()(auto* p) const noexcept { Free(p); }
};

}  // namespace tr7::sys
