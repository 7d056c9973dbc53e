#include "js/env_channel.h"

#include <algorithm>

#include "js/addon_data.h"
#include "js/convert.h"

namespace tg {

EnvChannel::EnvChannel(Napi::Env env) : spinner_(new LoopSpinner(env, 0)) {  // init() sets the window
  napi_value name = Napi::String::New(env, "tensorgate.completions");
  napi_status st = napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, this, CallJs, &tsfn_);
  if (st != napi_ok) throw Napi::Error::New(env, "cannot create the completion channel");
  napi_unref_threadsafe_function(env, tsfn_);  // referenced only while requests are pending
}

EnvChannel::~EnvChannel() = default;

void EnvChannel::Flush(int count) {
  if (!closing_.load(std::memory_order_acquire) && !scheduled_.exchange(true, std::memory_order_acq_rel)) {
    napi_call_threadsafe_function(tsfn_, nullptr, napi_tsfn_nonblocking);
  }
  // After this the env may be torn down: nothing below may touch the tsfn.
  if (in_engine_.fetch_sub(count, std::memory_order_acq_rel) == count && closing_.load(std::memory_order_acquire)) {
    std::lock_guard<std::mutex> lock(close_mu_);
    close_cv_.notify_all();
  }
}

JsRequest* EnvChannel::Acquire() {
  if (free_.empty()) {
    auto r = new JsRequest();
    r->sink = this;
    return r;
  }
  JsRequest* r = free_.back().release();
  free_.pop_back();
  return r;
}

void EnvChannel::Recycle(JsRequest* request) {
  request->Reset();
  if (free_.size() < 4096) {
    free_.emplace_back(request);
  } else {
    delete request;
  }
}

void EnvChannel::Submitted(napi_env env, JsRequest* request) {
  in_engine_.fetch_add(1, std::memory_order_relaxed);
  if (js_pending_++ == 0) napi_ref_threadsafe_function(env, tsfn_);  // keep the loop alive meanwhile
  spinner_->Submitted(js_pending_, request->core->TypicalExecutionNs());
  if (request->cancellable) cancellable_.emplace(request->slot, request);
}

bool EnvChannel::Cancel(double slot) {
  auto it = cancellable_.find(slot);
  if (it == cancellable_.end()) return false;
  it->second->cancelled.store(true, std::memory_order_release);
  it->second->core->CancelQueued();
  return true;
}

void EnvChannel::CallJs(napi_env env, napi_value, void* context, void*) {
  if (env == nullptr) return;  // the env is going away; Close() frees what is queued
  static_cast<EnvChannel*>(context)->Drain(env);
}

void EnvChannel::Drain(napi_env env) {
  // Clear the flag first: a Flush racing with this drain schedules another call rather than being lost.
  scheduled_.store(false, std::memory_order_seq_cst);
  drained_.clear();
  while (Request* r = done_.Pop()) drained_.push_back(static_cast<JsRequest*>(r));
  if (drained_.empty()) return;
  Napi::Env e(env);
  Napi::HandleScope scope(e);
  CompletionWriter writer(e, drained_);
  for (JsRequest* r : drained_) {
    if (r->cancellable) cancellable_.erase(r->slot);
    Recycle(r);
  }
  js_pending_ -= static_cast<int64_t>(drained_.size());
  if (js_pending_ == 0) napi_unref_threadsafe_function(env, tsfn_);
  spinner_->Completed(js_pending_);
  drained_.clear();
  writer.Call(handler_.Value());  // last: the handler may submit again, re-entering this channel
}

void EnvChannel::Close(napi_env) {
  closing_.store(true, std::memory_order_seq_cst);
  // Queued requests of this thread are dropped by the schedulers (Closing() is true), told now so that
  // none waits out a batching delay; one already running reads this thread's memory until it is
  // flushed back, so wait for those.
  if (in_engine_.load(std::memory_order_acquire) > 0) {
    for (auto& core : ModelCore::All()) core->CancelQueued();
  }
  {
    std::unique_lock<std::mutex> lock(close_mu_);
    close_cv_.wait(lock, [&] { return in_engine_.load(std::memory_order_acquire) <= 0; });
  }
  while (Request* r = done_.Pop()) delete static_cast<JsRequest*>(r);
  free_.clear();
  napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
}

}  // namespace tg
