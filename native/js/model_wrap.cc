#include "js/model_wrap.h"

#include <algorithm>
#include <string>

#include "engine/datatype.h"
#include "js/addon_data.h"
#include "js/convert.h"
#include "js/env_channel.h"

namespace tg {
namespace {

// --- options: validated, with their defaults applied, by the TypeScript layer (src/engine/options.ts
// holds every default); here a missing field is a bug, not something to default ---

Napi::Value Require(Napi::Object o, const char* key, bool (Napi::Value::*is)() const) {
  Napi::Value v = o.Get(key);
  if (!(v.*is)()) throw Napi::Error::New(o.Env(), std::string("internal: engine option '") + key + "' is missing");
  return v;
}
int GetInt(Napi::Object o, const char* key) { return Require(o, key, &Napi::Value::IsNumber).As<Napi::Number>().Int32Value(); }
uint64_t GetU64(Napi::Object o, const char* key) {
  return static_cast<uint64_t>(Require(o, key, &Napi::Value::IsNumber).As<Napi::Number>().DoubleValue());
}
bool GetBool(Napi::Object o, const char* key) { return Require(o, key, &Napi::Value::IsBoolean).As<Napi::Boolean>().Value(); }
KeyValues GetKeyValues(Napi::Value v) {
  KeyValues kv;
  if (!v.IsObject()) return kv;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    kv.emplace_back(k, o.Get(k).ToString().Utf8Value());
  }
  return kv;
}

SessionConfig ReadSessionConfig(Napi::Object o) {
  SessionConfig c;
  c.graph_optimization_level = GetInt(o, "graphOptimizationLevel");
  c.intra_op_threads = GetInt(o, "intraOpThreads");
  c.inter_op_threads = GetInt(o, "interOpThreads");
  c.memory_arena = GetBool(o, "memoryArena");
  Napi::Value path = o.Get("optimizedModelPath");
  if (path.IsString()) c.optimized_model_path = path.As<Napi::String>().Utf8Value();
  Napi::Value providers = o.Get("providers");
  if (providers.IsArray()) {
    Napi::Array arr = providers.As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      Napi::Object p = arr.Get(i).As<Napi::Object>();
      c.providers.push_back({p.Get("name").ToString().Utf8Value(), GetKeyValues(p.Get("options"))});
    }
  }
  c.config_entries = GetKeyValues(o.Get("configEntries"));
  return c;
}

QueuePolicy ReadQueuePolicy(Napi::Object o) {
  QueuePolicy p;
  p.max_queue_size = GetU64(o, "maxQueueSize");
  p.default_timeout_microseconds = GetU64(o, "defaultTimeoutMicroseconds");
  p.timeout_action_delay = Require(o, "timeoutAction", &Napi::Value::IsString).As<Napi::String>().Utf8Value() == "DELAY";
  p.allow_timeout_override = GetBool(o, "allowTimeoutOverride");
  return p;
}

BatchingConfig ReadBatchingConfig(Napi::Object o) {
  BatchingConfig c;
  c.max_batch_size = static_cast<int64_t>(GetU64(o, "maxBatchSize"));
  c.auto_max_batch_size = static_cast<int64_t>(GetU64(o, "autoMaxBatchSize"));
  c.dynamic_batching = GetBool(o, "dynamicBatching");
  Napi::Array preferred = Require(o, "preferredBatchSize", &Napi::Value::IsArray).As<Napi::Array>();
  for (uint32_t i = 0; i < preferred.Length(); ++i) c.preferred_batch_size.push_back(preferred.Get(i).As<Napi::Number>().Int64Value());
  c.max_queue_delay_microseconds = GetU64(o, "maxQueueDelayMicroseconds");
  c.priority_levels = static_cast<uint32_t>(GetU64(o, "priorityLevels"));
  c.default_priority_level = static_cast<uint32_t>(GetU64(o, "defaultPriorityLevel"));
  c.default_queue_policy = ReadQueuePolicy(Require(o, "defaultQueuePolicy", &Napi::Value::IsObject).As<Napi::Object>());
  Napi::Object levels = Require(o, "priorityQueuePolicy", &Napi::Value::IsObject).As<Napi::Object>();
  Napi::Array keys = levels.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    c.priority_queue_policy[static_cast<uint32_t>(std::stoul(k))] = ReadQueuePolicy(levels.Get(k).As<Napi::Object>());
  }
  c.instance_count = static_cast<uint32_t>(GetU64(o, "instanceCount"));
  c.spin_microseconds = static_cast<uint32_t>(GetU64(o, "spinMicroseconds"));
  return c;
}

