// One error type crosses every boundary of the engine: a stable code for programs, a message for
// people, and ORT's own error code when ORT produced it. JS sees the same three fields.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <stdexcept>
#include <string>

namespace tg {

enum class ErrorCode {
  kInvalidArgument,  // bad input: names, datatypes, shapes, element counts
  kQueueFull,        // admission control refused the request
  kTimeout,          // the request's queue timeout ran out (REJECT)
  kCancelled,        // aborted by the caller before it ran
  kUnavailable,      // the model is unloading or unloaded
  kModelLoad,        // the model file is missing, truncated or not a model ORT can load
  kOrt,              // ORT failed while running
  kInternal,
};

const char* ErrorCodeName(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message, int ort_code = -1)
      : std::runtime_error(message), code_(code), ort_code_(ort_code) {}
  ErrorCode code() const { return code_; }
  int ort_code() const { return ort_code_; }

 private:
  ErrorCode code_;
  int ort_code_;
};

// ORT's OrtErrorCode as its enum name (ORT_INVALID_ARGUMENT, ...).
const char* OrtErrorCodeName(int ort_code);

// The status a request finishes with: ok, or an error with the fields above.
struct Status {
  bool ok = true;
  ErrorCode code = ErrorCode::kInternal;
  int ort_code = -1;
  std::string message;

  static Status Ok() { return {}; }
  static Status Fail(ErrorCode c, std::string msg, int ort = -1) { return Status{false, c, ort, std::move(msg)}; }
  static Status FromOrt(const Ort::Exception& e) {
    return Fail(ErrorCode::kOrt, e.what(), static_cast<int>(e.GetOrtErrorCode()));
  }
};

}  // namespace tg
