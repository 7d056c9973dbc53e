#include "cuda/pinned_memory.h"

#ifdef TENSORGATE_WITH_CUDA
#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <mutex>

namespace tg {
namespace {

using HostAllocFn = decltype(&cudaHostAlloc);
using FreeHostFn = decltype(&cudaFreeHost);
using DeviceCountFn = decltype(&cudaGetDeviceCount);
using VersionFn = decltype(&cudaRuntimeGetVersion);
using ErrorStringFn = decltype(&cudaGetErrorString);

struct CudaRuntime {
  HostAllocFn host_alloc = nullptr;
  FreeHostFn free_host = nullptr;
  DeviceCountFn device_count = nullptr;
  VersionFn runtime_version = nullptr;
  VersionFn driver_version = nullptr;
  ErrorStringFn error_string = nullptr;
  std::string library;
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
        r.device_count = reinterpret_cast<DeviceCountFn>(dlsym(h, "cudaGetDeviceCount"));
        r.runtime_version = reinterpret_cast<VersionFn>(dlsym(h, "cudaRuntimeGetVersion"));
        r.driver_version = reinterpret_cast<VersionFn>(dlsym(h, "cudaDriverGetVersion"));
        r.error_string = reinterpret_cast<ErrorStringFn>(dlsym(h, "cudaGetErrorString"));
        r.library = name;
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

CudaStatus QueryCuda() {
  CudaStatus s;
  s.compiled = true;
  const CudaRuntime& rt = Cuda();
  if (!rt.host_alloc) {
    s.reason = rt.error;
    return s;
  }
  s.runtime_loaded = true;
  s.library = rt.library;
  if (rt.runtime_version) rt.runtime_version(&s.runtime_version);
  if (rt.driver_version) rt.driver_version(&s.driver_version);
  if (!rt.device_count) {
    s.reason = rt.library + " has no cudaGetDeviceCount";
    return s;
  }
  cudaError_t err = rt.device_count(&s.device_count);
  if (err != cudaSuccess) {
    s.device_count = 0;
    s.reason = std::string("cudaGetDeviceCount failed: ") + (rt.error_string ? rt.error_string(err) : std::to_string(err));
  } else if (s.device_count == 0) {
    s.reason = "the CUDA runtime sees no device";
  }
  return s;
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

CudaStatus QueryCuda() {
  CudaStatus s;
  s.reason = "this build of the addon has no CUDA support (the CPU flavour)";
  return s;
}

}  // namespace tg

#endif
