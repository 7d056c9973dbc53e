#include "cuda/pinned_memory.h"

#ifdef TENSORGATE_WITH_CUDA
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <mutex>

namespace tg {
namespace {

using HostAllocFn = decltype(&cudaHostAlloc);
using FreeHostFn = decltype(&cudaFreeHost);

struct CudaRuntime {
  HostAllocFn host_alloc = nullptr;
  FreeHostFn free_host = nullptr;
  std::string error;
};

const CudaRuntime& Cuda() {
  static CudaRuntime rt = [] {
    CudaRuntime r;
    // ORT 1.2x's CUDA provider links libcudart.so.12; accept newer runtimes too.
    for (const char* name : {"libcudart.so.12", "libcudart.so.13", "libcudart.so"}) {
      if (void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
        r.host_alloc = reinterpret_cast<HostAllocFn>(dlsym(h, "cudaHostAlloc"));
        r.free_host = reinterpret_cast<FreeHostFn>(dlsym(h, "cudaFreeHost"));
        if (r.host_alloc && r.free_host) return r;
      }
    }
    r.error = "no CUDA runtime library (libcudart.so.12/13) could be loaded";
    r.host_alloc = nullptr;
    return r;
  }();
  return rt;
}

}  // namespace

bool PinnedMemoryAvailable(std::string* why_not) {
  const CudaRuntime& rt = Cuda();
  if (why_not && !rt.host_alloc) *why_not = rt.error;
  return rt.host_alloc != nullptr;
}

void* AllocPinned(size_t bytes) {
  const CudaRuntime& rt = Cuda();
  void* p = nullptr;
  if (!rt.host_alloc || rt.host_alloc(&p, bytes, cudaHostAllocPortable) != cudaSuccess) return nullptr;
  return p;
}

void FreePinned(void* ptr) {
  if (ptr && Cuda().free_host) Cuda().free_host(ptr);
}

}  // namespace tg

#else  // CPU-only build

namespace tg {

bool PinnedMemoryAvailable(std::string* why_not) {
  if (why_not) *why_not = "built without the CUDA toolkit";
  return false;
}
void* AllocPinned(size_t) { return nullptr; }
void FreePinned(void*) {}

}  // namespace tg

#endif
