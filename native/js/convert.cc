#include "js/convert.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/datatype.h"
#include "js/addon_data.h"

namespace tg {
namespace {

// The typed array kind that carries each element type (see src/engine/datatype.ts).
bool CarrierMatches(ONNXTensorElementDataType type, napi_typedarray_type kind) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return kind == napi_uint8_array || kind == napi_uint8_clamped_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return kind == napi_int8_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return kind == napi_uint16_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return kind == napi_int16_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return kind == napi_uint32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return kind == napi_int32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return kind == napi_biguint64_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return kind == napi_bigint64_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return kind == napi_float32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return kind == napi_float64_array;
    default: return false;
  }
}

const char* CarrierName(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "Uint8Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "Int8Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "Uint16Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return "Int16Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return "Uint32Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "Int32Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return "BigUint64Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "BigInt64Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "Float32Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "Float64Array";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING: return "an array of strings or Uint8Arrays";
    default: return "?";
  }
}

const char* KindName(napi_typedarray_type kind) {
  switch (kind) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

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

void ReadShape(Napi::Env env, const TensorInfo& t, const double* dims, std::vector<int64_t>& shape) {
  // The rank was checked by the TypeScript layer; dims come through the model's shape mailbox.
  shape.resize(t.shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    const double x = dims[d];
    if (!(x >= 0) || x != std::floor(x) || x > 9.007199254740991e15) {
      Invalid(env, "input '" + t.name + "': shape must be an array of non-negative integers, got " +
                       Napi::Number::New(env, x).ToString().Utf8Value() + " at dim " + std::to_string(d));
    }
    shape[d] = static_cast<int64_t>(x);
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    if (t.shape[d] >= 0 && t.shape[d] != shape[d]) {
      Invalid(env, "input '" + t.name + "': expected shape " + ShapeString(t.shape) + ", got " + ShapeString(shape) +
                       " (dim " + std::to_string(d) + " must be " + std::to_string(t.shape[d]) + ")");
    }
  }
}

uint64_t ElementsOf(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

void ReadStrings(Napi::Env env, const TensorInfo& t, Napi::Value value, InputData& in) {
  if (!value.IsArray()) {
    Invalid(env, "input '" + t.name + "': expected datatype BYTES (an array of strings or Uint8Arrays), got " +
                     (value.IsTypedArray() ? std::string("a ") + KindName(value.As<Napi::TypedArray>().TypedArrayType())
                                           : std::string("a value that is not an array")));
  }
  Napi::Array arr = value.As<Napi::Array>();
  const uint32_t n = arr.Length();
  in.strings.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value v = arr.Get(i);
    if (v.IsString()) {
      in.strings.push_back(v.As<Napi::String>().Utf8Value());
    } else if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      auto bytes = v.As<Napi::Uint8Array>();
      in.strings.emplace_back(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
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
      if (in.strings.size() != expected) {
        Invalid(env, "input '" + t.name + "': shape " + ShapeString(in.shape) + " has " + std::to_string(expected) +
                         " elements but data has " + std::to_string(in.strings.size()));
      }
    } else {
      napi_typedarray_type kind;
      size_t length = 0;
      void* data = nullptr;
      napi_value buffer;
      size_t offset = 0;
      if (napi_get_typedarray_info(env, datas[i], &kind, &length, &data, &buffer, &offset) != napi_ok) {
        Invalid(env, "input '" + t.name + "': expected datatype " + DescribeType(t.type) + " as a " + CarrierName(t.type) +
                         ", got " + (value.IsArray() ? "a plain array" : "a value that is not a typed array"));
      }
      if (!CarrierMatches(t.type, kind)) {
        Invalid(env, "input '" + t.name + "': expected datatype " + DescribeType(t.type) + " (" + CarrierName(t.type) +
                         "), got a " + KindName(kind));
      }
      if (length != expected) {
        Invalid(env, "input '" + t.name + "': shape " + ShapeString(in.shape) + " has " + std::to_string(expected) +
                         " elements but data has " + std::to_string(length));
      }
      in.data = data;  // kept alive by the JS slot table until the request completes
      in.bytes = length * ElementSize(t.type);
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

napi_typedarray_type ArrayKind(ONNXTensorElementDataType type) {
  switch (type) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return napi_uint8_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return napi_int8_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16:
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return napi_uint16_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16: return napi_int16_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32: return napi_uint32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return napi_int32_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64: return napi_biguint64_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return napi_bigint64_array;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return napi_float32_array;
    default: return napi_float64_array;
  }
}

bool CopiedToSlab(const RequestOutput& out) {
  return out.type != ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING && out.bytes <= OutputCopyMaxBytes();
}

constexpr size_t kSlabAlign = 8;  // typed array views must be aligned to their element size
size_t AlignUp(size_t n) { return (n + kSlabAlign - 1) & ~(kSlabAlign - 1); }

}  // namespace

// Descriptor layout, per request: slot, status (0 ok, k > 0: errors[k-1]), output count; then per
// output: output index, element type, buffer (b >= 0: buffers[b]; b < 0: bytes[-b-1]), byte offset,
// element count, rank, dims. Read by deliver() in src/engine/completions.ts.
CompletionWriter::CompletionWriter(Napi::Env env, const std::vector<JsRequest*>& requests) : env_(env) {
  size_t words = 0, slab = 0;
  for (const JsRequest* r : requests) {
    words += 3;
    for (const RequestOutput& out : r->results) {
      words += 6 + out.shape.size();
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
    *d++ = r->slot;
    if (!r->status.ok) {
      if (errors_ == nullptr) napi_create_array(env, &errors_);
      napi_set_element(env, errors_, nerrors++,
                       MakeError(env, ErrorCodeName(r->status.code), r->status.message, r->status.ort_code).Value());
      *d++ = nerrors;
      *d++ = 0;
      continue;
    }
    *d++ = 0;
    *d++ = static_cast<double>(r->results.size());
    for (const RequestOutput& out : r->results) {
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
