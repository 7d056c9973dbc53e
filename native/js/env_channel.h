// The way back to one JS thread. Runner threads Deliver() finished requests into a lock-free queue
// and Flush() once per batch; Flush makes at most one napi_threadsafe_function call, and the JS side
// drains everything queued in one call of its completion handler (see completions.ts): a burst of
// batches costs one event-loop wake-up and one JS call, not one per request.
#pragma once

#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/model_core.h"
#include "engine/request.h"
#include "js/loop_spinner.h"
#include "scheduler/mpsc_queue.h"

namespace tg {

// A request submitted from JS. Its promise and the caller's input arrays live on the JS side, in the
// slot table of completions.ts (which keeps the arrays alive while the engine reads them in place);
// here it is just the slot number.
struct JsRequest : Request {
  std::shared_ptr<ModelCore> core;  // keeps the model (and its runner threads) alive until returned
  double slot = 0;
  bool cancellable = false;

  void Reset() {
    core.reset();
    for (InputData& in : inputs) {  // keep the vectors' capacity for the next request
      in.data = nullptr;
      in.bytes = 0;
      in.strings.clear();
      in.elements.clear();
    }
    outputs.clear();
    results.clear();
    status = Status::Ok();
    cancelled.store(false, std::memory_order_relaxed);
    delayed = false;
    deadline_ns = 0;
    queue_ns = compute_ns = batch_rows = 0;
    cancellable = false;
  }
};

class EnvChannel : public CompletionSink {
 public:
  explicit EnvChannel(Napi::Env env);
  ~EnvChannel() override;

  // Runner threads.
  void Deliver(Request* request) override { done_.Push(request); }
  void Flush(int count) override;
  bool Closing() const override { return closing_.load(std::memory_order_acquire); }

  // JS thread.
  void SetHandler(Napi::Function handler) { handler_ = Napi::Persistent(handler); }
  void SetLoopSpin(uint64_t microseconds) { spinner_->set_window_ns(microseconds * 1000); }
  LoopSpinner& spinner() { return *spinner_; }
  JsRequest* Acquire();                              // a recycled (or new) request
  void Recycle(JsRequest* request);                  // back to the free list
  void Submitted(napi_env env, JsRequest* request);  // the request entered the engine
  bool Cancel(double slot);                          // mark a queued request to be dropped unrun
  // Env teardown: drop queued work of this thread, wait for running work that reads its memory.
  void Close(napi_env env);

 private:
  static void CallJs(napi_env env, napi_value, void* context, void*);
  void Drain(napi_env env);

  napi_threadsafe_function tsfn_ = nullptr;
  MpscQueue<Request> done_;
  alignas(64) std::atomic<bool> scheduled_{false};
  std::atomic<bool> closing_{false};
  std::atomic<int64_t> in_engine_{0};  // submitted, not yet flushed back
  std::mutex close_mu_;
  std::condition_variable close_cv_;
  // JS thread only.
  Napi::FunctionReference handler_;
  LoopSpinner* spinner_;  // owned by its libuv handle's lifetime (freed after uv_close)
  int64_t js_pending_ = 0;
  std::unordered_map<double, JsRequest*> cancellable_;
  std::vector<JsRequest*> drained_;
  std::vector<std::unique_ptr<JsRequest>> free_;
};

}  // namespace tg
