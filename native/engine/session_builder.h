// Creates an OrtSession from a file or bytes with tensorgate's session options, appends the requested
// execution providers in order (skipping, with the reason, those that cannot load), and reads the
// model's input/output metadata.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/runtime.h"

namespace tg {

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct ProviderRequest {
  std::string name;  // "tensorrt", "cuda", "cpu", or any ORT provider name accepted by AppendExecutionProvider
  KeyValues options;
};

struct SessionConfig {
  int graph_optimization_level = ORT_ENABLE_ALL;
  // > 0: this session gets its own intra/inter-op pools instead of the process-wide ones.
  int intra_op_threads = 0;
  int inter_op_threads = 0;
  bool memory_arena = true;
  std::string optimized_model_path;  // where ORT saves the optimized graph, when set
  std::vector<ProviderRequest> providers;
  KeyValues config_entries;  // raw AddSessionConfigEntry keys
};

struct ModelSource {
  std::string path;            // a file path, or
  std::vector<uint8_t> bytes;  // the model bytes
};

struct ProviderStatus {
  std::string name;
  bool active = false;
  std::string reason;  // why it was skipped
};

struct TensorInfo {
  std::string name;
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> shape;           // -1 for every dynamic or symbolic dim
  std::vector<std::string> dim_params;  // the symbolic name of each dim, "" when none
};

struct ModelInfo {
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::vector<ProviderStatus> providers;
  std::string producer;
  std::string graph_name;
  std::string domain;
  std::string description;
  int64_t model_version = 0;
  std::map<std::string, std::string> custom_metadata;
};

struct LoadedSession {
  Ort::Session session{nullptr};
  ModelInfo info;
  std::vector<const char*> input_names;   // point into info.inputs[i].name
  std::vector<const char*> output_names;  // point into info.outputs[i].name
};

// Throws tg::Error (kModelLoad for unreadable models, kInvalidArgument for bad options).
std::unique_ptr<LoadedSession> BuildSession(Runtime& runtime, const ModelSource& source, const SessionConfig& config);

}  // namespace tg
