#include "js/env_channel.h"

#include "js/addon_data.h"
#include "js/convert.h"

namespace tg {

EnvChannel::EnvChannel(Napi::Env env) {
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

void EnvChannel::Submitted(napi_env env, JsRequest* request) {
  in_engine_.fetch_add(1, std::memory_order_relaxed);
  if (js_pending_++ == 0) napi_ref_threadsafe_function(env, tsfn_);  // keep the loop alive meanwhile
  if (request->token != 0) cancellable_.emplace(request->token, request);
}

void EnvChannel::Abort(napi_env env, JsRequest* request, napi_value error) {
  request->cancelled.store(true, std::memory_order_release);
  request->settled = true;
  cancellable_.erase(request->token);
  request->token = 0;
  napi_reject_deferred(env, request->deferred, error);
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
  ResultBuilder results(e, drained_);
  for (JsRequest* r : drained_) Settle(env, results, r);
  drained_.clear();
}

JsRequest* EnvChannel::FindCancellable(uint64_t token) {
  auto it = cancellable_.find(token);
  return it == cancellable_.end() ? nullptr : it->second;
}

void EnvChannel::Settle(napi_env env, ResultBuilder& results, JsRequest* request) {
  Napi::Env e(env);
  if (!request->settled) {
    request->settled = true;
    try {
      if (request->status.ok) {
        napi_resolve_deferred(env, request->deferred, results.Build(*request));
      } else {
        const char* code = ErrorCodeName(request->status.code);
        napi_reject_deferred(env, request->deferred,
                             MakeError(e, code, request->status.message, request->status.ort_code).Value());
      }
    } catch (const Napi::Error& err) {
      napi_reject_deferred(env, request->deferred, err.Value());
    }
  }
  Free(env, request);
  if (--js_pending_ == 0) napi_unref_threadsafe_function(env, tsfn_);
}

void EnvChannel::Free(napi_env env, JsRequest* request) {
  for (napi_ref ref : request->keep_alive) napi_delete_reference(env, ref);
  if (request->token != 0) cancellable_.erase(request->token);
  delete request;
}

void EnvChannel::Close(napi_env env) {
  closing_.store(true, std::memory_order_seq_cst);
  // Queued requests of this thread are dropped by the scheduler (Closing() is true); one already
  // running reads this thread's memory until it is flushed back, so wait for those.
  {
    std::unique_lock<std::mutex> lock(close_mu_);
    close_cv_.wait(lock, [&] { return in_engine_.load(std::memory_order_acquire) <= 0; });
  }
  while (Request* r = done_.Pop()) Free(env, static_cast<JsRequest*>(r));
  napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
}

}  // namespace tg
