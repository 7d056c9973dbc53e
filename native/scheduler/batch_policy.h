// Triton's dynamic-batch decision (dynamic_batch_scheduler.cc GetDynamicBatch), over the scheduler's
// pending requests. Pure: it reads the queues and says what to do; the scheduler does it.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/request.h"
#include "scheduler/batching_config.h"

namespace tg {

// Pending requests, one pair of deques per priority level (index 0 = highest). The cursor order is
// level by level; within a level, on-time requests (`queue`) and then DELAYed ones (`delayed`).
struct PendingQueues {
  struct Level {
    std::deque<Request*> queue;
    std::deque<Request*> delayed;
  };
  std::vector<Level> levels;
  size_t size = 0;

  explicit PendingQueues(uint32_t n) : levels(n) {}

  // Visits requests in cursor order until `fn` returns false.
  template <typename F>
  void ForEach(F&& fn) const {
    for (const auto& level : levels) {
      for (const auto* q : {&level.queue, &level.delayed}) {
        for (Request* r : *q) {
          if (!fn(r)) return;
        }
      }
    }
  }
};

struct BatchDecision {
  bool send = false;     // take `take` requests now
  size_t take = 0;       // a prefix of the cursor order (may include cancelled ones, which are dropped)
  int64_t wake_at = 0;   // when not sending: re-decide at this time (0: on the next arrival)
};

// Whether two requests may share a batch: same rank and the same non-batch dims on every input.
bool SameNonBatchShape(const Request& a, const Request& b);

// True when a request will not run: aborted by its caller, or its thread is going away.
inline bool IsDead(const Request& r) {
  return r.cancelled.load(std::memory_order_acquire) || (r.sink != nullptr && r.sink->Closing());
}

BatchDecision DecideBatch(const PendingQueues& pending, const BatchingConfig& config, int64_t now_ns);

}  // namespace tg
