// NativeModel: the JS handle of a ModelCore. Several handles (one per JS thread) can share a core.
#pragma once

#include <napi.h>

#include <memory>

#include "engine/model_core.h"

namespace tg {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // A new JS handle for `core` (on the calling JS thread).
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<ModelCore> core);

  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Submit(const Napi::CallbackInfo& info);
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Unload(const Napi::CallbackInfo& info);
  Napi::Value Accepting(const Napi::CallbackInfo& info);
  Napi::Value Shapes(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelCore> core_;
  // The shape mailbox: JS writes the dims of a request's inputs here before submit(), so they cross
  // the boundary as plain memory instead of one N-API call per dimension.
  Napi::Reference<Napi::Float64Array> shapes_array_;
  const double* shapes_ = nullptr;
};

// loadModel(source: string | Uint8Array, session: object, batching: object): Promise<NativeModel>
Napi::Value LoadModel(const Napi::CallbackInfo& info);
// attachModel(id: number): NativeModel  — share a model loaded by another thread
Napi::Value AttachModel(const Napi::CallbackInfo& info);

}  // namespace tg