// --- loading off the JS thread ---

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ModelSource source, SessionConfig session, BatchingConfig batching)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), source_(std::move(source)),
        session_(std::move(session)), batching_(std::move(batching)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    auto runtime = Runtime::Current();
    if (!runtime) {
      error_code_ = ErrorCode::kInternal;
      SetError("the engine is not initialised (call Engine.create first)");
      return;
    }
    try {
      core_ = ModelCore::Load(runtime, source_, session_, batching_);
    } catch (const Error& e) {
      error_code_ = e.code();
      ort_code_ = e.ort_code();
      SetError(e.what());
    } catch (const std::exception& e) {
      error_code_ = ErrorCode::kModelLoad;
      SetError(e.what());
    }
    source_.bytes.clear();
  }
  void OnOK() override { deferred_.Resolve(ModelWrap::NewInstance(Env(), core_)); }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(MakeError(Env(), ErrorCodeName(error_code_), e.Message(), ort_code_).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  ModelSource source_;
  SessionConfig session_;
  BatchingConfig batching_;
  std::shared_ptr<ModelCore> core_;
  ErrorCode error_code_ = ErrorCode::kModelLoad;
  int ort_code_ = -1;
};

// --- unload: resolve on the JS thread once drained ---

struct UnloadContext {
  std::shared_ptr<ModelCore> core;
  napi_deferred deferred = nullptr;
  napi_threadsafe_function tsfn = nullptr;
};

void UnloadDrained(napi_env env, napi_value, void* context, void*) {
  auto* ctx = static_cast<UnloadContext*>(context);
  ctx->core->Shutdown();
  if (env != nullptr) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_resolve_deferred(env, ctx->deferred, undefined);
  }
  napi_release_threadsafe_function(ctx->tsfn, napi_tsfn_release);
  delete ctx;
}

Napi::Object DurationObject(Napi::Env env, const DurationStat& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", Napi::Number::New(env, static_cast<double>(d.count.load(std::memory_order_relaxed))));
  o.Set("ns", Napi::Number::New(env, static_cast<double>(d.ns.load(std::memory_order_relaxed))));
  return o;
}

Napi::Array HistogramArray(Napi::Env env, const LatencyHistogram& h) {
  Napi::Array a = Napi::Array::New(env, LatencyHistogram::kBuckets);
  for (int i = 0; i < LatencyHistogram::kBuckets; ++i) {
    a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(h.counts[i].load(std::memory_order_relaxed))));
  }
  return a;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {
                         InstanceAccessor<&ModelWrap::Id>("id"),
                         InstanceAccessor<&ModelWrap::Accepting>("accepting"),
                         InstanceAccessor<&ModelWrap::Shapes>("shapes"),
                         InstanceMethod<&ModelWrap::Info>("info"),
                         InstanceMethod<&ModelWrap::Submit>("submit"),
                         InstanceMethod<&ModelWrap::Cancel>("cancel"),
                         InstanceMethod<&ModelWrap::Stats>("stats"),
                         InstanceMethod<&ModelWrap::Unload>("unload"),
                     });
}

Napi::Object ModelWrap::NewInstance(Napi::Env env, std::shared_ptr<ModelCore> core) {
  // The constructor finds the core by id in the process registry: no external wrapper to finalize.
  return AddonData::Get(env)->model_constructor.New({Napi::Number::New(env, core->id())});
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  if (info.Length() != 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), "NativeModel is created by loadModel() or attachModel()");
  }
  core_ = ModelCore::Find(info[0].As<Napi::Number>().Uint32Value());
  if (!core_) throw MakeError(info.Env(), "UNAVAILABLE", "the model is no longer loaded");
  size_t dims = 0;
  for (const auto& t : core_->info().inputs) dims += t.shape.size();
  Napi::Float64Array mailbox = Napi::Float64Array::New(info.Env(), dims == 0 ? 1 : dims);
  shapes_ = mailbox.Data();
  shapes_array_ = Napi::Persistent(mailbox);
}

