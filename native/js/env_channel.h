// The way back to one JS thread. Runner threads Deliver() finished requests into a lock-free queue
// and Flush() once per batch; Flush makes at most one napi_threadsafe_function call, and the JS
// callback drains everything queued, so a burst of batches costs one event-loop wake-up.
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
#include "scheduler/mpsc_queue.h"

namespace tg {

class ResultBuilder;

// A request submitted from JS: the engine's Request plus what only its JS thread may touch.
struct JsRequest : Request {
  std::shared_ptr<ModelCore> core;  // keeps the model (and its runner threads) alive until settled
  napi_deferred deferred = nullptr;
  std::vector<napi_ref> keep_alive;  // the caller's input arrays, read in place by the engine
  uint64_t token = 0;                // non-zero when the caller can abort it
  bool settled = false;              // aborted: the promise is already rejected
};

class EnvChannel : public CompletionSink {
 public:
  EnvChannel(Napi::Env env);
  ~EnvChannel() override;

  // Runner threads.
  void Deliver(Request* request) override { done_.Push(request); }
  void Flush(int count) override;
  bool Closing() const override { return closing_.load(std::memory_order_acquire); }

  // JS thread.
  void Submitted(napi_env env, JsRequest* request);  // a request entered the engine
  JsRequest* FindCancellable(uint64_t token);
  // Rejects an aborted request now; the engine drops it unrun (or discards its result) later.
  void Abort(napi_env env, JsRequest* request, napi_value error);
  // Frees the JS-side resources of a request that never entered the engine, or came back from it.
  void Free(napi_env env, JsRequest* request);
  // Env teardown: drop queued work of this thread, wait for running work that reads its memory.
  void Close(napi_env env);

 private:
  static void CallJs(napi_env env, napi_value, void* context, void*);
  void Drain(napi_env env);
  void Settle(napi_env env, ResultBuilder& results, JsRequest* request);  // resolve/reject (unless settled), free

  napi_threadsafe_function tsfn_ = nullptr;
  MpscQueue<Request> done_;
  alignas(64) std::atomic<bool> scheduled_{false};
  std::atomic<bool> closing_{false};
  std::atomic<int64_t> in_engine_{0};  // submitted, not yet flushed back
  std::mutex close_mu_;
  std::condition_variable close_cv_;
  // JS thread only.
  int64_t js_pending_ = 0;
  bool tsfn_referenced_ = false;
  std::unordered_map<uint64_t, JsRequest*> cancellable_;
  std::vector<JsRequest*> drained_;
};

}  // namespace tg
