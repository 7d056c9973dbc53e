#include "js/convert.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/datatype.h"
#include "js/addon_data.h"
#include "js/completion_layout.h"

namespace tg {
namespace {

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

[[noreturn]] void Invalid(Napi::Env env, const std::string& message) {
  throw MakeError(env, "INVALID_ARGUMENT", message);
}

// Names, datatypes, carriers, ranks, dims and element counts are validated once, in TypeScript
// (src/engine/input-check.ts), with the messages users see. What remains here only keeps the engine
// memory-safe should this internal API be called some other way.
void ReadShape(Napi::Env env, const TensorInfo& t, const double* dims, std::vector<int64_t>& shape) {
  shape.resize(t.shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    const double x = dims[d];
    if (!(x >= 0) || x != std::floor(x) || x > 9.007199254740991e15 || (t.shape[d] >= 0 && x != static_cast<double>(t.shape[d]))) {
      Invalid(env, "input '" + t.name + "': invalid shape " + ShapeString(shape));
    }
    shape[d] = static_cast<int64_t>(x);
  }
}

uint64_t ElementsOf(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

void ReadStrings(Napi::Env env, const TensorInfo& t, Napi::Value value, InputData& in) {
  if (!value.IsArray()) Invalid(env, "input '" + t.name + "': BYTES data must be an array");
  Napi::Array arr = value.As<Napi::Array>();
  const uint32_t n = arr.Length();
  in.strings.clear();
  in.strings.reserve(n);  // no reallocation below: the views into it stay valid
  in.elements.clear();
  in.elements.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value v = arr.Get(i);
    if (v.IsString()) {
      in.strings.push_back(v.As<Napi::String>().Utf8Value());
      in.elements.emplace_back(in.strings.back());
    } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      auto bytes = v.As<Napi::Uint8Array>();  // read in place: ORT's string tensor is the one copy
      in.elements.emplace_back(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
    } else {
      Invalid(env, "input '" + t.name + "': BYTES element " + std::to_string(i) + " must be a string or a Uint8Array");
    }
  }
}

}  // namespace

size_t OutputCopyMaxBytes() {
  static const size_t value = [] {
    const char* env = std::getenv("TENSORGATE_OUTPUT_COPY_MAX_BYTES");
    return env ? static_cast<size_t>(std::strtoull(env, nullptr, 10)) : static_cast<size_t>(4096);
  }();
  return value;
}

void ReadInputs(Napi::Env env, const ModelInfo& info, bool batched, int64_t max_batch_size, const double* dims,
                const napi_value* datas, Request& request) {
  const size_t n = info.inputs.size();
  request.inputs.resize(n);
  int64_t rows = -1;
  for (size_t i = 0; i < n; ++i) {
    const TensorInfo& t = info.inputs[i];
    InputData& in = request.inputs[i];
    ReadShape(env, t, dims, in.shape);
    dims += t.shape.size();
    const uint64_t expected = ElementsOf(in.shape);
    Napi::Value value(env, datas[i]);
    if (t.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
      ReadStrings(env, t, value, in);
      if (in.elements.size() != expected) Invalid(env, "input '" + t.name + "': BYTES element count differs from its shape");
    } else {
      napi_typedarray_type kind;
      size_t length = 0;
      void* data = nullptr;
      napi_value buffer;
      size_t offset = 0;
      size_t buffer_bytes = 0;
      void* base = nullptr;
      const size_t bytes = expected * ElementSize(t.type);
      if (napi_get_typedarray_info(env, datas[i], &kind, &length, &data, &buffer, &offset) != napi_ok ||
          napi_get_arraybuffer_info(env, buffer, &base, &buffer_bytes) != napi_ok || offset + bytes > buffer_bytes) {
        Invalid(env, "input '" + t.name + "': data does not hold " + std::to_string(expected) + " " + V2Name(t.type) + " elements");
      }
      in.data = data;  // kept alive by the JS slot table until the request completes
      in.bytes = bytes;
    }
    if (batched) {
      const int64_t r = in.shape.empty() ? 0 : in.shape[0];
      if (rows >= 0 && r != rows) {
        Invalid(env, "input '" + t.name + "': batch dimension " + std::to_string(r) + " differs from input '" +
                         info.inputs[0].name + "' (" + std::to_string(rows) + ")");
      }
      rows = r;
    }
  }
  if (batched) {
    if (rows > max_batch_size) {
      Invalid(env, "batch size " + std::to_string(rows) + " exceeds the model's max_batch_size " + std::to_string(max_batch_size));
    }
    request.rows = rows < 0 ? 0 : rows;
  } else {
    request.rows = 1;
  }
}

namespace {

void FreeOutputTensor(napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<OutputTensor>*>(hint); }

bool CopiedToSlab(const RequestOutput& out) {
  return out.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING && out.bytes <= OutputCopyMaxBytes();
}

constexpr size_t kSlabAlign = 8;  // typed array views must be aligned to their element size
size_t AlignUp(size_t n) { return (n + kSlabAlign - 1) & ~(kSlabAlign - 1); }

}  // namespace

// The descriptor layout is native/js/completion_layout.h (read by deliver() in src/engine/completions.ts).
CompletionWriter::CompletionWriter(Napi::Env env, const std::vector<JsRequest*>& requests) : env_(env) {
  size_t words = 0, slab = 0;
  for (const JsRequest* r : requests) {
    words += layout::kRequestWords;
    for (const RequestOutput& out : r->results) {
      words += layout::kOutputWords + out.shape.size();
      if (CopiedToSlab(out)) slab += AlignUp(out.bytes);
    }
  }
  void* desc_data = nullptr;
  napi_value desc_buffer;
  napi_create_arraybuffer(env, words * sizeof(double), &desc_data, &desc_buffer);
  napi_create_typedarray(env, napi_float64_array, words, desc_buffer, 0, &descriptor_);
  double* d = static_cast<double*>(desc_data);
  napi_create_array(env, &buffers_);
  uint32_t nbuffers = 0;
  uint8_t* slab_data = nullptr;
  size_t slab_used = 0;
  if (slab > 0) {
    napi_value slab_buffer;
    void* p = nullptr;
    napi_create_arraybuffer(env, slab, &p, &slab_buffer);
    slab_data = static_cast<uint8_t*>(p);
    napi_set_element(env, buffers_, nbuffers++, slab_buffer);
  }
  const OutputTensor* last_tensor = nullptr;
  uint32_t last_index = 0;
  uint32_t nerrors = 0, nbytes = 0;
  for (JsRequest* r : requests) {
    double* head = d;
    d += layout::kRequestWords;
    head[layout::kSlot] = r->slot;
    head[layout::kQueueNs] = static_cast<double>(r->queue_ns);
    head[layout::kComputeNs] = static_cast<double>(r->compute_ns);
    head[layout::kBatchSize] = static_cast<double>(r->batch_rows);
    if (!r->status.ok) {
      if (errors_ == nullptr) napi_create_array(env, &errors_);
      napi_set_element(env, errors_, nerrors++,
                       MakeError(env, ErrorCodeName(r->status.code), r->status.message, r->status.ort_code).Value());
      head[layout::kStatus] = nerrors;
      head[layout::kOutputs] = 0;
      continue;
    }
    head[layout::kStatus] = 0;
    head[layout::kOutputs] = static_cast<double>(r->results.size());
    for (const RequestOutput& out : r->results) {
      static_assert(layout::kOutIndex == 0 && layout::kOutType == 1 && layout::kOutBuffer == 2 && layout::kOutOffset == 3 &&
                        layout::kOutLength == 4 && layout::kOutRank == 5 && layout::kOutputWords == 6,
                    "the writes below follow the output layout in order");
      *d++ = out.index;
      *d++ = out.type;
      if (out.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING) {
        if (bytes_ == nullptr) napi_create_array(env, &bytes_);
        napi_value list;
        napi_create_array_with_length(env, out.strings.size(), &list);
        for (size_t e = 0; e < out.strings.size(); ++e) {
          napi_set_element(env, list, static_cast<uint32_t>(e),
                           Napi::Buffer<char>::Copy(env, out.strings[e].data(), out.strings[e].size()));
        }
        napi_set_element(env, bytes_, nbytes++, list);
        *d++ = -static_cast<double>(nbytes);
        *d++ = 0;
        *d++ = static_cast<double>(out.strings.size());
      } else if (CopiedToSlab(out)) {
        if (out.bytes) std::memcpy(slab_data + slab_used, out.tensor->data + out.offset, out.bytes);
        *d++ = 0;
        *d++ = static_cast<double>(slab_used);
        *d++ = static_cast<double>(out.bytes / ElementSize(out.type));
        slab_used += AlignUp(out.bytes);
      } else {
        // One external ArrayBuffer per batch tensor per drain; each request views its slice.
        if (last_tensor != out.tensor.get()) {
          auto* hold = new std::shared_ptr<OutputTensor>(out.tensor);
          napi_value external;
          if (napi_create_external_arraybuffer(env, const_cast<uint8_t*>(out.tensor->data), out.tensor->bytes,
                                               FreeOutputTensor, hold, &external) != napi_ok) {
            delete hold;
            throw Napi::Error::New(env, "cannot create an external ArrayBuffer for an output");
          }
          last_index = nbuffers;
          napi_set_element(env, buffers_, nbuffers++, external);
          last_tensor = out.tensor.get();
        }
        *d++ = last_index;
        *d++ = static_cast<double>(out.offset);
        *d++ = static_cast<double>(out.bytes / ElementSize(out.type));
      }
      *d++ = static_cast<double>(out.shape.size());
      for (int64_t dim : out.shape) *d++ = static_cast<double>(dim);
    }
  }
  count_ = static_cast<double>(requests.size());
}

void CompletionWriter::Call(Napi::Function handler) {
  napi_value undefined = env_.Undefined();
  napi_value args[] = {descriptor_, Napi::Number::New(env_, count_), buffers_, errors_ ? errors_ : undefined,
                       bytes_ ? bytes_ : undefined};
  napi_value ignored;
  if (napi_call_function(env_, undefined, handler, 5, args, &ignored) != napi_ok) {
    // The handler threw (a bug in a promise continuation cannot get here: deliver() only resolves).
    napi_value exception;
    napi_get_and_clear_last_exception(env_, &exception);
    napi_fatal_exception(env_, exception);
  }
}

namespace {

Napi::Object DescribeTensor(Napi::Env env, const TensorInfo& t) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", t.name);
  o.Set("datatype", V2Name(t.type));
  Napi::Array shape = Napi::Array::New(env, t.shape.size());
  Napi::Array params = Napi::Array::New(env, t.shape.size());
  for (size_t d = 0; d < t.shape.size(); ++d) {
    shape.Set(static_cast<uint32_t>(d), Napi::Number::New(env, static_cast<double>(t.shape[d])));
    params.Set(static_cast<uint32_t>(d), t.dim_params[d].empty() ? env.Null() : Napi::String::New(env, t.dim_params[d]));
  }
  o.Set("shape", shape);
  o.Set("dimNames", params);
  return o;
}

}  // namespace

