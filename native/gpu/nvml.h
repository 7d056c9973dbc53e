// GPU readings through NVML, the library behind nvidia-smi: utilization, memory and power per
// device. libnvidia-ml.so.1 is dlopen()ed on first use, so it is never a dependency: without a driver
// (or off Linux) Read() reports no devices and why.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tg {

struct GpuReading {
  unsigned index = 0;
  std::string uuid;
  std::string name;
  double utilization = -1;      // 0..1 over NVML's last sample period; -1 when not supported
  double memory_used = -1;      // bytes
  double memory_total = -1;     // bytes
  double power_watts = -1;      // current draw
  double power_limit_watts = -1;
};

struct GpuReadings {
  bool available = false;
  std::string reason;  // why not, when unavailable
  std::vector<GpuReading> devices;
};

// Thread-safe; initialises NVML once per process.
GpuReadings ReadGpus();

}  // namespace tg
