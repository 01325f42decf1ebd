#include "daemon/system_clock.h"

#include <atomic>
#include <mutex>

#include "daemon/kernel_clock.h"
#include "sys/clock.h"

namespace tr7::daemon {

namespace {
core::Timestamp raw_now(void*) { return sys::realtime_now(); }

// Generations are unique in the process (not per clock), so a thread's cache below can
// never mistake another clock's copy for this one's.
std::atomic<uint64_t> g_generation{0};

struct ReaderCache {
  const void* owner = nullptr;
  uint64_t generation = 0;
  std::shared_ptr<const core::VirtualClock> copy;
};
thread_local ReaderCache t_cache;
}  // namespace

// The virtual clock of mode `none`: corrections (event loop) go to the master, each
// followed by publishing an immutable copy; cook() (any thread) reads the newest copy.
class SystemClock::SharedVirtual final : public core::ClockControl {
 public:
  SharedVirtual() : m_master(&raw_now, nullptr) { publish(); }

  Result<void> step(double delta_s) override { return published(m_master.step(delta_s)); }
  Result<void> slew(double delta_s) override { return published(m_master.slew(delta_s)); }
  Result<void> set_frequency(double ppm) override { return published(m_master.set_frequency(ppm)); }
  double frequency() const override { return m_master.frequency(); }
  Result<void> set_leap(core::Leap leap) override { return published(m_master.set_leap(leap)); }

  core::Timestamp cook(core::Timestamp raw) const {
    ReaderCache& c = t_cache;
    if (c.owner != this || c.generation != m_generation.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(m_mutex);
      c.copy = m_copy;
      c.generation = m_generation.load(std::memory_order_relaxed);
      c.owner = this;
    }
    return c.copy->cook(raw);
  }

 private:
  Result<void> published(Result<void> r) {
    publish();  // a refused correction changed nothing, but publishing is harmless
    return r;
  }
  void publish() {
    auto copy = std::make_shared<const core::VirtualClock>(m_master);
    std::lock_guard<std::mutex> lock(m_mutex);
    m_copy = std::move(copy);
    m_generation.store(g_generation.fetch_add(1, std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  core::VirtualClock m_master;  // the event loop's
  mutable std::mutex m_mutex;
  std::shared_ptr<const core::VirtualClock> m_copy;
  std::atomic<uint64_t> m_generation{0};
};

SystemClock::SystemClock(ClockMode mode, core::ClockControl* kernel_control) : m_mode(mode) {
  if (mode == ClockMode::None) {
    m_virtual = std::make_unique<SharedVirtual>();
    m_control = m_virtual.get();
  } else if (kernel_control != nullptr) {
    m_control = kernel_control;  // the privileged helper (privilege separation)
  } else {
    m_control_owner = std::make_unique<KernelClock>();  // one process: clock_adjtime here
    m_control = m_control_owner.get();
  }
}

SystemClock::~SystemClock() = default;

core::Timestamp SystemClock::now() const { return cook(sys::realtime_now()); }

core::Timestamp SystemClock::cook(core::Timestamp raw) const {
  // Kernel mode: the system clock is the disciplined clock. None: add our correction.
  return m_virtual ? m_virtual->cook(raw) : raw;
}

}  // namespace tr7::daemon
