#include "engine/datatype.h"

#include <mutex>

#include "engine/error.h"

namespace tg {

namespace {

constexpr int kMaxOnnxType = 64;
std::once_flag g_registered;
DataTypeEntry g_types[kMaxOnnxType];

const DataTypeEntry* Find(ONNXTensorElementDataType type) {
  const int t = static_cast<int>(type);
  return t > 0 && t < kMaxOnnxType && !g_types[t].name.empty() ? &g_types[t] : nullptr;
}

}  // namespace

void RegisterDataTypes(const std::vector<DataTypeEntry>& entries) {
  std::call_once(g_registered, [&] {
    for (const DataTypeEntry& e : entries) {
      if (e.onnx > 0 && e.onnx < kMaxOnnxType) g_types[e.onnx] = e;
    }
  });
}

const char* V2Name(ONNXTensorElementDataType type) {
  const DataTypeEntry* e = Find(type);
  return e != nullptr && e->supported ? e->name.c_str() : nullptr;
}

size_t ElementSize(ONNXTensorElementDataType type) {
  const DataTypeEntry* e = Find(type);
  return e != nullptr && e->supported ? e->size : 0;
}

bool IsSupported(ONNXTensorElementDataType type) { return V2Name(type) != nullptr; }

std::string DescribeType(ONNXTensorElementDataType type) {
  if (const DataTypeEntry* e = Find(type)) return e->name;
  return "ONNX element type " + std::to_string(static_cast<int>(type));
}

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case ErrorCode::kQueueFull: return "QUEUE_FULL";
    case ErrorCode::kTimeout: return "TIMEOUT";
    case ErrorCode::kCancelled: return "ABORTED";
    case ErrorCode::kUnavailable: return "UNAVAILABLE";
    case ErrorCode::kModelLoad: return "MODEL_LOAD_FAILED";
    case ErrorCode::kOrt: return "ORT_ERROR";
    case ErrorCode::kInternal: return "INTERNAL";
  }
  return "INTERNAL";
}

const char* OrtErrorCodeName(int ort_code) {
  switch (ort_code) {
    case ORT_OK: return "ORT_OK";
    case ORT_FAIL: return "ORT_FAIL";
    case ORT_INVALID_ARGUMENT: return "ORT_INVALID_ARGUMENT";
    case ORT_NO_SUCHFILE: return "ORT_NO_SUCHFILE";
    case ORT_NO_MODEL: return "ORT_NO_MODEL";
    case ORT_ENGINE_ERROR: return "ORT_ENGINE_ERROR";
    case ORT_RUNTIME_EXCEPTION: return "ORT_RUNTIME_EXCEPTION";
    case ORT_INVALID_PROTOBUF: return "ORT_INVALID_PROTOBUF";
    case ORT_MODEL_LOADED: return "ORT_MODEL_LOADED";
    case ORT_NOT_IMPLEMENTED: return "ORT_NOT_IMPLEMENTED";
    case ORT_INVALID_GRAPH: return "ORT_INVALID_GRAPH";
    case ORT_EP_FAIL: return "ORT_EP_FAIL";
    default: return "ORT_UNKNOWN";
  }
}

}  // namespace tg
