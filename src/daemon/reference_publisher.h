// The reference state the server threads serve, handed over as an immutable snapshot.
//
// The main thread (whoever disciplines the clock: the NTP client, local_stratum, a
// reload) calls publish(); every server thread owns a Reader and calls current() once
// per batch of requests. While nothing changed that costs one atomic load; right after a
// change the reader takes a short lock once to pick up the new snapshot, which stays
// alive (shared_ptr) for as long as any reader still serves it. The data path never
// waits for the publisher, and the publisher never waits for a reader.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "core/reference.h"

namespace tr7::daemon {

class ReferencePublisher {
 public:
  explicit ReferencePublisher(const core::ReferenceState& initial = core::unsynchronised_reference());
  ReferencePublisher(const ReferencePublisher&) = delete;
  ReferencePublisher& operator=(const ReferencePublisher&) = delete;

  // Replaces the snapshot (any thread; publishers are serialised).
  void publish(const core::ReferenceState& s);
  // The newest snapshot (any thread; takes the lock: not for the data path).
  std::shared_ptr<const core::ReferenceState> snapshot() const;

  // One per server thread.
  class Reader {
   public:
    explicit Reader(const ReferencePublisher& p) : m_pub(&p) { refresh(); }
    // The newest snapshot; valid until the next call of current() on this reader.
    const core::ReferenceState& current() {
      if (m_pub->m_generation.load(std::memory_order_acquire) != m_generation) {
        refresh();
      }
      return *m_snap;
    }

   private:
    void refresh();
    const ReferencePublisher* m_pub;
    uint64_t m_generation = 0;
    std::shared_ptr<const core::ReferenceState> m_snap;
  };

 private:
  mutable std::mutex m_mutex;
  std::shared_ptr<const core::ReferenceState> m_snap;
  std::atomic<uint64_t> m_generation{1};
};

}  // namespace tr7::daemon
