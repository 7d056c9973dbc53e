// Keeps one JS thread's event loop from sleeping while it waits for a completion it expects soon, so
// that the completion is picked up at once instead of paying the wake-up of an idle thread (measured
// here: ~15 µs of a ~23 µs round trip on the tiny model; on a VM a sleeping vCPU's wake-up cost the
// compute-bound models ~80 µs a request at concurrency 1). While active, a libuv idle handle makes
// the loop poll with a zero timeout. A submit keeps it polling through the model's typical execution
// time plus one window; a completion with requests still pending, one window more; it stops when
// nothing is pending or the time is up. Models whose execution dwarfs a wake-up (spin_policy.h) do
// not start it: polling through a long inference would burn a core for a gain lost in the noise.
#pragma once

#include <napi.h>

#include <cstdint>

namespace tg {

class LoopSpinner {
 public:
  LoopSpinner(napi_env env, uint64_t window_ns);
  LoopSpinner(const LoopSpinner&) = delete;
  LoopSpinner& operator=(const LoopSpinner&) = delete;

  // A request was submitted to a model that typically executes in `expected_ns`; `pending` are outstanding.
  void Submitted(int64_t pending, int64_t expected_ns);
  // Requests completed; `pending` are still outstanding.
  void Completed(int64_t pending);
  void set_window_ns(uint64_t ns) { window_ns_ = ns; }
  // Env teardown: closes the libuv handle (asynchronously) and frees this object when done.
  void Destroy();

 private:
  static void OnIdle(void* handle);
  static void OnClosed(void* handle);
  static void OnAsyncCleanup(napi_async_cleanup_hook_handle handle, void* arg);

  alignas(16) unsigned char handle_[256];  // a uv_idle_t (120 bytes in libuv 1.x); data is its first field
  napi_env env_;
  napi_async_cleanup_hook_handle cleanup_ = nullptr;
  uint64_t window_ns_;
  uint64_t deadline_ = 0;  // uv_hrtime() until which the loop polls
  int64_t pending_ = 0;
  bool active_ = false;
};

}  // namespace tg
