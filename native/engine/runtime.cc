#include "engine/runtime.h"

#include <mutex>

#include "engine/error.h"
#include "ort/ort_library.h"

namespace tg {
namespace {

std::mutex g_mu;
std::shared_ptr<Runtime> g_runtime;

}  // namespace

Runtime::Runtime(const RuntimeConfig& config) : config_(config) {
  ort_version_ = LoadOrtLibrary(config.library_path).version;
  Ort::ThreadingOptions threading;
  if (config.intra_op_threads > 0) threading.SetGlobalIntraOpNumThreads(config.intra_op_threads);
  if (config.inter_op_threads > 0) threading.SetGlobalInterOpNumThreads(config.inter_op_threads);
  threading.SetGlobalSpinControl(config.allow_spinning ? 1 : 0);
  env_ = Ort::Env(threading, static_cast<OrtLoggingLevel>(config.log_level), "tensorgate");
}

std::shared_ptr<Runtime> Runtime::Acquire(const RuntimeConfig& config) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (g_runtime) {
    const RuntimeConfig& have = g_runtime->config();
    if (config.library_path != have.library_path) {
      throw Error(ErrorCode::kInvalidArgument, "ONNX Runtime is already loaded from '" + have.library_path +
                                                   "'; this process cannot use '" + config.library_path + "' too");
    }
    if (config.threads_explicit &&
        (config.intra_op_threads != have.intra_op_threads || config.inter_op_threads != have.inter_op_threads ||
         config.allow_spinning != have.allow_spinning)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "the process-wide ONNX Runtime thread pools already exist with intraOpThreads=" +
                      std::to_string(have.intra_op_threads) + ", interOpThreads=" + std::to_string(have.inter_op_threads) +
                      ", allowSpinning=" + (have.allow_spinning ? "true" : "false") +
                      "; they cannot be changed (per-model threads are a session option)");
    }
    return g_runtime;
  }
  try {
    g_runtime = std::make_shared<Runtime>(config);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorCode::kOrt, std::string("cannot create the ONNX Runtime environment: ") + e.what(),
                static_cast<int>(e.GetOrtErrorCode()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
  return g_runtime;
}

std::shared_ptr<Runtime> Runtime::Current() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_runtime;
}

void Runtime::ReleaseProcessReference() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_runtime.reset();
}

}  // namespace tg
