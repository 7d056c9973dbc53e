#include "engine/session_builder.h"

#include <sys/stat.h>

#include <cstdio>

#include "engine/datatype.h"
#include "engine/error.h"
#include "ort/ort_library.h"

namespace tg {
namespace {

// Runs an ORT C call that returns OrtStatus*, converting a failure into a message (the status is released).
template <typename F>
std::string TryOrt(F&& call) {
  OrtStatus* status = call();
  if (status == nullptr) return "";
  std::string message = Api().GetErrorMessage(status);
  Api().ReleaseStatus(status);
  return message.empty() ? "failed" : message;
}

struct KeyValueArrays {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  explicit KeyValueArrays(const KeyValues& kv) {
    for (const auto& [k, v] : kv) {
      keys.push_back(k.c_str());
      values.push_back(v.c_str());
    }
  }
};

// Appends one provider; returns "" on success or the reason it cannot be used.
std::string AppendProvider(Ort::SessionOptions& options, const ProviderRequest& provider) {
  const OrtApi& api = Api();
  KeyValueArrays kv(provider.options);
  if (provider.name == "cuda") {
    OrtCUDAProviderOptionsV2* cuda = nullptr;
    std::string err = TryOrt([&] { return api.CreateCUDAProviderOptions(&cuda); });
    if (err.empty()) err = TryOrt([&] { return api.UpdateCUDAProviderOptions(cuda, kv.keys.data(), kv.values.data(), kv.keys.size()); });
    if (err.empty()) err = TryOrt([&] { return api.SessionOptionsAppendExecutionProvider_CUDA_V2(options, cuda); });
    if (cuda != nullptr) api.ReleaseCUDAProviderOptions(cuda);
    return err;
  }
  if (provider.name == "tensorrt") {
    OrtTensorRTProviderOptionsV2* trt = nullptr;
    std::string err = TryOrt([&] { return api.CreateTensorRTProviderOptions(&trt); });
    if (err.empty()) err = TryOrt([&] { return api.UpdateTensorRTProviderOptions(trt, kv.keys.data(), kv.values.data(), kv.keys.size()); });
    if (err.empty()) err = TryOrt([&] { return api.SessionOptionsAppendExecutionProvider_TensorRT_V2(options, trt); });
    if (trt != nullptr) api.ReleaseTensorRTProviderOptions(trt);
    return err;
  }
  return TryOrt([&] {
    return api.SessionOptionsAppendExecutionProvider(options, provider.name.c_str(), kv.keys.data(), kv.values.data(),
                                                     kv.keys.size());
  });
}

Ort::SessionOptions MakeOptions(const SessionConfig& config, const std::vector<ProviderRequest>& providers,
                                std::vector<ProviderStatus>* statuses) {
  Ort::SessionOptions options;
  options.SetGraphOptimizationLevel(static_cast<GraphOptimizationLevel>(config.graph_optimization_level));
  if (config.intra_op_threads > 0 || config.inter_op_threads > 0) {
    if (config.intra_op_threads > 0) options.SetIntraOpNumThreads(config.intra_op_threads);
    if (config.inter_op_threads > 0) options.SetInterOpNumThreads(config.inter_op_threads);
  } else {
    options.DisablePerSessionThreads();  // use the Env's global pools
  }
  if (config.memory_arena) {
    options.EnableCpuMemArena();
  } else {
    options.DisableCpuMemArena();
  }
  if (!config.optimized_model_path.empty()) options.SetOptimizedModelFilePath(config.optimized_model_path.c_str());
  for (const auto& [key, value] : config.config_entries) options.AddConfigEntry(key.c_str(), value.c_str());
  for (const auto& provider : providers) {
    if (provider.name == "cpu") {
      statuses->push_back({"cpu", true, ""});
      continue;
    }
    std::string reason = AppendProvider(options, provider);
    statuses->push_back({provider.name, reason.empty(), reason});
  }
  return options;
}

TensorInfo ReadTensorInfo(const std::string& name, const Ort::TypeInfo& type_info, const char* role) {
  if (type_info.GetONNXType() != ONNX_TYPE_TENSOR) {
    throw Error(ErrorCode::kModelLoad, std::string(role) + " '" + name +
                                           "' is not a tensor (sequences, maps and optionals are not supported)");
  }
  auto tensor = type_info.GetTensorTypeAndShapeInfo();
  TensorInfo info;
  info.name = name;
  info.type = tensor.GetElementType();
  info.shape = tensor.GetShape();
  std::vector<const char*> params(info.shape.size(), nullptr);
  if (!params.empty()) tensor.GetSymbolicDimensions(params.data(), params.size());
  for (size_t i = 0; i < info.shape.size(); ++i) {
    info.dim_params.emplace_back(params[i] ? params[i] : "");
    if (info.shape[i] < 0 || (params[i] && params[i][0] != '\0')) info.shape[i] = -1;
  }
  return info;
}

void ReadModelInfo(LoadedSession& loaded) {
  Ort::AllocatorWithDefaultOptions allocator;
  auto& session = loaded.session;
  for (size_t i = 0; i < session.GetInputCount(); ++i) {
    loaded.info.inputs.push_back(
        ReadTensorInfo(session.GetInputNameAllocated(i, allocator).get(), session.GetInputTypeInfo(i), "input"));
  }
  for (size_t i = 0; i < session.GetOutputCount(); ++i) {
    loaded.info.outputs.push_back(
        ReadTensorInfo(session.GetOutputNameAllocated(i, allocator).get(), session.GetOutputTypeInfo(i), "output"));
  }
  for (const auto& t : loaded.info.inputs) loaded.input_names.push_back(t.name.c_str());
  for (const auto& t : loaded.info.outputs) loaded.output_names.push_back(t.name.c_str());

  Ort::ModelMetadata meta = session.GetModelMetadata();
  loaded.info.producer = meta.GetProducerNameAllocated(allocator).get();
  loaded.info.graph_name = meta.GetGraphNameAllocated(allocator).get();
  loaded.info.domain = meta.GetDomainAllocated(allocator).get();
  loaded.info.description = meta.GetDescriptionAllocated(allocator).get();
  loaded.info.model_version = meta.GetVersion();
  for (auto& key : meta.GetCustomMetadataMapKeysAllocated(allocator)) {
    loaded.info.custom_metadata[key.get()] = meta.LookupCustomMetadataMapAllocated(key.get(), allocator).get();
  }
}

void CheckSourceFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw Error(ErrorCode::kModelLoad, "model file '" + path + "' does not exist");
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::kModelLoad, "model path '" + path + "' is not a regular file");
  if (st.st_size == 0) throw Error(ErrorCode::kModelLoad, "model file '" + path + "' is empty");
}

