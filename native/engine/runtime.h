// The process-wide ONNX Runtime environment. ORT allows one OrtEnv per process; ours is created with
// global thread pools so that every session (and every worker_thread) shares one intra-op and one
// inter-op pool instead of each session spawning its own.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <memory>
#include <string>

namespace tg {

struct RuntimeConfig {
  std::string library_path;
  int intra_op_threads = 0;  // 0: ORT's default (one per physical core); counts the calling thread
  int inter_op_threads = 0;  // 0: ORT's default
  bool allow_spinning = false;  // pool threads spin between ops; burns CPU between batches when on
  int log_level = ORT_LOGGING_LEVEL_WARNING;
  // Which fields the caller set explicitly (a later Acquire may omit them, but not contradict them).
  bool threads_explicit = false;
};

class Runtime {
 public:
  // Returns the process runtime, creating it on first use. Throws if `config` explicitly asks for
  // settings that differ from the ones the runtime was created with.
  static std::shared_ptr<Runtime> Acquire(const RuntimeConfig& config);
  // The runtime if it exists, else nullptr.
  static std::shared_ptr<Runtime> Current();
  // Drops the process reference (main thread teardown); the Env dies with the last user.
  static void ReleaseProcessReference();

  Ort::Env& env() { return env_; }
  const RuntimeConfig& config() const { return config_; }
  const std::string& ort_version() const { return ort_version_; }

  explicit Runtime(const RuntimeConfig& config);

 private:
  RuntimeConfig config_;
  std::string ort_version_;
  Ort::Env env_{nullptr};
};

}  // namespace tg
