// Per-env (per JS thread) state of the addon: the completion channel, cached JS values, and the
// constructors. Lives in napi instance data; never shared between threads.
#pragma once

#include <napi.h>

#include <memory>

namespace tg {

class EnvChannel;

struct AddonData {
  Napi::FunctionReference model_constructor;
  Napi::FunctionReference error_factory;  // (code, message, ortCodeName|undefined) => Error
  std::shared_ptr<EnvChannel> channel;
  bool is_main_thread = false;
  napi_env env = nullptr;

  static AddonData* Get(Napi::Env env) { return env.GetInstanceData<AddonData>(); }
};

// Builds a JS error through the registered factory (so JS sees its TensorgateError class), or a
// plain Error with a `code` property before the factory is registered.
Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message, int ort_code = -1);

}  // namespace tg
