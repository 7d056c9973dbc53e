// Module entry: per-thread setup (instance data, completion channel, teardown) and the exports.
// The C++/JS boundary is deliberately small: init, loadModel, attachModel and NativeModel's methods.
#include <napi.h>

#include "cuda/pinned_memory.h"
#include "engine/datatype.h"
#include "engine/model_core.h"
#include "engine/runtime.h"
#include "engine/stats.h"
#include "gpu/nvml.h"
#include "js/addon_data.h"
#include "js/completion_layout.h"
#include "js/env_channel.h"
#include "js/loop_sockets.h"
#include "js/model_wrap.h"
#include "ort/ort_library.h"

namespace tg {

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message, int ort_code) {
  AddonData* data = AddonData::Get(env);
  napi_value ort = ort_code >= 0 ? Napi::String::New(env, OrtErrorCodeName(ort_code)) : env.Undefined();
  if (data != nullptr && !data->error_factory.IsEmpty()) {
    Napi::Value err = data->error_factory.Call({Napi::String::New(env, code), Napi::String::New(env, message), Napi::Value(env, ort)});
    if (err.IsObject()) return Napi::Error(env, err);
  }
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  if (ort_code >= 0) err.Set("ortCode", Napi::Value(env, ort));
  return err;
}

namespace {

void RegisterDataTypeTable(Napi::Array table) {
  std::vector<DataTypeEntry> entries;
  for (uint32_t i = 0; i < table.Length(); ++i) {
    Napi::Object row = table.Get(i).As<Napi::Object>();
    entries.push_back({row.Get("onnx").As<Napi::Number>().Int32Value(), row.Get("name").ToString().Utf8Value(),
                       static_cast<size_t>(row.Get("size").As<Napi::Number>().Uint32Value()), row.Get("supported").ToBoolean().Value()});
  }
  RegisterDataTypes(entries);
}

// init({ library, intraOpThreads, interOpThreads, allowSpinning, logLevel, threadsExplicit, isMainThread,
//        eventLoopSpinMicroseconds, datatypes: [{ onnx, name, size, supported }] }): every field is
// given (the defaults live in src/engine/options.ts, the datatypes in src/engine/datatype.ts).
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  RegisterDataTypeTable(o.Get("datatypes").As<Napi::Array>());
  RuntimeConfig config;
  config.library_path = o.Get("library").ToString().Utf8Value();
  auto get_int = [&](const char* k) { return o.Get(k).As<Napi::Number>().Int32Value(); };
  config.intra_op_threads = get_int("intraOpThreads");
  config.inter_op_threads = get_int("interOpThreads");
  config.log_level = get_int("logLevel");
  config.allow_spinning = o.Get("allowSpinning").ToBoolean().Value();
  config.threads_explicit = o.Get("threadsExplicit").ToBoolean().Value();
  AddonData::Get(env)->is_main_thread = o.Get("isMainThread").ToBoolean().Value();
  AddonData::Get(env)->channel->SetLoopSpin(o.Get("eventLoopSpinMicroseconds").As<Napi::Number>().Uint32Value());
  std::shared_ptr<Runtime> runtime;
  try {
    runtime = Runtime::Acquire(config);
  } catch (const Error& e) {
    throw MakeError(env, ErrorCodeName(e.code()), e.what(), e.ort_code());
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("ortVersion", runtime->ort_version());
  result.Set("apiVersion", ORT_API_VERSION);
  result.Set("library", runtime->config().library_path);
  result.Set("intraOpThreads", runtime->config().intra_op_threads);
  result.Set("interOpThreads", runtime->config().inter_op_threads);
  return result;
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  AddonData::Get(info.Env())->error_factory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// setCompletionHandler(fn(descriptor, count, buffers, errors?, bytes?)): called once per drain.
Napi::Value SetCompletionHandler(const Napi::CallbackInfo& info) {
  AddonData::Get(info.Env())->channel->SetHandler(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// Upper bounds (seconds) of the native latency histogram buckets, for the metrics layer.
Napi::Value HistogramBounds(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), LatencyHistogram::kBuckets);
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i) {
    a.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), LatencyHistogram::UpperBoundSeconds(i)));
  }
  return a;
}