Napi::Value ModelWrap::Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->id()); }

Napi::Value ModelWrap::Accepting(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core_->accepting());
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = DescribeModel(env, core_->info());
  o.Set("id", Napi::Number::New(env, core_->id()));
  o.Set("maxBatchSize", Napi::Number::New(env, static_cast<double>(core_->batching().max_batch_size)));
  o.Set("dynamicBatching", Napi::Boolean::New(env, core_->batching().dynamic_batching));
  return o;
}

// submit(slot, priority, timeoutUs, outputs: Int32Array|null, cancellable, ...datas): the dims of
// every input are in the `shapes` mailbox. Throws for invalid input, QUEUE_FULL and UNAVAILABLE; else
// the result comes back through the env's completion handler under `slot`.
Napi::Value ModelWrap::Submit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ModelInfo& model = core_->info();
  const BatchingConfig& batching = core_->batching();
  const size_t n_inputs = model.inputs.size();
  if (info.Length() < 5 + n_inputs) throw MakeError(env, "INVALID_ARGUMENT", "submit: missing inputs");
  EnvChannel& channel = *AddonData::Get(env)->channel;
  JsRequest* request = channel.Acquire();
  try {
    napi_value inline_datas[8];
    std::vector<napi_value> more;
    napi_value* datas = inline_datas;
    if (n_inputs > 8) {
      more.resize(n_inputs);
      datas = more.data();
    }
    for (size_t i = 0; i < n_inputs; ++i) datas[i] = info[5 + i];
    ReadInputs(env, model, batching.Batches(), batching.max_batch_size, shapes_, datas, *request);
    if (info[3].IsTypedArray()) {
      Napi::Int32Array outs = info[3].As<Napi::Int32Array>();
      request->outputs.assign(outs.Data(), outs.Data() + outs.ElementLength());
    } else {
      request->outputs.resize(model.outputs.size());
      for (size_t i = 0; i < model.outputs.size(); ++i) request->outputs[i] = static_cast<int>(i);
    }
    const uint32_t priority = info[1].As<Napi::Number>().Uint32Value();
    if (priority > batching.Levels() && batching.Levels() > 1) {
      throw MakeError(env, "INVALID_ARGUMENT", "priority " + std::to_string(priority) + " is outside the model's 1.." +
                                                   std::to_string(batching.Levels()) + " priority levels");
    }
    const double timeout_us = info[2].As<Napi::Number>().DoubleValue();
    request->slot = info[0].As<Napi::Number>().DoubleValue();
    request->cancellable = info[4].ToBoolean().Value();
    request->core = core_;
    try {
      core_->Submit(request, priority, timeout_us > 0 ? static_cast<uint64_t>(timeout_us) : 0);
    } catch (const Error& e) {
      throw MakeError(env, ErrorCodeName(e.code()), e.what());
    }
    channel.Submitted(env, request);
    return env.Undefined();
  } catch (...) {
    channel.Recycle(request);
    throw;
  }
}

// cancel(slot) => boolean: a queued request is dropped without running (the JS side has already
// rejected it); false when it is no longer cancellable.
Napi::Value ModelWrap::Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return Napi::Boolean::New(env, AddonData::Get(env)->channel->Cancel(info[0].As<Napi::Number>().DoubleValue()));
}

Napi::Value ModelWrap::Shapes(const Napi::CallbackInfo& info) { return shapes_array_.Value(); }