Napi::Object DescribeModel(Napi::Env env, const ModelInfo& info) {
  Napi::Object o = Napi::Object::New(env);
  Napi::Array inputs = Napi::Array::New(env, info.inputs.size());
  for (size_t i = 0; i < info.inputs.size(); ++i) inputs.Set(static_cast<uint32_t>(i), DescribeTensor(env, info.inputs[i]));
  Napi::Array outputs = Napi::Array::New(env, info.outputs.size());
  for (size_t i = 0; i < info.outputs.size(); ++i) outputs.Set(static_cast<uint32_t>(i), DescribeTensor(env, info.outputs[i]));
  Napi::Array providers = Napi::Array::New(env, info.providers.size());
  for (size_t i = 0; i < info.providers.size(); ++i) {
    Napi::Object p = Napi::Object::New(env);
    p.Set("name", info.providers[i].name);
    p.Set("active", info.providers[i].active);
    if (!info.providers[i].reason.empty()) p.Set("reason", info.providers[i].reason);
    providers.Set(static_cast<uint32_t>(i), p);
  }
  Napi::Object custom = Napi::Object::New(env);
  for (const auto& [k, v] : info.custom_metadata) custom.Set(k, v);
  o.Set("inputs", inputs);
  o.Set("outputs", outputs);
  o.Set("providers", providers);
  o.Set("producer", info.producer);
  o.Set("graphName", info.graph_name);
  o.Set("domain", info.domain);
  o.Set("description", info.description);
  o.Set("modelVersion", Napi::Number::New(env, static_cast<double>(info.model_version)));
  o.Set("customMetadata", custom);
  return o;
}

}  // namespace tg
