// ONNX tensor element types <-> KServe v2 datatype names and sizes. The facts come from the one
// datatype table in src/engine/datatype.ts, which the addon registers at init (RegisterDataTypes);
// nothing here repeats them.
#pragma once

#include <onnxruntime_c_api.h>

#include <cstddef>
#include <string>
#include <vector>

namespace tg {

struct DataTypeEntry {
  int onnx = 0;          // ONNX TensorProto.DataType number
  std::string name;      // v2 name ("FP32", "BYTES") or a descriptive one for unsupported types
  size_t size = 0;       // bytes per element; 0 for BYTES
  bool supported = false;
};

// Registers the table (first call wins: every thread registers the same one).
void RegisterDataTypes(const std::vector<DataTypeEntry>& entries);

// The v2 name of an element type ("FP32", "BYTES", ...), or nullptr when it is not supported.
const char* V2Name(ONNXTensorElementDataType type);

// Bytes per element; 0 for strings (variable length) and unsupported types.
size_t ElementSize(ONNXTensorElementDataType type);

// Whether tensorgate can feed and return this type (BF16 and complex types cannot).
bool IsSupported(ONNXTensorElementDataType type);

// A readable name for any element type, for error messages ("BF16", "COMPLEX64", ...).
std::string DescribeType(ONNXTensorElementDataType type);

}  // namespace tg
