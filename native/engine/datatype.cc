#include "engine/datatype.h"

#include "engine/error.h"

namespace tg {

const char* V2Name(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "BOOL";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "UINT8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16: return "UINT16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return "UINT32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return "UINT64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "INT8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "INT16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "INT32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "INT64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "FP16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "FP32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "FP64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "BYTES";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return "BF16";
    default: return nullptr;
  }
}

size_t ElementSize(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return 1;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return 2;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return 4;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return 8;
    default: return 0;
  }
}

bool IsSupported(ONNXTensorElementDataType type) {
  return type != ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 && V2Name(type) != nullptr;
}

std::string DescribeType(ONNXTensorElementDataType type) {
  if (const char* name = V2Name(type)) return name;
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64: return "COMPLEX64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128: return "COMPLEX128";
    default: return "ONNX element type " + std::to_string(static_cast<int>(type));
  }
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
