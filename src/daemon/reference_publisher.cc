#include "daemon/reference_publisher.h"

namespace tr7::daemon {

ReferencePublisher::ReferencePublisher(const core::ReferenceState& initial)
    : m_snap(std::make_shared<const core::ReferenceState>(initial)) {}

void ReferencePublisher::publish(const core::ReferenceState& s) {
  auto snap = std::make_shared<const core::ReferenceState>(s);
  std::lock_guard<std::mutex> lock(m_mutex);
  m_snap = std::move(snap);
  // After the pointer: a reader that sees the new generation finds the new snapshot.
  m_generation.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const core::ReferenceState> ReferencePublisher::snapshot() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_snap;
}

void ReferencePublisher::Reader::refresh() {
  std::lock_guard<std::mutex> lock(m_pub->m_mutex);
  // Read under the lock, so the generation cannot be newer than the snapshot taken.
  m_generation = m_pub->m_generation.load(std::memory_order_relaxed);
  m_snap = m_pub->m_snap;
}

}  // namespace tr7::daemon
