// JS <-> engine data at the boundary: typed arrays and shapes in, tensors out. Everything here runs
// on the JS thread that owns the values.
#pragma once

#include <napi.h>

#include "engine/session_builder.h"
#include "js/env_channel.h"

namespace tg {

// Reads and validates one request's inputs (given in model input order) into `request`. Numeric data
// is referenced, not copied. Throws Napi::Error (INVALID_ARGUMENT) naming the input and what differs.
void ReadInputs(Napi::Env env, const ModelInfo& info, bool batched, int64_t max_batch_size, Napi::Array datas,
                Napi::Array shapes, JsRequest& request);

// Builds the result objects ({ [output]: { datatype, shape, data } }) of the requests finished in
// one drain. Small outputs are copied into one shared ArrayBuffer (the "slab") for the whole drain,
// so a drain of N requests allocates one backing store instead of N; large outputs are views of the
// batch output tensor through one external ArrayBuffer per tensor.
class ResultBuilder {
 public:
  ResultBuilder(Napi::Env env, const std::vector<JsRequest*>& requests);
  Napi::Value Build(JsRequest& request);

 private:
  napi_value Data(const RequestOutput& out);

  Napi::Env env_;
  napi_value key_datatype_, key_shape_, key_data_;
  Napi::Array strings_;
  napi_value slab_ = nullptr;
  uint8_t* slab_data_ = nullptr;
  size_t slab_used_ = 0;
  const OutputTensor* last_tensor_ = nullptr;
  napi_value last_external_ = nullptr;
};

// The metadata object of a model (inputs, outputs, providers, producer...).
Napi::Object DescribeModel(Napi::Env env, const ModelInfo& info);

// Outputs up to this many bytes are copied into a fresh ArrayBuffer; larger ones are views of the
// batch output (an external ArrayBuffer). TENSORGATE_OUTPUT_COPY_MAX_BYTES overrides it.
size_t OutputCopyMaxBytes();

}  // namespace tg
