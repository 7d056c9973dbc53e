// One scheduler per model: JS threads enqueue into a lock-free MPSC queue, and a pool of
// `instance_count` runner threads forms and runs batches in a leader/follower rotation.
//
// The leader is whichever runner is free: it drains the queue into per-priority deques, applies
// timeouts, asks DecideBatch what to send, hands leadership to an idle follower and runs the batch
// itself. So a batch is formed exactly when a runner is free, requests pile up (and batches grow)
// while all runners are busy, and a request to an idle model costs one thread wake-up, not two
// (submit -> leader, which runs it; no second hop to a separate runner). An idle leader spins for
// `spin_microseconds` before it parks, so back-to-back requests usually cost no wake-up at all,
// unless the model's batches take so long that a wake-up does not matter (spin_policy.h): then it
// parks at once and leaves the core to others.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "engine/request.h"
#include "scheduler/batch_policy.h"
#include "scheduler/batching_config.h"
#include "scheduler/mpsc_queue.h"

namespace tg {

int64_t NowNs();

class Scheduler {
 public:
  // Runs a batch and completes its requests (called on a runner thread).
  using Executor = std::function<void(std::vector<Request*>& batch)>;
  // Completes requests that will not run, with `status` (called on a runner thread).
  using Dropper = std::function<void(std::vector<Request*>& requests, const Status& status)>;

  Scheduler(const BatchingConfig& config, Executor executor, Dropper dropper);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Producer side, any thread, lock-free. Returns false when the request's priority level is full
  // (max_queue_size); the request was not taken.
  bool Enqueue(Request* request);

  // Stops the runner threads and joins them. Call once nothing is queued or running.
  void Stop();

  // Any thread: makes a parked leader decide again now. Queued requests that were cancelled (or whose
  // thread is going away) are dropped at once instead of when their batch would have been sent;
  // `flush` (intake has stopped, no request can join a batch any more) also sends what is queued
  // without waiting for max_queue_delay, so that an unload does not wait out the delay.
  void Poke(bool flush = false);

  // How long a batch typically takes to execute (moving average, ns; 0 before the first).
  int64_t TypicalExecutionNs() const { return typical_exec_ns_.load(std::memory_order_relaxed); }

 private:
  void RunnerLoop();
  // Leads until a batch is ready (returned in `batch`) or Stop() was called (empty batch).
  void Lead(std::vector<Request*>& batch);
  void DrainIncoming();
  void ApplyTimeouts(int64_t now);
  void Take(size_t count, std::vector<Request*>& batch);
  void PurgeDead();
  void Park(int64_t wake_at);
  void Drop(std::vector<Request*>& requests, ErrorCode code, const char* message);
  void ReleaseAdmission(const Request& r);

  const BatchingConfig config_;
  Executor executor_;
  Dropper dropper_;

  // Producer/consumer boundary.
  MpscQueue<Request> incoming_;
  alignas(64) std::atomic<bool> parked_{false};
  std::counting_semaphore<> wake_{0};
  std::unique_ptr<std::atomic<int64_t>[]> level_sizes_;  // for max_queue_size; only when bounded
  std::vector<uint64_t> level_limits_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> poked_{false};
  std::atomic<bool> flushing_{false};
  std::atomic<int64_t> typical_exec_ns_{0};

  // Leader-only state.
  PendingQueues pending_;
  int64_t next_deadline_ = 0;
  std::vector<Request*> scratch_;

  // Leadership hand-off (never on the submit path).
  std::mutex lf_mu_;
  std::condition_variable lf_cv_;
  bool has_leader_ = false;
  std::vector<std::thread> runners_;
};

}  // namespace tg
