// A grow-only host buffer for gathering batch inputs. Page-locked (pinned) when the model runs on a
// CUDA/TensorRT provider and a CUDA runtime is present, so host-to-device copies run at full speed;
// ordinary heap memory otherwise (and always in CPU-only builds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "cuda/pinned_memory.h"

namespace tg {

class HostBuffer {
 public:
  HostBuffer() = default;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  HostBuffer(HostBuffer&& other) noexcept : data_(other.data_), size_(other.size_), pinned_(other.pinned_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  ~HostBuffer() { Release(); }

  // At least `bytes` of storage (contents not kept when it grows).
  uint8_t* Reserve(size_t bytes, bool want_pinned) {
    if (bytes <= size_ && (pinned_ || !want_pinned)) return data_;
    Release();
    size_t size = bytes < 4096 ? 4096 : bytes + bytes / 2;
    void* p = want_pinned ? AllocPinned(size) : nullptr;
    pinned_ = p != nullptr;
    if (!p) p = std::malloc(size);
    data_ = static_cast<uint8_t*>(p);
    size_ = data_ ? size : 0;
    return data_;
  }

  bool pinned() const { return pinned_; }

 private:
  void Release() {
    if (data_ == nullptr) return;
    if (pinned_) {
      FreePinned(data_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    size_ = 0;
  }

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool pinned_ = false;
};

}  // namespace tg
