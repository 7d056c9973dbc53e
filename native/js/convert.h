// JS <-> engine data at the boundary: typed arrays and shapes in, tensors out. Everything here runs
// on the JS thread that owns the values.
#pragma once

#include <napi.h>

#include "engine/session_builder.h"
#include "js/env_channel.h"

namespace tg {

// Reads and validates one request's inputs (`datas` in model input order; their dims, input after
// input, in `dims`) into `request`. Numeric data is referenced, not copied. Throws Napi::Error
// (INVALID_ARGUMENT) naming the input and what differs.
void ReadInputs(Napi::Env env, const ModelInfo& info, bool batched, int64_t max_batch_size, const double* dims,
                const napi_value* datas, Request& request);

// Turns the requests finished in one drain into what the JS completion handler reads: one Float64Array
// descriptor, the ArrayBuffers holding outputs, and errors/BYTES lists when there are any. Small
// outputs are copied into one shared ArrayBuffer (the "slab") for the whole drain, so a drain of N
// requests allocates one backing store, not N; large outputs are views of the batch output tensor
// through one external ArrayBuffer per tensor. Everything is read from the requests in the
// constructor, so they can be recycled before Call().
class CompletionWriter {
 public:
  CompletionWriter(Napi::Env env, const std::vector<JsRequest*>& requests);
  void Call(Napi::Function handler);

 private:
  Napi::Env env_;
  napi_value descriptor_ = nullptr;
  napi_value buffers_ = nullptr;
  napi_value errors_ = nullptr;
  napi_value bytes_ = nullptr;
  double count_ = 0;
};

// The metadata object of a model (inputs, outputs, providers, producer...).
Napi::Object DescribeModel(Napi::Env env, const ModelInfo& info);

// Outputs up to this many bytes are copied into a fresh ArrayBuffer; larger ones are views of the
// batch output (an external ArrayBuffer). TENSORGATE_OUTPUT_COPY_MAX_BYTES overrides it.
size_t OutputCopyMaxBytes();

}  // namespace tg
