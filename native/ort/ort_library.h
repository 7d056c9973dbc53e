// Loads ONNX Runtime at run time (dlopen + OrtGetApiBase) so that one prebuilt addon works with any
// ORT build whose API version is at least the headers' (ORT_API_VERSION). The library is never
// dlclose()d: ORT owns threads and static state that must outlive every session.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <string>

namespace tg {

struct OrtLibraryInfo {
  std::string path;     // as given (absolute path of the loaded library)
  std::string version;  // ORT's GetVersionString()
  int api_version = 0;  // the API version we requested (the headers')
};

// Loads the library once per process and initialises the Ort:: C++ wrappers. A second call with the
// same path returns the same info; with a different path it throws (two ORTs cannot share an Env).
const OrtLibraryInfo& LoadOrtLibrary(const std::string& path);

// True once LoadOrtLibrary succeeded.
bool OrtLibraryLoaded();

// The OrtApi table; only valid after LoadOrtLibrary.
const OrtApi& Api();

}  // namespace tg
