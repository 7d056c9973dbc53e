// Keeps one JS thread's event loop from sleeping for a short while after it submits work, so that
// the completion of a fast inference is picked up at once instead of paying the wake-up of an idle
// thread (measured here: ~15 µs of a ~23 µs round trip on the tiny model). While active, a libuv idle
// handle makes the loop poll with a zero timeout; it stops itself `window` after the last activity
// or when nothing is pending. It only starts when recent round trips were shorter than the window:
// spinning through a long inference would burn a core and, on a small machine, pull the event loop
// onto the runner's core (timer lag of several ms was measured that way).
#pragma once

#include <napi.h>

#include <cstdint>

namespace tg {

class LoopSpinner {
 public:
  LoopSpinner(napi_env env, uint64_t window_ns);
  LoopSpinner(const LoopSpinner&) = delete;
  LoopSpinner& operator=(const LoopSpinner&) = delete;

  // A request was submitted or completed; `pending` requests are outstanding.
  void Touch(int64_t pending);
  // A request took `ns` from submit to completion.
  void Observe(uint64_t ns) { typical_ns_ = typical_ns_ * 0.875 + static_cast<double>(ns) * 0.125; }
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
  uint64_t last_ns_ = 0;
  double typical_ns_ = 0;  // moving average of round trips
  int64_t pending_ = 0;
  bool active_ = false;
};

}  // namespace tg
