// A request as the engine sees it: plain C++ data only (the "baton"). It is built and validated on
// the submitting JS thread, crosses to the scheduler through the MPSC queue, and comes back to the
// same JS thread through its CompletionSink. The engine never touches JS values.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"
#include "scheduler/mpsc_queue.h"

namespace tg {

struct Request;

// Where finished requests go: one per JS thread (napi_env). Deliver() queues a request; Flush() makes
// one cross-thread call for everything delivered since the last one.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void Deliver(Request* request) = 0;
  // `count` requests were delivered in this round; the sink may be torn down after Flush returns.
  virtual void Flush(int count) = 0;
  // True while the thread is going away: its requests are dropped instead of run.
  virtual bool Closing() const = 0;
};

// One input as the caller gave it. Numeric data is not copied: `data` points into the caller's
// ArrayBuffer, which the JS side keeps alive until the request completes.
struct InputData {
  const void* data = nullptr;
  size_t bytes = 0;
  std::vector<int64_t> shape;
  // BYTES inputs: each element's bytes. A Uint8Array element is read in place (like numeric data, the
  // JS side keeps it alive until the request completes); a JS string is encoded into `strings` first
  // (reserved up front, so the views into it stay put).
  std::vector<std::string_view> elements;
  std::vector<std::string> strings;
};

// A finished output tensor shared by all requests of a batch; each request views a slice of it.
struct OutputTensor {
  Ort::Value value{nullptr};
  const uint8_t* data = nullptr;
  size_t bytes = 0;
};

struct RequestOutput {
  int index = 0;  // model output index
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> shape;
  std::shared_ptr<OutputTensor> tensor;  // numeric outputs: the batch tensor
  size_t offset = 0;                     // byte offset of this request's slice
  size_t bytes = 0;
  std::vector<std::string> strings;  // BYTES outputs
};

struct Request : MpscNode {
  virtual ~Request() = default;

  CompletionSink* sink = nullptr;
  std::vector<InputData> inputs;  // in model input order
  std::vector<int> outputs;       // requested model output indices (sorted, unique)
  int64_t rows = 1;               // batch rows this request contributes (its first dim when batching)
  uint32_t level = 0;             // priority level index, 0 = highest
  int64_t enqueue_ns = 0;
  int64_t deadline_ns = 0;  // 0: no timeout
  bool delay_on_timeout = false;
  bool delayed = false;
  std::atomic<bool> cancelled{false};

  // Filled by the runner.
  int64_t queue_ns = 0;    // enqueue -> its batch started
  int64_t compute_ns = 0;  // its batch's run
  int64_t batch_rows = 0;  // rows of that batch
  Status status;
  std::vector<RequestOutput> results;
};

}  // namespace tg
