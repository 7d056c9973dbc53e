// Per-model counters, written with relaxed atomics by the scheduler and runner threads and read by
// JS at scrape time: no per-request JS work. Durations are cumulative nanoseconds, as in Triton's
// statistics extension (count + ns per phase, per request; and per batch size per execution).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tg {

struct DurationStat {
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> ns{0};
  void Add(uint64_t n, uint64_t duration_ns) {
    count.fetch_add(n, std::memory_order_relaxed);
    ns.fetch_add(duration_ns, std::memory_order_relaxed);
  }
};

enum class FailReason { kQueueFull = 0, kTimeout, kCancelled, kUnavailable, kInvalid, kBackend, kCount };

// Log-spaced latency histogram over nanoseconds: bucket i holds values < kBase * 2^(i/4)
// (four buckets per doubling from 1 µs), so P50..P999 can be read from 1 µs to ~17 min.
struct LatencyHistogram {
  static constexpr int kBuckets = 128;
  std::atomic<uint64_t> counts[kBuckets] = {};
  static int BucketOf(uint64_t ns);
  static double UpperBoundSeconds(int bucket);
  void Add(uint64_t ns) { counts[BucketOf(ns)].fetch_add(1, std::memory_order_relaxed); }
};

struct BatchSizeStat {
  std::atomic<uint64_t> executions{0};
  DurationStat compute_input, compute_infer, compute_output;
};

struct ModelStats {
  explicit ModelStats(int64_t max_batch_size)
      : batch_sizes(static_cast<size_t>(max_batch_size > 0 ? max_batch_size + 1 : 2)) {}

  DurationStat success;  // request duration (enqueue to completion) of successful requests
  DurationStat fail;     // all failures
  std::atomic<uint64_t> fail_by_reason[static_cast<int>(FailReason::kCount)] = {};
  DurationStat queue, compute_input, compute_infer, compute_output;  // per request
  std::atomic<uint64_t> inference_count{0};  // rows (Triton: inferences, counting batch size)
  std::atomic<uint64_t> execution_count{0};  // batches run
  std::atomic<int64_t> pending{0};           // accepted, not yet completed (the unload drain waits on it)
  std::atomic<int64_t> queued{0};            // accepted, waiting for their batch to start (Triton's pending count)
  std::atomic<int64_t> last_inference_ms{0};
  // Per batch size (in rows): index = rows; rows beyond max go in the last slot.
  std::vector<BatchSizeStat> batch_sizes;
  LatencyHistogram request_hist, queue_hist, compute_hist;

  void Fail(FailReason reason, uint64_t n = 1) {
    fail_by_reason[static_cast<int>(reason)].fetch_add(n, std::memory_order_relaxed);
  }
  BatchSizeStat& ForBatch(int64_t rows) {
    size_t i = rows < 0 ? 0 : static_cast<size_t>(rows);
    return batch_sizes[i < batch_sizes.size() ? i : batch_sizes.size() - 1];
  }
};

}  // namespace tg