void Teardown(AddonData* data, napi_env env) {
  if (data->channel) data->channel->Close(env);
  if (data->is_main_thread) {
    // The process is ending: stop every model's threads before ORT's Env and statics go away.
    for (auto& core : ModelCore::All()) core->Shutdown();
    Runtime::ReleaseProcessReference();
  }
}

// gpuDevices(): { available, reason?, devices: [{ index, uuid, name, utilization, memoryUsedBytes,
// memoryTotalBytes, powerWatts, powerLimitWatts }] } read through NVML now (-1: not supported).
Napi::Value GpuDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const GpuReadings readings = ReadGpus();
  Napi::Object o = Napi::Object::New(env);
  o.Set("available", readings.available);
  if (!readings.available) o.Set("reason", readings.reason);
  Napi::Array devices = Napi::Array::New(env, readings.devices.size());
  for (size_t i = 0; i < readings.devices.size(); ++i) {
    const GpuReading& r = readings.devices[i];
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", r.index);
    d.Set("uuid", r.uuid);
    d.Set("name", r.name);
    d.Set("utilization", r.utilization);
    d.Set("memoryUsedBytes", r.memory_used);
    d.Set("memoryTotalBytes", r.memory_total);
    d.Set("powerWatts", r.power_watts);
    d.Set("powerLimitWatts", r.power_limit_watts);
    devices.Set(static_cast<uint32_t>(i), d);
  }
  o.Set("devices", devices);
  return o;
}

// The CUDA flavour's self-test and `tensorgate doctor` read this; it never throws.
Napi::Value CudaStatusValue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CudaStatus s = QueryCuda();
  Napi::Object result = Napi::Object::New(env);
  result.Set("compiled", s.compiled);
  result.Set("runtimeLoaded", s.runtime_loaded);
  result.Set("deviceCount", s.device_count);
  result.Set("runtimeVersion", s.runtime_version);
  result.Set("driverVersion", s.driver_version);
  result.Set("library", s.library);
  result.Set("reason", s.reason);
  return result;
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  data->channel = std::make_shared<EnvChannel>(env);

  napi_add_env_cleanup_hook(
      env, [](void* arg) {
        auto* d = static_cast<AddonData*>(arg);
        Teardown(d, d->env);
      },
      data);
  data->env = env;

  Napi::Function model = ModelWrap::Define(env);
  data->model_constructor = Napi::Persistent(model);
  exports.Set("NativeModel", model);
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("setCompletionHandler", Napi::Function::New(env, SetCompletionHandler, "setCompletionHandler"));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("attachModel", Napi::Function::New(env, AttachModel, "attachModel"));
  exports.Set("histogramBounds", Napi::Function::New(env, HistogramBounds, "histogramBounds"));
  exports.Set("gpuDevices", Napi::Function::New(env, GpuDevices, "gpuDevices"));
  exports.Set("loopSockets", Napi::Function::New(env, LoopSockets, "loopSockets"));
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatusValue, "cudaStatus"));
  exports.Set("ortApiVersion", Napi::Number::New(env, ORT_API_VERSION));
  Napi::Object layout_fields = Napi::Object::New(env);
  const std::pair<const char*, int> fields[] = {
      {"slot", layout::kSlot},         {"status", layout::kStatus},       {"queueNs", layout::kQueueNs},
      {"computeNs", layout::kComputeNs}, {"batchSize", layout::kBatchSize}, {"outputs", layout::kOutputs},
      {"requestWords", layout::kRequestWords}, {"outIndex", layout::kOutIndex}, {"outType", layout::kOutType},
      {"outBuffer", layout::kOutBuffer}, {"outOffset", layout::kOutOffset}, {"outLength", layout::kOutLength},
      {"outRank", layout::kOutRank},   {"outputWords", layout::kOutputWords},
  };
  for (const auto& [name, value] : fields) layout_fields.Set(name, Napi::Number::New(env, value));
  exports.Set("completionLayout", layout_fields);
  return exports;
}

}  // namespace
}  // namespace tg

static Napi::Object Init(Napi::Env env, Napi::Object exports) { return tg::InitModule(env, exports); }

NODE_API_MODULE(tensorgate, Init)
