#include "js/loop_spinner.h"

#include <sched.h>

#include <cstring>

#include "scheduler/spin_policy.h"

// The few libuv entry points we need, declared here so the addon builds with Node-API headers alone
// (they do not ship uv.h). libuv 1.x keeps these signatures and `data` as the first handle field.
extern "C" {
struct uv_loop_s;
int uv_idle_init(uv_loop_s* loop, void* idle);
int uv_idle_start(void* idle, void (*cb)(void*));
int uv_idle_stop(void* idle);
void uv_close(void* handle, void (*cb)(void*));
void uv_unref(void* handle);
uint64_t uv_hrtime(void);
}

namespace tg {

LoopSpinner::LoopSpinner(napi_env env, uint64_t window_ns) : env_(env), window_ns_(window_ns) {
  std::memset(handle_, 0, sizeof(handle_));
  uv_loop_s* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_idle_init(loop, handle_);
  void* self = this;
  std::memcpy(handle_, &self, sizeof(self));  // handle->data
  uv_unref(handle_);                          // never keeps the loop alive by itself
  napi_add_async_cleanup_hook(env, OnAsyncCleanup, this, &cleanup_);
}

void LoopSpinner::Submitted(int64_t pending, int64_t expected_ns) {
  pending_ = pending;
  if (!SpinWorthIt(expected_ns, static_cast<int64_t>(window_ns_))) return;
  const uint64_t until = uv_hrtime() + static_cast<uint64_t>(expected_ns) + window_ns_;
  if (until > deadline_) deadline_ = until;
  if (!active_) {
    active_ = true;
    uv_idle_start(handle_, OnIdle);
  }
}

void LoopSpinner::Completed(int64_t pending) {
  pending_ = pending;
  if (!active_ || pending <= 0) return;
  const uint64_t until = uv_hrtime() + window_ns_;
  if (until > deadline_) deadline_ = until;
}

void LoopSpinner::OnIdle(void* handle) {
  LoopSpinner* self;
  std::memcpy(&self, handle, sizeof(self));
  if (self->pending_ <= 0 || uv_hrtime() > self->deadline_) {
    uv_idle_stop(self->handle_);
    self->active_ = false;
    return;
  }
  // Linux tends to wake a runner thread on its waker's core; if it shares this one, let it run.
  sched_yield();
}

void LoopSpinner::OnAsyncCleanup(napi_async_cleanup_hook_handle, void* arg) {
  static_cast<LoopSpinner*>(arg)->Destroy();
}

void LoopSpinner::Destroy() {
  uv_idle_stop(handle_);
  uv_close(handle_, OnClosed);
}

void LoopSpinner::OnClosed(void* handle) {
  LoopSpinner* self;
  std::memcpy(&self, handle, sizeof(self));
  napi_remove_async_cleanup_hook(self->cleanup_);
  delete self;
}

}  // namespace tg
