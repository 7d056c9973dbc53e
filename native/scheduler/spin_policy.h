// When polling beats sleeping. A thread that sleeps while it waits (a runner for the next request,
// an event loop for a completion) pays a wake-up when the wait ends: tens of µs on a VM, where waking
// an idle vCPU goes through the hypervisor. Polling for a while instead removes that cost but burns
// the core meanwhile. It pays while a wake-up is a noticeable share of a request's time: we take a
// wake-up to cost about one spin window and poll through requests up to kSpinWorthRatio windows long
// (wake-up >= 5 % of the request). Longer requests sleep: the wake-up is lost in their run time and
// the core stays free for other work.
#pragma once

#include <cstdint>

namespace tg {

constexpr int64_t kSpinWorthRatio = 20;

// Whether to poll through a wait of about `expected_ns`, with a spin window of `window_ns`.
inline bool SpinWorthIt(int64_t expected_ns, int64_t window_ns) {
  return window_ns > 0 && expected_ns <= window_ns * kSpinWorthRatio;
}

}  // namespace tg
