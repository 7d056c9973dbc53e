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

// The result object of a finished request: { [output]: { datatype, shape, data } }.
Napi::Value BuildResult(Napi::Env env, const ModelInfo& info, Request& request);

// The metadata object of a model (inputs, outputs, providers, producer...).
Napi::Object DescribeModel(Napi::Env env, const ModelInfo& info);

// Outputs up to this many bytes are copied into a fresh ArrayBuffer; larger ones are views of the
// batch output (an external ArrayBuffer). TENSORGATE_OUTPUT_COPY_MAX_BYTES overrides it.
size_t OutputCopyMaxBytes();

}  // namespace tg
