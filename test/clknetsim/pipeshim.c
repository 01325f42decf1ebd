/* Preloaded before clknetsim.so into a tr7ntpd under the simulator (test only).
 *
 * clknetsim's poll() reports every descriptor it does not own as readable, so the
 * libevent signal pipe would make the event loop spin and simulated time would never
 * advance. This shim remembers the read ends of the pipes the process creates, asks the
 * real kernel (glibc's ppoll, which clknetsim leaves alone, with a zero timeout) whether one of them
 * is readable, and hides the others from clknetsim's poll. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

enum { k_max_fd = 1024 };
static unsigned char is_pipe[k_max_fd];

static void remember(const int fds[2]) {
  if (fds[0] >= 0 && fds[0] < k_max_fd) {
    is_pipe[fds[0]] = 1;
  }
}

int pipe2(int fds[2], int flags) {
  static int (*next_pipe2)(int*, int);
  if (!next_pipe2) {
    next_pipe2 = (int (*)(int*, int))dlsym(RTLD_NEXT, "pipe2");
  }
  int r = next_pipe2(fds, flags);
  if (r == 0) {
    remember(fds);
  }
  return r;
}

int pipe(int fds[2]) { return pipe2(fds, 0); }

int close(int fd) {
  if (fd >= 0 && fd < k_max_fd) {
    is_pipe[fd] = 0;
  }
  static int (*next_close)(int);
  if (!next_close) {
    next_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
  }
  return next_close(fd);
}

int poll(struct pollfd* fds, nfds_t n, int timeout) {
  static int (*next_poll)(struct pollfd*, nfds_t, int);
  if (!next_poll) {
    next_poll = (int (*)(struct pollfd*, nfds_t, int))dlsym(RTLD_NEXT, "poll");
  }
  static int (*real_ppoll)(struct pollfd*, nfds_t, const struct timespec*, const sigset_t*);
  if (!real_ppoll) {
    real_ppoll = (int (*)(struct pollfd*, nfds_t, const struct timespec*, const sigset_t*))dlsym(RTLD_NEXT, "ppoll");
  }
  int hidden[64];
  nfds_t nh = 0;
  int ready = 0;
  for (nfds_t i = 0; i < n; ++i) {
    fds[i].revents = 0;
    if (fds[i].fd < 0 || fds[i].fd >= k_max_fd || !is_pipe[fds[i].fd] || nh == 64) {
      continue;
    }
    struct pollfd p = {fds[i].fd, fds[i].events, 0};
    struct timespec zero = {0, 0};
    if (real_ppoll(&p, 1, &zero, NULL) > 0) {
      fds[i].revents = p.revents;
      ++ready;
    }
  }
  if (ready > 0) {
    for (nfds_t i = 0; i < n; ++i) {
      if (fds[i].fd < 0 || fds[i].fd >= k_max_fd || !is_pipe[fds[i].fd]) {
        fds[i].revents = 0;
      }
    }
    return ready;
  }
  for (nfds_t i = 0; i < n && nh < 64; ++i) {
    if (fds[i].fd >= 0 && fds[i].fd < k_max_fd && is_pipe[fds[i].fd]) {
      hidden[nh++] = (int)i;
    }
  }
  int saved[64];
  for (nfds_t k = 0; k < nh; ++k) {
    saved[k] = fds[hidden[k]].fd;
    fds[hidden[k]].fd = -1;
  }
  int r = next_poll(fds, n, timeout);
  for (nfds_t k = 0; k < nh; ++k) {
    fds[hidden[k]].fd = saved[k];
    fds[hidden[k]].revents = 0;
  }
  return r;
}
