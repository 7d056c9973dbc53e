// Page-locked host memory for batch buffers when a CUDA or TensorRT provider is active, so that
// ORT's host-to-device copies can run at full PCIe speed. Compiled only when the CUDA toolkit's
// headers are present; libcudart is dlopen()ed at run time, so it is never a dependency.
#pragma once

#include <cstddef>
#include <string>

namespace tg {

// True when this build has the CUDA helpers and a CUDA runtime library could be loaded.
bool PinnedMemoryAvailable(std::string* why_not = nullptr);
// Page-locked allocation, or nullptr (callers fall back to pageable memory).
void* AllocPinned(size_t bytes);
void FreePinned(void* ptr);

// What this build and this machine give CUDA, for flavour selection and `tensorgate doctor`.
struct CudaStatus {
  bool compiled = false;       // built with the CUDA toolkit's headers (the CUDA flavour)
  bool runtime_loaded = false; // a libcudart could be dlopen()ed
  int device_count = 0;
  int runtime_version = 0;     // CUDA's encoding: 1000 * major + 10 * minor
  int driver_version = 0;      // 0 when no driver is installed
  std::string library;         // the libcudart that loaded
  std::string reason;          // why CUDA cannot be used, empty when device_count > 0
};
CudaStatus QueryCuda();

}  // namespace tg
