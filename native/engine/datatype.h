// ONNX tensor element types <-> KServe v2 datatype names.
#pragma once

#include <onnxruntime_c_api.h>

#include <cstddef>
#include <string>

namespace tg {

// The v2 name of an element type ("FP32", "BYTES", ...), or nullptr when v2 has none.
const char* V2Name(ONNXTensorElementDataType type);

// Bytes per element; 0 for strings (variable length) and unsupported types.
size_t ElementSize(ONNXTensorElementDataType type);

// Whether tensorgate can feed and return this type (BF16 and complex types cannot).
bool IsSupported(ONNXTensorElementDataType type);

// A readable name for any element type, for error messages ("BF16", "COMPLEX64", ...).
std::string DescribeType(ONNXTensorElementDataType type);

}  // namespace tg
