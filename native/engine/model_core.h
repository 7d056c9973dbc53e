// A loaded model: its ORT session, its scheduler and its statistics. Process-wide and shared by every
// JS thread that uses the model (worker_threads attach to it by id), so a model is loaded once.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/request.h"
#include "engine/runtime.h"
#include "engine/session_builder.h"
#include "engine/stats.h"
#include "scheduler/batching_config.h"
#include "scheduler/scheduler.h"

namespace tg {

class ModelCore {
 public:
  // Loads the session and starts the scheduler. Throws tg::Error.
  static std::shared_ptr<ModelCore> Load(std::shared_ptr<Runtime> runtime, const ModelSource& source,
                                         const SessionConfig& session_config, const BatchingConfig& batching);
  // The live model with this id, or nullptr.
  static std::shared_ptr<ModelCore> Find(uint32_t id);
  // Every live model (for process teardown).
  static std::vector<std::shared_ptr<ModelCore>> All();

  ~ModelCore();

  uint32_t id() const { return id_; }
  const ModelInfo& info() const { return session_->info; }
  const BatchingConfig& batching() const { return batching_; }
  ModelStats& stats() { return stats_; }
  bool accepting() const { return accepting_.load(std::memory_order_acquire); }

  // Validates nothing (the JS side did): fills scheduling fields and enqueues. Throws tg::Error for
  // QUEUE_FULL / UNAVAILABLE, in which case the caller still owns `request`.
  void Submit(Request* request, uint32_t priority, uint64_t timeout_us);

  // A queued request was cancelled (or its thread is going away): drop it now, not when its batch
  // would have been sent (a long max_queue_delay would otherwise hold an unload that long).
  void CancelQueued() { scheduler_->Poke(); }
  // How long this model's batches typically take to execute (ns; 0 before the first): how long a
  // thread that submitted a request can expect to wait for it at low load.
  int64_t TypicalExecutionNs() const { return scheduler_->TypicalExecutionNs(); }

  // Stops intake; `on_drained` runs (on some thread) once every accepted request has completed.
  // What is queued is sent at once (nothing can join its batch any more).
  void BeginUnload(std::function<void()> on_drained);
  // After draining: stops the runner threads and frees the session. Idempotent.
  void Shutdown();

 private:
  ModelCore(std::shared_ptr<Runtime> runtime, std::unique_ptr<LoadedSession> session, const BatchingConfig& batching);

  void Execute(std::vector<Request*>& batch);
  void RunBatch(std::vector<Request*>& batch, int64_t total_rows);
  void Complete(std::vector<Request*>& requests);
  void ReleasePending(int64_t n);

  const uint32_t id_;
  std::shared_ptr<Runtime> runtime_;
  std::unique_ptr<LoadedSession> session_;
  const BatchingConfig batching_;
  const Ort::MemoryInfo cpu_memory_ = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  ModelStats stats_;
  std::atomic<bool> accepting_{true};
  bool pinned_inputs_ = false;  // gather batches in page-locked memory (a GPU provider is active)
  std::unique_ptr<Scheduler> scheduler_;  // set once in the constructor, destroyed with the model

  std::mutex drain_mu_;
  std::vector<std::function<void()>> drain_waiters_;
  bool drained_ = false;
  bool shut_down_ = false;
};

}  // namespace tg
