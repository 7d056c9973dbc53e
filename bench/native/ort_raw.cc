// ort-raw: ONNX Runtime at a fixed batch size with no queue and no JS, the limit a batching server
// can approach. Same library, same session options and thread settings as tensorgate's engine.
//   ort_raw <libonnxruntime> <model.onnx> <input name> <row dims> <intra threads> <seconds> <batch>...
// <row dims> is one row's shape without the batch dim: 256, or 32x64 for [batch, 32, 64].
// Prints one JSON object per batch size: {"batch":B,"runs":N,"samples_per_s":X,"run_us_p50":Y}.
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ort/ort_library.h"

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr, "usage: %s lib model input row_elems intra seconds batch...\n", argv[0]);
    return 2;
  }
  tg::LoadOrtLibrary(argv[1]);
  const std::string model = argv[2];
  const char* input_name = argv[3];
  std::vector<int64_t> row_dims;
  const std::string spec = argv[4];
  for (size_t at = 0;;) {
    const size_t x = spec.find('x', at);
    row_dims.push_back(std::stoll(spec.substr(at, x == std::string::npos ? std::string::npos : x - at)));
    if (x == std::string::npos) break;
    at = x + 1;
  }
  int64_t row = 1;
  for (int64_t d : row_dims) row *= d;
  const int intra = std::atoi(argv[5]);
  const double seconds = std::atof(argv[6]);

  Ort::ThreadingOptions threading;
  if (intra > 0) threading.SetGlobalIntraOpNumThreads(intra);
  threading.SetGlobalSpinControl(0);
  Ort::Env env(threading, ORT_LOGGING_LEVEL_ERROR, "ort-raw");
  Ort::SessionOptions options;
  options.DisablePerSessionThreads();
  options.SetGraphOptimizationLevel(ORT_ENABLE_ALL);
  Ort::Session session(env, model.c_str(), options);
  Ort::AllocatorWithDefaultOptions allocator;
  auto output_name = session.GetOutputNameAllocated(0, allocator);
  const char* output_names[] = {output_name.get()};
  Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);

  for (int a = 7; a < argc; ++a) {
    const int64_t batch = std::atoll(argv[a]);
    std::vector<float> data(static_cast<size_t>(batch * row));
    for (size_t i = 0; i < data.size(); ++i) data[i] = std::sin(static_cast<float>(i));
    std::vector<int64_t> shape{batch};
    shape.insert(shape.end(), row_dims.begin(), row_dims.end());
    Ort::Value input = Ort::Value::CreateTensor<float>(cpu, data.data(), data.size(), shape.data(), shape.size());
    for (int i = 0; i < 20; ++i) session.Run(Ort::RunOptions{nullptr}, &input_name, &input, 1, output_names, 1);
    std::vector<double> runs;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
      const auto t = std::chrono::steady_clock::now();
      auto out = session.Run(Ort::RunOptions{nullptr}, &input_name, &input, 1, output_names, 1);
      const auto e = std::chrono::steady_clock::now();
      runs.push_back(std::chrono::duration<double, std::micro>(e - t).count());
      elapsed = std::chrono::duration<double>(e - start).count();
    }
    std::sort(runs.begin(), runs.end());
    std::printf("{\"batch\":%lld,\"runs\":%zu,\"samples_per_s\":%.1f,\"run_us_p50\":%.2f}\n", static_cast<long long>(batch),
                runs.size(), static_cast<double>(runs.size() * batch) / elapsed, runs[runs.size() / 2]);
  }
  return 0;
}
