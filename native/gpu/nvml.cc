#include "gpu/nvml.h"

#include <mutex>

#if defined(__linux__)
#include <dlfcn.h>
#endif

namespace tg {
namespace {

// The few NVML entry points used, declared from the NVML API (nvml.h is not needed to build).
using NvmlReturn = int;  // nvmlReturn_t; NVML_SUCCESS = 0
using NvmlDevice = struct NvmlDeviceOpaque*;
struct NvmlUtilization {
  unsigned int gpu;     // percent
  unsigned int memory;  // percent
};
struct NvmlMemory {
  unsigned long long total, free, used;  // bytes
};
constexpr unsigned kNameBuffer = 96;  // NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE

struct Nvml {
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*count)(unsigned int*) = nullptr;
  NvmlReturn (*handle)(unsigned int, NvmlDevice*) = nullptr;
  NvmlReturn (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
  NvmlReturn (*power)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*power_limit)(NvmlDevice, unsigned int*) = nullptr;
  NvmlReturn (*uuid)(NvmlDevice, char*, unsigned int) = nullptr;
  NvmlReturn (*name)(NvmlDevice, char*, unsigned int) = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
  bool ready = false;
  std::string reason;
};

template <typename F>
bool Bind(void* lib, const char* symbol, F& fn) {
#if defined(__linux__)
  fn = reinterpret_cast<F>(dlsym(lib, symbol));
#endif
  return fn != nullptr;
}

Nvml Load() {
  Nvml n;
#if defined(__linux__)
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = dlerror();
    n.reason = std::string("no NVIDIA driver: cannot load libnvidia-ml.so.1 (") + (err ? err : "unknown error") + ")";
    return n;
  }
  const bool bound = Bind(lib, "nvmlInit_v2", n.init) && Bind(lib, "nvmlDeviceGetCount_v2", n.count) &&
                     Bind(lib, "nvmlDeviceGetHandleByIndex_v2", n.handle) &&
                     Bind(lib, "nvmlDeviceGetUtilizationRates", n.utilization) && Bind(lib, "nvmlDeviceGetMemoryInfo", n.memory) &&
                     Bind(lib, "nvmlDeviceGetPowerUsage", n.power) && Bind(lib, "nvmlDeviceGetEnforcedPowerLimit", n.power_limit) &&
                     Bind(lib, "nvmlDeviceGetUUID", n.uuid) && Bind(lib, "nvmlDeviceGetName", n.name) &&
                     Bind(lib, "nvmlErrorString", n.error_string);
  if (!bound) {
    n.reason = "libnvidia-ml.so.1 lacks an NVML entry point this build needs";
    return n;
  }
  const NvmlReturn rc = n.init();
  if (rc != 0) {
    n.reason = std::string("nvmlInit failed: ") + n.error_string(rc);
    return n;
  }
  n.ready = true;  // NVML stays initialised for the life of the process (nvmlShutdown at exit is optional)
#else
  n.reason = "NVML is read on Linux only";
#endif
  return n;
}

const Nvml& Library() {
  static const Nvml nvml = Load();  // thread-safe static initialisation
  return nvml;
}

}  // namespace

GpuReadings ReadGpus() {
  const Nvml& n = Library();
  GpuReadings out;
  if (!n.ready) {
    out.reason = n.reason;
    return out;
  }
  unsigned int count = 0;
  if (const NvmlReturn rc = n.count(&count); rc != 0) {
    out.reason = std::string("nvmlDeviceGetCount failed: ") + n.error_string(rc);
    return out;
  }
  out.available = true;
  for (unsigned int i = 0; i < count; ++i) {
    NvmlDevice device = nullptr;
    if (n.handle(i, &device) != 0) continue;
    GpuReading r;
    r.index = i;
    char text[kNameBuffer] = {};
    if (n.uuid(device, text, kNameBuffer) == 0) r.uuid = text;
    if (n.name(device, text, kNameBuffer) == 0) r.name = text;
    NvmlUtilization u{};
    if (n.utilization(device, &u) == 0) r.utilization = u.gpu / 100.0;
    NvmlMemory m{};
    if (n.memory(device, &m) == 0) {
      r.memory_used = static_cast<double>(m.used);
      r.memory_total = static_cast<double>(m.total);
    }
    unsigned int mw = 0;
    if (n.power(device, &mw) == 0) r.power_watts = mw / 1000.0;
    if (n.power_limit(device, &mw) == 0) r.power_limit_watts = mw / 1000.0;
    out.devices.push_back(std::move(r));
  }
  return out;
}

}  // namespace tg