Ort::Session CreateSession(Runtime& runtime, const ModelSource& source, const Ort::SessionOptions& options) {
  if (!source.path.empty()) return Ort::Session(runtime.env(), source.path.c_str(), options);
  return Ort::Session(runtime.env(), source.bytes.data(), source.bytes.size(), options);
}

}  // namespace

std::unique_ptr<LoadedSession> BuildSession(Runtime& runtime, const ModelSource& source, const SessionConfig& config) {
  const std::string what = source.path.empty() ? std::string("model bytes") : "model '" + source.path + "'";
  if (!source.path.empty()) CheckSourceFile(source.path);
  if (source.path.empty() && source.bytes.empty()) throw Error(ErrorCode::kModelLoad, "model bytes are empty");

  auto loaded = std::make_unique<LoadedSession>();
  std::vector<ProviderStatus> statuses;
  try {
    Ort::SessionOptions options = MakeOptions(config, config.providers, &statuses);
    try {
      loaded->session = CreateSession(runtime, source, options);
    } catch (const Ort::Exception& e) {
      // A provider that appended fine can still fail when the session initialises it (a missing CUDA
      // runtime library, an unsupported GPU). Retry on the providers that do not need a device, and say why.
      bool had_device_provider = false;
      std::vector<ProviderRequest> fallback;
      for (size_t i = 0; i < statuses.size(); ++i) {
        if (statuses[i].active && statuses[i].name != "cpu") {
          had_device_provider = true;
          statuses[i].active = false;
          statuses[i].reason = std::string("session creation failed with this provider: ") + e.what();
        }
      }
      if (!had_device_provider) throw;
      std::vector<ProviderStatus> ignored;
      Ort::SessionOptions cpu_options = MakeOptions(config, fallback, &ignored);
      loaded->session = CreateSession(runtime, source, cpu_options);
    }
  } catch (const Ort::Exception& e) {
    const auto code = e.GetOrtErrorCode();
    const bool bad_model = code == ORT_INVALID_PROTOBUF || code == ORT_NO_SUCHFILE || code == ORT_NO_MODEL ||
                           code == ORT_INVALID_GRAPH || code == ORT_FAIL || code == ORT_NOT_IMPLEMENTED;
    throw Error(bad_model ? ErrorCode::kModelLoad : ErrorCode::kOrt, "cannot load " + what + ": " + e.what(),
                static_cast<int>(code));
  }
  bool has_cpu = false;
  for (const auto& s : statuses) has_cpu = has_cpu || s.name == "cpu";
  if (!has_cpu) statuses.push_back({"cpu", true, ""});  // ORT always falls back to its CPU provider
  loaded->info.providers = std::move(statuses);
  try {
    ReadModelInfo(*loaded);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kModelLoad, "cannot read the metadata of " + what + ": " + e.what(),
                static_cast<int>(e.GetOrtErrorCode()));
  }
  for (const auto* list : {&loaded->info.inputs, &loaded->info.outputs}) {
    for (const auto& t : *list) {
      if (t.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16) {
        throw Error(ErrorCode::kModelLoad, "tensor '" + t.name + "' of " + what +
                                               " is BF16, which ONNX Runtime's CPU provider cannot run; convert the model to FP16 or FP32");
      }
      if (!IsSupported(t.type)) {
        throw Error(ErrorCode::kModelLoad, "tensor '" + t.name + "' of " + what + " has unsupported type " + DescribeType(t.type));
      }
    }
  }
  return loaded;
}

}  // namespace tg
