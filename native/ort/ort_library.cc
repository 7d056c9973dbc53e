#include "ort/ort_library.h"

#include <dlfcn.h>

#include <mutex>
#include <stdexcept>

namespace tg {
namespace {

std::mutex g_mu;
OrtLibraryInfo g_info;
const OrtApi* g_api = nullptr;

using GetApiBaseFn = const OrtApiBase* (*)();

}  // namespace

const OrtLibraryInfo& LoadOrtLibrary(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_api != nullptr) {
    if (path != g_info.path) {
      throw std::runtime_error("ONNX Runtime is already loaded from '" + g_info.path + "'; cannot also load '" + path +
                               "' in the same process");
    }
    return g_info;
  }
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* err = dlerror();
    throw std::runtime_error("cannot load ONNX Runtime library '" + path + "': " + (err ? err : "unknown dlopen error"));
  }
  auto get_base = reinterpret_cast<GetApiBaseFn>(dlsym(handle, "OrtGetApiBase"));
  if (get_base == nullptr) {
    throw std::runtime_error("'" + path + "' is not an ONNX Runtime library (no OrtGetApiBase symbol)");
  }
  const OrtApiBase* base = get_base();
  const char* version = base->GetVersionString();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (api == nullptr) {
    throw std::runtime_error(std::string("ONNX Runtime ") + version + " at '" + path + "' does not provide API version " +
                             std::to_string(ORT_API_VERSION) + "; tensorgate needs ONNX Runtime >= 1." +
                             std::to_string(ORT_API_VERSION));
  }
  Ort::InitApi(api);
  g_api = api;
  g_info = OrtLibraryInfo{path, version, ORT_API_VERSION};
  return g_info;
}

bool OrtLibraryLoaded() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_api != nullptr;
}

const OrtApi& Api() { return *g_api; }

}  // namespace tg
