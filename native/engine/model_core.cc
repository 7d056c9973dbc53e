#include "engine/model_core.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "engine/datatype.h"
#include "engine/host_buffer.h"

namespace tg {
namespace {

std::mutex g_registry_mu;
std::unordered_map<uint32_t, std::weak_ptr<ModelCore>> g_registry;
std::atomic<uint32_t> g_next_id{1};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

size_t RowElements(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= static_cast<size_t>(shape[i]);
  return n;
}

size_t Elements(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

FailReason ReasonOf(ErrorCode code) {
  switch (code) {
    case ErrorCode::kQueueFull: return FailReason::kQueueFull;
    case ErrorCode::kTimeout: return FailReason::kTimeout;
    case ErrorCode::kCancelled: return FailReason::kCancelled;
    case ErrorCode::kUnavailable: return FailReason::kUnavailable;
    case ErrorCode::kInvalidArgument: return FailReason::kInvalid;
    default: return FailReason::kBackend;
  }
}

// Per runner thread: the batch input buffers, reused across batches (they only live during Run).
thread_local std::vector<HostBuffer> t_batch_buffers;

}  // namespace

namespace {

bool AllBatchable(const ModelInfo& info) {
  for (const auto* list : {&info.inputs, &info.outputs}) {
    for (const auto& t : *list) {
      if (t.shape.empty() || t.shape[0] != -1) return false;
    }
  }
  return true;
}

}  // namespace

std::shared_ptr<ModelCore> ModelCore::Load(std::shared_ptr<Runtime> runtime, const ModelSource& source,
                                           const SessionConfig& session_config, const BatchingConfig& requested) {
  auto session = BuildSession(*runtime, source, session_config);
  BatchingConfig batching = requested;
  if (batching.auto_max_batch_size > 0) {
    const bool batchable = AllBatchable(session->info);
    batching.max_batch_size = batchable ? batching.auto_max_batch_size : 0;
    batching.dynamic_batching = batchable;
    batching.auto_max_batch_size = 0;
  }
  if (batching.Batches()) {
    for (const auto* list : {&session->info.inputs, &session->info.outputs}) {
      for (const auto& t : *list) {
        if (t.shape.empty() || t.shape[0] != -1) {
          throw Error(ErrorCode::kInvalidArgument,
                      "max_batch_size > 0 needs every input and output to have a dynamic first (batch) dimension, but '" +
                          t.name + "' has shape of rank " + std::to_string(t.shape.size()) +
                          (t.shape.empty() ? "" : " with first dim " + std::to_string(t.shape[0])));
        }
      }
    }
  }
  std::shared_ptr<ModelCore> core(new ModelCore(std::move(runtime), std::move(session), batching));
  {
    std::lock_guard<std::mutex> lock(g_registry_mu);
    g_registry[core->id_] = core;
  }
  return core;
}

std::shared_ptr<ModelCore> ModelCore::Find(uint32_t id) {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  auto it = g_registry.find(id);
  return it == g_registry.end() ? nullptr : it->second.lock();
}

std::vector<std::shared_ptr<ModelCore>> ModelCore::All() {
  std::lock_guard<std::mutex> lock(g_registry_mu);
  std::vector<std::shared_ptr<ModelCore>> out;
  for (auto& [id, weak] : g_registry) {
    if (auto core = weak.lock()) out.push_back(std::move(core));
  }
  return out;
}

ModelCore::ModelCore(std::shared_ptr<Runtime> runtime, std::unique_ptr<LoadedSession> session,
                     const BatchingConfig& batching)
    : id_(g_next_id.fetch_add(1)),
      runtime_(std::move(runtime)),
      session_(std::move(session)),
      batching_(batching),
      stats_(batching.max_batch_size) {
  for (const auto& p : session_->info.providers) {
    if (p.active && (p.name == "cuda" || p.name == "tensorrt")) pinned_inputs_ = PinnedMemoryAvailable();
  }
  scheduler_ = std::make_unique<Scheduler>(
      batching_, [this](std::vector<Request*>& batch) { Execute(batch); },
      [this](std::vector<Request*>& requests, const Status& status) {
        // Dropped from the queue (timed out, cancelled): no longer waiting to execute.
        stats_.queued.fetch_sub(static_cast<int64_t>(requests.size()), std::memory_order_relaxed);
        for (Request* r : requests) r->status = status;
        Complete(requests);
      });
}

ModelCore::~ModelCore() {
  Shutdown();
  std::lock_guard<std::mutex> lock(g_registry_mu);
  g_registry.erase(id_);
}

void ModelCore::Submit(Request* request, uint32_t priority, uint64_t timeout_us) {
  stats_.pending.fetch_add(1, std::memory_order_seq_cst);
  if (!accepting_.load(std::memory_order_seq_cst)) {
    ReleasePending(1);
    stats_.Fail(FailReason::kUnavailable);
    throw Error(ErrorCode::kUnavailable, "model is unloading and accepts no new requests");
  }
  request->level = batching_.LevelIndex(priority);
  const QueuePolicy& policy = batching_.PolicyFor(request->level);
  uint64_t timeout = policy.default_timeout_microseconds;
  if (timeout_us != 0 && policy.allow_timeout_override && (timeout == 0 || timeout_us < timeout)) timeout = timeout_us;
  request->enqueue_ns = NowNs();
  request->deadline_ns = timeout == 0 ? 0 : request->enqueue_ns + static_cast<int64_t>(timeout) * 1000;
  request->delay_on_timeout = policy.timeout_action_delay;
  // Counted before the push: a runner may take the request before Enqueue returns.
  stats_.queued.fetch_add(1, std::memory_order_relaxed);
  if (!scheduler_->Enqueue(request)) {
    stats_.queued.fetch_sub(1, std::memory_order_relaxed);
    ReleasePending(1);
    stats_.Fail(FailReason::kQueueFull);
    throw Error(ErrorCode::kQueueFull, "queue of priority level " + std::to_string(request->level + 1) + " is full (max_queue_size " +
                                           std::to_string(policy.max_queue_size) + ")");
  }
}

void ModelCore::Execute(std::vector<Request*>& batch) {
  const int64_t start = NowNs();
  stats_.queued.fetch_sub(static_cast<int64_t>(batch.size()), std::memory_order_relaxed);
  int64_t total_rows = 0;
  for (Request* r : batch) {
    total_rows += r->rows;
    const uint64_t queued = static_cast<uint64_t>(std::max<int64_t>(0, start - r->enqueue_ns));
    r->queue_ns = static_cast<int64_t>(queued);
    stats_.queue.Add(1, queued);
    stats_.queue_hist.Add(queued);
  }
  RunBatch(batch, total_rows);
  Complete(batch);
}

void ModelCore::RunBatch(std::vector<Request*>& batch, int64_t total_rows) {
  const auto& info = session_->info;
  const bool batched = batching_.Batches();
  const bool single = batch.size() == 1;
  Request& head = *batch.front();
  const int64_t t_input = NowNs();
  try {
    const Ort::MemoryInfo& cpu = cpu_memory_;
    Ort::AllocatorWithDefaultOptions allocator;
    std::vector<Ort::Value> inputs;
    inputs.reserve(info.inputs.size());
    if (t_batch_buffers.size() < info.inputs.size()) t_batch_buffers.resize(info.inputs.size());
    for (size_t i = 0; i < info.inputs.size(); ++i) {
      const ONNXTensorElementDataType type = info.inputs[i].type;
      std::vector<int64_t> shape = head.inputs[i].shape;
      if (batched && !single) shape[0] = total_rows;
      if (type == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
        // Element by element with explicit lengths: BYTES may hold NULs (FillStringTensor stops at them).
        Ort::Value v = Ort::Value::CreateTensor(allocator, shape.data(), shape.size(), type);
        size_t e = 0;
        for (Request* r : batch) {
          for (const std::string_view s : r->inputs[i].elements) {
            char* dst = v.GetResizedStringTensorElementBuffer(e++, s.size());
            if (!s.empty()) std::memcpy(dst, s.data(), s.size());
          }
        }
        inputs.push_back(std::move(v));
        continue;
      }
      void* data;
      size_t bytes;
      if (single) {  // zero copy: ORT reads the caller's memory
        data = const_cast<void*>(head.inputs[i].data);
        bytes = head.inputs[i].bytes;
      } else {  // one memcpy per request into the batch tensor
        bytes = 0;
        for (Request* r : batch) bytes += r->inputs[i].bytes;
        uint8_t* dst = t_batch_buffers[i].Reserve(bytes, pinned_inputs_);
        if (dst == nullptr) throw Error(ErrorCode::kInternal, "out of memory for a batch of " + std::to_string(bytes) + " bytes");
        data = dst;
        for (Request* r : batch) {
          if (r->inputs[i].bytes) std::memcpy(dst, r->inputs[i].data, r->inputs[i].bytes);
          dst += r->inputs[i].bytes;
        }
      }
      inputs.push_back(Ort::Value::CreateTensor(cpu, data, bytes, shape.data(), shape.size(), type));
    }

    // Every output any request of the batch asked for (a single request's list is already sorted).
    std::vector<int> wanted(head.outputs);
    if (!single) {
      for (size_t k = 1; k < batch.size(); ++k) wanted.insert(wanted.end(), batch[k]->outputs.begin(), batch[k]->outputs.end());
      std::sort(wanted.begin(), wanted.end());
      wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    }
    std::vector<const char*> output_names;
    for (int o : wanted) output_names.push_back(session_->output_names[o]);

    const int64_t t_infer = NowNs();
    std::vector<Ort::Value> outputs = session_->session.Run(Ort::RunOptions{nullptr}, session_->input_names.data(),
                                                            inputs.data(), inputs.size(), output_names.data(),
                                                            output_names.size());
    const int64_t t_output = NowNs();

    for (size_t k = 0; k < wanted.size(); ++k) {
      Ort::Value& value = outputs[k];
      auto type_shape = value.GetTensorTypeAndShapeInfo();
      const ONNXTensorElementDataType type = type_shape.GetElementType();
      const std::vector<int64_t> shape = type_shape.GetShape();
      if (batched && !single && (shape.empty() || shape[0] != total_rows)) {
        throw Error(ErrorCode::kOrt, "output '" + info.outputs[wanted[k]].name + "' has batch dimension " +
                                         (shape.empty() ? std::string("none") : std::to_string(shape[0])) +
                                         " but the batch has " + std::to_string(total_rows) + " rows");
      }
      const size_t row_elems = single ? Elements(shape) : RowElements(shape);
      auto tensor = std::make_shared<OutputTensor>();
      if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
        tensor->data = static_cast<const uint8_t*>(value.GetTensorRawData());
        tensor->bytes = Elements(shape) * ElementSize(type);
      }
      tensor->value = std::move(value);
      size_t row = 0;
      for (Request* r : batch) {
        if (!std::binary_search(r->outputs.begin(), r->outputs.end(), wanted[k])) {
          row += static_cast<size_t>(r->rows);
          continue;
        }
        RequestOutput out;
        out.index = wanted[k];
        out.type = type;
        out.shape = shape;
        size_t first = 0, count = Elements(shape);
        if (!single) {
          out.shape[0] = r->rows;
          first = row * row_elems;
          count = static_cast<size_t>(r->rows) * row_elems;
        }
        if (type == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
          out.strings.reserve(count);
          for (size_t e = first; e < first + count; ++e) {
            const size_t len = tensor->value.GetStringTensorElementLength(e);
            std::string s(len, '\0');
            if (len) tensor->value.GetStringTensorElement(len, e, s.data());
            out.strings.push_back(std::move(s));
          }
        } else {
          out.tensor = tensor;
          out.offset = first * ElementSize(type);
          out.bytes = count * ElementSize(type);
        }
        r->results.push_back(std::move(out));
        row += static_cast<size_t>(r->rows);
      }
    }
    const int64_t t_end = NowNs();
    const uint64_t n = batch.size();
    const int64_t rows = batched ? total_rows : static_cast<int64_t>(n);
    for (Request* r : batch) {
      r->compute_ns = t_end - t_input;
      r->batch_rows = rows;
    }
    stats_.compute_input.Add(n, static_cast<uint64_t>(t_infer - t_input) * n);
    stats_.compute_infer.Add(n, static_cast<uint64_t>(t_output - t_infer) * n);
    stats_.compute_output.Add(n, static_cast<uint64_t>(t_end - t_output) * n);
    stats_.compute_hist.Add(static_cast<uint64_t>(t_end - t_input));
    BatchSizeStat& bs = stats_.ForBatch(batched ? total_rows : 1);
    bs.executions.fetch_add(1, std::memory_order_relaxed);
    bs.compute_input.Add(1, static_cast<uint64_t>(t_infer - t_input));
    bs.compute_infer.Add(1, static_cast<uint64_t>(t_output - t_infer));
    bs.compute_output.Add(1, static_cast<uint64_t>(t_end - t_output));
    stats_.inference_count.fetch_add(static_cast<uint64_t>(batched ? total_rows : static_cast<int64_t>(n)),
                                     std::memory_order_relaxed);
    stats_.execution_count.fetch_add(1, std::memory_order_relaxed);
    stats_.last_inference_ms.store(NowMs(), std::memory_order_relaxed);
    for (Request* r : batch) r->status = Status::Ok();
  } catch (const Ort::Exception& e) {
    for (Request* r : batch) {
      r->results.clear();
      r->status = Status::FromOrt(e);
    }
  } catch (const Error& e) {
    for (Request* r : batch) {
      r->results.clear();
      r->status = Status::Fail(e.code(), e.what(), e.ort_code());
    }
  } catch (const std::exception& e) {
    for (Request* r : batch) {
      r->results.clear();
      r->status = Status::Fail(ErrorCode::kInternal, e.what());
    }
  }
}

// Hands finished requests back to their threads: one Deliver per request, then one Flush (one
// cross-thread call) per distinct thread. After Deliver a request belongs to its thread.
void ModelCore::Complete(std::vector<Request*>& requests) {
  const int64_t now = NowNs();
  struct SinkCount {
    CompletionSink* sink;
    int count;
  };
  SinkCount sinks[8];
  std::vector<SinkCount> more;
  int nsinks = 0;
  const int64_t n = static_cast<int64_t>(requests.size());
  // Before delivery, so that a caller who sees its result also sees it counted as no longer pending.
  // (Shutdown after the drain joins this thread, so finishing the deliveries below is still safe.)
  ReleasePending(n);
  for (Request* r : requests) {
    const uint64_t took = static_cast<uint64_t>(std::max<int64_t>(0, now - r->enqueue_ns));
    if (r->status.ok) {
      stats_.success.Add(1, took);
      stats_.request_hist.Add(took);
    } else {
      stats_.fail.Add(1, took);
      stats_.Fail(ReasonOf(r->status.code));
    }
    CompletionSink* sink = r->sink;
    int i = 0;
    while (i < nsinks && sinks[i].sink != sink) ++i;
    if (i < nsinks) {
      ++sinks[i].count;
    } else if (nsinks < 8) {
      sinks[nsinks++] = {sink, 1};
    } else {
      auto it = std::find_if(more.begin(), more.end(), [&](const SinkCount& s) { return s.sink == sink; });
      if (it == more.end()) {
        more.push_back({sink, 1});
      } else {
        ++it->count;
      }
    }
    sink->Deliver(r);
  }
  for (int i = 0; i < nsinks; ++i) sinks[i].sink->Flush(sinks[i].count);
  for (auto& s : more) s.sink->Flush(s.count);
}

void ModelCore::ReleasePending(int64_t n) {
  if (stats_.pending.fetch_sub(n, std::memory_order_seq_cst) != n || accepting_.load(std::memory_order_seq_cst)) return;
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard<std::mutex> lock(drain_mu_);
    if (drained_) return;
    drained_ = true;
    waiters.swap(drain_waiters_);
  }
  for (auto& w : waiters) w();
}

void ModelCore::BeginUnload(std::function<void()> on_drained) {
  {
    std::lock_guard<std::mutex> lock(drain_mu_);
    if (!drained_) {
      drain_waiters_.push_back(std::move(on_drained));
      on_drained = nullptr;
    }
  }
  if (on_drained) {  // already drained by an earlier unload
    on_drained();
    return;
  }
  accepting_.store(false, std::memory_order_seq_cst);
  scheduler_->Poke(/*flush=*/true);
  // Trigger the drained check in case nothing is pending (adds and removes a phantom request).
  stats_.pending.fetch_add(1, std::memory_order_seq_cst);
  ReleasePending(1);
}

void ModelCore::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(drain_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  accepting_.store(false, std::memory_order_seq_cst);
  scheduler_->Stop();  // the object stays until the model is destroyed: other threads may still read it
  session_->session = Ort::Session{nullptr};
}

}  // namespace tg