Napi::Value ModelWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelStats& s = core_->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("pending", Napi::Number::New(env, static_cast<double>(s.pending.load(std::memory_order_relaxed))));
  // Relaxed counters updated on several threads can be read mid-update: never report below zero.
  o.Set("queued", Napi::Number::New(env, static_cast<double>(std::max<int64_t>(0, s.queued.load(std::memory_order_relaxed)))));
  o.Set("inferenceCount", Napi::Number::New(env, static_cast<double>(s.inference_count.load(std::memory_order_relaxed))));
  o.Set("executionCount", Napi::Number::New(env, static_cast<double>(s.execution_count.load(std::memory_order_relaxed))));
  o.Set("lastInferenceMs", Napi::Number::New(env, static_cast<double>(s.last_inference_ms.load(std::memory_order_relaxed))));
  o.Set("success", DurationObject(env, s.success));
  o.Set("fail", DurationObject(env, s.fail));
  Napi::Object failures = Napi::Object::New(env);
  const char* names[] = {"queueFull", "timeout", "cancelled", "unavailable", "invalid", "backend"};
  for (int i = 0; i < static_cast<int>(FailReason::kCount); ++i) {
    failures.Set(names[i], Napi::Number::New(env, static_cast<double>(s.fail_by_reason[i].load(std::memory_order_relaxed))));
  }
  o.Set("failures", failures);
  o.Set("queue", DurationObject(env, s.queue));
  o.Set("computeInput", DurationObject(env, s.compute_input));
  o.Set("computeInfer", DurationObject(env, s.compute_infer));
  o.Set("computeOutput", DurationObject(env, s.compute_output));
  Napi::Array batches = Napi::Array::New(env);
  uint32_t n = 0;
  for (size_t size = 0; size < s.batch_sizes.size(); ++size) {
    const BatchSizeStat& b = s.batch_sizes[size];
    const uint64_t executions = b.executions.load(std::memory_order_relaxed);
    if (executions == 0) continue;
    Napi::Object e = Napi::Object::New(env);
    e.Set("batchSize", Napi::Number::New(env, static_cast<double>(size)));
    e.Set("executions", Napi::Number::New(env, static_cast<double>(executions)));
    e.Set("computeInput", DurationObject(env, b.compute_input));
    e.Set("computeInfer", DurationObject(env, b.compute_infer));
    e.Set("computeOutput", DurationObject(env, b.compute_output));
    batches.Set(n++, e);
  }
  o.Set("batches", batches);
  Napi::Object hist = Napi::Object::New(env);
  hist.Set("request", HistogramArray(env, s.request_hist));
  hist.Set("queue", HistogramArray(env, s.queue_hist));
  hist.Set("compute", HistogramArray(env, s.compute_hist));
  o.Set("histograms", hist);
  return o;
}

Napi::Value ModelWrap::Unload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ctx = new UnloadContext{core_, nullptr, nullptr};
  napi_value promise;
  napi_create_promise(env, &ctx->deferred, &promise);
  napi_value name = Napi::String::New(env, "tensorgate.unload");
  if (napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, nullptr, nullptr, ctx, UnloadDrained, &ctx->tsfn) !=
      napi_ok) {
    delete ctx;
    throw Napi::Error::New(env, "cannot create the unload completion");
  }
  napi_threadsafe_function tsfn = ctx->tsfn;
  core_->BeginUnload([tsfn] { napi_call_threadsafe_function(tsfn, nullptr, napi_tsfn_nonblocking); });
  return Napi::Value(env, promise);
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ModelSource source;
  if (info[0].IsString()) {
    source.path = info[0].As<Napi::String>().Utf8Value();
  } else if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
    source.bytes.assign(bytes.Data(), bytes.Data() + bytes.ByteLength());
  } else {
    throw MakeError(env, "INVALID_ARGUMENT", "a model is a file path or a Uint8Array of ONNX bytes");
  }
  SessionConfig session = ReadSessionConfig(info[1].As<Napi::Object>());
  BatchingConfig batching = ReadBatchingConfig(info[2].As<Napi::Object>());
  auto* worker = new LoadWorker(env, std::move(source), std::move(session), std::move(batching));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // owned by libuv until it completes
  return promise;
}

Napi::Value AttachModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint32_t id = info[0].As<Napi::Number>().Uint32Value();
  auto core = ModelCore::Find(id);
  if (!core || !core->accepting()) {
    throw MakeError(env, "UNAVAILABLE", "no loaded model with id " + std::to_string(id) + " in this process");
  }
  return ModelWrap::NewInstance(env, std::move(core));
}

}  // namespace tg
