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

}  // namespace tg
